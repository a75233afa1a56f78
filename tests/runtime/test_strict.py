"""strict=True re-raises every hook kind's own exception; otherwise each is isolated."""

import pytest

import agentlab as al


class HookFailed(Exception):
    pass


def _observe(pipeline, session):
    @session.on("user_turn")
    async def fails(text):
        raise HookFailed("observe")


def _chain(pipeline, session):
    @pipeline.on("llm")
    async def fails(data):
        raise HookFailed("chain")


def _slot(pipeline, session):
    @pipeline.on("tts")
    async def fails(text_stream):
        async for _ in text_stream:
            raise HookFailed("stream slot")
        yield b""


def _chained_stream(pipeline, session):
    @pipeline.on("vision_frame")
    async def fails(frames):
        async for _ in frames:
            raise HookFailed("chained stream")
        yield None


def _fire_and_forget(pipeline, session):
    def fails(event):
        raise HookFailed("fire-and-forget")

    session.hooks.register(on_turn_latency=fails)


def _on_error(pipeline, session):
    def fails(event):
        raise HookFailed("on_error")

    session.hooks.register(on_error=fails)  # the failing-tool scenario gives it work


KINDS = {"observe": (_observe, "hook:user_turn"), "chain": (_chain, "hook:llm"),
         "stream slot": (_slot, "hook:tts"),
         "chained stream": (_chained_stream, "hook:vision_frame"),
         "fire-and-forget": (_fire_and_forget, "hook:on_turn_latency"),
         "on_error": (_on_error, "hook:on_error")}


def _simulate(kind, **kw):
    install, _ = KINDS[kind]
    if kind == "on_error":
        return al.simulate_sync(_runner(install), scenarios="failing-tool", **kw)
    return al.simulate_sync(_runner(install), ["Hello there.", "Thanks."], **kw)


def _runner(install):
    pipeline = al.Pipeline(vision=al.sim.Camera(fps=2))

    async def entry(ctx):
        install(pipeline, ctx.session)
        await ctx.session.run()

    return al.AgentRunner(entrypoint=entry, pipeline=pipeline)


@pytest.mark.parametrize("kind", list(KINDS))
def test_strict_reraises_the_handlers_own_exception(kind):
    rec = al.Recorder()
    with pytest.raises(HookFailed, match=kind):
        _simulate(kind, strict=True, recorder=rec)
    assert list(rec.events.event).count("session_end") == 1  # the call still ended


@pytest.mark.parametrize("kind", list(KINDS))
def test_outside_strict_each_kind_is_isolated_under_its_hook_name(kind):
    component = KINDS[kind][1]
    rec = al.Recorder()
    sim = _simulate(kind, recorder=rec)
    assert sim.calls[0].final_state == "ended"
    errors = rec.errors
    assert component in set(errors.component)
    assert "session" not in set(errors.component)
