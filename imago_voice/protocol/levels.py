"""Each person's usual loudness, and the turns far above it (a raised voice, one of the escalation cues).

A turn's level (:func:`~imago_voice.audio.loudness.speech_level`) depends on the microphone as much as on
the voice: a lapel hears its wearer 20 dB louder than a laptop across the room does, and partners differ
by 10 dB or more. So nobody is compared with anybody else: each person's turn is compared with the median
of their own recent turns, and only once there are a few of them.
"""

from __future__ import annotations

from collections import deque
from statistics import median


class OwnLevels:
    """``raised(speaker, level)``: whether the turn is ``margin_db`` or more above the median of the same
    speaker's last ``history`` turns (``after`` of them at least); then the turn joins that history."""

    def __init__(self, margin_db: float = 8.0, after: int = 3, history: int = 30) -> None:
        self.margin_db, self.after, self.history = margin_db, after, history
        self._levels: dict[str, deque[float]] = {}

    def raised(self, speaker: str, level: float) -> bool:
        earlier = self._levels.setdefault(speaker, deque(maxlen=self.history))
        loud = len(earlier) >= self.after and level - median(earlier) >= self.margin_db
        earlier.append(level)
        return loud
