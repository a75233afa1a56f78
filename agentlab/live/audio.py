"""Audio in: load, check and convert caller audio to 16 kHz mono float32.

Wrong sample rates are resampled (soxr), extra channels mixed down; empty audio, NaN or
infinite samples are refused with a message that says what was wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

SAMPLE_RATE = 16_000


class AudioError(ConfigError):
    """Caller audio that cannot be used."""


def to_mono16k(audio: Any, sample_rate: int, where: str = "audio") -> np.ndarray:
    """``audio`` (samples x channels, or 1-D; int16 or float) as 16 kHz mono float32."""
    x = np.asarray(audio)
    if x.size == 0:
        raise AudioError(f"{where}: empty audio (0 samples); pass at least one frame.")
    if x.dtype == np.int16:
        x = x.astype(np.float32) / 32768.0
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise AudioError(f"{where}: audio contains NaN or infinite samples; clean it "
                         f"(e.g. np.nan_to_num) before passing it.")
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] <= 8 else x.mean(axis=0)  # mix channels down
    elif x.ndim != 1:
        raise AudioError(f"{where}: expected 1-D or (samples, channels) audio, got shape "
                         f"{x.shape}.")
    if not isinstance(sample_rate, int) or sample_rate < 4000:
        raise AudioError(f"{where}: sample rate must be an int >= 4000 Hz, got "
                         f"{sample_rate!r}.")
    if sample_rate != SAMPLE_RATE:
        import soxr

        x = soxr.resample(x, sample_rate, SAMPLE_RATE).astype(np.float32)
    return np.ascontiguousarray(x)


def load_audio(path: str | Path) -> np.ndarray:
    """A WAV/FLAC/OGG file as 16 kHz mono float32."""
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=False)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise AudioError(f"{path}: cannot read audio ({err}).") from None
    return to_mono16k(data, sr, str(path))


def pcm16(x: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as 16-bit little-endian PCM (clipped)."""
    y = np.multiply(x, 32767, dtype=np.float32)
    np.clip(y, -32767, 32767, out=y)
    return y.astype("<i2").tobytes()


def mix_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` with ``noise`` added at ``snr_db`` (noise tiled or cut to length)."""
    n = np.resize(noise, speech.shape)
    ps, pn = np.mean(speech ** 2), np.mean(n ** 2) or 1e-12
    return (speech + n * np.sqrt(ps / (pn * 10 ** (snr_db / 10)))).astype(np.float32)
