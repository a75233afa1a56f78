"""The simulated conversation behind ``Session.run()``: a caller script played against the
cascade on virtual time, firing every canonical event at its instant.

Instants of one cascade turn (U = the caller actually stops speaking)::

    vad_stop    = U + transport_in + vad_silence
    stt_final   = U + transport_in + stt
    commit      = max(vad_stop + endpointing, stt_final)      -> user_turn (blocking hooks)
    llm_request = commit + user hooks
    first_token = llm_request + ttft
    text_ready  = first sentence streamed, or full response + llm chain (when llm hooks)
    tts_first_audio = tts_request + ttfb ; agent_speech_start = + transport_out

Segments are differences of consecutive instants, so they add up to
``total_e2e_ms = agent_speech_start - U`` exactly; ``other`` keeps what no stage owns
(transport in, time spent in a ``tts`` hook before the built-in stage).

A :class:`Conversation` is one call's state and clock; its roles live in their own
modules: the caller's side (``caller_script.py``), each turn's agent side
(``turn_engine.py``, with ``turn_model.py``), the agent's speech and reply, written once
as programs (``reply_program.py``) that ``executors.py`` runs inline or as tasks
(``speech.py``), and work beside the call (``background.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import events as ev
from ..components import LLM, STT, TTS, Profile
from ..errors import AgentlabError
from ..plugins import simulated
from .background import BackgroundWork
from .caller import CallerTurn, CallPlan
from .caller_script import CallerScript
from .ending import CallEnded, CallFinished
from .speech import Speaker
from .turn_engine import TurnEngine
from .turn_taking import TurnTaking, turn_taking_of


@dataclass
class Conversation(CallerScript, TurnEngine, TurnTaking, Speaker, BackgroundWork):
    """Plays a caller script against one session on the running (virtual) loop."""

    session: Any
    plan: CallPlan
    profile: Profile
    rng: np.random.Generator
    stt: STT = field(default_factory=STT)
    llm: LLM = field(default_factory=LLM)
    tts: TTS = field(default_factory=TTS)
    vad_silence_ms: float | None = None
    detector: Any = None     # the pipeline's turn detector (fixed, dynamic, eager)
    preemptive: bool = False  # speculative LLM requests on eager ends
    budget: Any = None       # the pipeline's LatencyBudget
    silence_timeout_ms: float = 8000.0
    tools: dict = field(default_factory=dict)   # the runner's @al.tool functions by name
    ending: str | None = None
    final_state: str = "ended"
    started: bool = False  # the session loop ran (or the call was closed without it)
    instructions: str = ""  # the agent's system prompt (VideoSDK Agent(instructions=...))
    task: asyncio.Task | None = None  # the task running the session loop, while it runs
    stopping: bool = False  # stop() cancelled that task
    waiters: set = field(default_factory=set)  # every task's pending sleep, for end()
    finished: CallFinished = field(default_factory=CallFinished)
    totals: list[float] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    turn_count: int = 0

    # -- time -------------------------------------------------------------------------
    def now(self) -> float:
        return self.session.bus.now_ms()

    def __post_init__(self) -> None:
        self.draw = self.profile.sampler(self.rng).draw
        self._advance = None  # the virtual loop's advance(), looked up on the first sleep

    async def sleep(self, ms: float) -> None:
        """Sleep on the session clock; ends early (raising CallEnded) if the call ends.

        On a virtual loop with nothing else to run before the wake-up, the clock just moves
        on (``VirtualTimeLoop.advance``): same schedule, no timer, no loop round trip."""
        if self.ending:
            raise CallEnded(self.ending)
        if ms > 0:
            advance = self._advance or self.advancer()
            if advance(ms / 1000.0):
                return
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            handle = loop.call_later(ms / 1000.0, _resolve, fut)
            self.waiters.add(fut)
            try:
                await fut
            finally:
                handle.cancel()
                self.waiters.discard(fut)
        if self.ending:
            raise CallEnded(self.ending)

    async def play(self, steps: Iterable[tuple]) -> None:
        """Run ``steps`` in order, each at its instant (ms on the call clock; at once if
        that has passed): ``(at, EventClass, fields)`` emits, ``(at, None, fn)`` calls
        ``fn()``. Raises CallEnded like sleep, also after an awaited hook ended the call.

        The simulator's hottest loop: on the virtual clock a wait with nothing else due
        first is a clock move (``VirtualTimeLoop.advance``, no loop round trip), and an
        event no awaited hook views is published in place (``HookBus.emit_now``)."""
        if self.ending:
            raise CallEnded(self.ending)
        bus = self.session.bus
        now, emit_now = bus.now_ms, bus.emit_now
        advance = self._advance or self.advancer()
        for at, cls, what in steps:
            wait = at - now()
            if wait > 0 and not advance(wait / 1000.0):
                await self.sleep(wait)
            if cls is None:
                what()
            elif not emit_now(cls, *what):
                await bus.emit(cls, *what)
            if self.ending:
                raise CallEnded(self.ending)

    def advancer(self):
        """The running loop's ``advance(delay_s) -> bool`` (``VirtualTimeLoop.advance``:
        move the clock on without yielding when that is exactly what sleeping would do;
        False: sleep instead). On a real-time loop it always says False."""
        if self._advance is None:
            loop = asyncio.get_running_loop()
            self._advance = getattr(loop, "advance", None) or _never
        return self._advance

    def end(self, reason: str) -> None:
        if not self.ending:
            self.ending = reason
        for fut in list(self.waiters):
            _resolve(fut)

    def stop(self, reason: str) -> None:
        """End the call at this instant, wherever its session loop is: also inside an
        await no :meth:`end` reaches (a hook's own sleep or a future that never
        resolves), by cancelling the loop's await; the loop then closes the session as
        usual. Its background work (sub-agents, memory) is cancelled too."""
        self.end(reason)
        if self.task is not None and not self.task.done():
            self.stopping = True
            self.task.cancel()
        for task in self.background_tasks:
            task.cancel()

    # -- the call -------------------------------------------------------------------------
    async def run(self) -> None:
        """The session loop: ``session_start``, the caller's script, ``session_end``.
        ``session_end`` (and with it every ``call_end`` hook) fires on every way out: a
        hang-up, ``end()``, a failing stage or hook, a strict re-raise."""
        if self.started:
            raise AgentlabError("Session.run() was called twice for one call; run the "
                                "session once per call (the call ends when it returns).")
        self.started = True
        bus = self.session.bus
        ctx = bus.context
        video = None
        self.task = asyncio.current_task()  # what stop() cancels
        try:
            await bus.emit(ev.SessionStart, ctx.agent_id, ctx.call_id, ctx.user_number,
                           ctx.direction)
            camera = getattr(self.session.pipeline, "vision", None)
            if camera is not None:
                video = asyncio.ensure_future(self.watch(camera))
            greeting = self.plan.greeting or self._outbound_opening(ctx)
            if greeting:
                await self.session.say(greeting)
            if ctx.answered_by == "voicemail":  # the message is left; nobody answers
                await self.sleep(500.0)
                self.end("voicemail")
            else:
                await self.play_script()
                await self.sleep(500.0)  # the caller listens to the end, then hangs up
                self.end("hangup")
        except CallEnded:
            pass
        except asyncio.CancelledError:
            if not self.stopping:
                raise
            self.task.uncancel()  # stop()'s own cancel ends the call, not the task
        except Exception as err:  # a stage or a strict hook failed: the call fails, visibly
            await self.fail("session", err)
        self.task = None
        _resolve_all(self)  # sub-agents and memory stop with the call
        for outcome in await asyncio.gather(*self.background_tasks, return_exceptions=True):
            if isinstance(outcome, Exception):  # background work failed: say so
                await self.session.bus.emit_error("background", outcome, severity="error")
        if video is not None:
            await asyncio.gather(video, return_exceptions=True)
        await self._emit_end()

    def _outbound_opening(self, ctx: Any) -> str | None:
        """On an outbound call the agent speaks first (the scenario's greeting, or this)."""
        if getattr(ctx, "direction", "inbound") != "outbound":
            return None
        if ctx.answered_by == "voicemail":
            return (f"Hello, this is {ctx.agent_id} calling. Please call us back when you "
                    f"can. Thank you.")
        return f"Hi, this is {ctx.agent_id} calling. Is now a good time?"

    async def fail(self, component: str, err: BaseException) -> None:
        """End the call as ``failed`` because ``err`` happened in ``component``; the error
        row comes before ``session_end``. A strict re-raise is not reported twice: it
        leaves the simulation as the handler's own exception."""
        self.final_state = "failed"
        self.end("error")
        bus = self.session.bus
        if err is bus.strict_error:
            return
        with contextlib.suppress(Exception):  # strict: a deferred hook error surfaces here
            await bus.emit_error(component, err, severity="fatal")

    async def close_unstarted(self, reason: str, final_state: str) -> None:
        """End a call whose session loop never ran (its entrypoint failed, returned or
        timed out first): a ``session_start`` and ``session_end`` pair still mark it, so
        the call has its sessions row and every ``call_end`` hook fires."""
        self.started = True
        self.final_state = final_state
        self.end(reason)
        bus = self.session.bus
        ctx = bus.context
        with contextlib.suppress(Exception):  # a strict call_start error is kept on the bus
            await bus.emit(ev.SessionStart, ctx.agent_id, ctx.call_id, ctx.user_number,
                           ctx.direction)
        await self._emit_end()

    async def _emit_end(self) -> None:
        bus = self.session.bus
        bus.end_of_session()  # a strict error kept for later must not stop session_end
        try:
            await bus.emit(ev.SessionEnd, self.ending or "hangup", self.final_state,
                           self.now())
        except Exception as err:  # strict: a call_end handler raised; simulate re-raises
            if err is not bus.strict_error:
                raise
        finally:
            self.finished.set()
    latest_frame: Any = None
    frames_seen: int = 0

    def use_pipeline(self, pipeline: Any, profile: Profile, instructions: str) -> None:
        """Serve the rest of the call with ``pipeline``'s components and ``profile`` (an
        ``AgentSession`` started in the entrypoint brings its own), and ``instructions``
        as the LLM's system prompt."""
        self.stt = simulated(pipeline.stt, STT)
        self.llm = simulated(pipeline.llm, LLM)
        self.tts = simulated(pipeline.tts, TTS)
        self.vad_silence_ms = getattr(getattr(pipeline, "vad", None), "silence_ms", None)
        for name, value in turn_taking_of(pipeline).items():
            setattr(self, name, value)
        self.profile = profile
        self.draw = profile.sampler(self.rng).draw
        self.instructions = instructions

    spoken: list[str] = field(default_factory=list)
    barge_in_at_ms: float | None = None
    barge_after_ms: float | None = None
    barge_turn: CallerTurn | None = None  # the turn that talks over the coming reply
    # a turn the detector cut off in a pause: the rest of it, and when the caller resumed
    cut_rest: CallerTurn | None = None
    resume_at_ms: float | None = None
    last_reply: str = ""
    current: CallerTurn | None = None
    user_texts: list[str] = field(default_factory=list)
    background_tasks: list = field(default_factory=list)
    patience_timer: Any = None

def _never(_delay_s: float) -> bool:
    return False  # a real-time loop: every sleep is a real timer

def _resolve_all(conv: Conversation) -> None:
    for fut in list(conv.waiters):
        _resolve(fut)

def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
