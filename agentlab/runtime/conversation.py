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
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from .. import events as ev
from ..clock import YIELD_EVERY
from ..components import LLM, STT, TTS, Profile, VideoFrame
from ..errors import AgentlabError
from ..plugins import simulated
from .caller import CallerTurn, CallPlan
from .ending import ENDED, CallEnded
from .reply_plan import plan_reply, wake_at
from .tool_calls import run_tool_calls

CASCADE_SEGMENTS = ("vad", "stt", "endpointing", "user_hooks", "llm_ttft", "tools",
                    "llm_rest", "llm_hooks", "tts_ttfb", "output", "other")
# The seed's realtime segments, plus the time blocking user_turn hooks hold the response
# (the app sends response.create after them) and the residual.
S2S_SEGMENTS = ("client_to_backend", "backend_to_model", "user_hooks", "tools",
                "model_processing", "model_to_backend", "backend_to_client", "other")




@dataclass
class SpeechData:
    text: str
    is_final: bool = True


@dataclass
class SpeechEvent:
    """What the STT stage yields; ``event.data.text`` is mutable, as the seed docs use it."""

    type: str
    data: SpeechData


@dataclass
class TurnInstants:
    speech_end: float = math.nan
    vad_stop: float = math.nan
    stt_final: float = math.nan
    commit: float = math.nan
    llm_request: float = math.nan
    first_token: float = math.nan
    text_ready: float = math.nan
    chain_ms: float = 0.0
    tools_ms: float = 0.0
    tts_request: float = math.nan
    tts_first_audio: float = math.nan
    agent_speech_start: float = math.nan

    def segments(self) -> tuple[float, tuple[tuple[str, float], ...]]:
        total = self.agent_speech_start - self.speech_end
        if math.isnan(total):
            return math.nan, ()
        heard = max(self.vad_stop, self.stt_final)
        # in CASCADE_SEGMENTS order; "other" is what is left, summed in the same order
        ms = (self._vad_silence,
              max(0.0, self.stt_final - self.vad_stop),                  # stt
              self.commit - heard,                                       # endpointing
              self.llm_request - self.commit,                            # user_hooks
              # the model's time to first token, over the request before the tools and
              # the one after them; the tools' own time is its own segment
              self.first_token - self.llm_request - self.tools_ms,       # llm_ttft
              self.tools_ms,                                             # tools
              self.text_ready - self.chain_ms - self.first_token,        # llm_rest
              self.chain_ms,                                             # llm_hooks
              self.tts_first_audio - self.tts_request,                   # tts_ttfb
              self.agent_speech_start - self.tts_first_audio)            # output
        return total, (*zip(CASCADE_SEGMENTS[:-1], ms, strict=True),
                       ("other", total - sum(ms)))

    _vad_silence: float = 0.0
    interrupted: bool = False


@dataclass
class Conversation:
    """Plays a caller script against one session on the running (virtual) loop."""

    session: Any
    plan: CallPlan
    profile: Profile
    rng: np.random.Generator
    stt: STT = field(default_factory=STT)
    llm: LLM = field(default_factory=LLM)
    tts: TTS = field(default_factory=TTS)
    vad_silence_ms: float | None = None
    endpointing_ms: Any = None
    silence_timeout_ms: float = 8000.0
    tools: dict = field(default_factory=dict)   # the runner's @al.tool functions by name
    # The virtual loop's microsecond at which the call clock read 0 (simulations): play()
    # reads the clock as ``(loop µs - this) / 1000``, the call clock's own formula.
    clock_start_us: int | None = None
    ending: str | None = None
    final_state: str = "ended"
    started: bool = False  # the session loop ran (or the call was closed without it)
    instructions: str = ""  # the agent's system prompt (VideoSDK Agent(instructions=...))
    task: asyncio.Task | None = None  # the task running the session loop, while it runs
    stopping: bool = False  # stop() cancelled that task
    _waiters: set = field(default_factory=set)  # every task's pending sleep, for end()
    finished: asyncio.Event = field(default_factory=asyncio.Event)
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
            advance = self._advance or self._advancer()
            if advance(ms / 1000.0):
                return
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            handle = loop.call_later(ms / 1000.0, _resolve, fut)
            self._waiters.add(fut)
            try:
                await fut
            finally:
                handle.cancel()
                self._waiters.discard(fut)
        if self.ending:
            raise CallEnded(self.ending)

    async def play(self, steps: Iterable[tuple]) -> None:
        """Run ``steps`` in order, each at its instant (ms on the call clock; at once if
        that has passed): ``(at, EventClass, fields)`` emits, ``(at, None, fn)`` calls
        ``fn()``. Raises CallEnded like sleep, also after an awaited hook ended the call.

        On the simulator's virtual clock this is the hottest loop there is, so it is
        written out: while nothing else is due before a step (the loop's horizon), the
        wait is a clock move, and an event no hook views is built and handed to the
        bus's observers right here (what ``HookBus.emit_now`` does, one call less per
        event). Anything else takes the general way: a real sleep, ``emit_now``/``emit``."""
        if self.ending:
            raise CallEnded(self.ending)
        bus = self.session.bus
        loop = asyncio.get_running_loop()
        start_us = self.clock_start_us
        if start_us is None or not hasattr(loop, "horizon_us"):
            return await self._play_timed(steps)
        horizon, ready, views = loop.horizon_us(), loop._ready, bus._views
        for at, cls, what in steps:
            now_us = loop._now_us
            wait = at - (now_us - start_us) / 1000.0
            if wait > 0:
                when_us = now_us + round(wait / 1000.0 * 1e6)  # as advance() rounds
                loop._advances += 1
                if when_us < horizon and not ready and loop._advances % YIELD_EVERY:
                    loop._now_us = when_us
                else:
                    await self.sleep(wait)
                    horizon = loop.horizon_us()
            if cls is None:
                what()
                horizon = loop.horizon_us()  # fn may have scheduled something
            elif cls.name in views or bus._deferred is not None:
                if not bus.emit_now(cls, *what):
                    await bus.emit(cls, *what)
                horizon = loop.horizon_us()  # fire-and-forget hooks are tasks now
            else:
                bus.seq = seq = bus.seq + 1
                observers = bus._subscribers
                if observers:
                    event = cls(bus.session_id, bus.turn_id, seq,
                                (loop._now_us - start_us) / 1000.0, *what)
                    for observer in observers:
                        try:
                            observer(event)
                        except Exception as err:
                            bus._observer_failed(observer, err)
            if self.ending:
                raise CallEnded(self.ending)

    async def _play_timed(self, steps: Iterable[tuple]) -> None:
        """:meth:`play` on any other clock: a sleep per wait, ``emit_now`` per event."""
        bus = self.session.bus
        now = bus.now_ms
        for at, cls, what in steps:
            wait = at - now()
            if wait > 0:
                await self.sleep(wait)
            if cls is None:
                what()
            elif not bus.emit_now(cls, *what):
                await bus.emit(cls, *what)
            if self.ending:
                raise CallEnded(self.ending)

    def _advancer(self):
        loop = asyncio.get_running_loop()
        self._advance = getattr(loop, "advance", None) or _never
        return self._advance

    def end(self, reason: str) -> None:
        if not self.ending:
            self.ending = reason
        for fut in list(self._waiters):
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
        for task in self._background:
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
        for outcome in await asyncio.gather(*self._background, return_exceptions=True):
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

    async def play_script(self) -> None:
        """The caller's turns in order; silent turns wait; when the script runs out the
        caller answers the agent's follow-up questions from its rules, then hangs up."""
        persona, turns = self.plan.persona, list(self.plan.turns)
        interrupted, follow_ups, i = False, 0, 0
        while True:
            if i == len(turns) and self.plan.next_turn is not None:
                live = await self.plan.next_turn()
                if live is None:
                    return
                turns.append(live)
            if i == len(turns):
                answer = self.plan.follow_up(self.last_reply) \
                    if follow_ups < persona.max_follow_ups else None
                if answer is None:
                    return
                follow_ups += 1
                turns.append(CallerTurn(answer, persona.pause_ms, None, persona.words_per_s))
            turn = turns[i]
            i += 1
            if not turn.text:  # the caller says nothing for the turn's pause
                await self.wait_for_caller_turn(turn)
                interrupted = False
                continue
            self.barge_after_ms = turn.interrupt_reply_ms if turn.interrupt_reply_ms \
                is not None else self._barge_in(turns[i] if i < len(turns) else None)
            interrupted = await self.user_turn(turn, skip_pause=interrupted)
            await self.after_reply(turn)

    def _barge_in(self, nxt: CallerTurn | None) -> float | None:
        """When the caller will talk over the coming reply: scripted, or the persona's
        habit (drawn only when it has one, so scripts without it draw nothing)."""
        if nxt is None or not nxt.text:
            return None
        if nxt.barge_in_ms is not None:
            return nxt.barge_in_ms
        p = self.plan.persona
        if p.barge_in_probability > 0 and self.rng.random() < p.barge_in_probability:
            return p.barge_in_ms
        return None

    async def after_reply(self, turn: CallerTurn) -> None:
        """Background work the agent starts after a turn, then the turn's action."""
        behaviour, done = self.plan.agent, self.turn_count
        every = behaviour.memory_every_turns
        if every and done % every == 0:
            self.start_background(self.extract_memory(self.user_texts[-every:],
                                                      behaviour.memory_ms))
        for sub in behaviour.subagents:
            if sub.after_turn == done:
                self.start_background(self.run_subagent(sub))
        if turn.action:
            kind, _, target = turn.action.partition(":")
            if kind == "transfer_human":
                await self.session.transfer_to_human(target or "default")
            elif kind == "transfer_agent":
                await self.session.transfer_to_agent(target or "agent")
            elif kind == "end":
                await self.session.end("ended")
            elif kind == "hangup":
                self.end("hangup")
            await self.sleep(0)  # raises CallEnded if the action ended the call

    def start_background(self, coro: Any) -> None:
        """Run ``coro`` alongside the call; the session waits for it (or cancels it on
        stop()) before it closes."""
        self._background.append(asyncio.ensure_future(coro))

    async def extract_memory(self, texts: list[str], duration_ms: float) -> None:
        start = self.now()
        try:
            await self.sleep(duration_ms)
        except ENDED:
            return
        facts = sum(1 for t in texts if _FACT.search(t))
        ctx = self.session.bus.context
        await self.session.bus.emit(ev.MemoryExtraction, getattr(ctx, "user_number", ""),
                                    facts, self.now() - start)

    async def run_subagent(self, sub: Any) -> None:
        for step in range(1, sub.steps + 1):
            try:
                await self.sleep(sub.step_ms)
            except ENDED:
                return
            await self.session.bus.emit(ev.SubagentStep, sub.name, step, sub.tokens_per_step,
                                        sub.tool_calls)

    async def user_turn(self, turn: CallerTurn, skip_pause: bool = False) -> bool:
        """Play one caller turn and the agent's reply; True if the caller barged in."""
        bus = self.session.bus
        if not skip_pause:
            await self.wait_for_caller_turn(turn)
        bus.turn_id += 1
        s2s = self.profile.mode == "s2s"
        # realtime models send no partials
        speak_ms, partials = _speech_shape(turn.text, turn.words_per_s,
                                           0.0 if s2s else self.stt.partial_every_ms)
        # The caller talks on its own clock: a slow hook on these events does not slow
        # the speech down, it only delays what fires after it.
        start = self.now()
        speech = [(start, ev.UserSpeechStart, ())]
        speech += [(start + spoken, ev.SttPartial, text) for spoken, text in partials]
        speech.append((start + speak_ms, ev.UserSpeechEnd, ()))
        await self.play(speech)
        self.user_texts.append(turn.text)
        self.current = turn
        patience = self.plan.persona.patience_ms
        if patience is not None:  # the caller hangs up if the answer takes too long
            self._patience = asyncio.get_running_loop().call_later(
                patience / 1000.0, self.end, "hangup")
        if s2s:
            return await self.realtime_turn(turn)
        return await self.cascade_turn(turn, speak_ms)

    async def cascade_turn(self, turn: CallerTurn, speak_ms: float) -> bool:
        bus = self.session.bus
        inst = TurnInstants()
        inst.speech_end = self.now()
        rng, draw = self.rng, self.draw
        transport_in = draw("transport_in_ms")
        vad_silence = self.vad_silence_ms if self.vad_silence_ms is not None else draw(
            "vad_silence_ms")
        inst._vad_silence = vad_silence
        inst.vad_stop = inst.speech_end + transport_in + vad_silence
        stt_delay = draw("stt_ms")
        eou = self._endpointing()
        heard_text = self.stt.transcribe(turn.text, rng)
        heard_at = inst.speech_end + transport_in + stt_delay
        if bus.has_handlers("pipeline.stt"):
            transcript = await self.run_stt_slot(
                self._builtin_stt(heard_at, heard_text), self._caller_audio(speak_ms), inst)
            steps = []
        else:  # the built-in stage's result without streaming the audio through it
            now = self.now()
            inst.stt_final = wake_at(now, heard_at - now)  # where the step below lands
            steps = [(heard_at, ev.SttFinal, (heard_text,))]
            transcript = heard_text
        commit = max(inst.vad_stop + eou, inst.stt_final)
        # The request goes out once the blocking user_turn hooks are done: its steps
        # are due at once (instant 0 has passed), after however long they took.
        steps += [(commit, None, lambda: setattr(inst, "commit", self.now())),
                  (commit, ev.UserTurn, (transcript,)),
                  (0.0, None, lambda: setattr(inst, "llm_request", self.now())),
                  (0.0, ev.LlmRequest, ())]
        await self.play(steps)
        await self.agent_reply(transcript, inst)
        return inst.interrupted

    async def _caller_audio(self, speak_ms: float) -> AsyncIterator[bytes]:
        """The caller's (silent) audio, one chunk per partial, for an ``stt`` hook."""
        step, left = self.stt.partial_every_ms, speak_ms
        while left > 0:
            yield self.tts.pcm(min(step, left), silent=True)
            left -= step

    def _builtin_stt(self, heard_at: float, heard_text: str):
        """The simulated STT stage an ``stt`` hook wraps: reads the audio, then gives the
        final transcript at ``heard_at``."""
        async def builtin_stt(stream: AsyncIterator[bytes]) -> AsyncIterator[SpeechEvent]:
            async for _chunk in stream:
                pass
            await self.sleep(heard_at - self.now())
            yield SpeechEvent("final", SpeechData(heard_text))

        return builtin_stt

    async def run_stt_slot(self, builtin_stt: Any, audio: AsyncIterator[bytes],
                           inst: TurnInstants) -> str:
        """The ``stt`` slot over ``audio``: the last transcript it yields is the user's
        turn; stamps ``stt_final`` and emits it."""
        transcript = ""
        bus = self.session.bus
        async for item in bus.stream_slot("stt", builtin_stt, audio):
            if item.data and item.data.text is not None:
                transcript = item.data.text
        if not isinstance(transcript, str):  # a hook set it: say so, go on with its text
            await bus.emit_error("hook:stt", f"the stt slot's transcript must be a str, got "
                                 f"{type(transcript).__name__} {transcript!r}; the turn "
                                 f"goes on with str() of it. Set event.data.text to a str",
                                 severity="warn")
            transcript = str(transcript)
        inst.stt_final = self.now()
        await self.session.bus.emit(ev.SttFinal, transcript)
        return transcript

    async def watch(self, camera: Any) -> None:
        """Feed camera frames through the ``vision_frame`` chain for the whole call; the
        newest processed frame is ``latest_frame`` (what a vision LLM would be sent)."""
        period_ms = 1000.0 / camera.fps

        async def frames() -> AsyncIterator[VideoFrame]:
            index = 0
            while not self.ending:
                yield VideoFrame(round(self.now()), camera.width, camera.height, index)
                index += 1
                try:
                    await self.sleep(period_ms)
                except ENDED:
                    return

        async for frame in self.session.bus.chained_stream("vision_frame", frames()):
            self.latest_frame = frame
            self.frames_seen += 1

    latest_frame: Any = None
    frames_seen: int = 0

    async def realtime_turn(self, turn: CallerTurn) -> bool:
        """A speech-to-speech turn: audio goes to the model and audio comes back; the
        model's input transcript is the user turn, its output transcript the agent turn."""
        bus, draw = self.session.bus, self.draw
        speech_end = mark = self.now()
        marks: list[tuple[str, float]] = []

        async def stage(name: str, ms: float | None = None) -> None:
            nonlocal mark  # each segment is measured between instants, so they add up
            if ms is not None:
                await self.sleep(ms - (self.now() - mark))
            marks.append((name, self.now() - mark))
            mark = self.now()

        await stage("client_to_backend", draw("client_to_backend_ms"))
        await stage("backend_to_model", draw("backend_to_model_ms"))
        transcript = self.stt.transcribe(turn.text, self.rng)
        await bus.emit(ev.SttFinal, transcript)
        await bus.emit(ev.UserTurn, transcript)
        await stage("user_hooks")
        await bus.emit(ev.LlmRequest)
        raw, steps = await self.session.dialog_machine.respond(
            transcript, self.rng, self.llm, turn.reply, turn.tool_calls)
        if steps:
            await run_tool_calls(self, steps)
        await stage("tools")
        tokens_in, tokens_out = self._usage(transcript, raw)
        await stage("model_processing", draw("model_processing_ms"))
        await bus.emit(ev.LlmFirstToken)
        await stage("model_to_backend", draw("model_to_backend_ms"))
        await stage("backend_to_client", draw("backend_to_client_ms"))
        start = self.now()
        self._answered()
        await bus.emit(ev.AgentSpeechStart, "reply")
        self.spoken.append(raw)
        self.last_reply = raw
        # the model streams its reply faster than it is spoken: the full text is known
        # once it has generated, and the audio plays out at the speaking rate
        await bus.emit(ev.LlmResponse, raw, tokens_in, tokens_out)
        await bus.emit(ev.AgentTurn, raw)
        barge = self.barge_after_ms
        interrupted = await self._play_out(start + self.tts.duration_ms(raw),
                                           None if barge is None else start + barge, "reply")
        self._count_turn(tokens_in, tokens_out)
        total = start - speech_end
        marks.append(("other", total - sum(ms for _, ms in marks)))
        self.totals.append(total)
        await bus.emit(ev.TurnEnd, total, tuple(marks), interrupted)
        return interrupted

    async def _play_out(self, until: float, barge_at: float | None, source: str) -> bool:
        """Play the agent's audio until ``until``, or until the caller barges in."""
        bus = self.session.bus
        interrupted = barge_at is not None and barge_at < until
        try:
            await self.sleep((barge_at if interrupted else until) - self.now())
        except ENDED:
            await bus.emit(ev.AgentSpeechEnd, True, source)
            raise
        if interrupted:
            await bus.emit(ev.Interruption)
        await bus.emit(ev.AgentSpeechEnd, interrupted, source)
        return interrupted

    def _usage(self, transcript: str, reply: str) -> tuple[int, int]:
        llm = self.llm
        tokens_in = llm.prompt_tokens_per_turn * (self.turn_count + 1) + llm.tokens(transcript)
        if self.instructions:  # the agent's system prompt goes with every request
            tokens_in += llm.tokens(self.instructions)
        return tokens_in, llm.tokens(reply)

    def use_pipeline(self, pipeline: Any, profile: Profile, instructions: str) -> None:
        """Serve the rest of the call with ``pipeline``'s components and ``profile`` (an
        ``AgentSession`` started in the entrypoint brings its own), and ``instructions``
        as the LLM's system prompt."""
        self.stt = simulated(pipeline.stt, STT)
        self.llm = simulated(pipeline.llm, LLM)
        self.tts = simulated(pipeline.tts, TTS)
        self.vad_silence_ms = getattr(getattr(pipeline, "vad", None), "silence_ms", None)
        self.endpointing_ms = getattr(getattr(pipeline, "turn_detector", None), "delay_ms",
                                      None)
        self.profile = profile
        self.draw = profile.sampler(self.rng).draw
        self.instructions = instructions

    def _count_turn(self, tokens_in: int, tokens_out: int) -> None:
        self.turn_count += 1
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out

    def _endpointing(self) -> float:
        d = self.endpointing_ms
        if d is None:
            return self.draw("endpointing_ms")
        return d(self.rng) if callable(d) else float(d)

    async def wait_for_caller_turn(self, turn: CallerTurn) -> None:
        """The caller's pause before speaking; ``silence`` fires once if it lasts
        ``silence_timeout_ms`` (the configured quiet time)."""
        pause = turn.pause_ms
        if pause > self.silence_timeout_ms:
            await self.sleep(self.silence_timeout_ms)
            await self.session.bus.emit(ev.Silence, self.silence_timeout_ms / 1000.0)
            pause -= self.silence_timeout_ms
        await self.sleep(pause)

    async def agent_reply(self, transcript: str, inst: TurnInstants) -> None:
        """From the LLM request (sent, ``inst.llm_request`` set) to the turn's end."""
        session, bus, rng = self.session, self.session.bus, self.rng
        machine = session.dialog_machine
        turn = self.current
        raw, steps = await machine.respond(transcript, rng, self.llm, turn.reply,
                                           turn.tool_calls)
        tokens_in, tokens_out = self._usage(transcript, raw)
        tps = self.draw("llm_tokens_per_s")
        planned = not (bus.has_handlers("pipeline.tts") or bus.has_handlers("pipeline.llm")
                       or bus.holds_up(_REPLY_EVENTS))
        first = ()
        if steps:  # the model answers with tool calls first, then a second request
            await self.sleep(self.draw("llm_ttft_ms") - (self.now() - inst.llm_request))
            t0 = self.now()
            await run_tool_calls(self, steps)
            inst.tools_ms = self.now() - t0
            await self.sleep(self.draw("llm_ttft_ms"))
        else:
            now = self.now()
            wait = self.draw("llm_ttft_ms") - (now - inst.llm_request)
            if planned:  # the first token is the plan's first step
                inst.first_token = wake_at(now, wait)
                first = ((inst.first_token, ev.LlmFirstToken, ()),)
            else:
                await self.sleep(wait)
        if not first:
            inst.first_token = self.now()
            await bus.emit(ev.LlmFirstToken)
        if planned:
            await self._planned_reply(raw, inst, tokens_in, tokens_out, tps, first)
        else:
            await self._stream_reply(raw, inst, tokens_in, tokens_out, tps)
        self._count_turn(tokens_in, tokens_out)
        total, segments = inst.segments()
        if not math.isnan(total):
            self.totals.append(total)
        if not bus.emit_now(ev.TurnEnd, total, segments, inst.interrupted):
            await bus.emit(ev.TurnEnd, total, segments, inst.interrupted)

    async def _planned_reply(self, raw: str, inst: TurnInstants, tokens_in: int,
                             tokens_out: int, tps: float, first: tuple = ()) -> None:
        """The reply when no hook can change or hold it up: the same instants as
        :meth:`_stream_reply`, worked out in advance (reply_plan.py), after the ``first``
        steps (the first token, when it has not fired yet)."""
        draw = self.draw  # drawn in the order _stream_reply's speak() draws them
        tts_ms = (draw("tts_ttfb_ms"), draw("tts_leading_silence_ms"),
                  draw("transport_out_ms"))
        plan = plan_reply(self, raw, inst.first_token, tps, (tokens_in, tokens_out), tts_ms,
                          inst)
        try:
            await self.play((*first, *plan.steps))
        except ENDED:
            if plan.started and not plan.ended:
                await self.session.bus.emit(ev.AgentSpeechEnd, True, "reply")
            raise
        inst.interrupted = plan.interrupted

    async def _stream_reply(self, raw: str, inst: TurnInstants, tokens_in: int,
                            tokens_out: int, tps: float) -> None:
        """The reply streamed: the LLM's text through the ``llm`` chain (which waits for
        the full response) or sentence by sentence, through the ``tts`` slot, played out
        until done or barged in on."""
        bus = self.session.bus
        queue: asyncio.Queue = asyncio.Queue()
        closed = False
        buffered = bus.has_handlers("pipeline.llm")

        async def generate() -> str:
            try:
                return await produce()
            finally:  # however generation ends (the call may end mid-way), close the text
                if not closed:
                    queue.put_nowait(None)

        async def produce() -> str:
            if buffered:  # llm hooks need the full response: that wait is the cost
                await self.sleep(1000.0 * tokens_out / tps)
                await bus.emit(ev.LlmResponse, raw, tokens_in, tokens_out)
                t0 = self.now()
                final = await bus.run_chain("llm", raw)
                inst.chain_ms = self.now() - t0
                inst.text_ready = self.now()
                queue.put_nowait(final)
            else:
                final = raw
                ready = inst.first_token
                for i, sentence in enumerate(self.llm.sentences(raw)):
                    ready += 1000.0 * self.llm.tokens(sentence) / tps
                    await self.sleep(ready - self.now())
                    if i == 0:
                        inst.text_ready = self.now()
                    queue.put_nowait(sentence + " ")
                await bus.emit(ev.LlmResponse, raw, tokens_in, tokens_out)
            nonlocal closed
            closed = True
            queue.put_nowait(None)
            self.last_reply = final
            await bus.emit(ev.AgentTurn, final)
            return final

        async def text_stream() -> AsyncIterator[str]:
            while (chunk := await queue.get()) is not None:
                yield chunk

        gen_task = asyncio.ensure_future(generate())
        try:
            await self.speak(text_stream(), inst, source="reply")
            await gen_task
        finally:
            if not gen_task.done():
                gen_task.cancel()
                await asyncio.gather(gen_task, return_exceptions=True)

    def _speech_latencies(self) -> tuple[float, float, float]:
        """Time to the first audio, its leading silence, and the way out to the caller for
        spoken text. A speech-to-speech model speaks ``say()`` text itself: the text goes
        to the model, which returns audio (no separate TTS, no leading silence)."""
        draw = self.draw
        if self.profile.mode == "s2s":
            to_model = draw("backend_to_model_ms") + draw("model_processing_ms")
            return to_model + draw("model_to_backend_ms"), 0.0, draw("backend_to_client_ms")
        return draw("tts_ttfb_ms"), draw("tts_leading_silence_ms"), draw("transport_out_ms")

    async def speak(self, text: AsyncIterator[str], inst: TurnInstants | None,
                    source: str) -> None:
        """Run the tts slot over ``text`` and play the audio out; stops on barge-in."""
        bus = self.session.bus
        first_text = True
        ttfb, lead, out_ms = self._speech_latencies()

        async def builtin_tts(stream: AsyncIterator[str]) -> AsyncIterator[bytes]:
            nonlocal first_text
            async for chunk in stream:
                if first_text:
                    first_text = False
                    if inst is not None:
                        inst.tts_request = self.now()
                    await bus.emit(ev.TtsRequest, chunk)
                    await self.sleep(ttfb)
                    yield self.tts.pcm(lead, silent=True)
                left = self.tts.duration_ms(chunk)
                while left > 0:
                    ms = min(self.tts.chunk_ms, left)
                    left -= ms
                    yield self.tts.pcm(ms)
                self.spoken.append(chunk)

        # Audio is queued for playback as it arrives (synthesis outruns real time); the
        # playhead is when the queued audio will have played out. We only wait for it at
        # the end, or up to the caller's barge-in if that comes first.
        started = False   # the first audio arrived
        speaking = False  # agent_speech_start fired: the caller hears the agent
        interrupted = False
        playhead = 0.0
        bytes_per_ms = 2 * self.tts.sample_rate / 1000.0
        offered: list[str] = []
        before = len(self.spoken)

        async def offered_text() -> AsyncIterator[str]:
            async for chunk in text:
                offered.append(chunk)
                yield chunk

        audio = bus.stream_slot("tts", builtin_tts, offered_text())
        try:
            async for pcm in audio:
                if not started:
                    started = True
                    if inst is not None:
                        inst.tts_first_audio = self.now()
                    await bus.emit(ev.TtsFirstAudio)
                    await self.sleep(out_ms)
                    if inst is not None:
                        inst.agent_speech_start = self.now()
                        self._answered()
                    await bus.emit(ev.AgentSpeechStart, source)
                    speaking = True
                    # only a reply is barged in on; a stale instant from an earlier
                    # reply must not cut this one
                    barge = self.barge_after_ms if source == "reply" else None
                    self.barge_in_at_ms = None if barge is None else self.now() + barge
                playhead = max(playhead, self.now()) + len(pcm) / bytes_per_ms
                if await self._barge_before(playhead):
                    interrupted = True
                    break
            if started and not interrupted:
                await self.sleep(playhead - self.now())
        except ENDED:
            if speaking:  # a hang-up before the audio reached the caller ends nothing
                await bus.emit(ev.AgentSpeechEnd, True, source)
            raise
        finally:
            # a barge-in or the call's end leaves the tts stream (and a hook's generator)
            # unfinished: close it in this task, not later in the loop's finalizer
            await audio.aclose()
        if started:
            if interrupted:
                await bus.emit(ev.Interruption)
            await bus.emit(ev.AgentSpeechEnd, interrupted, source)
        if not interrupted:
            await self._unspoken(offered, self.spoken[before:])
        if inst is not None:
            inst.interrupted = interrupted

    async def _unspoken(self, offered: list[str], said: list[str]) -> None:
        """Text that went into the tts slot and never came out as audio (a tts hook that
        failed mid-stream took it down with it) is an error row saying what was lost."""
        lost = [c for c in offered if c not in said]
        n_offered = sum(len(c.split()) for c in offered)
        n_said = sum(len(c.split()) for c in said)
        if lost and n_said < n_offered:
            await self.session.bus.emit_error(
                "tts", f"{n_offered - n_said} of {n_offered} words were never spoken (the "
                f"tts stream lost them): {' '.join(c.strip() for c in lost)!r}",
                severity="warn")

    spoken: list[str] = field(default_factory=list)
    barge_in_at_ms: float | None = None
    barge_after_ms: float | None = None
    last_reply: str = ""
    current: CallerTurn | None = None
    user_texts: list[str] = field(default_factory=list)
    _background: list = field(default_factory=list)
    _patience: Any = None

    def _answered(self) -> None:
        if self._patience is not None:
            self._patience.cancel()
            self._patience = None

    async def _barge_before(self, playhead: float) -> bool:
        """True (after waiting until then) if the caller barges in before ``playhead``."""
        at = self.barge_in_at_ms
        if at is None or at >= playhead:
            return False
        self.barge_in_at_ms = None
        await self.sleep(at - self.now())
        return True


# Events a reply fires; an awaited hook on one may hold the reply up, which only the
# streaming version models.
_REPLY_EVENTS = ("llm_response", "agent_turn", "tts_request", "tts_first_audio",
                 "agent_speech_start", "agent_speech_end", "interruption")
_FACT = re.compile(r"\b(my|i'm|i am|we|our)\b|\d", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _speech_shape(text: str, words_per_s: float, partial_every_ms: float) -> tuple:
    """How long the caller speaks ``text`` and the interim transcripts while it does:
    ``(speak_ms, ((ms into the speech, (transcript,)), ...))``, every
    ``partial_every_ms`` (0: none). Scripts repeat across calls, so shapes are kept."""
    words = text.split()
    speak_ms = 1000.0 * len(words) / words_per_s
    partials, spoken = [], 0.0
    while partial_every_ms > 0 and spoken + partial_every_ms < speak_ms:
        spoken += partial_every_ms
        n = max(1, int(len(words) * spoken / speak_ms))
        partials.append((spoken, (" ".join(words[:n]),)))
    return speak_ms, tuple(partials)


def _never(_delay_s: float) -> bool:
    return False  # a real-time loop: every sleep is a real timer


def _resolve_all(conv: Conversation) -> None:
    for fut in list(conv._waiters):
        _resolve(fut)


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
