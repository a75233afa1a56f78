"""Reading Pipecat's metrics frames as logged by an observer (tests/data/traces/
pipecat.metrics.jsonl, written by make_pipecat_trace.py in the same run as its trace). The
expected values are read off the file with plain json; the trace of the same run agrees."""

import json
from pathlib import Path

import pytest

import agentlab as al

DATA = Path(__file__).parents[1] / "data" / "traces"
METRICS = DATA / "pipecat.metrics.jsonl"


@pytest.fixture(scope="module")
def items():
    return [json.loads(line) for line in METRICS.read_text().splitlines()]


@pytest.fixture(scope="module")
def rec():
    return al.io.read(METRICS)


def test_each_generation_is_a_turn_with_its_ttfbs(rec, items):
    measured = [i for i in items if i["type"] == "TTFBMetricsData" and i["model"] is not None]
    llm = [1000 * i["value"] for i in measured if i["processor"].startswith("FakeLLM")]
    tts = [1000 * i["value"] for i in measured if i["processor"].startswith("FakeTTS")]
    turns = rec.turns.sort_values("turn_id")
    assert turns.seg_llm_ttft_ms.tolist() == pytest.approx(llm) and len(llm) == 3
    assert turns.seg_tts_ttfb_ms.tolist() == pytest.approx(tts)
    assert turns.total_e2e_ms.isna().all() and "seg_other_ms" not in turns
    start = [i["timestamp_ns"] / 1e6 for i in measured if i["processor"].startswith("FakeLLM")]
    first = rec.events[rec.events.event == "llm_first_token"].t_ms.tolist()
    assert first == pytest.approx(start)


def test_the_start_up_announcements_are_not_measurements(rec, items):
    zeros = [i for i in items if i["model"] is None and i["value"] == 0]
    assert zeros  # Pipecat announces its metrics processors with zeros
    assert (rec.segments.ms > 0).all()


def test_usage_and_the_trace_of_the_same_run_agree(rec, items):
    usage = [i["value"] for i in items if i["type"] == "LLMUsageMetricsData"]
    assert rec.usage.tokens_in.iloc[0] == sum(u["prompt_tokens"] for u in usage)
    with pytest.warns(al.AgentlabWarning, match="use_provider_thinking_default"):
        trace = al.io.read(DATA / "pipecat.otlp.jsonl")
    for col in ("seg_llm_ttft_ms", "seg_tts_ttfb_ms"):
        assert rec.turns[col].tolist() == pytest.approx(trace.turns[col].tolist())


def test_a_processor_of_no_known_role_is_counted(tmp_path):
    path = tmp_path / "m.jsonl"
    odd = {"type": "TTFBMetricsData", "timestamp_ns": 9, "processor": "Mixer#0",
           "model": "", "value": 0.1}
    path.write_text(METRICS.read_text() + json.dumps(odd) + "\n")
    with pytest.warns(al.AgentlabWarning, match=r"processor Mixer#0"):
        al.io.read(path)
