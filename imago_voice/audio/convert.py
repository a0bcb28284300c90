"""The one place samples change form: resampling (soxr), 16-bit PCM to and from float, mono mixes.

Every stage works on float32 in [-1, 1] at :data:`~imago_voice.audio.blocks.SAMPLE_RATE`; the speech
detector wants 16-bit PCM bytes. The conversions are symmetric: ``x`` float becomes
``round(x * 32767)`` clipped to the int16 range, and an integer sample ``n`` becomes ``n / 32767`` (for
int16; other widths use their own maximum).
"""

from __future__ import annotations

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE

_INT16_MAX = 32767


def resample(data: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample float32 audio, mono (n,) or (n, channels), from ``rate`` to ``target`` (soxr, high quality)."""
    data = np.ascontiguousarray(data, dtype=np.float32)
    if rate == target or data.shape[0] == 0:
        return data
    import soxr

    out = soxr.resample(data, rate, target, quality="HQ")
    if data.ndim == 2 and out.ndim == 1:
        out = out[:, None]
    return np.ascontiguousarray(out, dtype=np.float32)


class StreamResampler:
    """Resamples a live stream block by block (soxr's streaming resampler), ``channels`` wide."""

    def __init__(self, rate: int, channels: int, target: int = SAMPLE_RATE) -> None:
        import soxr

        self.channels = channels
        self._stream = soxr.ResampleStream(rate, target, channels, dtype="float32")

    def __call__(self, block: np.ndarray) -> np.ndarray:
        return self._stream.resample_chunk(np.ascontiguousarray(block, dtype=np.float32)).reshape(-1, self.channels)


def to_int16(x: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1] -> int16 (rounded, clipped)."""
    return np.clip(np.round(np.asarray(x, dtype=np.float32) * _INT16_MAX), -_INT16_MAX - 1, _INT16_MAX).astype("<i2")


def to_int16_bytes(mono: np.ndarray) -> bytes:
    """float32 mono -> little-endian 16-bit PCM bytes (what webrtcvad reads)."""
    return to_int16(mono).tobytes()


def to_float(x: np.ndarray) -> np.ndarray:
    """Integer PCM samples -> float32 in [-1, 1]; float input is only cast."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        return (x.astype(np.float32) / np.float32(np.iinfo(x.dtype).max)).astype(np.float32)
    return x.astype(np.float32, copy=False)


def to_mono(x: np.ndarray) -> np.ndarray:
    """(n, channels) -> (n,) by averaging the channels; mono input is returned as float32."""
    x = to_float(x)
    return x.mean(axis=1).astype(np.float32) if x.ndim == 2 else x
