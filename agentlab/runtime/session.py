"""Session: one call's hooks, data and controls."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import events as ev
from ..errors import AgentlabError, ConfigError
from ..hooks import FrameworkHooks, HookBus, HookRegistry, Scope
from .dialog import DialogMachine
from .ending import CallEnded

_session_numbers = itertools.count(1)


class Session:
    """One call: session hooks (``@session.on``), framework hooks (``session.hooks``),
    free-form ``data``, and the event bus that fires them.

    Example
    -------
    >>> import agentlab as al
    >>> session = al.Session(session_id="demo")
    >>> @session.on("user_turn")
    ... async def log_turn(text): print("user:", text)
    >>> _ = session.hooks.register(onError=lambda e: print("error in", e.component))
    """

    def __init__(self, session_id: str | None = None, *, pipeline: Any = None,
                 hooks: FrameworkHooks | dict | None = None, strict: bool = False):
        self.session_id = session_id or f"session-{next(_session_numbers)}"
        self.pipeline = pipeline
        self.strict = strict
        self.data: dict[str, Any] = {}
        self._recording_state = "started"  # a call is recorded from its start
        self.hook_registry = HookRegistry(Scope.SESSION, "Session")
        self.hooks = FrameworkHooks()
        if hooks is not None:
            self.hooks.register(hooks)
        self.bus: HookBus | None = None
        self.conversation: Any = None  # set by al.simulate / al.run_live
        self._dialog_machine: DialogMachine | None = None

    # -- controls (the seed's session controls) ------------------------------------------
    @property
    def dialog_machine(self) -> DialogMachine:
        """What turns user text into replies; ``.assist(text)`` adds context."""
        if self._dialog_machine is None:
            llm = getattr(self.pipeline, "llm", None)
            self._dialog_machine = DialogMachine(llm=llm)
        return self._dialog_machine

    @dialog_machine.setter
    def dialog_machine(self, machine: DialogMachine) -> None:
        self._dialog_machine = machine

    def _conv(self, what: str):
        if self.conversation is None:
            raise AgentlabError(
                f"Session.{what} needs a running call: run the runner with "
                f"al.simulate(runner, ...) (or al.run_live) instead of calling it directly.")
        return self.conversation

    async def run(self) -> None:
        """Run the call until it ends (hang-up, ``end()``, error or transfer)."""
        await self._conv("run()").run()

    async def say(self, text: str) -> None:
        """Speak ``text`` now (TTS and the audio-path hooks run) without making it an
        ``agent_turn``. A no-op once the call has ended."""
        if not isinstance(text, str):
            raise ConfigError(f"say({text!r}): say() speaks a str, got "
                              f"{type(text).__name__}; pass the text to speak.")
        conv = self._conv("say()")
        if conv.ending:
            return

        try:
            await conv.speak([text], None, source="say")
        except CallEnded:
            pass

    async def end(self, reason: str = "ended") -> None:
        """End the call; the session loop exits and ``call_end`` hooks fire."""
        self._conv("end()").end(reason)

    def use_pipeline(self, pipeline: Any, instructions: str = "") -> None:
        """Serve the rest of this call with ``pipeline``: its hooks, its components and
        their latency stages (agentlab.plugins), ``instructions`` as the system prompt."""
        from ..plugins import compose_profile, pipeline_components

        conv = self._conv("use_pipeline()")
        if pipeline is not self.pipeline:
            self.pipeline = pipeline
            self.bus.add_registry(pipeline.hook_registry)
        llm = getattr(pipeline, "llm", None)
        if instructions and hasattr(llm, "system"):  # a live OpenAI-compatible client
            llm.system = instructions
        conv.use_pipeline(pipeline, compose_profile(conv.profile, pipeline_components(
            pipeline)), instructions)

    # -- background work (bodhi's sub-agents and memory distiller) ------------------------
    async def run_subagent(self, name: str, *, steps: int = 3, step_ms: float = 500.0,
                           tokens_per_step: int = 150, tool_calls: Iterable[str] = (),
                           wait: bool = False) -> None:
        """Run a sub-agent of ``steps`` LLM steps of ``step_ms`` each in the background
        (``wait=True`` awaits it); ``on_subagent_step`` fires after each step. It stops
        when the call ends."""
        from ..scenarios.model import SubAgent

        if not isinstance(steps, int) or steps < 1 or not step_ms >= 0:
            raise ConfigError(f"run_subagent({name!r}, steps={steps!r}, step_ms={step_ms!r}):"
                              f" steps is an int >= 1, step_ms a number >= 0.")
        conv = self._conv("run_subagent()")
        sub = SubAgent(name, 0, steps, float(step_ms), tokens_per_step, tuple(tool_calls))
        await self._background(conv, conv.run_subagent(sub), wait)

    async def extract_memory(self, *, last_turns: int | None = None,
                             duration_ms: float = 300.0, wait: bool = False) -> None:
        """Run the memory distiller over the caller's turns so far (or the ``last_turns``)
        in the background; ``on_memory_extraction`` fires when it is done."""
        conv = self._conv("extract_memory()")
        texts = conv.user_texts[-last_turns:] if last_turns else list(conv.user_texts)
        await self._background(conv, conv.extract_memory(texts, float(duration_ms)), wait)

    @staticmethod
    async def _background(conv: Any, work: Any, wait: bool) -> None:
        if wait:
            await work
        else:
            conv.start_background(work)

    # -- recording controls: the call is recorded from its start; these change that ----
    async def pause_recording(self) -> None:
        """Stop keeping the call's audio until :meth:`resume_recording` (e.g. while the
        caller reads out a card number). A ``recording`` event marks the instant."""
        await self._set_recording("paused", allowed=("started", "resumed"))

    async def resume_recording(self) -> None:
        await self._set_recording("resumed", allowed=("paused",))

    async def stop_recording(self) -> None:
        """Keep no more audio of this call (until :meth:`start_recording`)."""
        await self._set_recording("stopped", allowed=("started", "resumed", "paused"))

    async def start_recording(self) -> None:
        await self._set_recording("started", allowed=("stopped",))

    @property
    def recording(self) -> bool:
        """Whether the call's audio is being kept now."""
        return self._recording_state in ("started", "resumed")

    async def _set_recording(self, state: str, allowed: tuple[str, ...]) -> None:
        conv = self._conv(f"{state} recording")
        if self._recording_state == state or conv.ending:
            return  # already so, or the call is over: nothing changes
        if self._recording_state not in allowed:
            raise ConfigError(f"cannot {_VERB[state]} the recording: it is "
                              f"{self._recording_state}; "
                              f"{_RECORDING_HINT[self._recording_state]}.")
        self._recording_state = state
        await self.bus.emit(ev.Recording, state)

    async def transfer_to_human(self, queue: str = "default") -> None:
        """Hand the caller to a human queue; the call ends with reason ``transfer_human``."""
        self.data["transfer_queue"] = queue
        self._conv("transfer_to_human()").end("transfer_human")

    async def transfer_to_agent(self, agent_id: str, reconnect_ms: float = 250.0) -> None:
        """Hand the call to another agent (``on_agent_transfer`` fires once reconnected)."""
        if not isinstance(agent_id, str) or not agent_id:
            raise ConfigError(f"transfer_to_agent(agent_id={agent_id!r}): the agent id "
                              f"must be a non-empty str, e.g. transfer_to_agent('billing').")
        conv = self._conv("transfer_to_agent()")
        ctx = self.bus.context
        previous = ctx.agent_id
        await conv.sleep(reconnect_ms)
        ctx.agent_id = agent_id
        await self.bus.emit(ev.AgentTransfer, previous, agent_id, reconnect_ms)

    @property
    def metrics(self) -> SessionMetrics:
        """Live metrics: ``session.metrics.live()``."""
        return SessionMetrics(self)

    def on(self, name: str, handler: Callable | None = None):
        """Register a session hook; a decorator (``@ctx.session.on("user_turn")``) or a
        plain call (``session.on("user_turn", fn)``)."""
        return self.hook_registry.on(name, handler)

    def make_bus(self, *, context: Any = None, extra: Iterable[HookRegistry] = (),
                 clock_ms: Callable[[], float] | None = None) -> HookBus:
        """Create the bus that fires this session's hooks, its pipeline's and ``extra``
        (runner-level) ones."""
        registries = [self.hook_registry, self.hooks, *extra]
        if self.pipeline is not None:
            registries.append(self.pipeline.hook_registry)
        self.bus = HookBus(self.session_id, registries, context=context,
                           clock_ms=clock_ms, strict=self.strict)
        return self.bus

    def __repr__(self) -> str:
        return f"Session({self.session_id!r})"


@dataclass(frozen=True)
class LiveMetrics:
    """A snapshot of a call so far."""

    turn_count: int
    tokens_in: int
    tokens_out: int
    duration_ms: float
    latency_p50_ms: float
    latency_p95_ms: float


class SessionMetrics:
    """``session.metrics.live()`` returns live values (never placeholder zeros)."""

    def __init__(self, session: Session):
        self._session = session

    def live(self) -> LiveMetrics:
        conv = self._session.conversation
        if conv is None:
            return LiveMetrics(0, 0, 0, 0.0, float("nan"), float("nan"))
        totals = np.asarray(conv.totals, dtype=float)
        p50, p95 = (np.percentile(totals, [50, 95]) if totals.size else (np.nan, np.nan))
        return LiveMetrics(conv.turn_count, conv.tokens_in, conv.tokens_out,
                           self._session.bus.now_ms(), float(p50), float(p95))


_VERB = {"paused": "pause", "resumed": "resume", "stopped": "stop", "started": "start"}
_RECORDING_HINT = {"started": "pause_recording() or stop_recording() it",
                   "resumed": "pause_recording() or stop_recording() it",
                   "paused": "resume_recording() or stop_recording() it",
                   "stopped": "start_recording() begins it again"}
