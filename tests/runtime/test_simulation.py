"""Simulated calls: virtual clock, determinism, invariants, interruption, limits."""

import asyncio
import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agentlab as al
from agentlab.clock import run_in_thread, run_virtual


def runner(pipeline=None, entry=None):
    async def handle_call(ctx):
        await ctx.session.run()

    return al.AgentRunner(entrypoint=entry or handle_call,
                          pipeline=pipeline or al.Pipeline(stt=al.sim.STT(), llm=al.sim.LLM(),
                                                           tts=al.sim.TTS()))


def fields(events):
    return [tuple(getattr(e, f) for f in e.__dataclass_fields__ if f != "exception")
            for e in events if e.name != "hook_call"]


def test_virtual_clock_jumps_and_waits_for_threads():
    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3600)
        before = loop.time()
        # a thread that needs real time must not make a virtual timeout fire
        await asyncio.wait_for(asyncio.to_thread(time.sleep, 0.2), timeout=0.05)
        return before

    t0 = time.perf_counter()
    assert run_virtual(main()) == 3600.0
    assert time.perf_counter() - t0 < 2


def test_same_seed_same_events_field_for_field():
    a = al.simulate_sync(runner(), calls=3, seed=7)
    b = al.simulate_sync(runner(), calls=3, seed=7)
    c = al.simulate_sync(runner(), calls=3, seed=8)
    assert fields(a.events) == fields(b.events)
    assert fields(a.events) != fields(c.events)


def test_segments_sum_exactly_to_total():
    sim = al.simulate_sync(runner(), calls=20, seed=1, profile="slow-tail-heavy")
    turns = sim.turns()
    seg_cols = [c for c in turns.columns if c.endswith("_ms") and c != "total_e2e_ms"]
    assert len(seg_cols) == 11
    assert (turns[seg_cols].sum(axis=1) - turns.total_e2e_ms).abs().max() < 1e-6
    assert (turns[seg_cols] >= -1e-9).all().all()


def test_profiles_shape_latency():
    fast = al.simulate_sync(runner(), calls=30, seed=2, profile="fast-tuned-cascade").turns()
    slow = al.simulate_sync(runner(), calls=30, seed=2, profile="slow-tail-heavy").turns()
    assert fast.total_e2e_ms.median() < 1000 < slow.total_e2e_ms.median()
    assert sorted(al.available_profiles()) == [
        "deepgram-gpt4o-cartesia-webrtc", "fast-tuned-cascade", "phone-deepgram-gpt4o-cartesia",
        "slow-tail-heavy", "speech-to-speech-realtime"]


def test_bad_profile_name_lists_the_bundled_ones():
    with pytest.raises(al.ConfigError, match="no latency profile 'nope'; bundled profiles: "
                                             "deepgram-gpt4o-cartesia-webrtc"):
        al.simulate_sync(runner(), profile="nope")


def test_blocking_user_hook_is_its_own_segment():
    pipeline = al.Pipeline()

    async def handle_call(ctx):
        @ctx.session.on("user_turn")
        async def crm(text):
            await asyncio.sleep(0.25)

        await ctx.session.run()

    turns = al.simulate_sync(runner(pipeline, handle_call), seed=0).turns()
    assert turns.user_hooks_ms.tolist() == pytest.approx([250.0] * 3)


def test_barge_in_pairs_speech_events_and_flags_the_turn():
    sim = al.simulate_sync(runner(), ["Tell me everything about my account.",
                                      {"text": "Stop, just the balance.", "barge_in_ms": 800}])
    names = [(e.turn_id, e.name) for e in sim.events]
    assert (1, "interruption") in names
    starts = [e for e in sim.events if e.name == "agent_speech_start"]
    ends = [e for e in sim.events if e.name == "agent_speech_end"]
    assert len(starts) == len(ends) == 2
    assert ends[0].interrupted and ends[0].t_ms - starts[0].t_ms == pytest.approx(800, abs=201)
    turns = sim.turns()
    assert turns.interrupted.tolist() == [True, False]


def test_entrypoint_that_never_ends_is_cancelled_and_recorded():
    async def handle_call(ctx):
        async def forever():
            while True:
                await asyncio.sleep(1)

        await asyncio.gather(ctx.session.run(), forever())

    sim = al.simulate_sync(runner(None, handle_call), ["Hi."], grace_s=5)
    errors = [e for e in sim.events if e.name == "error"]
    assert [e.component for e in errors] == ["entrypoint"]
    assert "still running 5 s after its session ended" in errors[0].message


def test_call_time_limit_ends_the_call():
    sim = al.simulate_sync(runner(), ["Hi.", {"text": "later", "pause_ms": 10_000_000}],
                           max_call_s=60)
    assert sim.calls[0].reason == "timeout"
    assert "time limit of 60 s" in [e for e in sim.events if e.name == "error"][0].message


def test_simulate_is_awaitable_from_a_running_loop_and_cancellable():
    async def notebook_cell():
        sim = await al.simulate(runner(), calls=2, seed=0)
        assert len(sim.calls) == 2
        task = asyncio.ensure_future(al.simulate(runner(), calls=20_000, seed=0))
        await asyncio.sleep(0.3)
        t0 = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.perf_counter() - t0

    took = asyncio.run(notebook_cell())
    assert took < 1.5
    import threading
    assert not [t for t in threading.enumerate() if t.name == "agentlab-simulation"]


def test_simulate_sync_inside_a_loop_points_to_await():
    async def cell():
        al.simulate_sync(runner())

    with pytest.raises(al.AgentlabError, match="use `await al.simulate"):
        asyncio.run(cell())


def test_run_in_thread_returns_value():
    async def virt():
        await asyncio.sleep(100)
        return asyncio.get_running_loop().time()

    assert asyncio.run(run_in_thread(virt)) == 100.0


@settings(max_examples=40, deadline=None)
@given(script=st.lists(st.fixed_dictionaries({
    "text": st.sampled_from(["Hi.", "Where is my order?", "Cancel it please, right now.",
                             "Yes."]),
    "pause_ms": st.floats(0, 12_000),
    "barge_in_ms": st.one_of(st.none(), st.floats(0, 3000))}), min_size=1, max_size=6),
    seed=st.integers(0, 10_000))
def test_invariants_over_random_calls(script, seed):
    sim = al.simulate_sync(runner(), script, seed=seed)
    names = [e.name for e in sim.events]
    assert names.count("session_start") == 1 and names.count("session_end") == 1
    assert names[0] == "session_start" and names[-1] in ("session_end", "hook_call")
    open_ = 0
    for e in sim.events:
        if e.name == "agent_speech_start":
            assert open_ == 0
            open_ += 1
        elif e.name == "agent_speech_end":
            assert open_ == 1
            open_ -= 1
    assert open_ == 0
    t = [e.t_ms for e in sim.events]
    assert t == sorted(t)
    seqs = [e.seq for e in sim.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for e in sim.events:
        if e.name == "turn_end" and not math.isnan(e.total_e2e_ms):
            assert abs(sum(v for _, v in e.segments) - e.total_e2e_ms) < 1e-6


def test_results_do_not_depend_on_concurrency():
    # one call at a time the clock moves without timers (VirtualTimeLoop.advance); many at
    # once every wait is a real timer: the events must be the same field for field
    script = ["Hello, I want to check my order.", {"text": "No wait, stop.", "barge_in_ms": 700},
              {"text": "Fine, thanks.", "pause_ms": 9000}]
    one = al.simulate_sync(runner(), script, calls=6, seed=3)
    many = al.simulate_sync(runner(), script, calls=6, seed=3, concurrency=6)
    assert fields(one.events) == fields(many.events)
    with pytest.raises(al.ConfigError, match="concurrency"):
        al.simulate_sync(runner(), calls=1, concurrency=0)


def test_advance_moves_the_clock_only_when_nothing_else_could_run():
    async def main():
        loop = asyncio.get_running_loop()
        assert loop.advance(2.0) and loop.time() == 2.0
        other = asyncio.ensure_future(asyncio.sleep(1.0))
        await asyncio.sleep(0)  # the other task now has a timer at t=3.0
        assert not loop.advance(5.0) and loop.time() == 2.0  # its timer comes first
        assert loop.advance(0.5) and loop.time() == 2.5
        await other
        return loop.time()

    assert run_virtual(main()) == 3.0


def test_horizon_is_the_next_timer_unless_something_is_ready():
    async def main():
        loop = asyncio.get_running_loop()
        far = loop.horizon_us()
        other = asyncio.ensure_future(asyncio.sleep(1.5))
        ready = loop.horizon_us()  # the other task has not started: it is ready to run
        await asyncio.sleep(0)
        return far, ready, loop.horizon_us(), await other

    far, ready, timer, _ = run_virtual(main())
    assert far > 10**15 and ready == -1 and timer == 1_500_000


def test_planned_steps_never_run_past_another_tasks_timer():
    # A background task wakes every 137 ms through a whole call, while the call's turns
    # are planned and played with clock moves: each wake-up must come exactly on time,
    # and no event the call emitted by then may be stamped later than the wake-up.
    wakeups = []

    async def handle_call(ctx):
        seen = []
        ctx.session.bus.subscribe(seen.append)

        async def ticker():
            loop = asyncio.get_running_loop()
            start = loop.time_us()
            for k in range(1, 200):
                await asyncio.sleep(0.137)
                wakeups.append((loop.time_us() - start, k * 137_000,
                                ctx.session.bus.now_ms(), seen[-1].t_ms if seen else 0.0))

        task = asyncio.ensure_future(ticker())
        await ctx.session.run()
        task.cancel()

    sim = al.simulate_sync(runner(entry=handle_call), ["Where is my order?", "Thanks.",
                                                       "Bye now."], seed=3)
    assert sim.calls[0].final_state == "ended" and len(wakeups) > 50
    for waited_us, due_us, now_ms, last_ms in wakeups:
        assert waited_us == due_us and last_ms <= now_ms


def test_speech_to_speech_turns_use_the_realtime_segments():
    sim = al.simulate_sync(runner(), calls=5, seed=2, profile="speech-to-speech-realtime")
    turns = sim.turns()
    segs = ["client_to_backend_ms", "backend_to_model_ms", "user_hooks_ms", "tools_ms",
            "model_processing_ms", "model_to_backend_ms", "backend_to_client_ms", "other_ms"]
    assert list(turns.columns[4:-1]) == segs
    assert (turns[segs].sum(axis=1) - turns.total_e2e_ms).abs().max() < 1e-6
    assert turns.other_ms.abs().max() < 1e-6
    # realtime voice-to-voice is ~1.15 s median (REFERENCE §1), faster than the cascade
    assert 800 < turns.total_e2e_ms.median() < 1600
    names = {e.name for e in sim.events}
    assert "stt_partial" not in names and "tts_request" not in names
    assert {"user_turn", "agent_speech_start", "agent_turn", "turn_end"} <= names


def test_speech_to_speech_barge_in_and_blocking_user_hooks():
    pipeline = al.Pipeline()

    @pipeline.on("user_turn_start")
    async def crm(text):
        await asyncio.sleep(0.2)

    script = ["Tell me about my plan please.", {"text": "Stop, stop.", "barge_in_ms": 500}]
    sim = al.simulate_sync(runner(pipeline), script, profile="speech-to-speech-realtime")
    turns = sim.turns()
    assert turns.user_hooks_ms.tolist() == pytest.approx([200.0, 200.0])
    assert turns.interrupted.tolist() == [True, False]
    starts = [e for e in sim.events if e.name == "agent_speech_start"]
    ends = [e for e in sim.events if e.name == "agent_speech_end"]
    assert len(starts) == len(ends) == 2 and ends[0].interrupted
    assert ends[0].t_ms - starts[0].t_ms == pytest.approx(500.0)


def test_vision_frames_flow_through_chained_hooks_at_the_camera_rate():
    pipeline = al.Pipeline(vision=al.sim.Camera(fps=2))
    seen = []

    @pipeline.on("vision_frame")
    async def grayscale(frame_stream):
        async for frame in frame_stream:
            seen.append(frame.pts)
            yield {"gray": frame.to_ndarray().mean(axis=2), "pts": frame.pts}

    @pipeline.on("vision_frame")
    async def annotate(frame_stream):  # chained: receives the previous hook's output
        async for item in frame_stream:
            yield {**item, "labelled": True}

    sim = al.simulate_sync(runner(pipeline), ["Can you see this?"], seed=1)
    conv = sim.calls[0].session.conversation
    end = next(e for e in sim.events if e.name == "session_end")
    assert len(seen) == conv.frames_seen == pytest.approx(end.t_ms / 500, abs=1.5)
    assert seen == sorted(seen) and seen[1] - seen[0] == 500
    assert conv.latest_frame["labelled"] and conv.latest_frame["gray"].shape == (48, 64)
    links = [e for e in sim.events if e.name == "hook_call" and e.hook == "vision_frame"]
    assert [e.handler.split(".")[-1] for e in links] == ["grayscale", "annotate"]
