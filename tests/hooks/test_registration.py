"""Registration: names, handler shapes, decorator and call forms, composition, aliases."""

import re

import pytest

import agentlab as al
from agentlab.events import EVENT_TYPES
from agentlab.hooks import HOOK_SPECS, Dispatch, Scope


def test_spec_table_declares_every_seed_hook_once_per_scope():
    keys = [s.key for s in HOOK_SPECS]
    assert len(keys) == len(set(keys))
    names = {scope: set() for scope in Scope}
    for s in HOOK_SPECS:
        names[s.scope].add(s.name)
    assert names[Scope.RUNNER] == {"call_start", "call_end"}
    assert names[Scope.SESSION] == {"call_start", "user_turn", "agent_turn", "interruption",
                                    "call_end", "user_partial", "silence", "tool_call",
                                    "tool_result",
                                    "latency_budget"}  # agentlab's own (docs/turn-taking.md)
    assert names[Scope.PIPELINE] == {"stt", "tts", "llm", "vision_frame", "user_turn_start",
                                     "user_turn_end", "agent_turn_start", "agent_turn_end"}
    assert names[Scope.FRAMEWORK] == {
        "on_session_start", "on_session_end", "on_turn_latency", "on_tool_call",
        "on_tool_result", "on_agent_transfer", "on_subagent_step", "on_memory_extraction",
        "on_error"}


def test_every_event_view_names_a_real_canonical_event():
    for spec in HOOK_SPECS:
        if spec.event is not None:
            assert spec.event in EVENT_TYPES, spec
            assert spec.args_of is not None
        else:
            assert spec.dispatch in (Dispatch.CHAIN, Dispatch.STREAM_SLOT,
                                     Dispatch.CHAINED_STREAM) or spec.key == "runner.call_start"


def test_dispatch_kinds_match_the_docs():
    kind = {s.key: s.dispatch for s in HOOK_SPECS}
    assert kind["pipeline.llm"] is Dispatch.CHAIN
    assert kind["pipeline.stt"] is kind["pipeline.tts"] is Dispatch.STREAM_SLOT
    assert kind["pipeline.vision_frame"] is Dispatch.CHAINED_STREAM
    assert kind["session.user_turn"] is Dispatch.OBSERVE
    assert all(s.dispatch is Dispatch.FIRE_AND_FORGET for s in HOOK_SPECS
               if s.scope is Scope.FRAMEWORK)


def test_decorator_and_plain_call_both_register_in_order():
    session = al.Session()

    @session.on("user_turn")
    async def first(text): ...

    async def second(text): ...

    assert session.on("user_turn", second) is second
    assert [e.fn for e in session.hook_registry.handlers("user_turn")] == [first, second]


def test_unknown_name_lists_valid_names_and_suggests_closest():
    session = al.Session()
    with pytest.raises(al.UnknownHookError) as info:
        session.on("user_trun")
    msg = str(info.value)
    assert "Unknown hook 'user_trun' for Session." in msg
    assert "Did you mean 'user_turn'?" in msg
    assert "Valid hooks for Session: agent_turn, call_end, call_start," in msg
    assert isinstance(info.value, ValueError)


def test_name_from_another_scope_says_where_it_belongs():
    session = al.Session()
    with pytest.raises(al.UnknownHookError, match=re.escape(
            "It is a hook of the pipeline scope (@pipeline.on(...))")):
        session.on("user_turn_start")
    with pytest.raises(al.UnknownHookError, match="Did you mean 'on_turn_latency'"):
        al.FrameworkHooks(on_turn_latncy=print)


def test_sync_def_where_async_is_required_says_what_to_write():
    pipeline = al.Pipeline()

    def on_agent_done():
        pass

    with pytest.raises(al.HookSignatureError) as info:
        pipeline.on("agent_turn_end", on_agent_done)
    assert str(info.value) == (
        "Hook 'agent_turn_end' on Pipeline needs an async function, but 'on_agent_done' is "
        "a plain function (def). Write `async def on_agent_done(): ...` (no yield).")
    assert isinstance(info.value, TypeError)


def test_stream_slot_rejects_non_generator_with_run_stt_hint():
    pipeline = al.Pipeline()

    async def stt_hook(audio_stream):
        return None

    with pytest.raises(al.HookSignatureError) as info:
        pipeline.on("stt", stt_hook)
    assert str(info.value) == (
        "Hook 'stt' on Pipeline wraps a stream and needs an async generator, but 'stt_hook' "
        "is an async function without yield. Write `async def stt_hook(audio_stream):` with "
        "`async for item in run_stt(audio_stream): yield item` inside.")


def test_vision_frame_needs_async_generator():
    pipeline = al.Pipeline()
    with pytest.raises(al.HookSignatureError, match="needs an async generator"):
        pipeline.on("vision_frame", lambda frames: frames)


def test_llm_accepts_async_return_or_async_generator_but_not_sync():
    pipeline = al.Pipeline()

    async def ret(data): return None

    async def gen(data):
        yield data["text"]

    pipeline.on("llm", ret)
    pipeline.on("llm", gen)
    with pytest.raises(al.HookSignatureError, match="needs an async function"):
        pipeline.on("llm", lambda data: data["text"])


def test_wrong_arity_is_rejected_with_the_expected_call():
    session = al.Session()

    async def on_turn():
        pass

    with pytest.raises(al.HookSignatureError) as info:
        session.on("user_turn", on_turn)
    assert "calls its handlers as user_turn(text), but 'on_turn' takes ()" in str(info.value)


def test_second_stream_slot_replaces_first_with_warning():
    pipeline = al.Pipeline()

    async def one(text_stream):
        yield b""

    async def two(text_stream):
        yield b""

    pipeline.on("tts", one)
    with pytest.warns(al.HookReplacedWarning, match="two replaces .*one"):
        pipeline.on("tts", two)
    assert [e.fn for e in pipeline.hook_registry.handlers("tts")] == [two]


def test_framework_hooks_camel_case_aliases_and_forms():
    a, b, c, d = (lambda e: None for _ in range(4))

    class Observer:
        def onToolCall(self, event): ...

    obs = Observer()
    hooks = al.FrameworkHooks(onTurnLatency=a)
    hooks.register({"on_error": b})
    hooks.register(al.FrameworkHooks(on_turn_latency=c))
    hooks.register(obs, onSessionEnd=d)
    reg = hooks.registered()
    assert reg["on_turn_latency"] == [a, c]  # composed, not overwritten
    assert reg["on_error"] == [b]
    assert reg["on_session_end"] == [d]
    assert reg["on_tool_call"] == [obs.onToolCall]


def test_framework_hooks_accept_sync_and_async():
    async def handler(event): ...

    hooks = al.FrameworkHooks(on_error=handler)
    hooks.register(on_error=lambda e: None)
    assert [e.is_async for e in hooks.handlers("on_error")] == [True, False]


def test_framework_register_rejects_object_without_hooks():
    with pytest.raises(al.UnknownHookError, match="no hook methods"):
        al.FrameworkHooks().register(object())


def test_runner_hooks_are_runner_scope():
    runner = al.AgentRunner(entrypoint=None, agent_id="x")

    @runner.on("call_end")
    async def log_call_end(ctx, final_state): ...

    with pytest.raises(al.UnknownHookError,
                       match=re.escape("Valid hooks for AgentRunner: call_end, call_start.")):
        runner.on("user_turn")


def test_callable_object_with_async_call_is_accepted():
    class Handler:
        async def __call__(self, text): ...

    session = al.Session()
    session.on("user_turn", Handler())
    assert len(session.hook_registry.handlers("user_turn")) == 1


def test_the_hooks_doc_reference_is_the_spec_table():
    from pathlib import Path

    from agentlab.hooks.spec import hook_reference_markdown

    doc = (Path(__file__).parents[2] / "docs" / "hooks.md").read_text()
    assert hook_reference_markdown() in doc
