"""Turn-taking on the virtual clock: speculation's hits and misses, eager ends and resumes,
dynamic endpointing, latency budgets and fillers (runtime/turn_taking.py defines the
instants these tests check)."""

import math

import numpy as np
import pytest

import agentlab as al
from agentlab.components import LLM

# every stage fixed: each instant below is a sum of these
FIXED = {"name": "fixed-stages", "stages": {
    "transport_in_ms": 100, "vad_silence_ms": 200, "stt_ms": 250, "endpointing_ms": 600,
    "llm_ttft_ms": 100, "llm_tokens_per_s": 50, "tts_ttfb_ms": 90,
    "tts_leading_silence_ms": 0, "transport_out_ms": 50}}
EAGER_AFTER_STOP = 100 + max(200 + 150, 250)  # transport_in + max(vad + eager_ms, stt)


def runner(preemptive=False, detector=None, budget=None, filler=None, stt_hook=None):
    pipeline = al.Pipeline(turn_detector=detector, preemptive_generation=preemptive,
                           latency_budget=budget)
    if stt_hook is not None:
        pipeline.on("stt", stt_hook)

    async def handle_call(ctx):
        if filler is not None:
            @ctx.session.on("latency_budget")
            async def speak_filler(level, elapsed_ms):
                if level == "warning":
                    await ctx.session.say(filler)

        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call, pipeline=pipeline)


def rows(rec, name):
    return rec.table(name).to_pandas()


def test_a_speculation_hit_lowers_the_total_by_exactly_its_overlap():
    eager = al.sim.TurnDetector(eager=True)
    script = ["Where is my order?", "It was a blue jacket, size medium.", "Thanks."]
    base, spec = al.Recorder(), al.Recorder()
    al.simulate_sync(runner(False, eager), script, calls=6, seed=11, recorder=base)
    al.simulate_sync(runner(True, eager), script, calls=6, seed=11, recorder=spec)
    a, b = base.turns, spec.turns
    assert len(a) == len(b) == 18 and b["speculation_hit"].all()
    assert (b["wasted_tokens_in"] == 0).all() and (b["speculation_misses"] == 0).all()
    saved = a["total_e2e_ms"].to_numpy() - b["total_e2e_ms"].to_numpy()
    overlap = b["speculation_overlap_ms"].to_numpy()
    assert (overlap > 0).all()
    np.testing.assert_allclose(saved, overlap, atol=0.002)  # the clock's microsecond
    # the segments still add up, and the model's time before release is not llm_ttft's
    segs = b[[c for c in b.columns if c.startswith("seg_")]].sum(axis=1)
    np.testing.assert_allclose(segs, b["total_e2e_ms"], atol=1e-6)
    assert (b["seg_llm_ttft_ms"] <= a["seg_llm_ttft_ms"] + 1e-9).all()
    # the same tokens were used: a hit wastes none
    assert base.usage["tokens_out"].sum() == spec.usage["tokens_out"].sum()


def test_a_resumed_caller_discards_the_speculation_and_its_waste_is_exact():
    # the caller pauses 500 ms after six words; a long endpointing delay keeps the turn
    detector = al.sim.TurnDetector(eager=True, delay_ms=3000)
    rec = al.Recorder()
    text = "I want to move my booking ... to Friday at three."
    al.simulate_sync(runner(True, detector), [text], seed=2, profile=FIXED, recorder=rec)
    events = rec.events
    turn = events[events["turn_id"] == 1]
    order = [e for e in turn["event"] if e in ("user_speech_start", "eager_end_of_turn",
                                               "turn_resumed", "user_speech_end",
                                               "user_turn")]
    assert order == ["user_speech_start", "eager_end_of_turn", "turn_resumed",
                     "user_speech_end", "eager_end_of_turn", "user_turn"]
    start = turn[turn["event"] == "user_speech_start"]["t_ms"].iloc[0]
    pause_at = start + 6 * 400.0  # 2.5 words/s
    gone = rows(rec, "speculation_discarded").iloc[0]
    first_eager = rows(rec, "eager_end_of_turn").iloc[0]
    assert first_eager["text"] == "I want to move my booking"
    assert first_eager["t_ms"] == pytest.approx(pause_at + EAGER_AFTER_STOP, abs=1e-6)
    resumed = pause_at + 700.0 + 100.0  # persona hesitation, heard after transport in
    assert gone["reason"] == "resumed" and gone["t_ms"] == pytest.approx(resumed)
    assert gone["wasted_ms"] == pytest.approx(resumed - first_eager["t_ms"])
    generating_ms = gone["wasted_ms"] - 100.0  # after the 100 ms first token
    assert gone["tokens_out"] == math.floor(generating_ms * 50 / 1000.0)
    assert gone["tokens_in"] == LLM().prompt_tokens_per_turn + LLM().tokens(
        "I want to move my booking")
    row = rec.turns.iloc[0]
    assert row["speculations"] == 2 and row["speculation_misses"] == 1
    assert row["speculation_hit"]  # the second one, on the whole sentence
    assert row["wasted_tokens_out"] == gone["tokens_out"]
    assert row["wasted_ms"] == pytest.approx(gone["wasted_ms"])
    assert row["eager_ends"] == 2 and row["turn_resumes"] == 1
    # the discarded request is not usage: the turn's llm_response counts its own tokens
    assert rec.usage["tokens_out"].iloc[0] == rows(rec, "llm_response")["tokens_out"].sum()


def test_a_discarded_speculation_generates_no_more_than_the_turns_own_reply():
    # 250 ms of generating at 50 tokens/s would be 12 tokens; the reply is 2 ("Done.")
    detector = al.sim.TurnDetector(eager=True, delay_ms=3000)
    rec = al.Recorder()
    script = [{"text": "I want to move my booking ... to Friday.", "reply": "Done."}]
    al.simulate_sync(runner(True, detector), script, seed=2, profile=FIXED, recorder=rec)
    gone = rows(rec, "speculation_discarded").iloc[0]
    assert gone["wasted_ms"] == pytest.approx(350.0)
    assert gone["tokens_out"] == LLM().tokens("Done.") == 2


def test_a_final_transcript_that_differs_discards_the_speculation_at_the_commit():
    async def corrected(audio_stream):
        async for event in al.run_stt(audio_stream):
            event.data.text = event.data.text.replace("order", "parcel")
            yield event

    rec = al.Recorder()
    al.simulate_sync(runner(True, al.sim.TurnDetector(eager=True), stt_hook=corrected),
                     ["Where is my order?"], seed=3, profile=FIXED, recorder=rec)
    gone = rows(rec, "speculation_discarded")
    commit = rows(rec, "user_turn")
    assert list(gone["reason"]) == ["transcript_changed"]
    assert gone["t_ms"].iloc[0] == commit["t_ms"].iloc[0]
    assert commit["text"].iloc[0] == "Where is my parcel?"
    assert not rec.turns["speculation_hit"].iloc[0]
    assert rows(rec, "speculation_used").empty


def test_a_budget_fires_at_its_instant_and_its_filler_comes_first_in_exactly_those_turns():
    budget = al.LatencyBudget(warning_ms=1000, exceeded_ms=2500)
    rec = al.Recorder()
    script = ["Where is my order?", "It was a blue jacket.", "Thanks."]
    al.simulate_sync(runner(budget=budget, filler="One moment."), script, calls=12,
                     seed=5, recorder=rec)
    turns = rec.turns
    fired = turns["budget_warning"]
    assert 0 < fired.sum() < len(turns)  # both kinds of turn are in the run
    warned = rows(rec, "latency_budget")
    warnings = warned[warned["level"] == "warning"].merge(
        turns[["session_id", "turn_id", "t_user_speech_end_ms"]].astype(
            {"session_id": str}), on=["session_id", "turn_id"])
    np.testing.assert_allclose(warnings["t_ms"], warnings["t_user_speech_end_ms"] + 1000.0,
                               atol=0.002)
    assert (turns.loc[fired, "first_audio_ms"] < turns.loc[fired, "first_answer_audio_ms"]
            ).all()
    assert (turns.loc[~fired, "first_audio_ms"] == turns.loc[~fired, "first_answer_audio_ms"]
            ).all()
    fillers = rows(rec, "tts_request")
    assert (fillers["text"] == "One moment.").sum() == fired.sum()
    # the answer waits for the filler: one voice at a time
    speech = rec.events[rec.events["event"].isin(["agent_speech_start", "agent_speech_end"])]
    for _, call in speech.groupby("session_id", observed=True):
        kinds = list(call["event"])
        assert kinds == ["agent_speech_start", "agent_speech_end"] * (len(kinds) // 2)
    # a level fires only while the answer is not out
    late = turns["budget_exceeded"]
    assert (turns.loc[late, "first_answer_audio_ms"] > 2500.0).all()
    assert (turns.loc[~late, "first_answer_audio_ms"] <= 2500.0 + 0.002).all()


def test_dynamic_endpointing_adapts_to_the_callers_pauses_over_a_call():
    persona = {"hesitation_probability": 1.0, "hesitation_ms": 1200.0, "pause_ms": 400}
    turns = [{"user": "I would like to book a table for tonight."}] * 8
    scenario = al.Scenario.from_dict({"id": "hesitant", "persona": persona,
                                      "turns": turns})
    detector = al.sim.TurnDetector(mode="dynamic", min_delay_ms=400, max_delay_ms=3000,
                                   alpha=0.5)
    rec = al.Recorder()
    al.simulate_sync(runner(detector=detector), scenarios=[scenario], seed=1, recorder=rec,
                     profile=FIXED)
    delays = rec.turns["endpointing_delay_ms"].to_numpy()
    assert delays[0] == 400.0
    assert (np.diff(delays) >= 0).all() and delays[-1] > 1000.0
    # early on the detector cuts the caller off in the pause (the rest talks over the
    # reply); once the delay has learnt the pauses it waits them out
    turns = rec.turns
    cut = turns["interrupted"].to_numpy()
    whole = turns["user_text"] == "I would like to book a table for tonight."
    assert cut[0] and turns["user_text"].iloc[1] == "table for tonight."
    assert whole.sum() >= 5 and not cut[whole.to_numpy()].any()
    fixed = al.Recorder()
    al.simulate_sync(runner(detector=al.sim.TurnDetector(delay_ms=400)),
                     scenarios=[scenario], seed=1, recorder=fixed, profile=FIXED)
    assert (fixed.turns["endpointing_delay_ms"] == 400.0).all()
    assert fixed.turns["interrupted"].sum() > rec.turns["interrupted"].sum()


def test_bad_turn_taking_settings_name_the_field_and_the_fix():
    with pytest.raises(al.ConfigError, match="mode is 'fixed' or 'dynamic'"):
        al.sim.TurnDetector(mode="adaptive")
    with pytest.raises(al.ConfigError, match="warning_ms <= exceeded_ms"):
        al.LatencyBudget(warning_ms=900, exceeded_ms=500)
    with pytest.raises(al.ConfigError, match="al.LatencyBudget"):
        al.simulate_sync(runner(budget=800), ["Hi."])
    with pytest.raises(al.ConfigError, match="preemptive_generation"):
        al.simulate_sync(runner(preemptive="yes"), ["Hi."])
