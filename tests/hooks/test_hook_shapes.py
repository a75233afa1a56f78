"""Handlers of a shape that would never run are refused at registration, with a fix that
is Python; a sync handler returning a coroutine has it awaited."""

import asyncio

import pytest

import agentlab as al


def test_generators_as_framework_hooks_are_refused():
    async def agen(metrics):
        yield metrics

    def gen(metrics):
        yield metrics

    for fn, what in ((agen, "an async generator"), (gen, "a generator")):
        with pytest.raises(al.HookSignatureError, match=f"{what}.*would never run"):
            al.FrameworkHooks(onTurnLatency=fn)


def test_a_lambda_is_told_to_become_a_named_function():
    pipeline = al.Pipeline()
    with pytest.raises(al.HookSignatureError) as err:
        pipeline.on("user_turn_start", lambda text: None)
    message = str(err.value)
    assert "the lambda" in message and "async def handler(" in message
    assert "<lambda>" not in message


def test_a_sync_handler_returning_a_coroutine_has_it_awaited():
    seen = []

    async def send(metrics):
        await asyncio.sleep(0.01)
        seen.append(metrics)

    async def entry(ctx):
        ctx.session.hooks.register(onTurnLatency=lambda m: send(m))
        await ctx.session.run()

    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=entry, pipeline=al.Pipeline()),
                     ["One.", "Two."], recorder=rec)
    assert len(seen) == 2
    assert rec.hooks[rec.hooks.hook.astype(str) == "on_turn_latency"].ok.all()
