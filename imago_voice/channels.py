"""Who is speaking when each person has their own microphone (one channel each).

Real lapel and headset microphones hear the other people too (crosstalk), and a quiet person's
microphone can hear a loud partner louder than its own wearer. "Loudest channel wins" fails there, so
this stage models the room instead:

* each channel's noise floor is tracked, and levels are taken as excess power over it, in units of that
  floor (so a channel with more preamp gain is not favoured);
* a mixing matrix ``G`` (``G[i, j]``: how strongly person *i* reaches channel *j*, relative to their own
  channel) is calibrated from the audio itself, from frames where one person clearly dominates, and
  re-estimated as the session goes on;
* each frame's channel levels are unmixed into per-person source levels with non-negative least squares;
  a person is speaking when their own channel's VAD fires and their unmixed level stands above both their
  noise floor and (by a margin) the strongest person's level. Two people at once is an overlap.

The output is one speech flag per person per frame; the :class:`~imago_voice.vad.Segmenter` smooths them.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from imago_voice.errors import AudioInputError, UsageError
from imago_voice.vad import VadSettings, VoiceDetector, frame_power

log = logging.getLogger(__name__)

_CHANNEL_RE = re.compile(r"^\s*([^=\s][^=]*?)\s*=\s*(\d+)\s*$")


@dataclass(frozen=True)
class ChannelMap:
    """Whose microphone each channel is: ``names[k]`` wears the microphone on channel ``indices[k]``."""

    names: tuple[str, ...]
    indices: tuple[int, ...]

    @classmethod
    def parse(cls, specs: list[str]) -> ChannelMap:
        """Parse ``["Sam=0", "Alex=1"]``. Raises :class:`UsageError` with a plain sentence."""
        names, indices = [], []
        for spec in specs:
            m = _CHANNEL_RE.match(spec)
            if not m:
                raise UsageError(f"--channel wants NAME=INDEX, like --channel Sam=0; got {spec!r}.")
            name, index = m.group(1), int(m.group(2))
            if name in names:
                raise UsageError(f"--channel names {name!r} twice.")
            if index in indices:
                raise UsageError(f"--channel gives channel {index} to two people.")
            names.append(name)
            indices.append(index)
        return cls(tuple(names), tuple(indices))

    def check(self, channels: int, what: str) -> None:
        """Raise :class:`AudioInputError` if a named channel is beyond the ``channels`` that ``what`` has."""
        for name, index in zip(self.names, self.indices):
            if index >= channels:
                have = "1 channel (0)" if channels == 1 else f"{channels} channels (0-{channels - 1})"
                raise AudioInputError(f"{what} has {have}; --channel {name}={index} asks for channel {index}.")

    @property
    def width(self) -> int:
        """How many input channels must be opened to reach every named one."""
        return max(self.indices) + 1


@dataclass(frozen=True)
class AttributorSettings:
    relative_db: float = 12.0       # a person counts only within this of the strongest unmixed level
    calibrate_every: float = 1.0    # seconds of audio between re-estimates of the mixing matrix
    history: float = 180.0          # seconds of speech-frame levels kept for calibration
    prior_coupling_db: float = -8.0  # crosstalk assumed before a person's row is calibrated
    dominance_db: float = 3.0       # a calibration frame: the top person this far above every other
    min_frames: int = 20            # calibration frames needed per person before their row is trusted
    max_coupling: float = 0.8       # crosstalk can't be stronger than this (keeps G well conditioned)
    confirm_ratio: float = 0.3      # at a segment's end, this share of its voiced frames must still be theirs
    recent: float = 300.0           # seconds of per-frame levels kept to re-check segments


class ChannelAttributor:
    """Frames of a multichannel signal in, per-person speech flags out."""

    def __init__(self, cmap: ChannelMap, vad: VadSettings, settings: AttributorSettings | None = None) -> None:
        self.cmap = cmap
        self.s = settings or AttributorSettings()
        self.n = len(cmap.names)
        self._idx = list(cmap.indices)
        self.detectors = [VoiceDetector(vad) for _ in range(self.n)]
        prior = 10 ** (self.s.prior_coupling_db / 10)
        self.G = np.full((self.n, self.n), prior) + np.eye(self.n) * (1 - prior)
        hist_frames = int(self.s.history / vad.frame_seconds)
        self._hist: deque[np.ndarray] = deque(maxlen=hist_frames)   # excess SNR per channel, speech frames
        self._since_calib = 0
        self._calib_frames = max(1, round(self.s.calibrate_every / vad.frame_seconds))
        self._rel = 10 ** (-self.s.relative_db / 10)
        self._gate = 10 ** (vad.snr_gate_db / 10)
        self.calibrated = np.zeros(self.n, bool)
        self._frame_s = vad.frame_seconds
        self._recent: deque[tuple[float, np.ndarray, np.ndarray]] = deque(maxlen=int(self.s.recent / vad.frame_seconds))

    def push(self, frame: np.ndarray, t: float = 0.0) -> np.ndarray:
        """``frame``: (n, channels) float32 starting at ``t``. Returns one speech flag per person."""
        powers = np.empty(self.n)
        voiced = np.empty(self.n, bool)
        for k, ch in enumerate(self._idx):
            x = frame[:, ch]
            powers[k] = frame_power(x)
            voiced[k] = self.detectors[k].is_speech(x, powers[k])
        if not voiced.any():
            self._tick()
            return voiced
        floors = np.array([d.noise.level for d in self.detectors])
        excess = np.maximum(powers - floors, 0.0) / floors   # excess power in units of the noise floor
        self._hist.append(excess)
        self._recent.append((t, excess, voiced))
        self._tick()
        return self._decide(excess, voiced)

    def _decide(self, excess: np.ndarray, voiced: np.ndarray) -> np.ndarray:
        sources = self.unmix(excess)
        return voiced & (sources >= self._gate - 1) & (sources >= sources.max() * self._rel)

    def confirm(self, person: int, t0: float, t1: float) -> bool:
        """Re-check a finished segment with today's calibration: is it still this person's speech?

        Early in a session the mixing matrix is a guess, so crosstalk can open a segment on the wrong
        channel; by the segment's end the calibration has usually caught up.
        """
        if self.n == 1:
            return True
        own = mine = 0
        for t, excess, voiced in reversed(self._recent):
            if t < t0 - 1e-9:
                break
            if t >= t1 or not voiced[person]:
                continue
            own += 1
            mine += bool(self._decide(excess, voiced)[person])
        return own == 0 or mine >= self.s.confirm_ratio * own

    def unmix(self, excess: np.ndarray) -> np.ndarray:
        """Per-person source levels (own-channel units) that best explain the channel levels."""
        if self.n == 1:
            return excess.copy()
        sources, _ = nnls(self.G.T, excess)
        return sources

    def _tick(self) -> None:
        self._since_calib += 1
        if self._since_calib >= self._calib_frames:
            self._since_calib = 0
            self.calibrate()

    def calibrate(self) -> None:
        """Re-estimate ``G`` from frames where one person clearly dominates the others."""
        if self.n == 1 or len(self._hist) < self.s.min_frames:
            return
        E = np.asarray(self._hist)
        for _ in range(2):
            # unconstrained unmixing (e = s G  =>  s = e G^-1), vectorised; negatives mean "not there"
            S = np.maximum(E @ np.linalg.inv(self.G), 0.0)
            order = np.sort(S, axis=1)
            dom = np.argmax(S, axis=1)
            clear = (order[:, -1] >= 10.0) & (order[:, -1] >= order[:, -2] * 10 ** (self.s.dominance_db / 10))
            G = self.G.copy()
            for i in range(self.n):
                rows = E[clear & (dom == i)]
                if len(rows) < self.s.min_frames:
                    continue
                ratios = rows / rows[:, i:i + 1]
                G[i] = np.clip(np.median(ratios, axis=0), 0.0, self.s.max_coupling)
                G[i, i] = 1.0
                self.calibrated[i] = True
            self.G = G
        log.debug("channel mixing matrix now %s", np.round(self.G, 3).tolist())
