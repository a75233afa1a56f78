"""Simulated components: parameter holders the simulated conversation samples from.

Delays come from the pipeline's latency profile; these objects add behaviour on top
(word errors, reply text, speaking rates, audio format). All randomness comes from the
call's seeded generator, so a seed fixes every transcript and every instant.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

# where a sentence ends (the live stack splits replies with the same rule)
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


@dataclass
class STT:
    """Simulated speech-to-text: interim transcripts every ``partial_every_ms`` while the
    caller speaks, a final one after the profile's STT delay, optional seeded word errors."""

    word_error_rate: float = 0.0
    partial_every_ms: float = 500.0

    def transcribe(self, text: str, rng: np.random.Generator) -> str:
        if self.word_error_rate <= 0:
            return text
        words = text.split()
        for i in range(len(words)):
            if rng.random() < self.word_error_rate:
                words[i] = words[i][::-1].lower()  # a recognisably wrong word
        return " ".join(words)


@dataclass
class LLM:
    """Simulated streaming LLM: time to first token and tokens/s come from the profile;
    the reply text from the dialog flow (or these canned replies)."""

    replies: tuple[str, ...] = (
        "Sure, I can help with that. Could you give me a few more details?",
        "Thanks. Let me check that for you. It looks like everything is in order.",
        "I understand. I have updated your request. Is there anything else?",
        "Got it. That is all set now.",
    )
    tokens_per_word: float = 1.3
    prompt_tokens_per_turn: int = 60

    def tokens(self, text: str) -> int:
        return max(1, math.ceil(len(text.split()) * self.tokens_per_word))

    def reply(self, user_text: str, rng: np.random.Generator) -> str:
        return self.replies[int(rng.integers(len(self.replies)))]

    @staticmethod
    def sentences(text: str) -> list[str]:
        return [s for s in SENTENCE_BREAK.split(text.strip()) if s] or [text]


@dataclass
class TTS:
    """Simulated TTS: real 16-bit PCM at ``sample_rate``, ``words_per_s`` speaking rate,
    leading silence from the profile, chunks of ``chunk_ms``."""

    sample_rate: int = 16_000
    words_per_s: float = 2.8
    chunk_ms: float = 500.0

    def duration_ms(self, text: str) -> float:
        return max(200.0, 1000.0 * len(text.split()) / self.words_per_s)

    def pcm_ms(self, ms: float) -> float:
        """How long ``pcm(ms)`` plays (whole samples)."""
        return int(self.sample_rate * ms / 1000) * 1000.0 / self.sample_rate

    def pcm(self, ms: float, silent: bool = False) -> bytes:
        """``ms`` of 16-bit mono PCM: a 220 Hz tone, or silence. Chunks are shared by all
        TTS objects (bytes are immutable, and most chunks have the same length); a chunk
        of a new length is cut from one long buffer per kind, not synthesized."""
        n = int(self.sample_rate * ms / 1000)
        key = (self.sample_rate, -n - 1 if silent else n)
        chunk = _PCM_CHUNKS.get(key)
        if chunk is None:
            chunk = _pcm_source(self.sample_rate, silent, n)[:2 * n]
            if len(_PCM_CHUNKS) < 1024:
                _PCM_CHUNKS[key] = chunk
        return chunk


_PCM_CHUNKS: dict[tuple[int, int], bytes] = {}
_PCM_SOURCES: dict[tuple[int, bool], bytes] = {}


def _pcm_source(sample_rate: int, silent: bool, n: int) -> bytes:
    """At least ``n`` samples of tone (or silence) at ``sample_rate``, made once."""
    source = _PCM_SOURCES.get((sample_rate, silent))
    if source is None or len(source) < 2 * n:
        samples = max(10 * sample_rate, n)
        if silent:
            source = bytes(2 * samples)
        else:
            t = np.arange(samples, dtype=np.float64) / sample_rate
            source = (0.2 * 32767 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes()
        _PCM_SOURCES[sample_rate, silent] = source
    return source


@dataclass
class VAD:
    """Simulated voice activity detection; ``silence_ms`` overrides the profile's window."""

    silence_ms: float | None = None


@dataclass
class TurnDetector:
    """Simulated end-of-utterance decision.

    ``mode="fixed"``: the profile's (fixed or mixture) endpointing delay, or ``delay_ms``.
    ``mode="dynamic"`` (LiveKit's dynamic endpointing): the delay is an exponential moving
    average of the caller's pauses inside turns (``alpha`` = the weight of history),
    clamped to ``[min_delay_ms, max_delay_ms]``; it starts at ``min_delay_ms``.
    ``eager=True`` (Deepgram Flux's event shape): ``eager_end_of_turn`` fires
    ``eager_ms`` of silence after the caller stops (or when the transcript is ready, if
    later), before the commit; ``turn_resumed`` if the caller speaks again. ``eager_ms``
    None takes the profile's ``eager_eot_ms`` stage, else 150 ms.
    """

    delay_ms: float | Callable[[np.random.Generator], float] | None = None
    mode: str = "fixed"
    min_delay_ms: float = 500.0
    max_delay_ms: float = 3000.0
    alpha: float = 0.9
    eager: bool = False
    eager_ms: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("fixed", "dynamic"):
            raise ConfigError(f"TurnDetector(mode={self.mode!r}): mode is 'fixed' or "
                              f"'dynamic'.")
        if self.mode == "dynamic" and self.delay_ms is not None:
            raise ConfigError("TurnDetector(mode='dynamic', delay_ms=...): a dynamic "
                              "detector sets its own delay; give min_delay_ms and "
                              "max_delay_ms, or use mode='fixed' with delay_ms.")
        if not 0 <= self.min_delay_ms <= self.max_delay_ms:
            raise ConfigError(f"TurnDetector: needs 0 <= min_delay_ms <= max_delay_ms, got "
                              f"{self.min_delay_ms} and {self.max_delay_ms}.")
        if not 0 <= self.alpha < 1:
            raise ConfigError(f"TurnDetector(alpha={self.alpha}): alpha is in [0, 1).")


@dataclass
class LatencyBudget:
    """A turn's latency budget, from the end of the caller's speech: ``latency_budget``
    hooks fire at ``warning_ms`` and at ``exceeded_ms`` while the answer's first audio
    is not yet out (``Pipeline(latency_budget=al.LatencyBudget(800, 1500))``)."""

    warning_ms: float = 800.0
    exceeded_ms: float = 1500.0

    def __post_init__(self) -> None:
        if not 0 < self.warning_ms <= self.exceeded_ms:
            raise ConfigError(f"LatencyBudget: needs 0 < warning_ms <= exceeded_ms, got "
                              f"{self.warning_ms} and {self.exceeded_ms}.")

    def levels(self) -> tuple[tuple[str, float], ...]:
        return (("warning", self.warning_ms), ("exceeded", self.exceeded_ms))


@dataclass(frozen=True)
class VideoFrame:
    """One simulated camera frame (the subset of ``av.VideoFrame`` hooks use)."""

    pts: int            # presentation time, ms on the session clock
    width: int
    height: int
    index: int

    @property
    def time(self) -> float:
        return self.pts / 1000.0

    def to_ndarray(self) -> np.ndarray:
        """An RGB frame (height, width, 3) whose content moves with the frame index."""
        x = (np.arange(self.width, dtype=np.uint16) + 8 * self.index) % 256
        row = np.broadcast_to(x.astype(np.uint8)[None, :, None], (self.height, self.width, 3))
        return np.ascontiguousarray(row)


@dataclass
class Camera:
    """Simulated video input: frames at ``fps`` through the ``vision_frame`` hooks for the
    whole call. ``Pipeline(vision=al.sim.Camera(fps=2))`` turns vision on."""

    fps: float = 1.0
    width: int = 64
    height: int = 48
