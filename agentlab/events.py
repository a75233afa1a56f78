"""Canonical events: the one stream of typed, immutable facts underneath every hook.

Each event is a frozen, slotted dataclass with ``session_id``, ``turn_id`` (0 before the
first user turn), ``seq`` (order within the session) and ``t_ms`` (session clock, ms).
Seed hooks (``user_turn``, ``agent_turn_start``, ``on_turn_latency`` ...) are *views* of
these events: the hook spec table says which event fires which hook with which arguments.

Example
-------
>>> from agentlab import events
>>> ev = events.UserTurn(session_id="s1", turn_id=1, seq=7, t_ms=1520.0, text="hi")
>>> ev.name, ev.text
('user_turn', 'hi')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, FrozenInstanceError, dataclass, field, fields
from operator import attrgetter
from typing import Any, ClassVar

__all__ = [
    "Event", "EVENT_TYPES", "event_of", "row_of",
    "SessionStart", "SessionEnd", "UserSpeechStart", "UserSpeechEnd", "SttPartial",
    "SttFinal", "UserTurn", "LlmRequest", "LlmFirstToken", "LlmResponse", "ToolCall",
    "ToolResult", "TtsRequest", "TtsFirstAudio", "AgentSpeechStart", "AgentTurn",
    "AgentSpeechEnd", "Interruption", "TurnEnd", "Silence", "AgentTransfer",
    "SubagentStep", "MemoryExtraction", "Recording", "Error", "HookCall",
    "EagerEndOfTurn", "TurnResumed", "SpeculationStart", "SpeculationUsed",
    "SpeculationDiscarded", "LatencyBudget", "FalseInterruption",
]


@dataclass(slots=True, unsafe_hash=True)
class Event:
    """Fields every canonical event carries."""

    name: ClassVar[str] = "event"
    session_id: str
    turn_id: int
    seq: int
    t_ms: float


def _event(name: str):
    """Class decorator: an immutable slotted dataclass registered under its canonical name.

    Not ``frozen=True``: its ``__init__`` assigns through ``object.__setattr__`` and costs
    ~1.4 us per event, a third of a simulated stage. We build the same immutable class with
    an ``__init__`` that stores through the slot descriptors (~0.5 us)."""

    def wrap(cls):
        cls.name = name
        cls = dataclass(slots=True, unsafe_hash=True)(cls)
        cls.__init__ = _slot_init(cls)
        cls.__setattr__ = _read_only
        cls.__delattr__ = _read_only
        EVENT_TYPES[name] = cls
        own = tuple(f.name for f in fields(cls)[4:])
        # what row_of reads: every field at once, as a tuple (attrgetter gives a bare
        # value for one name, and needs at least one)
        head = attrgetter("session_id", "turn_id", "seq", "t_ms")
        fields_of = (attrgetter(*own) if len(own) > 1 else
                     (lambda e, n=own[0]: (getattr(e, n),)) if own else (lambda e: ()))
        _ROW_GETTERS[cls] = (head, fields_of)
        return cls

    return wrap


def _read_only(self, name: str, *value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}: canonical events are "
                              f"immutable (build a new one with dataclasses.replace)")


def _slot_init(cls: type) -> Any:
    params, body, env = [], [], {"MISSING": MISSING}
    for f in fields(cls):
        env[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is not MISSING:
            env[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not MISSING:
            env[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=MISSING")
            body.append(f"    if {f.name} is MISSING: {f.name} = _factory_{f.name}()")
        else:
            params.append(f.name)
        body.append(f"    _set_{f.name}(self, {f.name})")
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body)
    exec(source, env)  # the same technique dataclasses uses to build __init__
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


EVENT_TYPES: dict[str, type[Event]] = {}


def row_of(event: Event) -> tuple:
    """The event as a row ``(cls, session_id, turn_id, seq, t_ms, own fields)``, the form
    the bus publishes to row observers (the recorder, a simulation's event log)."""
    cls = type(event)
    head, fields_of = _ROW_GETTERS[cls]
    return (cls, *head(event), fields_of(event))


def event_of(row: tuple) -> Event:
    """The event object of a row (:func:`row_of`)."""
    cls, session_id, turn_id, seq, t_ms, own = row
    return cls(session_id, turn_id, seq, t_ms, *own)


_ROW_GETTERS: dict[type, tuple] = {}
Event.__setattr__ = _read_only
Event.__delattr__ = _read_only


@_event("session_start")
class SessionStart(Event):
    agent_id: str = ""
    call_id: str = ""
    user_id: str = ""
    direction: str = "inbound"


@_event("session_end")
class SessionEnd(Event):
    # hangup | ended | error | transfer_human | transfer_agent | timeout
    reason: str = "hangup"
    final_state: str = "ended"      # "ended" | "failed" (the runner vocabulary)
    duration_ms: float = 0.0


@_event("user_speech_start")
class UserSpeechStart(Event):
    pass


@_event("user_speech_end")
class UserSpeechEnd(Event):
    pass


@_event("stt_partial")
class SttPartial(Event):
    text: str = ""


@_event("stt_final")
class SttFinal(Event):
    text: str = ""


@_event("user_turn")
class UserTurn(Event):
    text: str = ""
    # the silence the turn detector waited after the VAD stop (simulated calls; NaN when
    # the source does not say)
    endpointing_ms: float = math.nan


@_event("llm_request")
class LlmRequest(Event):
    pass


@_event("llm_first_token")
class LlmFirstToken(Event):
    pass


@_event("llm_response")
class LlmResponse(Event):
    text: str = ""
    tokens_in: int = 0
    tokens_out: int = 0


@_event("tool_call")
class ToolCall(Event):
    tool_call_id: str = ""
    tool_name: str = ""
    args: Mapping[str, Any] = field(default_factory=dict)
    agent_name: str = ""
    execution: str = "inline"       # inline (the turn waits) | background


@_event("tool_result")
class ToolResult(Event):
    tool_call_id: str = ""
    tool_name: str = ""
    result: Any = None
    status: str = "completed"       # completed | cancelled | error
    duration_ms: float = 0.0
    error: str | None = None


@_event("tts_request")
class TtsRequest(Event):
    text: str = ""


@_event("tts_first_audio")
class TtsFirstAudio(Event):
    pass


@_event("agent_speech_start")
class AgentSpeechStart(Event):
    source: str = "reply"           # reply (generated turn) | say (session.say)


@_event("agent_turn")
class AgentTurn(Event):
    text: str = ""


@_event("agent_speech_end")
class AgentSpeechEnd(Event):
    interrupted: bool = False
    source: str = "reply"


@_event("interruption")
class Interruption(Event):
    heard: str = ""                 # the reply's words the caller heard (live calls)


@_event("false_interruption")
class FalseInterruption(Event):
    """The caller's sound held the agent and did not become an interruption: the agent
    resumes (LiveKit's ``agent_false_interruption``)."""

    held_ms: float = 0.0            # how long the agent's audio was held


@_event("turn_end")
class TurnEnd(Event):
    total_e2e_ms: float = 0.0
    # (segment name, ms) in pipeline order; they sum exactly to total_e2e_ms
    segments: tuple[tuple[str, float], ...] = ()
    interrupted: bool = False


@_event("eager_end_of_turn")
class EagerEndOfTurn(Event):
    """The turn detector thinks the caller may be done (Deepgram Flux ``EagerEndOfTurn``):
    earlier and less sure than the commit (``user_turn``, Flux's ``EndOfTurn``)."""

    text: str = ""                  # the transcript so far


@_event("turn_resumed")
class TurnResumed(Event):
    """The caller spoke again after an ``eager_end_of_turn`` (Flux ``TurnResumed``)."""


@_event("speculation_start")
class SpeculationStart(Event):
    """A speculative (preemptive) LLM request went out on an eager transcript."""

    text: str = ""


@_event("speculation_used")
class SpeculationUsed(Event):
    """The turn committed with the speculated transcript: the request's output is handed
    to the pipeline now (where an unspeculated request would only be sent)."""

    text: str = ""
    overlap_ms: float = 0.0         # the request's time that ran before this instant


@_event("speculation_discarded")
class SpeculationDiscarded(Event):
    """A speculative request was cancelled: the caller resumed, or the final transcript
    differs. What it cost is all waste."""

    text: str = ""
    reason: str = "resumed"         # resumed | transcript_changed | call_ended
    tokens_in: int = 0              # the prompt it sent
    tokens_out: int = 0             # the tokens it generated before the cancel
    wasted_ms: float = 0.0          # from its start to the cancel


@_event("latency_budget")
class LatencyBudget(Event):
    """A turn's latency budget ran out while the answer's first audio was not yet out."""

    level: str = "warning"          # warning | exceeded
    threshold_ms: float = 0.0       # measured from the end of the caller's speech
    audio_out: bool = False         # other agent audio (a filler) already started


@_event("silence")
class Silence(Event):
    seconds: float = 0.0


@_event("agent_transfer")
class AgentTransfer(Event):
    from_agent: str = ""
    to_agent: str = ""
    reconnect_ms: float = 0.0


@_event("subagent_step")
class SubagentStep(Event):
    subagent_name: str = ""
    step_number: int = 0
    tokens_used: int = 0
    tool_calls: tuple[str, ...] = ()


@_event("memory_extraction")
class MemoryExtraction(Event):
    user_id: str = ""
    facts_extracted: int = 0
    duration_ms: float = 0.0


@_event("recording")
class Recording(Event):
    state: str = "started"          # started | paused | resumed | stopped


@_event("error")
class Error(Event):
    component: str = ""             # e.g. "hook:user_turn", "tool:lookup_order", "llm"
    message: str = ""
    error_type: str = ""
    handler: str = ""               # qualified name of the failing user handler, if any
    severity: str = "error"         # error | warn | fatal
    exception: BaseException | None = field(default=None, compare=False, repr=False)


@_event("hook_call")
class HookCall(Event):
    hook: str = ""
    scope: str = ""
    handler: str = ""
    duration_ms: float = 0.0        # on the session clock (virtual in simulations)
    wall_ns: int = 0                # real CPU/wall cost of the handler call
    ok: bool = True
