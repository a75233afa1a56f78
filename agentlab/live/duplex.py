"""The caller's audio while the agent speaks: how a live call is talked over.

When the caller will talk over a reply (a scenario turn's ``barge_in_ms``, the persona's
barge-in habit, ``AudioFileCaller(barge_in_ms=...)``), the caller's next turn starts that
long after the agent's first audio, while the agent is still speaking. Its audio goes to
the VAD in the same 100 ms chunks as any turn's, on the session clock, as the agent's
audio plays out. Once the VAD has confirmed ``min_interruption_ms`` of speech in it, the
caller has interrupted: the agent's audio stops at the end of that chunk, the reply's
pending TTS (and LLM) work is dropped, and the turn is marked interrupted. A shorter
sound (a cough, a click) does not interrupt; the agent goes on.

Everything delivered while the agent spoke is the start of the caller's next turn: that
turn is heard from it on, so nothing the caller says over the agent is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE

CHUNK_MS = 100.0
_STEP = int(SAMPLE_RATE * CHUNK_MS / 1000)


@dataclass
class Overlap:
    """The caller's next turn, started ``start_ms`` (session clock) over the agent."""

    turn: Any                     # the CallerTurn; its .audio is what the caller says
    start_ms: float
    timed: bool = True            # scripted: starts barge_in_ms into the agent's audio
    delivered: int = 0            # samples of it the VAD has heard so far
    interrupted_at: float | None = None  # session ms the agent was stopped, if it was

    def hear_until(self, conv: Any, now_ms: float) -> bool:
        """Deliver the chunks of the caller's audio that have arrived by ``now_ms``
        (recorded as the caller's channel) and check them; True once the VAD has
        confirmed ``min_interruption_ms`` of speech (``interrupted_at`` is then the end
        of the chunk that confirmed it; the agent stops when this returns True)."""
        if self.interrupted_at is not None:
            return True
        audio, vad = self.turn.audio, conv.stack.vad
        due = int((now_ms - self.start_ms) / CHUNK_MS) * _STEP
        # a script's audio is followed by quiet; a stream has only what has arrived
        there = len(audio) + (_STEP if getattr(audio, "finite", True) else 0)
        while self.delivered + _STEP <= min(due, there):
            chunk = audio[self.delivered:self.delivered + _STEP]
            at = self.start_ms + 1000.0 * self.delivered / SAMPLE_RATE
            if conv.session.recording:
                conv.audio.user.append((at, chunk))
            self.delivered += _STEP
            heard = audio[:self.delivered]
            longest = vad.min_interruption_ms
            if vad.segments(heard, vad.pause_ms, min_speech_ms=longest):
                self.interrupted_at = self.start_ms + 1000.0 * self.delivered / SAMPLE_RATE
                return True
        return False

    def next_chunk_ms(self, now_ms: float) -> float:
        """When the caller's next chunk will have arrived (the next instant to listen)."""
        if now_ms < self.start_ms:
            return self.start_ms + CHUNK_MS
        return self.start_ms + (int((now_ms - self.start_ms) / CHUNK_MS) + 1) * CHUNK_MS

    def played(self) -> bool:
        """Whether any of the caller's audio was delivered (the turn has begun)."""
        return self.delivered > 0


def heard_text(pieces: list[tuple[float, float, str]], at_ms: float) -> str:
    """The words of a reply the caller heard before ``at_ms``: pieces ``(start_ms,
    length_ms, text)`` in play order; a piece cut short counts its words in proportion."""
    words: list[str] = []
    for start, length, text in pieces:
        if start >= at_ms:
            break
        piece = text.split()
        if start + length <= at_ms or length <= 0:
            words += piece
        else:
            words += piece[:int(len(piece) * (at_ms - start) / length)]
    return " ".join(words)


def cut_recording(channel: list[tuple[float, np.ndarray]], at_ms: float) -> None:
    """Drop the agent's recorded audio after ``at_ms`` (what the caller never heard)."""
    kept = []
    for start, x in channel:
        if start >= at_ms:
            continue
        end = start + 1000.0 * len(x) / SAMPLE_RATE
        if end > at_ms:
            x = x[:int((at_ms - start) * SAMPLE_RATE / 1000.0)]
        kept.append((start, x))
    channel[:] = kept
