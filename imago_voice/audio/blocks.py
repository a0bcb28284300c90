"""Audio as the rest of the package sees it: 16 kHz float32 blocks timed by their sample count.

:class:`AudioBlock` is what every source yields. Its time comes from how many samples came before it,
never from when the code got around to reading it, so a recording replays exactly as the microphone
would have heard it. A live block also carries ``captured``: when its first sample reached the
microphone, on the ``time.monotonic`` clock, as PortAudio's callback reported it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The one sample rate inside imago-voice: every source converts to it, every stage assumes it.
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class AudioBlock:
    """A run of samples: ``samples`` is float32 of shape (n, channels) at :data:`SAMPLE_RATE`.

    ``start`` is the index of the first sample since the stream began; times in seconds follow from it.
    ``captured`` (live only) is the ``time.monotonic()`` moment the first sample was captured.
    """

    start: int
    samples: np.ndarray
    captured: float | None = None

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
