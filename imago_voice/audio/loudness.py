"""How loud a stretch of speech is: one number per turn, for noticing a raised voice (issue 10).

:func:`speech_level` is the level, in dBFS, that the loud part of a turn's speech reaches: the
``percentile``-th percentile of its 30 ms frame levels. A percentile of the frames, not the mean of the
samples, so that pauses inside the turn and its trailing silence do not lower it, and one cough or bump
does not raise it. A turn too short to say (under ``min_seconds``) has no level.

The number only means something against the same person's other turns on the same microphone (a lapel
hears its wearer 20 dB louder than a laptop does): the engine compares each turn with the speaker's own
median so far (:mod:`imago_voice.protocol.guard`).
"""

from __future__ import annotations

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.audio.voice_activity import POWER_FLOOR

FRAME_SECONDS = 0.03


def speech_level(samples: np.ndarray, *, percentile: float = 90.0, min_seconds: float = 0.6) -> float | None:
    """The turn's loud-speech level in dBFS (float samples, full scale 1.0), or None if it is too short."""
    n = int(FRAME_SECONDS * SAMPLE_RATE)
    frames = len(samples) // n
    if frames * n < min_seconds * SAMPLE_RATE:
        return None
    x = np.asarray(samples[: frames * n], dtype=np.float64).reshape(frames, n)
    power = np.maximum((x * x).mean(axis=1), POWER_FLOOR)
    return round(float(np.percentile(10.0 * np.log10(power), percentile)), 2)
