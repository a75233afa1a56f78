"""The simulated caller: scripted turns, persona behaviour and follow-up answers.

A :class:`CallPlan` is what one simulated call plays: the caller's turns (with, per turn,
what the agent is scripted to do in reply), the persona (speaking rate, pauses, patience,
barge-in habit, answers to follow-up questions), the agent's opening line, the simulated
tools and background behaviour. It comes from a plain script (a list of strings) or from
a :class:`~agentlab.scenarios.Scenario`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..scenarios.model import AgentBehaviour, CallSetup, Persona, Scenario, SimulatedTool, ToolStep

# When the script runs out and the agent asked something, the caller answers from these
# rules (after the persona's own): first matching pattern wins.
DEFAULT_ANSWERS: tuple[tuple[str, str], ...] = (
    (r"anything else|something else|help with", "No, that's all. Thanks!"),
    (r"confirm|correct|right\?|is that ok|okay\?", "Yes, that's right."),
    (r"name", "It's Alex Morgan."),
    (r"number|phone", "It's five five five, zero one zero zero."),
    (r"email", "alex at example dot com."),
    (r"when|what time|date|day", "Tomorrow morning, if possible."),
    (r"\?", "Yes, please."),
)


@dataclass
class CallerTurn:
    """One caller turn: what is said (empty = the caller stays silent), the pause before
    it (ms after the agent finished), an optional barge-in (start speaking this many ms
    into the agent's previous reply), and what the agent is scripted to do in reply."""

    text: str
    pause_ms: float = 600.0
    barge_in_ms: float | None = None
    words_per_s: float = 2.5
    reply: str | None = None
    tool_calls: tuple[ToolStep, ...] = ()
    action: str | None = None
    interrupt_reply_ms: float | None = None  # talk over the reply to this turn after ms
    audio: Any = field(default=None, repr=False)  # live calls: 16 kHz mono float32
    rest_of_cut: bool = False  # the rest of a turn the detector cut off in a pause

    @classmethod
    def coerce(cls, item: Any) -> CallerTurn:
        if isinstance(item, CallerTurn):
            return item
        if isinstance(item, str):
            return cls(item)
        return cls(**item)


@dataclass
class CallPlan:
    """Everything one simulated call plays (see the module docstring)."""

    turns: list[CallerTurn]
    persona: Persona = field(default_factory=Persona)
    greeting: str | None = None
    tools: dict[str, SimulatedTool] = field(default_factory=dict)
    agent: AgentBehaviour = field(default_factory=AgentBehaviour)
    scenario_id: str = ""
    profile: str | None = None
    call: CallSetup = field(default_factory=CallSetup)  # inbound, or outbound and its answer
    # an interactive caller (the notebook console): awaited for each turn after the
    # scripted ones; None ends the call
    next_turn: Callable[[], Awaitable[CallerTurn | None]] | None = None

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> CallPlan:
        p = scenario.persona
        turns = []
        for t in scenario.turns:
            pause = t.silence_ms if t.silence_ms is not None and not t.user else (
                t.pause_ms if t.pause_ms is not None else p.pause_ms)
            turns.append(CallerTurn(t.user, pause, t.barge_in_ms, p.words_per_s, t.agent,
                                    t.tool_calls, t.action))
        return cls(turns, p, scenario.greeting, dict(scenario.tools), scenario.agent,
                   scenario.id, scenario.profile, scenario.call)

    def follow_up(self, agent_text: str) -> str | None:
        """The caller's answer to the agent's last words, or None if nothing was asked."""
        if "?" not in agent_text:
            return None
        low = agent_text.lower()
        for pattern, answer in (*self.persona.answers, *DEFAULT_ANSWERS):
            if re.search(pattern, low):
                return answer
        return None
