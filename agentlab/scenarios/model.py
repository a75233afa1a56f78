"""The scenario format: a realistic call to play against an agent, validated on load.

A scenario is YAML or JSON::

    id: order-status-tools
    description: Caller asks where an order is; the agent looks it up.
    goal: learn the delivery date of order 4417
    source: hand-written for agentlab
    license: Apache-2.0
    profile: deepgram-gpt4o-cartesia-webrtc        # optional latency profile
    persona: {words_per_s: 2.6, pause_ms: 700, patience_ms: 9000,
              barge_in_probability: 0.0, answers: {"order number": "It's 4417."}}
    greeting: Thanks for calling Acme, how can I help?   # the agent speaks first
    tools:                                          # simulated tool results
      lookup_order: {result: {status: shipped}, latency_ms: 350}
    turns:
      - user: Where is my order?
        agent: Sure, what's the order number?       # what the simulated LLM says
      - user: It's 4417.
        tool_calls: [{name: lookup_order, args: {order_id: "4417"}}]
        agent: It shipped yesterday and arrives Friday.
      - silence_ms: 12000                           # the caller says nothing
      - user: I want to speak to a human.
        action: transfer_human:billing               # or transfer_agent:<id>, end, hangup
    agent: {memory_every_turns: 4,
            subagents: [{name: notes, after_turn: 1, steps: 2, step_ms: 400}]}
    expected: {tools: [lookup_order], outcome: transfer_human, events: [silence]}

Every problem is reported with the file, the field path and what is expected.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

OUTCOMES = ("hangup", "ended", "transfer_human", "transfer_agent", "timeout", "error")
ACTIONS = ("hangup", "end", "transfer_human", "transfer_agent")


@dataclass(frozen=True)
class Persona:
    """How the simulated caller speaks and behaves."""

    words_per_s: float = 2.5
    pause_ms: float = 600.0
    patience_ms: float | None = None     # hang up if the agent takes longer to answer
    barge_in_probability: float = 0.0    # chance per agent reply of talking over it
    barge_in_ms: float = 800.0           # how far into the reply a random barge-in comes
    answers: tuple[tuple[str, str], ...] = ()   # follow-up rules: pattern -> answer
    max_follow_ups: int = 2
    # a pause mid-sentence: " ... " in a turn's words, or drawn (this chance per turn of
    # four words or more, at a seeded word boundary); how long the caller pauses there
    hesitation_probability: float = 0.0
    hesitation_ms: float = 700.0


@dataclass(frozen=True)
class ToolStep:
    """A tool call the agent makes in reply to a turn; ``result``/``error`` override the
    tool's declared ones for this call (``...`` = use the declared ones)."""

    name: str
    args: dict = field(default_factory=dict)
    result: Any = ...
    error: str | None = None


@dataclass(frozen=True)
class SimulatedTool:
    """A scenario's stand-in for a tool: its result (or error) and latency."""

    result: Any = None
    latency_ms: float = 300.0
    error: str | None = None
    timeout_ms: float | None = None


@dataclass(frozen=True)
class Turn:
    """One caller turn and, optionally, how the agent answers it."""

    user: str = ""                        # empty: the caller stays silent
    pause_ms: float | None = None         # before speaking (persona default if None)
    silence_ms: float | None = None       # a silent turn of this length
    barge_in_ms: float | None = None      # talk over the previous reply this far into it
    audio: str | None = None              # optional recording of the utterance
    agent: str | None = None              # what the agent says back
    tool_calls: tuple[ToolStep, ...] = ()
    action: str | None = None             # after the reply: see ACTIONS


@dataclass(frozen=True)
class SubAgent:
    """A background sub-agent the agent starts after a turn."""

    name: str
    after_turn: int = 1
    steps: int = 3
    step_ms: float = 500.0
    tokens_per_step: int = 150
    tool_calls: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentBehaviour:
    memory_every_turns: int | None = None
    memory_ms: float = 350.0
    subagents: tuple[SubAgent, ...] = ()


@dataclass(frozen=True)
class Expected:
    tools: tuple[str, ...] | None = None
    outcome: str | None = None
    events: tuple[str, ...] = ()


ANSWERS = ("answered", "no_answer", "busy", "voicemail")


@dataclass(frozen=True)
class CallSetup:
    """How the call is placed. Inbound (the default): the caller rang the agent. Outbound:
    the agent dialled ``user_number``; it rings ``ring_ms``, then is ``answered`` (the
    agent speaks first), goes to ``voicemail`` (the agent speaks, nobody answers), rings
    out after ``no_answer_ms`` (``no_answer``) or is ``busy`` at once."""

    direction: str = "inbound"
    user_number: str | None = None  # None: a made-up number per call
    ring_ms: float = 0.0
    answer: str = "answered"
    no_answer_ms: float = 30_000.0

    def __post_init__(self) -> None:
        if self.direction not in ("inbound", "outbound"):
            raise ConfigError(f"call direction {self.direction!r}: use 'inbound' or "
                              f"'outbound'.")
        if self.answer not in ANSWERS:
            raise ConfigError(f"call answer {self.answer!r}: use one of "
                              f"{', '.join(ANSWERS)}.")
        if self.direction == "inbound" and self.answer != "answered":
            raise ConfigError(f"call answer {self.answer!r} is for outbound calls; set "
                              f"direction='outbound' (al.Outbound(number, answer=...)).")
        if self.user_number is not None and not isinstance(self.user_number, str):
            raise ConfigError(f"user_number must be a str like '+15551234567', got "
                              f"{self.user_number!r}.")
        for name in ("ring_ms", "no_answer_ms"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or \
                    not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number of ms >= 0, got "
                                  f"{value!r}.")


def Outbound(user_number: str, answer: str = "answered", ring_ms: float = 4000.0,
             no_answer_ms: float = 30_000.0) -> CallSetup:
    """An outbound call to ``user_number`` (``simulate(..., call=al.Outbound(...))``)."""
    return CallSetup("outbound", user_number, ring_ms, answer, no_answer_ms)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario (see the module docstring for the format)."""

    id: str
    turns: tuple[Turn, ...]
    description: str = ""
    goal: str = ""
    persona: Persona = field(default_factory=Persona)
    greeting: str | None = None
    tools: dict[str, SimulatedTool] = field(default_factory=dict)
    agent: AgentBehaviour = field(default_factory=AgentBehaviour)
    expected: Expected = field(default_factory=Expected)
    profile: str | None = None
    source: str = ""
    license: str = ""
    call: CallSetup = field(default_factory=CallSetup)

    @classmethod
    def from_dict(cls, data: Any, where: str = "scenario") -> Scenario:
        return _parse_scenario(_Reader(data, where))

    def __repr__(self) -> str:
        return f"Scenario({self.id!r}, {len(self.turns)} turns)"


# -- validation ------------------------------------------------------------------------
class _Reader:
    """Typed access to one mapping with errors naming the file and the field path."""

    def __init__(self, data: Any, where: str, path: str = ""):
        self.where, self.path = where, path
        if not isinstance(data, dict):
            self.fail("", f"a mapping of fields, got {type(data).__name__}")
        self.data = data

    def fail(self, key: str, expected: str, got: Any = ...) -> None:
        name = f"{self.path}.{key}" if self.path and key else (self.path or key or "top")
        extra = "" if got is ... else f", got {got!r}"
        raise ConfigError(f"{self.where}: field '{name}' must be {expected}{extra}.")

    def only(self, *allowed: str) -> None:
        unknown = [k for k in self.data if k not in allowed]
        if unknown:
            raise ConfigError(f"{self.where}: unknown field "
                              f"'{self._name(unknown[0])}'; allowed here: {', '.join(allowed)}.")

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def child(self, key: str, value: Any) -> _Reader:
        return _Reader(value, self.where, self._name(key))

    def text(self, key: str, default: Any = ..., required: bool = False) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                self.fail(key, "a non-empty string (it is required)")
            return None if default is ... else default
        value = self.data[key]
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(key, "a non-empty string" if required else "a string", value)
        return value

    def number(self, key: str, default: Any = None, minimum: float = 0.0,
               maximum: float | None = None) -> Any:
        value = self.data.get(key, default)
        if value is None:
            return None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
            math.isfinite(value) and value >= minimum and \
            (maximum is None or value <= maximum)
        if not ok:
            bound = f" between {minimum:g} and {maximum:g}" if maximum is not None \
                else f" >= {minimum:g}"
            finite = "" if not isinstance(value, float) or math.isfinite(value) else \
                "finite "
            self.fail(key, f"a {finite}number{bound}", value)
        return float(value)

    def integer(self, key: str, default: Any = None, minimum: int = 0) -> Any:
        value = self.data.get(key, default)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.fail(key, f"an integer >= {minimum}", value)
        return value

    def items(self, key: str, required: bool = False) -> list:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, "a non-empty list (it is required)")
            return []
        if not isinstance(value, list) or (required and not value):
            self.fail(key, "a non-empty list" if required else "a list", value)
        return value

    def mapping(self, key: str) -> dict:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, "a mapping", value)
        return value


def _parse_scenario(r: _Reader) -> Scenario:
    r.only("id", "description", "goal", "persona", "greeting", "tools", "turns", "agent",
           "expected", "profile", "source", "license", "call")
    tools = {}
    for name, spec in r.mapping("tools").items():
        t = r.child(f"tools.{name}", spec)
        t.only("result", "latency_ms", "error", "timeout_ms")
        tools[name] = SimulatedTool(t.data.get("result"), t.number("latency_ms", 300.0),
                                    t.text("error"), t.number("timeout_ms"))
    turns = tuple(_parse_turn(r.child(f"turns[{i}]", t), tools)
                  for i, t in enumerate(r.items("turns", required=True)))
    return Scenario(
        id=r.text("id", required=True), turns=turns,
        description=r.text("description", ""), goal=r.text("goal", ""),
        persona=_parse_persona(r.child("persona", r.mapping("persona"))),
        greeting=r.text("greeting"), tools=tools,
        agent=_parse_agent(r.child("agent", r.mapping("agent"))),
        expected=_parse_expected(r.child("expected", r.mapping("expected"))),
        profile=r.text("profile"), source=r.text("source", ""), license=r.text("license", ""),
        call=_parse_call(r.child("call", r.mapping("call"))))


def _parse_call(r: _Reader) -> CallSetup:
    r.only("direction", "user_number", "ring_ms", "answer", "no_answer_ms")
    direction = r.text("direction", "inbound")
    outbound = direction == "outbound"
    try:
        return CallSetup(direction, r.text("user_number"),
                         r.number("ring_ms", 4000.0 if outbound else 0.0),
                         r.text("answer", "answered"), r.number("no_answer_ms", 30_000.0))
    except ConfigError as err:
        raise ConfigError(f"{r.where}: field 'call': {err}") from None


def _parse_persona(r: _Reader) -> Persona:
    r.only("words_per_s", "pause_ms", "patience_ms", "barge_in_probability", "barge_in_ms",
           "answers", "max_follow_ups", "hesitation_probability", "hesitation_ms")
    answers = r.mapping("answers")
    for k, v in answers.items():
        if not isinstance(k, str) or not k:
            r.fail("answers", "a mapping from patterns (strings) to answers; this key is "
                   "not a string", k)
        try:
            re.compile(k)
        except re.error as err:
            r.fail(f"answers.{k}", f"a valid regular expression as its key ({err})", k)
        if not isinstance(v, str):
            r.fail(f"answers.{k}", "a string (what the caller answers)", v)
    return Persona(r.number("words_per_s", 2.5, minimum=0.5, maximum=8.0),
                   r.number("pause_ms", 600.0), r.number("patience_ms"),
                   r.number("barge_in_probability", 0.0, maximum=1.0),
                   r.number("barge_in_ms", 800.0), tuple(answers.items()),
                   r.integer("max_follow_ups", 2),
                   r.number("hesitation_probability", 0.0, maximum=1.0),
                   r.number("hesitation_ms", 700.0, maximum=10_000.0))


def _parse_turn(r: _Reader, tools: dict) -> Turn:
    r.only("user", "pause_ms", "silence_ms", "barge_in_ms", "audio", "agent", "tool_calls",
           "action")
    user = r.text("user", "")
    silence = r.number("silence_ms")
    if not user and silence is None:
        r.fail("user", "the caller's words (or give silence_ms for a silent turn)")
    steps = []
    for i, call in enumerate(r.items("tool_calls")):
        c = r.child(f"tool_calls[{i}]", call)
        c.only("name", "args", "result", "error")
        name = c.text("name", required=True)
        if name not in tools:
            c.fail("name", f"a tool declared under 'tools' ({', '.join(tools) or 'none'})",
                   name)
        steps.append(ToolStep(name, c.mapping("args"), c.data.get("result", ...),
                              c.text("error")))
    action = r.text("action")
    if action is not None and action.split(":", 1)[0] not in ACTIONS:
        r.fail("action", f"one of {', '.join(ACTIONS)} (transfer_* may add ':<target>')",
               action)
    return Turn(user, r.number("pause_ms"), silence, r.number("barge_in_ms"),
                r.text("audio"), r.text("agent"), tuple(steps), action)


def _parse_agent(r: _Reader) -> AgentBehaviour:
    r.only("memory_every_turns", "memory_ms", "subagents")
    subs = []
    for i, s in enumerate(r.items("subagents")):
        c = r.child(f"subagents[{i}]", s)
        c.only("name", "after_turn", "steps", "step_ms", "tokens_per_step", "tool_calls")
        calls = c.items("tool_calls")
        subs.append(SubAgent(c.text("name", required=True), c.integer("after_turn", 1, 1),
                             c.integer("steps", 3, 1), c.number("step_ms", 500.0),
                             c.integer("tokens_per_step", 150), tuple(map(str, calls))))
    return AgentBehaviour(r.integer("memory_every_turns", None, 1), r.number("memory_ms", 350.0),
                          tuple(subs))


def _parse_expected(r: _Reader) -> Expected:
    r.only("tools", "outcome", "events")
    outcome = r.text("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        r.fail("outcome", f"one of {', '.join(OUTCOMES)}", outcome)
    tools = r.data.get("tools")
    if tools is not None and not isinstance(tools, list):
        r.fail("tools", "a list of tool names", tools)
    from ..events import EVENT_TYPES

    events = r.items("events")
    for e in events:
        if e not in EVENT_TYPES:
            r.fail("events", f"canonical event names ({', '.join(EVENT_TYPES)})", e)
    return Expected(None if tools is None else tuple(tools), outcome, tuple(events))
