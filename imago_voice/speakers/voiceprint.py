"""Voiceprints: a person's name and a 256-number GE2E embedding of a few seconds of their speech.

A :class:`Voiceprint` never holds audio; it is stored as a small JSON file (see :mod:`.store`).
:func:`enroll` makes one from a recording, :func:`embed` embeds any clip the same way.

    anna = enroll("Anna", anna_audio)          # mono float32, 16 kHz, 5-20 s of speech
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import tempfile
from dataclasses import dataclass

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.errors import VoiceprintError
from imago_voice.speakers import features
from imago_voice.speakers.encoder import (
    EMBEDDING_SIZE,
    MODEL_ID,
    PARTIAL_FRAMES,
    SpeakerEncoder,
    get_encoder,
    l2_normalise,
)

MIN_ENROLL_SECONDS = 2.0
FILE_FORMAT = "imago-voice voiceprint"
FILE_VERSION = 1


@dataclass(frozen=True, eq=False)
class Voiceprint:
    """A person's name and the L2-normalised embedding of ``seconds`` of their speech."""

    name: str
    vector: np.ndarray
    seconds: float

    def __post_init__(self):
        name = str(self.name).strip() if self.name is not None else ""
        if not name:
            raise VoiceprintError("A voiceprint needs a non-empty name.")
        vector = np.asarray(self.vector, dtype=np.float32).reshape(-1)
        if vector.shape != (EMBEDDING_SIZE,) or not np.all(np.isfinite(vector)):
            raise VoiceprintError(
                f"A voiceprint vector must be {EMBEDDING_SIZE} finite numbers (got shape {vector.shape})."
            )
        norm = float(np.linalg.norm(vector))
        if norm <= 0:
            raise VoiceprintError("A voiceprint vector cannot be all zeros.")
        vector = (vector / norm).astype(np.float32)
        vector.flags.writeable = False
        seconds = float(self.seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise VoiceprintError("A voiceprint's speech duration must be a non-negative number of seconds.")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "vector", vector)
        object.__setattr__(self, "seconds", seconds)

    def __eq__(self, other):
        if not isinstance(other, Voiceprint):
            return NotImplemented
        return (self.name == other.name and self.seconds == other.seconds
                and np.array_equal(self.vector, other.vector))

    __hash__ = None

    def __repr__(self):
        return f"Voiceprint(name={self.name!r}, seconds={self.seconds:.1f})"

    def to_dict(self) -> dict:
        return {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "model": MODEL_ID,
            "name": self.name,
            "seconds": round(self.seconds, 3),
            "vector": [float(x) for x in self.vector],
        }

    def save(self, path) -> None:
        """Write the voiceprint as a small JSON file (about 5 KB; no audio), atomically."""
        path = pathlib.Path(path)
        text = json.dumps(self.to_dict(), indent=1) + "\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".voiceprint-", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError as exc:
            raise VoiceprintError(f"Cannot write the voiceprint file {path}: {exc.strerror or exc}.") from exc

    @classmethod
    def load(cls, path) -> "Voiceprint":
        """Read a file written by :meth:`save`; anything else raises :class:`VoiceprintError`."""
        path = pathlib.Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise VoiceprintError(f"The voiceprint file {path} does not exist.") from None
        except OSError as exc:
            raise VoiceprintError(f"Cannot read the voiceprint file {path}: {exc.strerror or exc}.") from exc
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise VoiceprintError(
                f"The voiceprint file {path} is damaged or not a voiceprint; enroll the person again."
            ) from None
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise VoiceprintError(f"The file {path} is not an imago-voice voiceprint.")
        if data.get("version") != FILE_VERSION:
            raise VoiceprintError(
                f"The voiceprint file {path} has version {data.get('version')!r}, which this imago-voice "
                f"cannot read (it reads version {FILE_VERSION}); enroll the person again."
            )
        if data.get("model") != MODEL_ID:
            raise VoiceprintError(
                f"The voiceprint file {path} was made with another speaker model ({data.get('model')!r}); "
                f"enroll the person again."
            )
        try:
            vector = np.asarray(data["vector"], dtype=np.float32)
            return cls(name=data["name"], vector=vector, seconds=float(data["seconds"]))
        except VoiceprintError as exc:
            raise VoiceprintError(f"The voiceprint file {path} is damaged: {exc}") from None
        except (KeyError, TypeError, ValueError):
            raise VoiceprintError(
                f"The voiceprint file {path} is damaged (missing or malformed fields); enroll the person again."
            ) from None


def _speech(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(normalised 16 kHz audio, the same with long silences trimmed)."""
    wav = features.to_mono_16k(audio, sample_rate)
    wav = features.normalize_volume(wav)
    if len(wav) < (features.VAD_WINDOW_MS * SAMPLE_RATE) // 1000:
        return wav, wav[:0]
    return wav, features.trim_long_silences(wav)


def embed_mel(mel: np.ndarray, hop_frames: int = 80, encoder: SpeakerEncoder | None = None
               ) -> np.ndarray:
    """Embedding of a mel sequence: one pass when it fits a partial, else averaged 1.6 s partials.

    Unlike Resemblyzer, short clips are not zero-padded to 1.6 s (the final hidden state after a run of
    silent frames is a poorer voiceprint) and the last partial is aligned to the clip's end.
    """
    encoder = encoder or get_encoder()
    n = len(mel)
    if n == 0:
        raise VoiceprintError("There is no audio to recognise a voice in.")
    if n <= PARTIAL_FRAMES:
        return encoder.embed_mels(mel[None])[0]
    starts = list(range(0, n - PARTIAL_FRAMES + 1, hop_frames))
    if starts[-1] != n - PARTIAL_FRAMES:
        starts.append(n - PARTIAL_FRAMES)
    mels = np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts])
    return l2_normalise(encoder.embed_mels_batched(mels).mean(axis=0))


def embed(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, float]:
    """(L2-normalised embedding, seconds of speech) of a clip, silences trimmed first."""
    wav, speech = _speech(audio, sample_rate)
    if len(wav) == 0:
        raise VoiceprintError("There is no audio to recognise a voice in.")
    use = speech if len(speech) >= 0.3 * SAMPLE_RATE else wav
    return embed_mel(features.mel_spectrogram(use)), len(speech) / SAMPLE_RATE


def enroll(name: str, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Voiceprint:
    """A voiceprint from one recording of a person (works from 5 s of speech, better with 10-20 s)."""
    if name is None or not str(name).strip():
        raise VoiceprintError("A voiceprint needs a non-empty name.")
    wav, speech = _speech(audio, sample_rate)
    seconds = len(speech) / SAMPLE_RATE
    if seconds < MIN_ENROLL_SECONDS:
        raise VoiceprintError(
            f"Only {seconds:.1f} s of speech was heard for {str(name).strip()}; enrollment needs at least "
            f"{MIN_ENROLL_SECONDS:.0f} s (5-20 s works best). Please record a little more speech."
        )
    vector = embed_mel(features.mel_spectrogram(speech), hop_frames=40)
    return Voiceprint(name=str(name).strip(), vector=vector, seconds=seconds)
