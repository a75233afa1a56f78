"""The agent's speech: say() and the reply's audio (the programs in ``reply_program.py``,
run by ``executors.py``), speech-to-speech playout, and the answered call's timer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import partial

from .. import events as ev
from .ending import ENDED
from .executors import run_inline, run_tasks
from .reply_program import Speech, builtin_tts, speaker
from .turn_model import TurnInstants

# Events speech fires; an awaited hook on one may hold it up (only tasks model that).
SPEECH_EVENTS = ("tts_request", "tts_first_audio", "agent_speech_start",
                  "agent_speech_end", "interruption")


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

    async def speak(self, text: Iterable[str], inst: TurnInstants | None,
                    source: str) -> None:
        """Speak ``text`` (a say(): no LLM side) through the tts slot; stops on barge-in."""
        speech, tts_stage, speaker = self.speech_programs(inst, source)
        inline = self.speaks_inline(SPEECH_EVENTS)
        self.queued += 1  # a reply whose audio comes first still plays after this
        try:
            if inline:
                await run_inline(self, speech, tts_stage, [speaker], text)
            else:
                await run_tasks(self, speech, tts_stage, speaker, text)
        finally:
            self.queued -= 1
            self._wake_if_quiet()

    def speech_programs(self, inst: TurnInstants | None, source: str) -> tuple:
        """An utterance's bookkeeping, its TTS stage (made afresh for each run of the
        built-in stage) and its speaker, with the stages' latencies drawn now."""
        ttfb, lead, out_ms = self._speech_latencies()
        speech = Speech(source, inst, len(self.spoken))
        return (speech, partial(builtin_tts, self, speech, ttfb, lead),
                speaker(self, speech, out_ms))

    def speaks_inline(self, events: tuple[str, ...]) -> bool:
        """Whether speech can run inline: no ``tts`` hook, no awaited hook on ``events``,
        no latency budget and no say() under way (fillers speak beside the reply, which
        waits for them: only tasks wait)."""
        bus = self.session.bus
        return not bus.has_handlers("pipeline.tts") and not bus.holds_up(events) and \
            self.budget is None and not self.queued and not self.voices

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

    # -- one voice: what waits for the agent to finish speaking -------------------------
    voices = 0           # utterances playing now (agent_speech_start fired, no end yet)
    queued = 0           # say() utterances asked for and not done (playing or not yet)
    _quiet = None        # the future until_quiet() waits on, made when someone waits

    def voice_started(self) -> None:
        self.voices += 1

    def voice_ended(self) -> None:
        self.voices -= 1
        self._wake_if_quiet()

    def _wake_if_quiet(self) -> None:
        quiet = self._quiet
        if not self.voices and not self.queued and quiet is not None and not quiet.done():
            quiet.set_result(None)

    async def until_quiet(self) -> None:
        """Wait until the agent is not speaking and no say() is on its way (a background
        tool's announcement waits for the reply it landed in, a reply for a filler asked
        for before it, instead of talking over them)."""
        while (self.voices or self.queued) and not self.ending:
            quiet = self._quiet
            if quiet is None or quiet.done():
                quiet = self._quiet = asyncio.get_running_loop().create_future()
            self.waiters.add(quiet)  # end() resolves it
            try:
                await quiet
            finally:
                self.waiters.discard(quiet)

    def answered(self) -> None:
        if self.patience_timer is not None:
            self.patience_timer.cancel()
            self.patience_timer = None
