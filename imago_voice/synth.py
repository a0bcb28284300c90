"""Synthetic voices with espeak-ng: the demo recording and self-contained test audio.

:func:`speak` renders one sentence to 16 kHz float32. :func:`conversation` lays out lines of several
people on a timeline and returns a multichannel recording (one microphone per person, each hearing the
others as crosstalk) together with the ground truth of who spoke when.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imago_voice.audio import SAMPLE_RATE, load_audio
from imago_voice.errors import ImagoError


@dataclass(frozen=True)
class Line:
    speaker: str
    text: str
    gap: float = 1.2        # silence before this line (negative: starts before the previous one ended)


@dataclass(frozen=True)
class Spoken:
    speaker: str
    start: float
    end: float
    text: str


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, voice: str = "en+m3", *, speed: int = 160, pitch: int = 50) -> np.ndarray:
    """Render ``text`` with espeak-ng; mono float32 at 16 kHz with espeak's edge silence trimmed."""
    if not espeak_available():
        raise ImagoError("espeak-ng is not installed (on Debian/Ubuntu: sudo apt-get install espeak-ng).")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text],
                       check=True, capture_output=True)
        audio = load_audio(wav)[:, 0]
    loud = np.flatnonzero(np.abs(audio) > 1e-3)
    return audio[loud[0]:loud[-1] + 1] if len(loud) else audio


def conversation(lines: Sequence[Line], voices: dict[str, str], *, lead: float = 1.0, tail: float = 1.5,
                 crosstalk_db: float = -10.0, noise_db: float = -55.0, seed: int = 0,
                 gains_db: dict[str, float] | None = None) -> tuple[np.ndarray, list[Spoken]]:
    """Lay ``lines`` out in time. Returns (audio of shape (n, people), truth); channel k is person k's mic.

    People are ordered as in ``voices``. Each channel holds its wearer's voice, everyone else at
    ``crosstalk_db``, and white noise at ``noise_db`` dBFS; ``gains_db`` boosts whole channels.
    """
    names = list(voices)
    clips = [speak(line.text, voices[line.speaker]) for line in lines]
    t, truth = lead, []
    for line, clip in zip(lines, clips):
        t = max(0.0, t + line.gap) if truth else t
        truth.append(Spoken(line.speaker, t, t + len(clip) / SAMPLE_RATE, line.text))
        t = truth[-1].end
    audio = microphones(truth, clips, names, t + tail, crosstalk_db=crosstalk_db, noise_db=noise_db, seed=seed,
                        gains_db=gains_db)
    return audio, truth


def microphones(truth: Sequence[Spoken], clips: Sequence[np.ndarray], names: Sequence[str], duration: float, *,
                crosstalk_db: float = -10.0, noise_db: float = -55.0, seed: int = 0,
                gains_db: dict[str, float] | None = None) -> np.ndarray:
    """One microphone per person: each channel its wearer's clips, the others' at ``crosstalk_db``, noise."""
    names = list(names)
    dry = np.zeros((int(duration * SAMPLE_RATE), len(names)), np.float32)
    for spoken, clip in zip(truth, clips):
        a = int(round(spoken.start * SAMPLE_RATE))
        dry[a:a + len(clip), names.index(spoken.speaker)] += clip[: max(0, dry.shape[0] - a)]
    cross = 10 ** (crosstalk_db / 20)
    mix = dry * (1 - cross) + dry.sum(axis=1, keepdims=True) * cross
    mix += np.random.default_rng(seed).normal(0, 10 ** (noise_db / 20), mix.shape).astype(np.float32)
    for name, g in (gains_db or {}).items():
        mix[:, names.index(name)] *= 10 ** (g / 20)
    return np.clip(mix, -1, 1).astype(np.float32)
