"""Audio files: :func:`load_audio` reads any common format, rate and channel count as 16 kHz float32;
:func:`write_audio` writes a WAV file. Failures are one plain error each."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.audio.convert import resample, to_float
from imago_voice.errors import AudioInputError, OutputError

log = logging.getLogger(__name__)


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
                chunks.append(to_float(arr))
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


def write_audio(path: str | Path, data: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write float32 audio, (n,) or (n, channels), as a WAV file; :class:`OutputError` if it cannot be."""
    import soundfile as sf

    try:
        sf.write(str(path), np.asarray(data, dtype=np.float32), rate)
    except (OSError, RuntimeError, sf.LibsndfileError, TypeError, ValueError) as exc:
        raise OutputError(f"Could not write {path}: {exc}.") from exc
