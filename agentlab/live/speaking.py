"""A live call's voice: the reply's text through the ``tts`` slot (piper) to the caller,
played out on the session clock, and stopped when the caller talks over it
(live/duplex.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np

from .. import events as ev
from ..runtime.executors import given_text
from ..runtime.turn_model import TurnInstants
from .audio import SAMPLE_RATE, pcm16
from .duplex import Overlap, cut_recording, heard_text, hold_recording


class LiveSpeaker:
    """The speaking role of a LiveConversation."""

    async def speak(self, text: AsyncIterator[str] | list[str], inst: TurnInstants | None,
                    source: str) -> None:
        """Speak ``text``; one voice at a time: a reply whose audio is ready while a
        say() (a filler) is playing or on its way plays after it."""
        if source != "say":
            await self._speak(text, inst, source)
            return
        self.queued += 1
        try:
            await self._speak(text, inst, source)
        finally:
            self.queued -= 1
            self._wake_if_quiet()

    async def _speak(self, text: AsyncIterator[str] | list[str], inst: TurnInstants | None,
                     source: str) -> None:
        bus = self.session.bus
        if isinstance(text, list):  # say(): a fixed text
            text = given_text(text)
        loop = asyncio.get_running_loop()
        first = True

        # A tts hook sees (and yields) 16-bit PCM; without one the samples go straight
        # to the playhead, with no conversion to PCM and back.
        hooked = bus.has_handlers("pipeline.tts")

        async def builtin_tts(stream: AsyncIterator[str]) -> AsyncIterator[bytes]:
            nonlocal first
            async for sentence in stream:
                if first:
                    first = False
                    if inst is not None:
                        inst.tts_request = self.now()
                    await bus.emit(ev.TtsRequest, sentence)
                audio = await loop.run_in_executor(None, self.stack.tts.synthesize, sentence)
                self.spoken.append(sentence)
                yield pcm16(audio) if hooked else audio

        spoken_before = len(self.spoken)
        over = self._overlap(source)
        pieces: list[tuple[float, float, str]] = []  # (start ms, length ms, text) played
        started, playhead, stopped = False, 0.0, None
        stream = bus.stream_slot("tts", builtin_tts, text)
        try:
            async for pcm in stream:
                x = pcm if isinstance(pcm, np.ndarray) else \
                    np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0
                if not started:
                    started = True
                    if inst is not None:
                        inst.tts_first_audio = self.now()
                    await bus.emit(ev.TtsFirstAudio)
                    if source == "reply" and (self.voices or self.queued):
                        await self.until_quiet()  # a filler came first: after it
                    if inst is not None:
                        inst.agent_speech_start = self.now()
                        # the caller's end of speech on the wall clock, for the page's
                        # perceived latency (the session clock is real time here)
                        self.speech_end_wall[bus.turn_id] = 1000.0 * time.time() - (
                            self.now() - inst.speech_end)
                    await bus.emit(ev.AgentSpeechStart, source)
                    self.voice_started()
                    if over is not None and over.timed:  # scripted: so far into it
                        over.start_ms = self.now() + self.barge_after_ms
                at = max(playhead, self.now())
                if self.session.recording:
                    self.audio.agent.append((at, x))
                if self.voice is not None:  # the page queues it after what it is playing
                    self.voice.play(bus.turn_id, x)
                playhead = at + 1000.0 * len(x) / SAMPLE_RATE
                # which text this audio says: the sentence just synthesized (a tts hook
                # may cut or merge them: then the words are shared out by time, below)
                pieces.append((at, playhead - at, "" if hooked else self.spoken[-1]))
                if over is not None and await self._listen(over):
                    stopped = self.now()  # the agent stops now, mid-piece
                    break
            # the caller hears it all, unless they talk over it: listened to as each of
            # the caller's chunks arrives while it plays (held audio plays that much later)
            while started and stopped is None and over is not None and \
                    self.now() < playhead + over.held_ms(self.now()):
                end = playhead + over.held_ms(self.now())
                await self.sleep(min(over.next_chunk_ms(self.now()), end) - self.now())
                if await self._listen(over):
                    stopped = self.now()
            if started and over is None:
                await self.sleep(playhead - self.now())
        finally:
            await stream.aclose()  # an interrupted reply's pending TTS (and LLM) work stops
        if over is not None:
            hold_recording(self.audio.agent, over.holds)
        if over is not None and over.played():
            self.lead = over  # the caller's next turn has begun: heard from there on
        if not started:
            return
        self.voice_ended()
        if stopped is None:
            await bus.emit(ev.AgentSpeechEnd, False, source)
            return
        if self.voice is not None:
            self.voice.clear(bus.turn_id)
        # the audio stopped when it was held for the speech that interrupted, else now
        silent = over.held_since if over.held_since is not None else stopped
        cut_recording(self.audio.agent, silent)
        words = [p for p in pieces if p[2]] if not hooked else [
            (pieces[0][0], playhead - pieces[0][0], " ".join(self.spoken[spoken_before:]))]
        # pieces are on the queue's timeline: the time held did not play
        heard = heard_text(words, silent - over.held_ms(silent))
        await bus.emit(ev.Interruption, heard, at_ms=stopped)
        await bus.emit(ev.AgentSpeechEnd, True, source, at_ms=silent)
        if inst is not None:
            inst.interrupted = True

    async def _listen(self, over: Overlap) -> bool:
        """The caller's audio so far over the agent: True to stop the agent; a hold
        pauses the page's player of the agent's voice, a false interruption resumes it
        (and fires ``false_interruption``)."""
        held, holds = over.held_since is not None, len(over.holds)
        stop = over.hear_until(self, self.now())
        if self.voice is not None and not stop and held != (over.held_since is not None):
            self.voice.hold(over.held_since is not None)
        for a, b in over.holds[holds:]:
            await self.session.bus.emit(ev.FalseInterruption, b - a)
        return stop

    def _overlap(self, source: str) -> Overlap | None:
        """The caller's next turn, if it will talk over this reply (see live/duplex.py);
        a streamed caller (the microphone) is listened to over every reply, from where
        the last turn's listening stopped."""
        turn, self.talking_over = self.talking_over, None
        if source != "reply":
            return None
        if self.stream_caller is not None:
            nxt = self.stream_caller.upcoming()
            return Overlap(nxt, start_ms=nxt.audio.start_ms(self), timed=False)
        if turn is None or self.barge_after_ms is None or \
                getattr(turn, "audio", None) is None:
            return None
        return Overlap(turn, start_ms=float("inf"))
