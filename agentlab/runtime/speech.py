"""The agent's speech: the ``tts`` slot over a text stream, audio queued for playback as
it arrives, barge-in cutting it, and the error row for text a failing ``tts`` hook lost."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .. import events as ev
from .ending import ENDED
from .turn_model import TurnInstants


class Speaker:
    """Speaks for the agent (a part of :class:`Conversation`)."""

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
                        self.answered()
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

    async def play_out(self, until: float, barge_at: float | None, source: str) -> bool:
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

    async def _barge_before(self, playhead: float) -> bool:
        """True (after waiting until then) if the caller barges in before ``playhead``."""
        at = self.barge_in_at_ms
        if at is None or at >= playhead:
            return False
        self.barge_in_at_ms = None
        await self.sleep(at - self.now())
        return True

    def answered(self) -> None:
        if self.patience_timer is not None:
            self.patience_timer.cancel()
            self.patience_timer = None
