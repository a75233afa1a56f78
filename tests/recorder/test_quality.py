"""The quality table: conversation measures per call, from the speech instants."""

import pytest

import agentlab as al

FIXED = {"name": "fixed-stages", "stages": {
    "transport_in_ms": 100, "vad_silence_ms": 200, "stt_ms": 250, "endpointing_ms": 300,
    "llm_ttft_ms": 400, "llm_tokens_per_s": 50, "tts_ttfb_ms": 90,
    "tts_leading_silence_ms": 0, "transport_out_ms": 50}}


async def handle_call(ctx):
    await ctx.session.run()


def run(script, **kw):
    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline()), script,
                     seed=1, profile=FIXED, recorder=rec, **kw)
    return rec


def spans(rec, start, end):
    a = rec.table(start).to_pandas()["t_ms"].to_numpy()
    b = rec.table(end).to_pandas()["t_ms"].to_numpy()
    return list(zip(a, b, strict=True))


def test_talk_gaps_and_monologue_are_the_speech_instants():
    rec = run(["Hi there.", "Where is my order?"])
    q = rec.quality.iloc[0]
    caller = spans(rec, "user_speech_start", "user_speech_end")
    agent = spans(rec, "agent_speech_start", "agent_speech_end")
    assert q["caller_talk_ms"] == pytest.approx(sum(b - a for a, b in caller))
    assert q["agent_talk_ms"] == pytest.approx(sum(b - a for a, b in agent))
    assert q["talk_to_listen"] == pytest.approx(q["agent_talk_ms"] / q["caller_talk_ms"])
    # caller, agent, caller, agent: three changes of speaker, nobody talking over
    gaps = [agent[0][0] - caller[0][1], caller[1][0] - agent[0][1],
            agent[1][0] - caller[1][1]]
    assert q["gap_ms"] == pytest.approx(sum(gaps))
    assert q["mean_gap_ms"] == pytest.approx(sum(gaps) / 3)
    assert q["longest_monologue_ms"] == pytest.approx(max(b - a for a, b in agent))
    assert q["overlap_ms"] == 0 and q["interruptions"] == 0
    assert q["barge_in_recovery"] != q["barge_in_recovery"]  # NaN: nothing to recover


def test_a_barge_in_is_counted_and_the_next_reply_recovers():
    rec = run(["Where is my order?", {"text": "Stop, just cancel it.", "barge_in_ms": 700}])
    q = rec.quality.iloc[0]
    assert q["interruptions"] == 1 and q["barge_in_recovery"] == 1.0
    assert rec.turns["interrupted"].tolist() == [True, False]
