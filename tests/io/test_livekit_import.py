"""Reading a real LiveKit Agents trace (tests/data/traces/livekit.otlp.jsonl, written by
tests/data/traces/make_livekit_trace.py: LiveKit's own AgentSession in text mode with
tracing on). The expected values are read off the file here with plain json."""

import json
from pathlib import Path

import pytest
from otlp_files import attr, spans_of

import agentlab as al

TRACE = Path(__file__).parents[1] / "data" / "traces" / "livekit.otlp.jsonl"


def _spans():
    return spans_of(TRACE)


@pytest.fixture(scope="module")
def rec():
    return al.io.read(TRACE)


def test_turns_match_the_trace(rec):
    turns = [s for s in _spans() if s["name"] == "agent_turn"]
    table = rec.turns.sort_values("turn_id")
    assert table.turn_id.tolist() == list(range(1, len(turns) + 1)) and len(turns) == 2
    assert table.user_text.tolist() == [attr(t, "lk.pii.user_input") for t in turns]
    assert table.agent_text.tolist() == [attr(t, "lk.pii.response.text") for t in turns]
    assert table.interrupted.tolist() == [bool(attr(t, "lk.interrupted")) for t in turns]
    requests = [s for s in _spans() if s["name"] == "llm_request"]
    ttft = [1000 * float(attr(r, "gen_ai.response.time_to_first_chunk")) for r in requests]
    assert table.seg_llm_ttft_ms.tolist() == pytest.approx(ttft)
    assert table.llm_ttft_ms.tolist() == pytest.approx(ttft)


def test_what_text_mode_does_not_measure_is_missing(rec):
    turns = rec.turns
    assert turns.total_e2e_ms.isna().all()  # no audio: no end-to-end latency, not 0
    assert set(rec.segments.segment.astype(str)) == {"llm_ttft"}
    assert "seg_tts_ttfb_ms" not in turns or turns.seg_tts_ttfb_ms.isna().all()


def test_usage_and_the_session_match_the_trace(rec):
    requests = [s for s in _spans() if s["name"] == "llm_request"]
    usage = rec.usage.iloc[0]
    assert usage.tokens_in == sum(int(attr(r, "gen_ai.usage.input_tokens")) for r in requests)
    assert usage.tokens_out == sum(int(attr(r, "gen_ai.usage.output_tokens"))
                                   for r in requests)
    root = next(s for s in _spans() if s["name"] == "agent_session")
    close = next(s for s in _spans() if s["name"] == "session_close")
    session = rec.sessions.iloc[0]
    assert session.session_id == root["traceId"]
    assert session.reason == attr(close, "lk.close_reason")
    assert session.duration_ms == pytest.approx(
        (int(root["endTimeUnixNano"]) - int(root["startTimeUnixNano"])) / 1e6)


def test_an_unknown_span_or_attribute_is_counted(tmp_path):
    request = json.loads(TRACE.read_text().splitlines()[0])
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    turn = next(s for s in spans if s["name"] == "agent_turn")
    turn["attributes"].append({"key": "lk.new_thing", "value": {"intValue": "1"}})
    spans.append({**turn, "name": "realtime_session", "spanId": "00" * 8, "attributes": []})
    path = tmp_path / "lk.jsonl"
    path.write_text(json.dumps(request) + "\n")
    with pytest.warns(al.AgentlabWarning, match=r"ignored 2 attributes"):
        back = al.io.read(path)
    assert len(back.turns) == 2
