"""ARCHITECTURE §5: no call can hang a simulation, in real time or in session time."""

import asyncio
import signal

import pytest

import agentlab as al


@pytest.fixture(autouse=True)
def _real_time_limit():
    """A hang fails the test in 20 s of real time instead of hanging the suite."""
    def stop(*_):
        raise TimeoutError("the simulation hung (20 s of real time)")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


async def handle_call(ctx):
    await ctx.session.run()


def _runner(**kw):
    return al.AgentRunner(entrypoint=kw.pop("entrypoint", handle_call),
                          pipeline=kw.pop("pipeline", al.Pipeline()), **kw)


def _stuck_pipeline(hook):
    pipeline = al.Pipeline()
    if hook in ("stt", "tts", "llm"):
        @pipeline.on(hook)
        async def stuck(stream):
            await asyncio.Event().wait()
            yield  # pragma: no cover - never reached
    else:
        @pipeline.on(hook)
        async def stuck(*args):
            await asyncio.Event().wait()
    return pipeline


@pytest.mark.parametrize("hook", ["user_turn_start", "llm", "tts", "stt"])
def test_a_hook_that_awaits_forever_ends_the_call_at_once_as_timeout(hook):
    rec = al.Recorder()
    sim = al.simulate_sync(_runner(pipeline=_stuck_pipeline(hook)), ["Hello there."],
                           recorder=rec, max_call_s=30)
    assert sim.calls[0].reason == "timeout"
    assert rec.sessions.reason.astype(str).tolist() == ["timeout"]
    errors = rec.errors[rec.errors.component.astype(str) == "call"]
    assert len(errors) == 1 and "deadlock" in errors.message.iloc[0]
    assert "stuck" in errors.message.iloc[0], errors.message.iloc[0]  # names the awaiter
    ends = rec.events[rec.events.event == "session_end"]
    assert len(ends) == 1 and ends.t_ms.iloc[0] < 10_000  # at once, not at the limit
    calls = rec.events[rec.events.event == "user_turn"]
    assert len(calls) <= 1


def test_a_session_hook_and_a_tool_that_never_return_end_the_call():
    async def entry(ctx):
        @ctx.session.on("user_turn")
        async def stuck(text):
            await asyncio.Event().wait()
        await ctx.session.run()

    rec = al.Recorder()
    sim = al.simulate_sync(_runner(entrypoint=entry), ["Hello there."], recorder=rec)
    assert sim.calls[0].reason == "timeout"

    @al.tool
    async def lookup_order(order_id: str = ""):
        await asyncio.Event().wait()

    scenario = al.Scenario.from_dict({
        "id": "stuck-tool", "tools": {"lookup_order": {"result": "unused"}},
        "turns": [{"user": "Where is order 42?", "tool_calls": [{"name": "lookup_order"}]}]},
        "test")
    rec = al.Recorder()
    sim = al.simulate_sync(_runner(tools=[lookup_order]), scenarios=[scenario],
                           recorder=rec)
    assert sim.calls[0].reason == "timeout"
    assert rec.tools.status.astype(str).tolist() == ["cancelled"]


def test_the_call_limit_is_a_hard_instant():
    pipeline = al.Pipeline()

    @pipeline.on("user_turn_start")
    async def slow(transcript):
        await asyncio.sleep(1e6)

    rec = al.Recorder()
    sim = al.simulate_sync(_runner(pipeline=pipeline), ["Hello there."], recorder=rec,
                           max_call_s=30)
    assert sim.calls[0].reason == "timeout"
    ends = rec.events[rec.events.event == "session_end"]
    assert len(ends) == 1 and ends.t_ms.iloc[0] == pytest.approx(30_000, abs=1)


def test_an_entrypoint_that_never_runs_the_session_still_ends_the_call():
    ended = []

    async def entry(ctx):
        await asyncio.Event().wait()

    runner = _runner(entrypoint=entry)

    @runner.on("call_end")
    async def on_end(ctx, final_state):
        ended.append(final_state)

    rec = al.Recorder()
    sim = al.simulate_sync(runner, ["Hello there."], recorder=rec)
    assert len(ended) == 1 and sim.calls[0].reason == "timeout"
    assert len(rec.sessions) == 1
    # nothing could ever run again: ended at once, saying where the entrypoint waited
    assert rec.events[rec.events.event == "session_end"].t_ms.iloc[0] < 1000
    message = rec.errors[rec.errors.component.astype(str) == "call"].message.iloc[0]
    assert "deadlocked" in message and "entry() at test_no_hang.py" in message, message


def test_fire_and_forget_handlers_cut_at_session_end_are_recorded_as_cancelled():
    async def slow_latency(metrics):
        await asyncio.sleep(3600)

    async def entry(ctx):
        ctx.session.hooks.register(onTurnLatency=slow_latency)
        await ctx.session.run()

    rec = al.Recorder()
    al.simulate_sync(_runner(entrypoint=entry), ["One.", "Two.", "Three."], recorder=rec)
    turns = len(rec.turns)
    hooks = rec.hooks[rec.hooks.handler.astype(str).str.contains("slow_latency")]
    assert len(hooks) == turns == 3 and not hooks.ok.any()
    cut = rec.errors[rec.errors.handler.astype(str).str.contains("slow_latency")]
    assert len(cut) == 3 and cut.message.str.contains("cancelled").all()
    assert (cut.severity.astype(str) == "warn").all()


def test_cancelling_a_simulation_closes_the_call_in_flight():
    ended = []
    runner = _runner()

    @runner.on("call_end")
    async def on_end(ctx, final_state):
        ended.append(final_state)

    rec = al.Recorder()

    async def main():
        task = asyncio.ensure_future(al.simulate(runner, calls=100_000, recorder=rec))
        # cancel once calls are running (a loaded machine may take a while to start them)
        for _ in range(600):
            await asyncio.sleep(0.05)
            if len(ended) >= 3:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    ev = rec.events
    starts, ends = (ev.event == "session_start").sum(), (ev.event == "session_end").sum()
    assert 0 < starts == ends == len(ended) == len(rec.sessions) < 100_000
    assert ended[-1] == "cancelled" and set(ended[:-1]) == {"ended"}
    assert rec.sessions.reason.astype(str).tolist()[-1] == "cancelled"


def test_a_call_ending_while_a_tool_runs_cancels_the_tool_and_fires_tool_result():
    seen = []

    async def entry(ctx):
        ctx.session.hooks.register(onToolResult=lambda result: seen.append(result))
        await ctx.session.run()

    scenario = al.Scenario.from_dict({
        "id": "slow-tool", "tools": {"lookup_order": {"result": "ok", "latency_ms": 20_000}},
        "turns": [{"user": "Where is order 42?", "tool_calls": [{"name": "lookup_order"}]}]},
        "test")
    rec = al.Recorder()
    al.simulate_sync(_runner(entrypoint=entry), scenarios=[scenario], recorder=rec,
                     max_call_s=10)
    tool = rec.tools.iloc[0]
    assert tool.status == "cancelled" and "call ended (timeout)" in tool.error
    assert len(seen) == 1


def test_a_slow_fire_and_forget_handler_does_not_hold_the_entrypoint():
    after_run = []

    async def exporter(report):
        await asyncio.sleep(3600)

    async def entry(ctx):
        ctx.session.hooks.register(onSessionEnd=exporter)
        await ctx.session.run()
        after_run.append(asyncio.get_running_loop().time())

    rec = al.Recorder()
    al.simulate_sync(_runner(entrypoint=entry), ["Hello."], recorder=rec)
    assert len(after_run) == 1  # run() returned at session end, not after the drain
    assert not rec.errors.component.astype(str).eq("entrypoint").any()
    cut = rec.errors[rec.errors.handler.astype(str).str.contains("exporter")]
    assert len(cut) == 1 and "cancelled" in cut.message.iloc[0]
