"""Side-effect-only and fire-and-forget handlers never hold the turn (ARCHITECTURE.md §1):
``agent_turn_start``/``agent_turn_end`` handlers run beside the agent's audio, in order,
at their event's instant; an async fire-and-forget handler runs at its event's instant
and only a suspended remainder goes to a task."""

import asyncio

import agentlab as al


def _run(pipeline, script=("Hello there.", "And one more thing."), hooks=None):
    async def handle_call(ctx):
        await ctx.session.run()

    rec = al.Recorder()
    sim = al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=pipeline,
                                          hooks=hooks), list(script), seed=2, recorder=rec)
    return sim, rec


def _instants(rec, name):
    ev = rec.events
    return ev[ev.event == name].t_ms.tolist()


def test_a_slow_agent_turn_end_handler_does_not_delay_the_turn():
    slow = al.Pipeline()
    order = []

    @slow.on("agent_turn_start")
    async def first():
        order.append("first")
        await asyncio.sleep(2.0)  # longer than the reply: still never holds it
        order.append("first done")

    @slow.on("agent_turn_start")
    async def second():
        order.append("second")

    @slow.on("agent_turn_end")
    async def slow_end():
        await asyncio.sleep(0.5)

    _, rec = _run(slow)
    _, base = _run(al.Pipeline())
    for name in ("agent_speech_start", "agent_speech_end", "turn_end", "user_speech_start"):
        assert _instants(rec, name) == _instants(base, name), name
    assert order[:3] == ["first", "first done", "second"]  # in order, one after another
    hooks = rec.hooks
    starts = hooks[hooks.hook == "agent_turn_start"]
    assert starts.groupby("handler").size().tolist() == [2, 2]
    speech = _instants(rec, "agent_speech_start")
    assert sorted(starts[starts.handler.str.endswith("first")].t_ms) == speech
    ends = hooks[hooks.hook == "agent_turn_end"]
    assert (ends.duration_ms == 500).all() and ends.ok.all()


def test_an_async_fire_and_forget_handler_runs_at_its_events_instant():
    seen = []

    async def on_turn_latency(event):
        seen.append(event.segments.totalE2EMs)

    _, rec = _run(al.Pipeline(), hooks={"on_turn_latency": on_turn_latency})
    turn_ends = _instants(rec, "turn_end")
    rows = rec.hooks[rec.hooks.hook == "on_turn_latency"]
    assert rows.t_ms.tolist() == turn_ends and (rows.duration_ms == 0).all()
    assert len(seen) == len(turn_ends)
