"""The hook spec table: every hook name of the three vocabularies, declared once.

A :class:`HookSpec` says where a hook is registered (its scope), what its handlers receive,
how they are dispatched, and which canonical event fires it. Registration, dispatch and
the docs all read this table; nothing else names hooks.

Vocabularies (see ``shared/seeds``):

* runner / session call hooks (``@runner.on``, ``@ctx.session.on``),
* pipeline stream and lifecycle hooks (``@pipeline.on``),
* framework observability hooks (``session.hooks.register(...)``, camelCase aliases).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import events as ev


class Scope(enum.StrEnum):
    RUNNER = "runner"
    SESSION = "session"
    PIPELINE = "pipeline"
    FRAMEWORK = "framework"


class Dispatch(enum.StrEnum):
    OBSERVE = "observe"                  # many async handlers, in order, results ignored
    CHAIN = "chain"                      # many; each may replace the text (llm)
    STREAM_SLOT = "stream_slot"          # one async generator replaces a built-in stage
    CHAINED_STREAM = "chained_stream"    # many async generators wrap a stream in order
    FIRE_AND_FORGET = "fire_and_forget"  # sync or async; never blocks the caller


# What a handler must be, per dispatch kind (checked at registration).
ASYNC = "async def"
ASYNC_OR_ASYNCGEN = "async def (returning or yielding text)"
ASYNCGEN = "async generator"
ANY_CALLABLE = "def or async def"

_SHAPE = {
    Dispatch.OBSERVE: ASYNC,
    Dispatch.CHAIN: ASYNC_OR_ASYNCGEN,
    Dispatch.STREAM_SLOT: ASYNCGEN,
    Dispatch.CHAINED_STREAM: ASYNCGEN,
    Dispatch.FIRE_AND_FORGET: ANY_CALLABLE,
}


@dataclass(frozen=True)
class HookSpec:
    """One hook: its name, scope, parameters, dispatch kind and firing event."""

    name: str
    scope: Scope
    dispatch: Dispatch
    params: tuple[str, ...]
    event: str | None            # canonical event that fires it (None: invoked by a stage)
    when: str                    # the instant, in the docs' words
    args_of: Callable[[Any, Any], tuple] | None = None  # (event, context) -> handler args
    alias: str | None = None     # camelCase name (framework hooks)
    # the turn-latency segments a handler's time lands in (a blocking hook inside the
    # caller-stops -> agent-speaks window); empty for hooks outside it or fire-and-forget
    segments: tuple[str, ...] = ()
    # side-effect-only (lifecycle hooks "don't modify data flow"): the handlers run beside
    # the agent's audio, in order, and never hold the reply (ARCHITECTURE.md section 1)
    beside: bool = False
    # "scope.name"; stored, not a property: every new session's bus reads it ~70 times
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.scope.value}.{self.name}")

    @property
    def shape(self) -> str:
        """What a handler must be: ``async def``, ``async generator`` ..."""
        return _SHAPE[self.dispatch]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _payload(builder: Callable[[Any], dict]):
    from .payload import HookPayload

    return lambda e, ctx: (HookPayload(builder(e)),)


def _no_args(e, ctx):
    return ()


def _text(e, ctx):
    return (e.text,)


def _fw(name: str, event: str, when: str, builder) -> HookSpec:
    return HookSpec(name, Scope.FRAMEWORK, Dispatch.FIRE_AND_FORGET, ("event",), event,
                    when, _payload(builder), alias=_camel(name))


def _segments(e: ev.TurnEnd) -> dict:
    segs = {f"{k}_ms": v for k, v in e.segments}
    segs["total_e2e_ms"] = e.total_e2e_ms
    return segs


HOOK_SPECS: tuple[HookSpec, ...] = (
    # -- runner: every call the runner handles
    # fired by the runner itself before the entrypoint runs (session hooks do not exist yet)
    HookSpec("call_start", Scope.RUNNER, Dispatch.OBSERVE, ("ctx",), None,
             "call dispatched, before the entrypoint runs"),
    HookSpec("call_end", Scope.RUNNER, Dispatch.OBSERVE, ("ctx", "final_state"),
             "session_end", "call finished (any reason)",
             lambda e, ctx: (ctx, e.final_state)),
    # -- session: one call
    HookSpec("call_start", Scope.SESSION, Dispatch.OBSERVE, (), "session_start",
             "session loop started, before any events are processed", _no_args),
    HookSpec("user_partial", Scope.SESSION, Dispatch.OBSERVE, ("text",), "stt_partial",
             "interim transcript available", _text),
    HookSpec("user_turn", Scope.SESSION, Dispatch.OBSERVE, ("text",), "user_turn",
             "user finished speaking and the transcription is ready", _text,
             segments=("user_hooks",)),
    HookSpec("tool_call", Scope.SESSION, Dispatch.OBSERVE, ("name", "args"), "tool_call",
             "before a tool runs", lambda e, ctx: (e.tool_name, dict(e.args)),
             segments=("tools",)),
    HookSpec("tool_result", Scope.SESSION, Dispatch.OBSERVE,
             ("name", "result", "status", "duration_ms"), "tool_result",
             "after a tool completes, errors or is cancelled",
             lambda e, ctx: (e.tool_name, e.result, e.status, e.duration_ms),
             segments=("tools",)),
    HookSpec("agent_turn", Scope.SESSION, Dispatch.OBSERVE, ("text",), "agent_turn",
             "the agent's full reply has been generated (post-streaming)", _text),
    HookSpec("interruption", Scope.SESSION, Dispatch.OBSERVE, (), "interruption",
             "the user interrupts the agent mid-utterance", _no_args),
    HookSpec("latency_budget", Scope.SESSION, Dispatch.OBSERVE, ("level", "elapsed_ms"),
             "latency_budget", "a latency budget ran out before the answer's first audio "
             "(the turn is in flight: say() a filler here)",
             lambda e, ctx: (e.level, e.threshold_ms)),
    HookSpec("silence", Scope.SESSION, Dispatch.OBSERVE, ("seconds",), "silence",
             "caller silent for the configured time after the agent finished",
             lambda e, ctx: (e.seconds,)),
    HookSpec("call_end", Scope.SESSION, Dispatch.OBSERVE, ("state",), "session_end",
             "session loop exited (hang-up, error, end(), transfer)",
             lambda e, ctx: (e.final_state,)),
    # -- pipeline: stream processing
    HookSpec("stt", Scope.PIPELINE, Dispatch.STREAM_SLOT, ("audio_stream",), None,
             "audio arrives from the user and needs to be transcribed", segments=("stt",)),
    HookSpec("tts", Scope.PIPELINE, Dispatch.STREAM_SLOT, ("text_stream",), None,
             "text needs to be synthesized to speech", segments=("tts_ttfb",)),
    HookSpec("llm", Scope.PIPELINE, Dispatch.CHAIN, ("data",), None,
             "the LLM response is fully collected, before TTS",
             # its own time, and the wait for the full response it makes the reply take
             segments=("llm_hooks", "llm_rest")),
    HookSpec("vision_frame", Scope.PIPELINE, Dispatch.CHAINED_STREAM, ("frame_stream",),
             None, "video frames arrive (vision enabled)"),
    # -- pipeline: lifecycle
    HookSpec("user_turn_start", Scope.PIPELINE, Dispatch.OBSERVE, ("transcript",),
             "user_turn", "the final transcript is available and a new turn begins",
             _text, segments=("user_hooks",)),
    HookSpec("user_turn_end", Scope.PIPELINE, Dispatch.OBSERVE, (), "turn_end",
             "the agent finished generating and speaking the turn's response", _no_args),
    HookSpec("agent_turn_start", Scope.PIPELINE, Dispatch.OBSERVE, (),
             "agent_speech_start", "first agent audio byte sent to the output", _no_args,
             beside=True),
    HookSpec("agent_turn_end", Scope.PIPELINE, Dispatch.OBSERVE, (), "agent_speech_end",
             "agent audio fully played out (or cut by an interruption)", _no_args,
             beside=True),
    # -- framework: fire-and-forget observability
    _fw("on_session_start", "session_start", "the session becomes active",
        lambda e: {"session_id": e.session_id, "agent_name": e.agent_id,
                   "user_id": e.user_id}),
    _fw("on_session_end", "session_end", "the session closed",
        lambda e: {"session_id": e.session_id, "reason": e.reason,
                   "duration_ms": e.duration_ms}),
    _fw("on_turn_latency", "turn_end", "end of each turn, with latency segments",
        lambda e: {"session_id": e.session_id, "turn_id": str(e.turn_id),
                   "segments": _segments(e)}),
    _fw("on_tool_call", "tool_call", "a tool invocation is requested (before execution)",
        lambda e: {"session_id": e.session_id, "tool_call_id": e.tool_call_id,
                   "tool_name": e.tool_name, "agent_name": e.agent_name,
                   "args": dict(e.args), "execution": e.execution}),
    _fw("on_tool_result", "tool_result", "a tool completed, was cancelled, or errored",
        lambda e: {"tool_call_id": e.tool_call_id, "tool_name": e.tool_name,
                   "status": e.status, "duration_ms": e.duration_ms, "error": e.error}),
    _fw("on_agent_transfer", "agent_transfer", "an agent transfer completed",
        lambda e: {"session_id": e.session_id, "from_agent": e.from_agent,
                   "to_agent": e.to_agent, "reconnect_ms": e.reconnect_ms}),
    _fw("on_subagent_step", "subagent_step", "a background subagent finished a step",
        lambda e: {"subagent_name": e.subagent_name, "step_number": e.step_number,
                   "tokens_used": e.tokens_used, "tool_calls": list(e.tool_calls)}),
    _fw("on_memory_extraction", "memory_extraction", "facts were extracted to memory",
        lambda e: {"user_id": e.user_id, "facts_extracted": e.facts_extracted,
                   "duration_ms": e.duration_ms}),
    _fw("on_error", "error", "any framework, tool or hook error",
        lambda e: {"session_id": e.session_id, "component": e.component,
                   "error": e.exception if e.exception is not None else e.message,
                   "message": e.message, "handler": e.handler, "severity": e.severity}),
)

SPECS_BY_SCOPE: dict[Scope, dict[str, HookSpec]] = {s: {} for s in Scope}
for _spec in HOOK_SPECS:
    SPECS_BY_SCOPE[_spec.scope][_spec.name] = _spec

# camelCase -> snake_case for framework hooks ("onTurnLatency" -> "on_turn_latency")
FRAMEWORK_ALIASES: dict[str, str] = {
    s.alias: s.name for s in HOOK_SPECS if s.alias is not None
}

_CAMEL_RE = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(name: str) -> str:
    """``'onTurnLatency'`` -> ``'on_turn_latency'``; snake_case names are returned as is."""
    return _CAMEL_RE.sub("_", name).lower()


def hook_table() -> list[dict[str, Any]]:
    """The spec table as plain rows (for docs, notebooks and ``pandas.DataFrame``)."""
    return [
        {"scope": s.scope.value, "hook": s.name, "alias": s.alias or "",
         "params": ", ".join(s.params), "dispatch": s.dispatch.value,
         "handler": s.shape, "event": s.event or "(stage)", "when": s.when}
        for s in HOOK_SPECS
    ]


def hook_reference_markdown() -> str:
    """The reference table of docs/hooks.md, made from the spec table (a test keeps the
    doc equal to it)."""
    rows = ["| scope | hook | alias | params | dispatch | handler | fired by | when |",
            "|---|---|---|---|---|---|---|---|"]
    for r in hook_table():
        alias = f"`{r['alias']}`" if r["alias"] else ""
        rows.append(f"| {r['scope']} | `{r['hook']}` | {alias} | {r['params']} | "
                    f"{r['dispatch']} | {r['handler']} | {r['event']} | {r['when']} |")
    return "\n".join(rows) + "\n"
