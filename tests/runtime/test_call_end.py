"""Every promise of a call's end: call_end fires for any reason, strict means strict."""

import asyncio
import traceback

import pytest

import agentlab as al


class Boom(Exception):
    pass


def watched(entry, pipeline=None, **runner_kw):
    """A runner whose runner- and session-level call_end hooks and on_session_end log."""
    log = []
    runner = al.AgentRunner(entrypoint=entry, pipeline=pipeline or al.Pipeline(), **runner_kw)

    @runner.on("call_end")
    async def runner_end(ctx, final_state):
        log.append(("runner.call_end", final_state))

    @runner.on("call_start")
    async def wire_session(ctx):
        @ctx.session.on("call_end")
        async def session_end(state):
            log.append(("session.call_end", state))

        ctx.session.hooks.register(on_session_end=lambda e: log.append(
            ("on_session_end", e.reason)))

    return runner, log


def ended_once(rec, log, reason="error", state="failed"):
    assert log.count(("runner.call_end", state)) == 1
    assert log.count(("session.call_end", state)) == 1
    assert sum(1 for name, _ in log if name == "on_session_end") == 1
    sessions = rec.sessions
    assert len(sessions) == 1
    row = sessions.iloc[0]
    assert (row.reason, row.final_state) == (reason, state)
    names = list(rec.events.event)
    assert names.count("session_start") == 1 and names.count("session_end") == 1


def test_entrypoint_raising_before_run_ends_the_call_failed():
    async def entry(ctx):
        raise Boom("CRM down before the call started")

    runner, log = watched(entry)
    rec = al.Recorder()
    sim = al.simulate_sync(runner, ["Hello."], recorder=rec)
    ended_once(rec, log)
    assert sim.calls[0].final_state == "failed" and sim.calls[0].reason == "error"
    errors = rec.errors
    assert list(errors.component) == ["entrypoint"]
    assert "CRM down" in errors.message.iloc[0]
    # the error row comes before session_end
    names = list(rec.events.event)
    assert names.index("error") < names.index("session_end")


def test_entrypoint_raising_during_run_ends_the_call_failed():
    async def entry(ctx):
        async def watchdog():
            await asyncio.sleep(1.0)
            raise Boom("watchdog crashed")

        await asyncio.gather(ctx.session.run(), watchdog())

    runner, log = watched(entry)
    rec = al.Recorder()
    sim = al.simulate_sync(runner, ["Hello.", "Where is my order?", "Thanks."], recorder=rec)
    ended_once(rec, log)
    assert sim.calls[0].final_state == "failed"
    assert list(rec.errors.component) == ["entrypoint"]
    # the call stopped soon after the crash, not after the whole script
    assert rec.sessions.duration_ms.iloc[0] < 3000


def test_failing_component_ends_the_call_failed():
    class BrokenTTS(al.sim.TTS):
        def duration_ms(self, text):
            raise Boom("TTS quota exceeded")

    async def entry(ctx):
        await ctx.session.run()

    runner, log = watched(entry, pipeline=al.Pipeline(tts=BrokenTTS()))
    rec = al.Recorder()
    sim = al.simulate_sync(runner, ["Hello."], recorder=rec)
    ended_once(rec, log)
    assert sim.calls[0].final_state == "failed"
    assert "TTS quota exceeded" in rec.errors.message.iloc[0]


def test_strict_runner_hook_error_still_ends_the_call_and_is_raised():
    async def entry(ctx):
        await ctx.session.run()

    runner, log = watched(entry)

    @runner.on("call_start")
    async def broken(ctx):
        raise Boom("runner hook")

    rec = al.Recorder()
    with pytest.raises(Boom, match="runner hook"):
        al.simulate_sync(runner, ["Hello."], recorder=rec, strict=True)
    ended_once(rec, log)


def test_strict_entrypoint_error_is_raised_after_call_end_fired():
    async def entry(ctx):
        raise Boom("entry")

    runner, log = watched(entry)
    rec = al.Recorder()
    with pytest.raises(Boom, match="entry"):
        al.simulate_sync(runner, ["Hello."], recorder=rec, strict=True)
    ended_once(rec, log)


def test_simulation_traceback_does_not_chain_no_running_event_loop():
    async def entry(ctx):
        raise Boom("entry")

    runner, _ = watched(entry)
    with pytest.raises(Boom) as info:
        al.simulate_sync(runner, ["Hello."], strict=True)
    text = "".join(traceback.format_exception(info.value))
    assert "no running event loop" not in text


@pytest.mark.parametrize("streamed", [False, True])
def test_a_call_stopped_mid_speech_ends_the_speech(streamed):
    """max_call_s stops the call by cancelling it (not a session sleep's CallEnded): the
    agent's speech in progress still gets its agent_speech_end (interrupted), inline and
    as tasks. The inline executor let the cancel out without telling the speaker."""
    pipeline = al.Pipeline()
    if streamed:
        @pipeline.on("tts")
        async def same(text_stream):
            async for pcm in al.hooks.run_tts(text_stream):
                yield pcm

    async def entry(ctx):
        await ctx.session.run()

    script = [{"text": "Where is my order?", "pause_ms": 0}]
    full = al.simulate_sync(al.AgentRunner(entrypoint=entry, pipeline=pipeline), script)
    start = next(e.t_ms for e in full.events if e.name == "agent_speech_start")
    end = next(e.t_ms for e in full.events if e.name == "agent_speech_end")
    cut = al.simulate_sync(al.AgentRunner(entrypoint=entry, pipeline=pipeline), script,
                           max_call_s=(start + end) / 2 / 1000.0)
    names = [e.name for e in cut.events]
    assert cut.calls[0].reason == "timeout"
    assert names.count("agent_speech_start") == names.count("agent_speech_end") == 1
    speech_end = next(e for e in cut.events if e.name == "agent_speech_end")
    assert speech_end.interrupted and start < speech_end.t_ms < end
