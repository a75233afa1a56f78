"""One caller turn's agent side: the cascade (VAD, STT, endpointing, user hooks, LLM,
tools, the reply) or a speech-to-speech model's turn, measured into segments.

The reply's rules are written once, as programs (``reply_program.py``); they run inline
when no hook can change or hold the reply up, else as tasks through the ``llm`` chain and
the ``tts`` slot (``executors.py``). ``tests/runtime/test_fast_path.py`` and the golden
tables hold both executors to the same events.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

from .. import events as ev
from .caller import CallerTurn
from .executors import run_inline, run_program, run_tasks
from .reply_program import first_token, reply_text, text_shape, wake_at
from .speech import SPEECH_EVENTS
from .tool_calls import run_tool_calls
from .turn_model import SpeechData, SpeechEvent, TurnInstants
from .turn_taking import Speculation, Stop, speculation_overlap


class TurnEngine:
    """The agent's side of each turn (a part of :class:`Conversation`)."""

    async def cascade_turn(self, turn: CallerTurn, speak_ms: float,
                           stop: Stop | None = None) -> bool:
        """One cascade turn from the caller's last word (``stop``: the detector's
        instants, when the caller script already drew them for a cut-off turn)."""
        inst = TurnInstants()
        inst.speech_end = self.now()
        budget = self.watch_budget(inst)
        try:
            return await self._cascade(turn, speak_ms, stop, inst)
        finally:
            if budget is not None:
                budget.cancel()

    async def _cascade(self, turn: CallerTurn, speak_ms: float, stop: Stop | None,
                       inst: TurnInstants) -> bool:
        bus = self.session.bus
        if stop is None:
            stop = self.hear_stop(inst.speech_end)
        inst._vad_silence = stop.vad_silence
        inst.vad_stop = stop.vad_stop
        heard_text = self.stt.transcribe(turn.text, self.rng)
        heard_at = stop.heard
        if bus.has_handlers("pipeline.stt"):
            transcript = await self.run_stt_slot(
                self._builtin_stt(heard_at, heard_text), self._caller_audio(speak_ms), inst)
            steps = []
        else:  # the built-in stage's result without streaming the audio through it
            now = self.now()
            inst.stt_final = wake_at(now, heard_at - now)  # where the step below lands
            steps = [(heard_at, ev.SttFinal, (heard_text,))]
            transcript = heard_text
        commit = max(inst.vad_stop + stop.delay, inst.stt_final)
        # an eager end comes with the built-in STT's transcript, once there is one (an
        # stt hook may change the final one: the speculation on it is then discarded at
        # the commit); after the commit there is nothing to be eager about
        for name in ("eager", "speculate_at"):
            at = max(getattr(stop, name), inst.stt_final)
            setattr(stop, name, at if at < commit else math.nan)
        eager, spec = self.eager_steps(stop, heard_text, None, turn.reply)
        steps += eager
        hit = spec is not None and spec.text == transcript
        if spec is not None and not hit:
            steps.append((commit, ev.SpeculationDiscarded,
                          spec.discarded(commit, "transcript_changed")))
        # The request goes out once the blocking user_turn hooks are done: its steps
        # are due at once (instant 0 has passed), after however long they took. A hit's
        # request is already out: agent_reply hands its output over there.
        steps += [(commit, None, lambda: setattr(inst, "commit", self.now())),
                  (commit, ev.UserTurn, (transcript, stop.delay)),
                  (0.0, None, lambda: setattr(inst, "llm_request", self.now()))]
        if not hit:
            steps.append((0.0, ev.LlmRequest, ()))
        await self.play(steps)
        await self.agent_reply(transcript, inst, spec if hit else None)
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
        tokens_in, tokens_out = self.token_usage(transcript, raw)
        await stage("model_processing", draw("model_processing_ms"))
        await bus.emit(ev.LlmFirstToken)
        await stage("model_to_backend", draw("model_to_backend_ms"))
        await stage("backend_to_client", draw("backend_to_client_ms"))
        start = self.now()
        self.answered()
        await bus.emit(ev.AgentSpeechStart, "reply")
        self.spoken.append(raw)
        self.last_reply = raw
        # the model streams its reply faster than it is spoken: the full text is known
        # once it has generated, and the audio plays out at the speaking rate
        await bus.emit(ev.LlmResponse, raw, tokens_in, tokens_out)
        await bus.emit(ev.AgentTurn, raw)
        barge = self.barge_after_ms
        interrupted = await self.play_out(start + self.tts.duration_ms(raw),
                                           None if barge is None else start + barge, "reply")
        self.count_turn(tokens_in, tokens_out)
        total = start - speech_end
        marks.append(("other", total - sum(ms for _, ms in marks)))
        self.totals.append(total)
        await bus.emit(ev.TurnEnd, total, tuple(marks), interrupted)
        return interrupted

    async def agent_reply(self, transcript: str, inst: TurnInstants,
                          spec: Speculation | None = None) -> None:
        """From the LLM request (sent, ``inst.llm_request`` set) to the turn's end: the
        reply's programs (reply_program.py), inline when no hook can change or hold them
        up, else as tasks. ``spec``: the speculative request this turn uses (a hit)."""
        session, bus, rng = self.session, self.session.bus, self.rng
        machine = session.dialog_machine
        turn = self.current
        raw, steps = await machine.respond(transcript, rng, self.llm, turn.reply,
                                           turn.tool_calls)
        tokens = self.token_usage(transcript, raw)
        buffered = bus.has_handlers("pipeline.llm")
        if spec is None:
            tps, ttft, sent = self.draw("llm_tokens_per_s"), None, inst.llm_request
        else:  # its output is handed over now; its draws were made when it started
            tps, ttft, sent = spec.tps, spec.ttft, spec.start
            lead = None if steps else tokens[1] if buffered else text_shape(self.llm,
                                                                            raw)[1][0]
            overlap = speculation_overlap(spec, self.now(), lead)
            await self.play([(0.0, ev.SpeculationUsed, (spec.text, overlap)),
                             (0.0, ev.LlmRequest, ())])
        if ttft is None:
            ttft = self.draw("llm_ttft_ms")
        if steps:  # the model answers with tool calls first, then a second request
            await self.sleep(ttft - (self.now() - sent))
            t0 = self.now()
            await run_tool_calls(self, steps)
            inst.tools_ms = self.now() - t0
            first_wait = self.draw("llm_ttft_ms")
        else:
            first_wait = ttft - (self.now() - sent)
            if spec is not None:  # tokens stream from the real first token on
                inst.tokens_from = sent + ttft
        if not buffered and self.speaks_inline(_REPLY_EVENTS):
            speech, tts_stage, speaker = self.speech_programs(inst, "reply")
            text = reply_text(self, raw, inst, tokens, tps, False, first_wait)
            await run_inline(self, speech, tts_stage, [speaker, text])
        else:  # the first token comes before the reply's tasks start
            await run_program(self, first_token(self, inst, first_wait))
            speech, tts_stage, speaker = self.speech_programs(inst, "reply")
            text = reply_text(self, raw, inst, tokens, tps, buffered)
            await run_tasks(self, speech, tts_stage, speaker, reply_text=text)
        self.count_turn(*tokens)
        total, segments = inst.segments()
        if not math.isnan(total):
            self.totals.append(total)
        if not bus.emit_now(ev.TurnEnd, total, segments, inst.interrupted):
            await bus.emit(ev.TurnEnd, total, segments, inst.interrupted)

    def token_usage(self, transcript: str, reply: str) -> tuple[int, int]:
        llm = self.llm
        tokens_in = llm.prompt_tokens_per_turn * (self.turn_count + 1) + llm.tokens(transcript)
        if self.instructions:  # the agent's system prompt goes with every request
            tokens_in += llm.tokens(self.instructions)
        return tokens_in, llm.tokens(reply)

    def count_turn(self, tokens_in: int, tokens_out: int) -> None:
        self.turn_count += 1
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out


# Events a reply fires; an awaited hook on one may hold the reply up (only tasks model
# that).
_REPLY_EVENTS = ("llm_response", "agent_turn", *SPEECH_EVENTS)
