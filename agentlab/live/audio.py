"""Audio in: load, check and convert caller audio to 16 kHz mono float32.

Wrong sample rates are resampled (soxr), extra channels mixed down, integer PCM scaled to
[-1, 1); empty, complex, NaN or infinite audio is refused with a message that says what
was wrong.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

SAMPLE_RATE = 16_000


class AudioError(ConfigError):
    """Caller audio that cannot be used."""


# integer PCM -> [-1, 1): (offset, full scale) per sample type
_PCM_SCALE = {np.dtype(np.int8): (0, 2**7), np.dtype(np.uint8): (2**7, 2**7),
              np.dtype(np.int16): (0, 2**15), np.dtype(np.uint16): (2**15, 2**15),
              np.dtype(np.int32): (0, 2**31), np.dtype(np.uint32): (2**31, 2**31)}


def to_mono16k(audio: Any, sample_rate: Any, where: str = "audio") -> np.ndarray:
    """``audio`` (samples x channels, or 1-D) as 16 kHz mono float32. Float audio is taken
    as is ([-1, 1]); integer PCM is scaled by its type's full scale (int8/uint8, int16,
    int32, unsigned too; plain Python ints as 16-bit PCM when they fit, else 32-bit)."""
    x = np.asarray(audio)
    if x.size == 0:
        raise AudioError(f"{where}: empty audio (0 samples); pass at least one frame.")
    if x.dtype.kind not in "iuf":
        raise AudioError(f"{where}: audio must be real numbers (float in [-1, 1] or integer "
                         f"PCM), got {x.dtype} samples; take np.real() or the magnitude "
                         f"first if that is what you mean.")
    if x.dtype.kind in "iu":
        x = _scaled_pcm(x, where)
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise AudioError(f"{where}: audio contains NaN or infinite samples; clean it "
                         f"(e.g. np.nan_to_num) before passing it.")
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] <= 8 else x.mean(axis=0)  # mix channels down
    elif x.ndim != 1:
        raise AudioError(f"{where}: expected 1-D or (samples, channels) audio, got shape "
                         f"{x.shape}.")
    sample_rate = _rate(sample_rate, where)
    if sample_rate != SAMPLE_RATE:
        import soxr

        x = soxr.resample(x, sample_rate, SAMPLE_RATE).astype(np.float32)
    return np.ascontiguousarray(x)


def _scaled_pcm(x: np.ndarray, where: str) -> np.ndarray:
    dtype = x.dtype
    if dtype not in _PCM_SCALE:  # int64 / uint64: Python ints, or a widened array
        peak = int(np.abs(x.astype(np.float64)).max())
        if peak <= 2**15:
            dtype = np.dtype(np.int16)
        elif peak <= 2**31:
            dtype = np.dtype(np.int32)
        else:
            raise AudioError(f"{where}: integer samples up to {peak} fit no PCM format "
                             f"(16 or 32 bit); pass int16/int32 PCM or float audio in "
                             f"[-1, 1].")
    offset, scale = _PCM_SCALE[dtype]
    return (x.astype(np.float64) - offset) / scale


def _rate(sample_rate: Any, where: str) -> int:
    ok = isinstance(sample_rate, numbers.Real) and not isinstance(sample_rate, bool) and \
        float(sample_rate).is_integer() and sample_rate >= 4000
    if not ok:
        raise AudioError(f"{where}: sample rate must be a whole number of Hz >= 4000, got "
                         f"{sample_rate!r}.")
    return int(sample_rate)


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
