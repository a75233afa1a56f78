"""Live calls: the same runner, hooks, canonical events and recorder as a simulation, on
the real clock with real audio and real offline models.

The caller's audio is delivered in 100 ms chunks (at real-time pace, or as fast as
possible with ``realtime=False``); Silero VAD decides when speech started and ended; the
utterance goes through the ``stt`` slot (Whisper), the ``llm`` chain (any OpenAI-compatible
endpoint, or the dialog flow) and the ``tts`` slot (piper); the agent's audio is played
out at real-time pace. Both channels are recorded (:class:`CallAudio`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import events as ev
from ..runtime.conversation import Conversation
from ..runtime.ending import CallEnded
from ..runtime.tool_calls import run_tool_calls
from ..runtime.turn_model import SpeechData, SpeechEvent, TurnInstants
from .audio import SAMPLE_RATE, pcm16
from .duplex import CHUNK_MS, Overlap
from .llm import OpenAIChat
from .models import PiperTTS, SileroVAD, WhisperSTT
from .recording import CallAudio
from .speaking import LiveSpeaker
from .speculation import LiveSpeculating, same_speech
from .stream import StreamView
from .text_pieces import first_words, split

TAIL_S = 1.0  # the VAD re-checks this much audio before the last speech it saw
MAX_STREAM_TURN_S = 60  # a streamed turn that never ends is cut here
SPEECH_PAD_S = 0.15  # audio either side of the VAD's speech that STT hears too


@dataclass
class LiveStack:
    """The real components a live call uses."""

    vad: SileroVAD = field(default_factory=SileroVAD)
    stt: WhisperSTT = field(default_factory=WhisperSTT)
    tts: PiperTTS = field(default_factory=PiperTTS)

    def warm_up(self) -> None:
        """Load the models now (1-4 s) so the first turn's latency is the real one."""
        self.stt.warm_up()
        self.tts.warm_up()


class LiveConversation(LiveSpeaker, LiveSpeculating, Conversation):
    """A :class:`Conversation` whose stages are real: audio, VAD, STT, LLM, TTS."""

    stack: LiveStack
    realtime: bool = True
    audio: CallAudio

    skipped_ms: float = 0.0  # realtime=False: the session time skipped instead of slept
    # the caller's next turn, begun over the agent's last reply (see live/duplex.py)
    lead: Overlap | None = None
    talking_over: Any = None  # the turn that will talk over the coming reply, if any
    voice: Any = None  # AgentVoice: the agent's audio played at the page too
    stream_caller: Any = None  # a StreamCaller: the caller is one continuous stream
    speech_end_wall: dict[int, float]  # turn -> wall ms the caller stopped speaking

    async def sleep(self, ms: float) -> None:
        """Real time sleeps; ``realtime=False`` moves the session clock on by ``ms`` at
        once (the clock is the real one plus what was skipped, see live_conversation),
        so both modes give the same timeline, one of them without the waits."""
        if self.realtime:
            await super().sleep(ms)
            return
        if self.ending:
            raise CallEnded(self.ending)
        self.skipped_ms += max(ms, 0.0)

    async def user_turn(self, turn: Any, skip_pause: bool = False) -> bool:
        """One caller turn and the agent's reply; True if the caller's next turn began
        over that reply (it is heard from there on, with no pause before it)."""
        lead, self.lead = self.lead, None
        if lead is not None and lead.turn is not turn:
            lead = None  # begun over the agent, but the script moved on: not this turn
        if not skip_pause and lead is None:
            await self.wait_for_caller_turn(turn)
        audio = turn.audio
        while audio is not None:  # speech the turn's end cut off is the caller's next turn
            audio = await self._turn(turn, audio, lead)
            lead = None
        return self.lead is not None

    async def _turn(self, turn: Any, audio: np.ndarray, lead: Overlap | None = None
                    ) -> np.ndarray | None:
        """One turn heard from ``audio`` (from where ``lead`` left it, if the turn began
        over the agent); the rest of it, if the VAD ended the turn before the audio's end
        (a pause over ``silence_ms``) and the rest holds more speech. The scripted reply,
        tool calls and barge-in answer the last piece: the caller's whole turn."""
        bus = self.session.bus
        bus.turn_id += 1
        inst = TurnInstants()
        speech, early, rest = await self._hear(audio, inst, lead)
        budget = self.watch_budget(inst)  # from the caller's end of speech, in real time
        try:
            await self._answer(turn, speech, early, rest, inst)
        finally:
            if budget is not None:
                budget.cancel()
            if self.speculation is not None:  # the call ended with one running
                with contextlib.suppress(Exception):
                    await self.discard("call_ended")
        return rest

    async def _answer(self, turn: Any, speech: np.ndarray, early: asyncio.Future | None,
                      rest: np.ndarray | None, inst: TurnInstants) -> None:
        """The turn after the caller's speech: its transcript, the user turn, the reply."""
        bus = self.session.bus
        self.current = turn if rest is None else \
            replace(turn, reply=None, tool_calls=(), action=None)
        self.talking_over = self.barge_turn if rest is None else None

        async def audio_stream() -> AsyncIterator[bytes]:
            yield pcm16(speech)

        hooked = bus.has_handlers("pipeline.stt")

        async def builtin_stt(stream: AsyncIterator[bytes]) -> AsyncIterator[SpeechEvent]:
            if hooked:  # a hook hands over PCM, maybe changed: transcribe what it passed
                pcm = b"".join([c async for c in stream])
                x = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0
            else:  # our own stream: the samples as heard, without a PCM round trip
                x = speech
            if early is not None:  # started when the caller paused; same audio
                text = await early
            else:
                text = await asyncio.get_running_loop().run_in_executor(
                    None, self.stack.stt.transcribe, x)
            yield SpeechEvent("final", SpeechData(text))

        transcript = await self.run_stt_slot(builtin_stt, audio_stream(), inst)
        inst.commit = self.now()  # the VAD's silence window is the end-of-turn decision
        spec = await self.take(transcript)
        await bus.emit(ev.UserTurn, transcript)
        self.user_texts.append(transcript)
        await self.agent_reply(transcript, inst, spec)

    async def _hear(self, audio: np.ndarray, inst: TurnInstants, lead: Overlap | None = None
                    ) -> tuple[np.ndarray, asyncio.Future | None, np.ndarray | None]:
        """Deliver the caller's audio chunk by chunk until the VAD has seen the speech
        end; return that speech, its transcription if that already started, and the
        audio not delivered yet if it holds more speech (nothing the caller says is lost).

        Both modes run the same rules on the same chunks; ``realtime=False`` only skips
        the waits. The turn ends after ``silence_ms`` of quiet: quiet the VAD has not
        yet confirmed as speech (shorter than ``min_speech_ms`` so far) does not count,
        so a caller who resumes after a pause is not cut off. Transcription
        starts as soon as the VAD sees the caller pause (``pause_ms``),
        while the end-of-turn window is still running; if the caller goes on speaking,
        that early run is dropped. It is only done when no ``stt`` hook is registered (a
        hook must see exactly one transcription)."""
        bus, vad = self.session.bus, self.stack.vad
        step = int(SAMPLE_RATE * CHUNK_MS / 1000)
        streamed = isinstance(audio, StreamView)  # a microphone: it arrives as it is said
        if streamed:
            limit, line = MAX_STREAM_TURN_S * SAMPLE_RATE, audio
            t0 = audio.start_ms(self)
        else:
            limit = len(audio) + 3 * SAMPLE_RATE  # give up on an end this long after it
            # the line as the VAD hears it: the audio, then quiet; what was delivered so
            # far is a view of it (no copy of the growing buffer on every chunk)
            line = np.concatenate([audio, np.zeros(limit - len(audio) + 2 * step,
                                                   np.float32)])
            t0 = self.now()
        if lead is not None:  # begun over the agent: on from what was delivered then
            t0 = lead.start_ms
        start = end = None  # seconds into the delivered audio
        speculate = not bus.has_handlers("pipeline.stt")
        # segments close after a short pause; the turn ends after the longer window
        pause = min(vad.pause_ms, vad.silence_ms)
        silence_s = vad.silence_ms / 1000
        early: tuple[float, float, asyncio.Future] | None = None
        eager = None  # the early run an eager_end_of_turn was fired for
        i = 0 if lead is None else lead.delivered
        while True:
            if streamed and not await audio.wait_for(i + step):
                if start is None:
                    raise CallEnded("the caller's audio ended")
                break  # the stream closed mid-turn: the speech so far is the turn
            chunk = line[i:i + step]
            i += step
            if self.session.recording:  # recording controls decide what is kept
                self.audio.user.append((self.now(), chunk))
            # paced on the clock: the VAD's own time must not add up
            await self.sleep(t0 + 1000.0 * i / SAMPLE_RATE - self.now())
            heard = line[:i]
            # Only the recent audio is re-checked (it runs on the event loop every chunk):
            # everything before the last speech already seen is settled.
            # on Silero's 512-sample grid, so a re-check windows the audio as the last did
            since = 0.0 if end is None else max(0.0, (end - TAIL_S) * SAMPLE_RATE // 512
                                                * 512 / SAMPLE_RATE)
            for a, b in vad.segments(heard[int(since * SAMPLE_RATE):], pause):
                if start is None:
                    start = since + a
                    await bus.emit(ev.UserSpeechStart, at_ms=t0 + start * 1000)
                end = since + b
            now_s = len(heard) / SAMPLE_RATE
            if i > limit or (end is not None and
                             now_s - _quiet_since(vad, heard, end, pause) >= silence_s):
                break
            if speculate and end is not None and now_s - end >= pause / 1000 and (
                    early is None or not same_speech(early, start, end)):
                speech = _padded(heard, start, end)
                job = asyncio.get_running_loop().run_in_executor(
                    None, self.stack.stt.transcribe, speech)
                job.add_done_callback(_retrieve)  # a dropped run's error is not news
                early = (start, end, job)
            if self.eager or self.preemptive:  # the early transcript: an eager end
                eager = await self.early_transcript(eager, early, start, end)
        if start is None:
            raise CallEnded("no speech heard")
        inst.speech_end = t0 + end * 1000
        inst.vad_stop = self.now()
        inst._vad_silence = inst.vad_stop - inst.speech_end
        await bus.emit(ev.UserSpeechEnd, at_ms=inst.speech_end)
        speech = _padded(heard, start, end).copy()
        if early is not None and not same_speech(early, start, end):
            early = None  # the caller spoke again after the pause: that run is stale
        if streamed:  # the stream goes on: the next turn is cut from where this one ended
            self.stream_caller.consumed(audio, i)
            return speech, None if early is None else early[2], None
        rest = audio[i:]
        rest = rest if len(rest) and vad.segments(rest) else None
        return speech, None if early is None else early[2], rest

    async def agent_reply(self, transcript: str, inst: TurnInstants,
                          spec: Any = None) -> None:
        """LLM -> TTS. Sentences go to TTS as soon as the LLM has finished them, unless
        ``llm`` hooks need the whole reply first (that wait is the ``llm_rest`` cost).
        ``spec``: the speculative request this turn uses (its output is handed over)."""
        bus = self.session.bus
        inst.llm_request = self.now()
        if spec is not None:
            await bus.emit(ev.SpeculationUsed, spec.text, spec.overlap(self.now()))
        await bus.emit(ev.LlmRequest)
        reply: dict[str, Any] = {}

        async def sentences() -> AsyncIterator[str]:
            """The first piece as soon as it is complete (first audio waits on it); after
            it, finished sentences are held until the next delta or the end and go out
            together: one TTS job (one thread hand-off) instead of one per sentence."""
            pending, parts, held = "", reply.setdefault("parts", []), []
            async for delta in self._deltas(transcript, inst, spec):
                if held:
                    yield " ".join(held)
                    held = []
                parts.append(delta)
                pending += delta
                *done, pending = split(pending)
                if not done and "text_ready" not in reply:
                    done, pending = first_words(pending)
                if done and "text_ready" not in reply:
                    reply["text_ready"] = ""
                    inst.text_ready = self.now()
                    yield done.pop(0)
                held += done
            raw = "".join(parts).strip()
            if not raw:  # nothing came back: say so rather than stay silent
                raw = pending = "Sorry, could you say that again?"
            reply["raw"] = raw
            tokens_in, tokens_out = self.token_usage(transcript, raw)
            reply["usage"] = (tokens_in, tokens_out)
            if "text_ready" not in reply:
                inst.text_ready = self.now()
            await bus.emit(ev.LlmResponse, raw, tokens_in, tokens_out)
            if not hooked:  # the full reply is generated: agent_turn, as simulated
                await reply_generated(raw)
            rest = " ".join([*held, pending.strip()]).strip()
            if rest:
                yield rest

        async def reply_generated(final: str) -> None:
            self.history.append({"role": "assistant", "content": final})
            self.last_reply = final
            await bus.emit(ev.AgentTurn, final)

        hooked = bus.has_handlers("pipeline.llm")
        if hooked:  # the chain needs the full reply
            _ = [s async for s in sentences()]
            t0 = self.now()
            final = await bus.run_chain("llm", reply["raw"])
            inst.chain_ms = self.now() - t0
            inst.text_ready = self.now()
            await reply_generated(final)

            async def text_stream() -> AsyncIterator[str]:
                for sentence in self.stack.tts.sentences(final):
                    yield sentence

            await self.speak(text_stream(), inst, source="reply")
        else:
            generated = sentences()
            try:
                await self.speak(generated, inst, source="reply")
            finally:
                await generated.aclose()  # talked over mid-generation: the LLM stream stops
            if "raw" not in reply:  # the reply as far as it got
                raw = "".join(reply.get("parts", [])).strip()
                reply["usage"] = self.token_usage(transcript, raw)
                await bus.emit(ev.LlmResponse, raw, *reply["usage"])
                await reply_generated(raw)
        self.count_turn(*reply["usage"])
        total, segments = inst.segments()
        self.totals.append(total)
        await bus.emit(ev.TurnEnd, total, segments, inst.interrupted)

    async def _deltas(self, transcript: str, inst: TurnInstants,
                      spec: Any = None) -> AsyncIterator[str]:
        """The reply as text deltas: the OpenAI-compatible endpoint (or its speculative
        request, already streaming), or the dialog flow."""
        session, bus = self.session, self.session.bus
        llm = getattr(session.pipeline, "llm", None)
        self.history.append({"role": "user", "content": transcript})
        if spec is not None:
            stream = spec.replay()
        elif isinstance(llm, OpenAIChat):
            stream = llm.stream(self.history)
        else:
            raw, steps = await session.dialog_machine.respond(
                transcript, self.rng, self.llm, self.current.reply, self.current.tool_calls)
            if steps:  # the reply waits for the tools, as with a real model
                t0 = self.now()
                await run_tool_calls(self, steps)
                inst.tools_ms = self.now() - t0

            async def one() -> AsyncIterator[str]:
                yield raw

            stream = one()
        first = True
        async for delta in stream:
            if first:
                first = False
                inst.first_token = self.now()
                await bus.emit(ev.LlmFirstToken)
            yield delta


def _padded(heard: np.ndarray, start: float, end: float) -> np.ndarray:
    """The speech from ``start`` to ``end`` (s) with SPEECH_PAD_S either side: Silero
    marks an onset a frame or two into a word, and Whisper drops a word cut at its start
    ("Can you send..." heard as "you send...")."""
    a = max(0, int((start - SPEECH_PAD_S) * SAMPLE_RATE))
    return heard[a:int((end + SPEECH_PAD_S) * SAMPLE_RATE)]


def _quiet_since(vad: SileroVAD, heard: np.ndarray, end: float, pause: float) -> float:
    """Seconds into ``heard`` since when it is quiet: the last speech's ``end``, or later
    if the VAD hears the start of more speech after it, not yet ``min_speech_ms`` long
    (a caller resuming after a pause), or a short noise (the window restarts after it,
    as a VAD's silence counter does)."""
    if len(heard) / SAMPLE_RATE - end < vad.silence_ms / 1000:
        return end  # the window is not over yet: nothing to check
    onsets = vad.segments(heard[int(end * SAMPLE_RATE):], pause, min_speech_ms=0)
    return end + onsets[-1][1] if onsets else end


def _retrieve(job: asyncio.Future) -> None:
    if not job.cancelled():
        job.exception()


def live_conversation(stack: LiveStack, realtime: bool, voice: Any = None,
                      stream_caller: Any = None):
    """A factory for ``_run_call``: a LiveConversation with this stack (and the page's
    player of the agent's voice, :class:`~agentlab.live.voice.AgentVoice`, if given)."""

    def make(*args: Any, **kw: Any) -> LiveConversation:
        conv = LiveConversation(*args, **kw)
        conv.stack, conv.realtime, conv.audio = stack, realtime, CallAudio()
        conv.history, conv.voice, conv.speech_end_wall = [], voice, {}
        conv.stream_caller = stream_caller
        if not realtime:  # the real clock plus the waits skipped: one timeline, no waits
            bus = conv.session.bus
            real_ms = bus.now_ms
            bus.set_clock(lambda: real_ms() + conv.skipped_ms)
        return conv

    return make
