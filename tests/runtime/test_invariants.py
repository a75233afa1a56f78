"""Invariants over generated calls (hypothesis): whatever the script, seed and hooks, each
call has one session_start and one session_end, paired agent speech, monotonic instants,
non-negative additive segments; the same seed gives the same rows; pass-through hooks
change no event."""

import asyncio

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import agentlab as al

# A fixed budget (make test stays fast); no shrinking: a failure prints its example as
# found, and derandomize makes every run try the same examples.
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow])

words = st.lists(st.sampled_from(["order", "refund", "where", "is", "my", "parcel", "please",
                                  "four", "thanks", "human", "now", "?"]),
                 min_size=0, max_size=8).map(" ".join)
turns = st.lists(st.fixed_dictionaries({
    "text": words,
    "pause_ms": st.floats(0, 3000),
    "barge_in_ms": st.one_of(st.none(), st.floats(0, 2000)),
}), min_size=1, max_size=5)
profiles = st.sampled_from(al.available_profiles())


def _hooks(draw_kinds):
    """A runner whose hooks are the drawn kinds; 'pass' kinds change nothing."""
    pipeline = al.Pipeline()
    kinds = set(draw_kinds)

    async def entry(ctx):
        if "session_pass" in kinds:
            @ctx.session.on("user_turn")
            async def seen(text):
                pass
        if "framework_pass" in kinds:
            ctx.session.hooks.register(onTurnLatency=lambda m: None)
        if "framework_fail" in kinds:
            def broken(m):
                raise ValueError("metrics sink down")
            ctx.session.hooks.register(onTurnLatency=broken)
        if "slow" in kinds:
            @ctx.session.on("user_turn")
            async def slow(text):
                await asyncio.sleep(0.4)
        if "end_from_hook" in kinds:
            @ctx.session.on("user_turn")
            async def hang_up(text):
                await ctx.session.end("agent_ended")
        if "entry_raises_before" in kinds:
            raise RuntimeError("entrypoint failed before run")
        await ctx.session.run()
        if "entry_raises_after" in kinds:
            raise RuntimeError("entrypoint failed after run")

    if "lifecycle_pass" in kinds:
        @pipeline.on("user_turn_start")
        async def start(transcript):
            pass
    if "llm_pass" in kinds:
        @pipeline.on("llm")
        async def same(data):
            return None
    if "stt_pass" in kinds:
        @pipeline.on("stt")
        async def stt(audio_stream):
            async for event in al.run_stt(audio_stream):
                yield event
    if "tts_pass" in kinds and "tts_fail" not in kinds:  # one tts handler
        @pipeline.on("tts")
        async def tts(text_stream):
            async for chunk in al.run_tts(text_stream):
                yield chunk
    if "tts_fail" in kinds:
        @pipeline.on("tts")
        async def tts_fail(text_stream):
            async for chunk in al.run_tts(text_stream):
                yield chunk
                raise RuntimeError("tts dropped")
    return al.AgentRunner(entrypoint=entry, pipeline=pipeline)


# Hooks that by the documents cost no session time when they do nothing. (An ``llm`` hook
# is not one: it needs the whole reply before TTS starts, the documented ``llm_rest`` wait.)
PASS = ["session_pass", "framework_pass", "lifecycle_pass", "stt_pass", "tts_pass"]
ANY = [*PASS, "llm_pass", "framework_fail", "slow", "tts_fail", "end_from_hook",
       "entry_raises_before", "entry_raises_after"]
limits = st.sampled_from([1.5, 4.0, 120.0])  # short ones cut calls mid-turn, mid-speech


def _run(script, seed, profile, kinds, max_call_s=120.0):
    rec = al.Recorder()
    sim = al.simulate_sync(_hooks(kinds), script, seed=seed, profile=profile, calls=2,
                           recorder=rec, max_call_s=max_call_s)
    return sim, rec


@SETTINGS
@given(turns, st.integers(0, 2**31), profiles, st.lists(st.sampled_from(ANY), unique=True),
       limits)
def test_every_generated_call_keeps_the_invariants(script, seed, profile, kinds, limit):
    sim, rec = _run(script, seed, profile, kinds, limit)
    ev = rec.events
    assert len(ev) == len(sim.events)
    for sid, e in ev.groupby("session_id", observed=True):
        names = e.event.astype(str).tolist()
        assert names.count("session_start") == 1 and names.count("session_end") == 1, sid
        speech = [n for n in names if n in ("agent_speech_start", "agent_speech_end")]
        assert speech == ["agent_speech_start", "agent_speech_end"] * (len(speech) // 2)
        order = e.sort_values("seq")
        # hook_call rows are stamped with the instant their handler started
        stamped = order[order.event.astype(str) != "hook_call"].t_ms.to_numpy()
        assert (np.diff(stamped) >= -1e-9).all(), sid
    sessions = rec.sessions
    assert sessions.final_state.notna().all() and len(sessions) == 2
    assert sessions.reason.notna().all() and (sessions.reason.astype(str) != "").all()
    # a call ending (hang-up, time limit, end()) is not a hook's failure
    hook_errors = rec.errors[rec.errors.component.astype(str).str.startswith("hook:")]
    assert not hook_errors.error_type.astype(str).isin(
        ["CallEnded", "CancelledError"]).any(), hook_errors.message.tolist()
    turns_ = rec.turns.dropna(subset=["total_e2e_ms"])
    seg = al.analysis.segment_columns(turns_)
    assert (turns_[seg].fillna(0) >= -1e-9).all().all()
    assert np.allclose(turns_[seg].fillna(0).sum(axis=1), turns_.total_e2e_ms, atol=1e-6)


def _comparable(rec):
    ev = rec.events
    ev = ev[ev.event.astype(str) != "hook_call"].drop(columns=["run_id", "seq"])
    ev = ev.astype({c: object for c in ev.columns if str(ev[c].dtype) == "category"})
    return ev.reset_index(drop=True)


@SETTINGS
@given(turns, st.integers(0, 2**31), profiles, st.lists(st.sampled_from(ANY), unique=True))
def test_the_same_seed_gives_the_same_rows(script, seed, profile, kinds):
    _, a = _run(script, seed, profile, kinds)
    _, b = _run(script, seed, profile, kinds)
    pd.testing.assert_frame_equal(_comparable(a), _comparable(b))
    pd.testing.assert_frame_equal(a.turns.drop(columns="run_id"),
                                  b.turns.drop(columns="run_id"))


@SETTINGS
@given(turns, st.integers(0, 2**31), profiles,
       st.lists(st.sampled_from(PASS), unique=True, min_size=1))
def test_pass_through_hooks_change_no_event(script, seed, profile, kinds):
    _, plain = _run(script, seed, profile, [])
    _, hooked = _run(script, seed, profile, kinds)
    pd.testing.assert_frame_equal(_comparable(plain), _comparable(hooked))


def test_in_process_and_process_pool_give_the_same_rows():
    def baseline(runner):
        pass

    def crm(runner):
        @runner.pipeline.on("user_turn_start")
        async def lookup(transcript):
            await asyncio.sleep(0.05)

    exp = al.Experiment(configs=[baseline, crm], scenarios="scenarios", batch_size=5)
    a, b = exp.run(progress=False), exp.run("processes", workers=2, progress=False)
    pd.testing.assert_frame_equal(a.turns.drop(columns="run_id"),
                                  b.turns.drop(columns="run_id"))


def test_a_hang_up_inside_stream_hooks_is_not_their_error():
    """The bundled scenarios hang up while the agent speaks (impatient and barge-in
    callers): stream hooks wrapping stt and tts (here the VideoSDK complete example's)
    see the call end, and it is not their error."""
    from tests.programs.test_videosdk_program import entrypoint

    rec = al.Recorder()
    al.simulate_sync(entrypoint, scenarios="scenarios", repeats=5, seed=3, recorder=rec)
    hook_errors = rec.errors[rec.errors.component.astype(str).str.startswith("hook:")]
    assert hook_errors.empty, hook_errors.message.tolist()
