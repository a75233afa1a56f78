"""Reading a real Pipecat trace (tests/data/traces/pipecat.otlp.jsonl, written by
tests/data/traces/make_pipecat_trace.py: Pipecat's own PipelineWorker with tracing on).
The expected values are read off the file here with plain json, not through agentlab."""

from pathlib import Path

import numpy as np
import pytest
from otlp_files import attr, spans_of

import agentlab as al

TRACE = Path(__file__).parents[1] / "data" / "traces" / "pipecat.otlp.jsonl"


def _spans():
    return spans_of(TRACE)


@pytest.fixture(scope="module")
def rec():
    with pytest.warns(al.AgentlabWarning, match=r"ignored 3 attributes.*"
                      r"param\.use_provider_thinking_default \(3\)"):
        return al.io.read(TRACE)


def test_turns_match_the_trace(rec):
    spans = _spans()
    turns = sorted((s for s in spans if s["name"] == "turn"),
                   key=lambda s: int(attr(s, "turn.number")))
    table = rec.turns.sort_values("turn_id")
    assert table.turn_id.tolist() == [int(attr(t, "turn.number")) for t in turns]
    assert table.total_e2e_ms.tolist() == pytest.approx(
        [1000 * float(attr(t, "turn.user_bot_latency_seconds")) for t in turns])
    assert table.interrupted.tolist() == [bool(attr(t, "turn.was_interrupted"))
                                          for t in turns]
    assert table.interrupted.tolist() == [False, True, False]  # the caller talked over 2
    llm = sorted((s for s in spans if s["name"] == "llm"), key=lambda s: s["startTimeUnixNano"])
    assert table.seg_llm_ttft_ms.tolist() == pytest.approx(
        [1000 * float(attr(s, "metrics.ttfb")) for s in llm])
    assert table.llm_ttft_ms.tolist() == pytest.approx(table.seg_llm_ttft_ms.tolist())
    assert (table.agent_text == attr(llm[0], "output")).all()


def test_segments_keep_what_pipecat_did_not_measure_missing(rec):
    turns = rec.turns
    for col in ("seg_vad_ms", "seg_stt_ms", "seg_endpointing_ms"):
        assert col not in turns or turns[col].isna().all()  # missing, never zero
    parts = turns[["seg_llm_ttft_ms", "seg_tts_ttfb_ms", "seg_other_ms"]].sum(axis=1)
    assert parts.tolist() == pytest.approx(turns.total_e2e_ms.tolist())
    assert set(rec.segments.segment.astype(str)) == {"llm_ttft", "tts_ttfb", "other"}


def test_usage_matches_the_trace(rec):
    llm = [s for s in _spans() if s["name"] == "llm"]
    usage = rec.usage.iloc[0]
    assert usage.tokens_in == sum(int(attr(s, "gen_ai.usage.input_tokens")) for s in llm)
    assert usage.tokens_out == sum(int(attr(s, "gen_ai.usage.output_tokens")) for s in llm)
    root = next(s for s in _spans() if s["name"] == "conversation")
    duration = (int(root["endTimeUnixNano"]) - int(root["startTimeUnixNano"])) / 1e6
    assert rec.sessions.duration_ms.iloc[0] == pytest.approx(duration)
    assert rec.sessions.session_id.iloc[0] == attr(root, "conversation.id")


def test_a_truncated_pipecat_file_keeps_the_calls_before(tmp_path):
    line = TRACE.read_text().splitlines()[0]
    cut = tmp_path / "cut.jsonl"
    cut.write_text(line + "\n" + line[: len(line) // 3] + "\n")
    with pytest.raises(al.io.TraceReadError, match=r"cut\.jsonl:2") as err:
        al.io.read(cut)
    assert len(err.value.recorder.turns) == 3


def test_a_fit_from_pipecat_turns_takes_only_what_they_measure(rec):
    fit = al.Profile.fit(rec.turns.loc[np.repeat(rec.turns.index, 10)], min_values=20)
    assert set(fit.fitted_from) == {"llm_ttft_ms", "tts_ttfb_ms"}
