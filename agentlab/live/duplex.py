"""The caller's audio while the agent speaks: how a live call is talked over.

When the caller will talk over a reply (a scenario turn's ``barge_in_ms``, the persona's
barge-in habit, ``AudioFileCaller(barge_in_ms=...)``), the caller's next turn starts that
long after the agent's first audio, while the agent is still speaking. Its audio goes to
the VAD in the same 100 ms chunks as any turn's, on the session clock, as the agent's
audio plays out. Once the VAD has confirmed ``min_interruption_ms`` of speech in it, the
caller has interrupted: the agent's audio stops, the reply's pending TTS (and LLM) work
is dropped, and the turn is marked interrupted. As in LiveKit (``resume_false_interruption``)
the agent's audio is held as soon as the VAD hears speech at all; a sound that ends
before it is long enough (a cough, an "mm") or that lasts past
``FALSE_INTERRUPTION_TIMEOUT_MS`` without becoming one is a false interruption: the agent
resumes where it was held.

Everything delivered while the agent spoke is the start of the caller's next turn: that
turn is heard from it on, so nothing the caller says over the agent is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE

CHUNK_MS = 100.0
_STEP = int(SAMPLE_RATE * CHUNK_MS / 1000)
FALSE_INTERRUPTION_TIMEOUT_MS = 2000.0  # LiveKit's false_interruption_timeout
WINDOW_S = 2.0  # the caller's audio re-checked each chunk (> min_interruption_ms + pause)
_ONGOING_S = 0.064  # speech the VAD closes this near the audio's end is still going on


@dataclass
class Overlap:
    """The caller's next turn, started ``start_ms`` (session clock) over the agent."""

    turn: Any                     # the CallerTurn; its .audio is what the caller says
    start_ms: float
    timed: bool = True            # scripted: starts barge_in_ms into the agent's audio
    delivered: int = 0            # samples of it the VAD has heard so far
    interrupted_at: float | None = None  # session ms the agent was stopped, if it was
    held_since: float | None = None  # the agent's audio is held from here (speech heard)
    holds: list[tuple[float, float]] = field(default_factory=list)  # (from, to) ms, done
    _resumed_after: float = -1.0  # s into the audio: the speech the last hold was for

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
            end_ms = self.start_ms + 1000.0 * self.delivered / SAMPLE_RATE
            if self._check(vad, audio[:self.delivered], end_ms):
                self.interrupted_at = end_ms
                return True
        return False

    def _check(self, vad: Any, heard: np.ndarray, end_ms: float) -> bool:
        """One chunk's verdict: True for an interruption; holds and resumes on the way."""
        # only the recent audio is checked (this runs on the event loop every chunk, the
        # whole reply long for a microphone): speech long enough to interrupt is found
        # while it is still in the window; on Silero's 512-sample grid
        since = max(0, len(heard) - int(WINDOW_S * SAMPLE_RATE)) // 512 * 512
        segments = [(a + since / SAMPLE_RATE, b + since / SAMPLE_RATE)
                    for a, b in vad.segments(heard[since:], vad.pause_ms)]
        if any(b - a >= vad.min_interruption_ms / 1000 for a, b in segments):
            return True
        if not segments:
            return False
        a, b = segments[-1]
        now_s = len(heard) / SAMPLE_RATE
        if self.held_since is None:
            if now_s - b <= _ONGOING_S and a > self._resumed_after:
                self.held_since = end_ms  # the agent's audio holds while the VAD decides
        elif now_s - b >= vad.silence_ms / 1000 or \
                end_ms - self.held_since >= FALSE_INTERRUPTION_TIMEOUT_MS:
            self.holds.append((self.held_since, end_ms))  # a false interruption: resume
            self.held_since, self._resumed_after = None, b
        return False

    def held_ms(self, now_ms: float) -> float:
        """How long the agent's audio has been held so far, in all (it plays that much
        later than it was queued)."""
        running = 0.0 if self.held_since is None else max(0.0, now_ms - self.held_since)
        return sum(b - a for a, b in self.holds) + running

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


def hold_recording(channel: list[tuple[float, np.ndarray]], holds: list[tuple[float, float]]
                   ) -> None:
    """Put the held stretches into the agent's recorded audio: what was queued to play
    after a hold's start plays that much later (a piece held mid-way is split)."""
    for a, b in holds:
        shift, out = b - a, []
        for start, x in channel:
            end = start + 1000.0 * len(x) / SAMPLE_RATE
            if end <= a:
                out.append((start, x))
            elif start >= a:
                out.append((start + shift, x))
            else:
                cut = int((a - start) * SAMPLE_RATE / 1000.0)
                out += [(start, x[:cut]), (a + shift, x[cut:])]
        channel[:] = out
