"""Reading a real LiveKit voice session three ways: its trace, its metrics_collected events
and its session report (tests/data/traces/livekit_audio.*, written in one run by
tests/data/traces/make_livekit_audio_session.py: LiveKit's own AgentSession with audio in
and out and a tool call). The expected values are read off the files here with plain json;
the three sources of the same session give the same segments."""

import json
from pathlib import Path

import pytest
from otlp_files import attr, spans_of

import agentlab as al

DATA = Path(__file__).parents[1] / "data" / "traces"
TRACE, METRICS, REPORT = (DATA / f"livekit_audio.{ext}"
                          for ext in ("otlp.jsonl", "metrics.jsonl", "report.json"))


@pytest.fixture(scope="module")
def trace():
    return al.io.read(TRACE)


@pytest.fixture(scope="module")
def report():
    return json.loads(REPORT.read_text())


@pytest.fixture(scope="module")
def metrics():
    return [json.loads(line)["metrics"] for line in METRICS.read_text().splitlines()]


def _messages(report, role):
    return [i for i in report["chat_history"]["items"]
            if i["type"] == "message" and i["role"] == role]


def test_the_trace_gives_turns_speech_tools_and_end_to_end(trace):
    spans = spans_of(TRACE)
    agent_turns = [s for s in spans if s["name"] == "agent_turn"]
    user_turns = [s for s in spans if s["name"] == "user_turn"]
    turns = trace.turns.sort_values("turn_id")
    assert turns.user_text.tolist() == [attr(u, "lk.pii.user_transcript") for u in user_turns]
    assert turns.total_e2e_ms.tolist() == pytest.approx(
        [1000 * attr(t, "lk.e2e_latency") for t in agent_turns])
    seg = turns.filter(like="seg_").fillna(0).sum(axis=1)
    assert seg.tolist() == pytest.approx(turns.total_e2e_ms.tolist())  # they add up
    assert turns.seg_endpointing_ms.tolist() == pytest.approx(
        [1000 * (float(attr(u, "lk.end_of_turn_delay"))
                 - float(attr(u, "lk.transcription_delay")))
         for u in user_turns])
    speaking = [s for s in spans if s["name"] == "user_speaking"]
    assert turns.t_user_speech_end_ms.tolist() == pytest.approx(
        [(int(s["endTimeUnixNano"]) - int(spans[0]["startTimeUnixNano"])) / 1e6
         for s in speaking])
    tts = [s for s in spans if s["name"] == "tts_node"]
    assert turns.seg_tts_ttfb_ms.tolist() == pytest.approx(
        [1000 * attr(t, "lk.response.ttfb") for t in tts])
    tool = next(s for s in spans if s["name"] == "function_tool")
    row = trace.tools.iloc[0]
    assert (row.tool_name, row.tool_call_id) == (attr(tool, "gen_ai.tool.name"),
                                                 attr(tool, "gen_ai.tool.call.id"))
    assert row.duration_ms == pytest.approx(
        (int(tool["endTimeUnixNano"]) - int(tool["startTimeUnixNano"])) / 1e6)
    assert turns.seg_tools_ms.iloc[0] == pytest.approx(row.duration_ms)
    assert turns.seg_tools_ms.isna().iloc[1]  # no tool in the second turn: missing, not 0


def test_the_metrics_events_give_the_stages_they_measure(metrics):
    rec = al.io.read(METRICS)
    turns = rec.turns.sort_values("turn_id")
    eou = [m for m in metrics if m["type"] == "eou_metrics"]
    assert len(turns) == len(eou) == 2
    assert turns.end_of_turn_delay_ms.tolist() == pytest.approx(
        [1000 * m["end_of_utterance_delay"] for m in eou])
    tts = [m for m in metrics if m["type"] == "tts_metrics"]
    assert turns.seg_tts_ttfb_ms.tolist() == pytest.approx([1000 * m["ttfb"] for m in tts])
    llm = [m for m in metrics if m["type"] == "llm_metrics"]
    last = {m["speech_id"]: m for m in llm}  # the request whose answer is spoken
    assert turns.seg_llm_ttft_ms.tolist() == pytest.approx(
        [1000 * last[m["speech_id"]]["ttft"] for m in eou])
    usage = rec.usage.iloc[0]
    assert usage.tokens_in == sum(m["prompt_tokens"] for m in llm)
    assert turns.total_e2e_ms.isna().all()  # metrics events carry no end-to-end latency
    assert usage.tts_characters is pd_na()  # no texts in metrics events: missing, not 0


def pd_na():
    import pandas as pd

    return pd.NA


def test_the_session_report_gives_the_same_turns(report, trace):
    rec = al.io.read(REPORT)
    turns = rec.turns.sort_values("turn_id")
    replies = _messages(report, "assistant")
    assert turns.total_e2e_ms.tolist() == pytest.approx(
        [1000 * m["metrics"]["e2e_latency"] for m in replies])
    assert turns.agent_text.tolist() == [" ".join(m["content"]) for m in replies]
    assert turns.seg_llm_ttft_ms.tolist() == pytest.approx(
        [1000 * m["metrics"]["llm_node_ttft"] for m in replies])
    usage = next(u for u in report["usage"] if u["type"] == "llm_usage")
    assert rec.usage.tokens_in.iloc[0] == usage["input_tokens"]
    assert rec.sessions.session_id.iloc[0] == report["room_id"]
    # the same session from its trace: the same stages, within the clocks' rounding
    for col in ("total_e2e_ms", "seg_endpointing_ms", "seg_tts_ttfb_ms", "seg_llm_ttft_ms"):
        assert turns[col].tolist() == pytest.approx(
            trace.turns.sort_values("turn_id")[col].tolist(), abs=1.0), col


def test_a_folder_is_read_into_one_recorder_labelled_by_source():
    with pytest.warns(al.AgentlabWarning, match="use_provider_thinking_default"):
        rec = al.io.read(DATA)  # every fixture, each file its own call
    files = sorted(p.name for p in DATA.iterdir() if p.suffix in (".json", ".jsonl"))
    sources = rec.sessions.source.astype(str).tolist()
    assert sorted(set(s.split(":", 1)[1] for s in sources)) == files
    assert {s.split(":", 1)[0] for s in sources} == {
        "pipecat-otlp", "pipecat-metrics", "livekit-otlp", "livekit-metrics",
        "livekit-report"}
    per_turn = rec.turns.groupby("session_id", observed=True).source.nunique()
    assert (per_turn == 1).all()


def test_a_truncated_metrics_file_names_the_line_and_keeps_the_turns_before(tmp_path):
    lines = METRICS.read_text().splitlines()
    cut = tmp_path / "cut.metrics.jsonl"
    cut.write_text("\n".join(lines[:8]) + "\n" + lines[8][:40] + "\n")
    with pytest.raises(al.io.TraceReadError, match=r"cut\.metrics\.jsonl:9.*truncated"
                       ) as err:
        al.io.read(cut)
    assert len(err.value.recorder.turns) == 1  # the first turn's metrics came before


def test_a_truncated_report_names_the_line(tmp_path):
    text = json.dumps(json.loads(REPORT.read_text()), indent=1)
    cut = tmp_path / "cut.report.json"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(al.io.TraceReadError, match=r"cut\.report\.json:\d+: not a LiveKit"):
        al.io.read(cut, format="livekit-report")


def test_unknown_metrics_are_counted(tmp_path):
    path = tmp_path / "m.jsonl"
    extra = {"type": "metrics_collected", "metrics": {"type": "avatar_metrics"}}
    path.write_text(METRICS.read_text() + json.dumps(extra) + "\n")
    with pytest.warns(al.AgentlabWarning, match=r"ignored 1 .*metrics avatar_metrics"):
        al.io.read(path)
