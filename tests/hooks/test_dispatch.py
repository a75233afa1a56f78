"""Dispatch semantics of every kind, failure isolation, strict mode and hook timing."""

import asyncio
import re
import time

import pytest

import agentlab as al
from agentlab import events as ev
from agentlab.hooks import HookBus
from agentlab.testing import ScriptedCall, hooks_fired


def make_bus(session, **kw):
    bus = session.make_bus(**kw)
    seen = []
    bus.subscribe(seen.append)
    return bus, seen


# -- observe -----------------------------------------------------------------------
def test_observe_handlers_run_in_registration_order_with_documented_args(run):
    session = al.Session()
    calls = []

    @session.on("user_turn")
    async def a(text): calls.append(("a", text))

    @session.on("user_turn")
    async def b(text): calls.append(("b", text))

    async def go():
        bus, _ = make_bus(session)
        await bus.emit(ev.UserTurn, "hello")

    run(go())
    assert calls == [("a", "hello"), ("b", "hello")]


def test_one_event_fires_its_views_in_table_order(run):
    pipeline = al.Pipeline()
    session = al.Session(pipeline=pipeline)
    order = []

    @pipeline.on("user_turn_start")
    async def p(transcript): order.append(("pipeline.user_turn_start", transcript))

    @session.on("user_turn")
    async def s(text): order.append(("session.user_turn", text))

    async def go():
        bus, _ = make_bus(session)
        await bus.emit(ev.UserTurn, "hi")

    run(go())
    assert order == [("session.user_turn", "hi"), ("pipeline.user_turn_start", "hi")]


# -- chain (llm) ---------------------------------------------------------------------
def _chain(run, *handlers, text="Call 555 about the SSN at 9 AM"):
    pipeline = al.Pipeline()
    for h in handlers:
        pipeline.on("llm", h)
    session = al.Session(pipeline=pipeline)

    async def go():
        bus, seen = make_bus(session)
        return await bus.run_chain("llm", text), seen

    return run(go())


def test_chain_return_str_replaces_text(run):
    async def filter_response(data):
        return data.get("text", "").replace("SSN", "[REDACTED]")

    out, _ = _chain(run, filter_response)
    assert out == "Call 555 about the [REDACTED] at 9 AM"


def test_chain_yielded_chunks_are_joined(run):
    async def format_response(data):
        text = data.get("text", "")
        yield text.replace("AM", "A M")
        yield "!"

    out, _ = _chain(run, format_response)
    assert out == "Call 555 about the SSN at 9 A M!"


def test_chain_none_passes_through_and_observer_sees_text(run):
    seen = []

    async def on_llm(data):
        seen.append(data["text"])

    out, _ = _chain(run, on_llm)
    assert out == "Call 555 about the SSN at 9 AM" and seen == [out]


def test_chain_each_handler_sees_previous_output(run):
    async def one(data): return data["text"] + " one"

    async def observe(data): assert data["text"].endswith("one")

    async def two(data):
        yield data["text"] + " two"

    out, _ = _chain(run, one, observe, two, text="x")
    assert out == "x one two"


def test_chain_handler_returning_non_str_is_an_error_and_passes_input(run):
    async def bad(data): return 42

    async def after(data): return data["text"] + "!"

    out, seen = _chain(run, bad, after, text="hi")
    assert out == "hi!"
    errors = [e for e in seen if e.name == "error"]
    assert len(errors) == 1 and errors[0].component == "hook:llm"
    assert "returned int; return a str to replace the text" in errors[0].message


def test_chain_result_is_what_is_spoken_and_stored(run):
    pipeline = al.Pipeline()

    @pipeline.on("llm")
    async def redact(data):
        return data["text"].replace("SSN", "[REDACTED]")

    call = ScriptedCall(al.Session(pipeline=pipeline))
    run(call.play([("what's on file", "Your SSN is on file.")]))
    stored = [e.text for e in call.events if e.name == "agent_turn"]
    assert call.spoken == ["Your [REDACTED] is on file."] == stored
    # the raw LLM response is kept as its own fact
    assert [e.text for e in call.events if e.name == "llm_response"] == ["Your SSN is on file."]


# -- stream slots ----------------------------------------------------------------------
def test_stt_slot_runs_user_hook_around_builtin_stage(run):
    import re as _re

    pipeline = al.Pipeline()

    @pipeline.on("stt")
    async def stt_hook(audio_stream):
        async def filtered_audio():
            async for audio in audio_stream:
                if len(audio) < 300:
                    continue
                yield audio

        async for event in al.run_stt(filtered_audio()):
            if event.data and event.data.text:
                text = event.data.text.lower()
                text = _re.sub(r"\b(uh|um|like)\b", "", text)
                event.data.text = " ".join(text.split())
            yield event

    call = ScriptedCall(al.Session(pipeline=pipeline))
    run(call.play([("Um I uh need help", "Sure.")]))
    assert [e.text for e in call.events if e.name == "user_turn"] == ["i need help"]


def test_tts_slot_changes_what_is_synthesized(run):
    pipeline = al.Pipeline()

    @pipeline.on("tts")
    async def tts_hook(text_stream):
        async def preprocess():
            async for text in text_stream:
                yield text.replace("AM", "A M").replace("PM", "P M")

        async for audio in al.run_tts(preprocess()):
            yield audio

    call = ScriptedCall(al.Session(pipeline=pipeline))
    run(call.play([("when?", "Between 9 AM and 5 PM.")]))
    assert call.spoken == ["Between 9 A M and 5 P M."]


def test_failing_stream_slot_falls_back_to_builtin_and_reports(run):
    pipeline = al.Pipeline()

    @pipeline.on("tts")
    async def broken(text_stream):
        raise RuntimeError("voice service down")
        yield b""  # pragma: no cover

    call = ScriptedCall(al.Session(pipeline=pipeline))
    run(call.play([("hi", "Hello there.")]))
    assert call.spoken == ["Hello there."]
    errors = [e for e in call.events if e.name == "error"]
    assert [(e.component, e.message) for e in errors] == [("hook:tts", "voice service down")]
    assert errors[0].handler.endswith("broken")


def test_run_stt_outside_a_hook_explains_itself():
    with pytest.raises(RuntimeError, match=re.escape(
            "run_stt() runs the pipeline's built-in STT stage and only works inside a "
            "@pipeline.on('stt') hook")):
        al.run_stt(None)


# -- chained stream (vision_frame) --------------------------------------------------------
def test_vision_frame_handlers_wrap_the_stream_in_order(run):
    pipeline = al.Pipeline()

    @pipeline.on("vision_frame")
    async def add_a(frame_stream):
        async for frame in frame_stream:
            yield frame + "a"

    @pipeline.on("vision_frame")
    async def add_b(frame_stream):
        async for frame in frame_stream:
            yield frame + "b"

    @pipeline.on("vision_frame")
    async def broken(frame_stream):
        async for frame in frame_stream:
            if frame.startswith("2"):
                raise ValueError("bad frame")
            yield frame + "!"

    session = al.Session(pipeline=pipeline)

    async def frames():
        for i in range(4):
            yield str(i)

    async def go():
        bus, seen = make_bus(session)
        return [f async for f in bus.chained_stream("vision_frame", frames())], seen

    out, seen = run(go())
    # frame "2" was consumed by the failing handler; later frames bypass it
    assert out == ["0ab!", "1ab!", "3ab"]
    assert [e.component for e in seen if e.name == "error"] == ["hook:vision_frame"]


# -- isolation and strict ----------------------------------------------------------------------
def test_failing_handler_becomes_error_event_fires_on_error_and_call_goes_on(run):
    session = al.Session()
    after, on_error = [], []

    @session.on("user_turn")
    async def explode(text):
        raise KeyError("crm")

    @session.on("user_turn")
    async def still_runs(text):
        after.append(text)

    session.hooks.register(onError=lambda e: on_error.append(
        (e.component, e.handler.rsplit(".", 1)[-1], e.severity, type(e.error).__name__)))
    call = ScriptedCall(session)
    run(call.play([("one", "a"), ("two", "b")]))
    assert after == ["one", "two"]
    assert on_error == [("hook:user_turn", "explode", "error", "KeyError")] * 2
    errors = [e for e in call.events if e.name == "error"]
    assert [e.turn_id for e in errors] == [1, 2]
    assert sum(e.name == "session_end" for e in call.events) == 1


def test_strict_reraises_the_handlers_exception(run):
    session = al.Session(strict=True)

    @session.on("user_turn")
    async def explode(text):
        raise KeyError("crm")

    with pytest.raises(KeyError, match="crm"):
        run(ScriptedCall(session).play([("one", "a")]))


def test_strict_reraises_detached_framework_failures_at_drain(run):
    session = al.Session(strict=True)
    session.hooks.register(on_session_start=lambda e: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run(ScriptedCall(session).play([]))


def test_failing_on_error_handler_does_not_feed_itself(run):
    session = al.Session()
    session.hooks.register(on_error=lambda e: 1 / 0)

    @session.on("user_turn")
    async def explode(text):
        raise ValueError("x")

    call = ScriptedCall(session)
    run(call.play([("one", "a")]))
    errors = [(e.component, e.error_type) for e in call.events if e.name == "error"]
    assert errors == [("hook:user_turn", "ValueError"), ("hook:on_error", "ZeroDivisionError")]


def test_failing_subscriber_is_reported_and_removed(run):
    async def go():
        bus = HookBus("s")
        good = []
        bus.subscribe(lambda e: 1 / 0 if e.name == "user_turn" else None)
        bus.subscribe(good.append)
        await bus.emit(ev.UserTurn, "x")
        await bus.emit(ev.UserTurn, "y")
        await bus.drain()
        return good

    good = run(go())
    names = [e.name for e in good]
    assert names.count("user_turn") == 2 and names.count("error") == 1


# -- fire-and-forget ----------------------------------------------------------------------------
def test_slow_framework_hooks_do_not_delay_the_pipeline(run):
    done = []

    async def slow_async(event):
        await asyncio.sleep(0.3)
        done.append("async")

    def slow_sync(event):
        time.sleep(0.05)
        done.append("sync")

    async def go(with_hooks):
        session = al.Session()
        if with_hooks:
            session.hooks.register(on_turn_latency=slow_async, onTurnLatency=slow_sync)
        bus, seen = make_bus(session)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await bus.emit(ev.TurnEnd, 700.0, (("other", 700.0),), False)
        after_emit = loop.time() - t0
        assert done == []  # nothing ran inline
        await bus.emit(ev.AgentSpeechEnd, False, "reply")
        await bus.drain()
        return after_emit, seen

    after_emit, seen = run(go(True))
    assert after_emit < 0.01
    assert sorted(done) == ["async", "sync"]
    fired = hooks_fired(seen)
    assert len(fired) == 2 and all("framework.on_turn_latency" in f for f in fired)


def test_framework_payloads_read_in_both_spellings(run):
    got = []
    session = al.Session()
    session.hooks.register(onTurnLatency=lambda e: got.append(
        (e.sessionId, e.turnId, e.segments.totalE2EMs, e["segments"]["llm_ttft_ms"])))
    call = ScriptedCall(session)

    async def go():
        bus, _ = make_bus(session)
        bus.turn_id = 3
        await bus.emit(ev.TurnEnd, 812.5, (("llm_ttft", 500.0), ("other", 312.5)), False)
        await bus.drain()

    run(go())
    assert got == [(session.session_id, "3", 812.5, 500.0)]
    assert call.session is session


# -- timing -------------------------------------------------------------------------------
def test_every_handler_call_is_timed_and_emitted_as_hook_call(run):
    pipeline = al.Pipeline()
    session = al.Session(pipeline=pipeline)

    @session.on("user_turn")
    async def u(text): ...

    @pipeline.on("llm")
    async def llm_hook(data): ...

    @pipeline.on("agent_turn_start")
    async def a(): ...

    session.hooks.register(on_turn_latency=lambda e: None)
    call = ScriptedCall(session)
    run(call.play([("a", "b"), ("c", "d")]))
    calls = [e for e in call.events if e.name == "hook_call"]
    assert [(c.scope, c.hook) for c in calls if c.turn_id == 1] == [
        ("session", "user_turn"), ("pipeline", "llm"), ("pipeline", "agent_turn_start"),
        ("framework", "on_turn_latency")]
    assert all(c.wall_ns > 0 and c.ok for c in calls)
    stats = session.hook_registry.statistics()
    assert stats[0]["calls"] == 2 and stats[0]["total_ns"] > 0


def test_timing_without_subscribers_accumulates_on_handlers(run):
    session = al.Session()

    @session.on("user_turn")
    async def u(text): await asyncio.sleep(0)

    async def go():
        bus = session.make_bus()
        for _ in range(5):
            await bus.emit(ev.UserTurn, "x")

    run(go())
    entry = session.hook_registry.handlers("user_turn")[0]
    assert entry.calls == 5 and entry.total_s > 0


def test_disabled_handler_is_skipped(run):
    session = al.Session()
    seen = []

    @session.on("user_turn")
    async def u(text): seen.append(text)

    session.hook_registry.set_enabled("user_turn", u, False)
    run(ScriptedCall(session).play([("a", "b")]))
    assert seen == []


def test_registration_changes_reach_a_running_bus(run):
    """Registries tell their live buses about every change (no per-dispatch check)."""
    session = al.Session()
    seen = []

    async def first(text): seen.append(("first", text))
    async def second(text): seen.append(("second", text))

    async def go():
        bus = session.make_bus()
        await bus.emit(ev.UserTurn, "a")            # nothing registered yet
        session.on("user_turn", first)
        await bus.emit(ev.UserTurn, "b")
        session.on("user_turn", second)
        await bus.emit(ev.UserTurn, "c")
        session.hook_registry.set_enabled("user_turn", first, False)
        await bus.emit(ev.UserTurn, "d")
        session.hook_registry.remove("user_turn", second)
        await bus.emit(ev.UserTurn, "e")

    run(go())
    assert seen == [("first", "b"), ("first", "c"), ("second", "c"), ("second", "d")]


def test_a_sync_framework_hook_fires_at_its_events_instant_on_virtual_time():
    """on_turn_latency fires "at the end of each turn": on virtual time a plain def runs
    as the turn ends; in a task it ran only when the loop next yielded, which a scripted
    call (the demo) does not do until the call ends (turn 1's call came at 5,400 ms)."""
    from agentlab.clock import run_virtual
    from agentlab.testing import ScriptedCall

    session = al.Session()
    session.hooks.register(onTurnLatency=lambda e: None)
    call = ScriptedCall(session)
    run_virtual(call.play([("one", "Reply one."), ("two", "Reply two.")]))
    ends = [e.t_ms for e in call.events if e.name == "turn_end"]
    fired = [e.t_ms for e in call.events if e.name == "hook_call"
             and e.hook == "on_turn_latency"]
    assert fired == ends and ends[0] < ends[1]
