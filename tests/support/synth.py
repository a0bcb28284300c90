"""Synthetic voices for self-contained tests: a conversation of espeak-ng voices, with its truth.

:func:`conversation` lays out lines of several people on a timeline and returns a multichannel recording
(one microphone per person, each hearing the others as crosstalk) together with who spoke when.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.demo import Line, Spoken, microphones, speak
from imago_voice.facilitator.render import espeak_available

__all__ = ["Line", "Spoken", "conversation", "espeak_available", "microphones", "speak"]


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
