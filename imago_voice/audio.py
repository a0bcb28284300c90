"""Audio as the rest of the package sees it: 16 kHz float32 blocks timed by their sample count.

:class:`AudioBlock` is what every source yields. Its time comes from how many samples came before it,
never from the wall clock, so a recording replays exactly as the microphone would have heard it.
:func:`load_audio` reads a file of any common format, rate and channel count and converts it to 16 kHz.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imago_voice.errors import AudioInputError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class AudioBlock:
    """A run of samples: ``samples`` is float32 of shape (n, channels) at 16 kHz.

    ``start`` is the index of the first sample since the stream began; times in seconds follow from it.
    """

    start: int
    samples: np.ndarray

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def t0(self) -> float:
        return self.start / SAMPLE_RATE

    @property
    def t1(self) -> float:
        return (self.start + self.frames) / SAMPLE_RATE


def resample(data: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample (n, channels) float32 audio from ``rate`` to ``target`` (high-quality, soxr)."""
    if rate == target or data.shape[0] == 0:
        return np.ascontiguousarray(data, dtype=np.float32)
    import soxr

    out = soxr.resample(np.ascontiguousarray(data, dtype=np.float32), rate, target, quality="HQ")
    if out.ndim == 1:
        out = out[:, None]
    return np.ascontiguousarray(out, dtype=np.float32)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int] | None:
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, TypeError, ValueError) as exc:  # not a format libsndfile knows
        log.debug("soundfile could not read %s: %s", path, exc)
        return None
    return data, int(rate)


def _read_av(path: Path) -> tuple[np.ndarray, int] | None:
    """Decode with PyAV (FFmpeg; installed with faster-whisper): mp3, m4a, opus, video files..."""
    try:
        import av
    except ImportError:  # pragma: no cover - faster-whisper always brings it
        return None
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            rate = int(stream.rate or stream.codec_context.sample_rate)
            chunks = []
            for frame in container.decode(stream):
                arr = frame.to_ndarray()
                if frame.format.is_planar:
                    arr = arr.T  # (channels, n) -> (n, channels)
                else:
                    arr = arr.reshape(-1, len(frame.layout.channels))
                if arr.dtype.kind == "i":
                    arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
                chunks.append(arr.astype(np.float32))
    except (av.FFmpegError, OSError, ValueError) as exc:
        log.debug("PyAV could not read %s: %s", path, exc)
        return None
    if not chunks:
        return np.zeros((0, 1), np.float32), rate
    return np.concatenate(chunks, axis=0), rate


def load_audio(path: str | Path) -> np.ndarray:
    """Read an audio file and return float32 samples of shape (n, channels) at 16 kHz.

    Raises :class:`AudioInputError` with a plain sentence for a missing, empty or unreadable file.
    """
    path = Path(path)
    if not path.exists():
        raise AudioInputError(f"{path}: no such file.")
    if path.is_dir():
        raise AudioInputError(f"{path} is a folder, not an audio file.")
    if path.stat().st_size == 0:
        raise AudioInputError(f"{path} is empty.")
    got = _read_soundfile(path) or _read_av(path)
    if got is None:
        raise AudioInputError(f"{path} is not an audio file this program can read.")
    data, rate = got
    if data.shape[0] == 0:
        raise AudioInputError(f"{path} contains no audio.")
    data = np.nan_to_num(data)
    return resample(data, rate)


def to_int16_bytes(mono: np.ndarray) -> bytes:
    """float32 mono in [-1, 1] -> little-endian 16-bit PCM bytes (for webrtcvad)."""
    return (np.clip(mono, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
