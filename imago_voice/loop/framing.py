"""The first stage of the loop: blocks of any size in, fixed speech frames out, and recent audio kept.

:class:`Framer` cuts the source's blocks (whatever their size) into the detector's frames, carrying what
is left of a block over to the next, so the frames, and everything after them, do not depend on how the
source happened to block its audio. :class:`AudioHistory` keeps enough recent audio to cut out any
open turn for transcription or for the speaker stages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE, AudioBlock


class Framer:
    """Cuts a stream of blocks into frames of ``frame_samples``: ``(first sample index, frame)``."""

    def __init__(self, frame_samples: int) -> None:
        self.frame_samples = frame_samples
        self._carry: np.ndarray | None = None
        self._carry_start = 0

    def frames(self, block: AudioBlock) -> Iterator[tuple[int, np.ndarray]]:
        n = self.frame_samples
        data = block.samples if self._carry is None else np.concatenate([self._carry, block.samples])
        start = block.start if self._carry is None else self._carry_start
        whole = (data.shape[0] // n) * n
        for off in range(0, whole, n):
            yield start + off, data[off:off + n]
        if whole < data.shape[0]:
            self._carry, self._carry_start = data[whole:], start + whole
        else:
            self._carry, self._carry_start = None, 0


class AudioHistory:
    """Recent audio, enough to cut out any open turn. Blocks older than needed are dropped."""

    def __init__(self) -> None:
        self._blocks: deque[AudioBlock] = deque()

    def add(self, block: AudioBlock) -> None:
        self._blocks.append(block)

    def trim(self, keep_from: float) -> None:
        first = int(keep_from * SAMPLE_RATE)
        while self._blocks and self._blocks[0].start + self._blocks[0].frames <= first:
            self._blocks.popleft()

    def cut(self, t0: float, t1: float, channel: int | None) -> np.ndarray:
        """Mono samples between two times: one channel, or the mean of all when ``channel`` is None."""
        a, b = int(round(t0 * SAMPLE_RATE)), int(round(t1 * SAMPLE_RATE))
        parts = []
        for blk in self._blocks:
            lo, hi = max(a, blk.start), min(b, blk.start + blk.frames)
            if lo < hi:
                x = blk.samples[lo - blk.start:hi - blk.start]
                parts.append(x[:, channel] if channel is not None else x.mean(axis=1))
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
