"""The early transcript in live calls (an eager end of turn) and speculative
(preemptive) LLM requests on it: the request goes out on the early
transcript (the one started at the caller's pause, see ``LiveConversation._hear``), its
deltas are kept as they stream, and the turn either uses them (the committed transcript
is the same: ``speculation_used``) or cancels the request (the caller spoke again, or the
transcript differs: ``speculation_discarded`` with what it cost). The crediting rule is
the simulator's (runtime/turn_taking.py): the segments stay differences of instants from
the release on; a live hit's ``overlap_ms`` is its time before release, up to its first
token (a live run has no counterfactual turn to measure the first sentence against).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from .. import events as ev
from .llm import OpenAIChat


@dataclass
class LiveSpeculation:
    """One speculative request: its transcript, start, the deltas so far."""

    text: str
    start: float
    deltas: list[str] = field(default_factory=list)
    first_token: float = math.nan
    finished: bool = False
    error: BaseException | None = None
    more: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None

    async def fetch(self, stream: AsyncIterator[str], now: Any) -> None:
        """Keep the request's deltas as they come (the task behind it)."""
        try:
            async for delta in stream:
                if math.isnan(self.first_token):
                    self.first_token = now()
                self.deltas.append(delta)
                self.more.set()
        except Exception as err:  # the turn that uses it raises it there
            self.error = err
        finally:
            self.finished = True
            self.more.set()

    async def replay(self) -> AsyncIterator[str]:
        """The request's deltas, the kept ones first, then the rest as they come."""
        i = 0
        while True:
            while i < len(self.deltas):
                i += 1
                yield self.deltas[i - 1]
            if self.finished:
                if self.error is not None:
                    raise self.error
                return
            self.more.clear()
            if i == len(self.deltas) and not self.finished:
                await self.more.wait()

    def overlap(self, release: float) -> float:
        """Its time that ran before ``release``, up to its first token."""
        lead = (self.first_token if not math.isnan(self.first_token) else release)
        return max(0.0, min(release, lead) - self.start)


class LiveSpeculating:
    """Starts, uses and discards speculative requests (a part of LiveConversation)."""

    speculation: LiveSpeculation | None = None

    async def speculate(self, text: str, stream_of: Any) -> None:
        """A speculative request on ``text`` (``stream_of(messages)`` streams deltas)."""
        history = [*self.history, {"role": "user", "content": text}]
        spec = LiveSpeculation(text, self.now())
        spec.task = asyncio.ensure_future(spec.fetch(stream_of(history), self.now))
        self.speculation = spec
        await self.session.bus.emit(ev.SpeculationStart, text)

    async def discard(self, reason: str) -> None:
        """Cancel the running speculation; its cost is the event's."""
        spec, self.speculation = self.speculation, None
        if spec is None:
            return
        spec.task.cancel()
        tokens_in, _ = self.token_usage(spec.text, "")
        generated = "".join(spec.deltas)
        tokens_out = self.llm.tokens(generated) if generated.strip() else 0
        await self.session.bus.emit(ev.SpeculationDiscarded, spec.text, reason, tokens_in,
                                    tokens_out, self.now() - spec.start)

    async def take(self, transcript: str) -> LiveSpeculation | None:
        """At the commit: the speculation, if it speculated this transcript; else it is
        discarded (``transcript_changed``)."""
        spec = self.speculation
        if spec is None:
            return None
        if spec.text != transcript:
            await self.discard("transcript_changed")
            return None
        self.speculation = None
        return spec

    async def early_transcript(self, eager: tuple | None, early: tuple | None,
                                start: float, end: float) -> tuple | None:
        """What an eager detector and speculation do with the transcription started at
        the caller's pause: when it is ready, ``eager_end_of_turn`` and a speculative
        request (an OpenAI-compatible LLM: the dialog flow's scripted turns cannot be
        asked twice); when the caller speaks again, ``turn_resumed`` and the request is
        discarded. Returns the early run acted on."""
        bus = self.session.bus
        if eager is not None and not same_speech(eager, start, end):
            if self.eager:
                await bus.emit(ev.TurnResumed)
            await self.discard("resumed")
            eager = None
        if eager is None and early is not None and same_speech(early, start, end) and \
                early[2].done() and early[2].exception() is None:
            text = early[2].result()
            if self.eager:
                await bus.emit(ev.EagerEndOfTurn, text)
            llm = getattr(self.session.pipeline, "llm", None)
            if self.preemptive and isinstance(llm, OpenAIChat):
                await self.speculate(text, llm.stream)
            eager = early
        return eager


SAME_SPEECH_S = 0.064  # boundaries this close (two Silero frames) are the same speech


def same_speech(early: tuple, start: float, end: float) -> bool:
    """Whether an early transcription covered this speech (the VAD's boundaries move by
    a frame or two between re-checks; a new word moves them by more)."""
    return abs(early[0] - start) <= SAME_SPEECH_S and abs(early[1] - end) <= SAME_SPEECH_S
