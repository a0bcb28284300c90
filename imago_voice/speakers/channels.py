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
  a person is speaking when their own channel's VAD fires and their unmixed level stands above their
  noise floor and above the crosstalk the others put on their channel. Two people at once is an overlap;
* until the matrix is calibrated (the first second or two of each person's speech) crosstalk can open a
  segment on the wrong channel, so each finished segment is re-checked with the calibration of its end.

The output is one speech flag per person per frame; the :class:`~imago_voice.loop.segmenter.Segmenter` smooths them.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from imago_voice.audio.voice_activity import VadSettings, VoiceDetector, frame_power
from imago_voice.errors import AudioInputError, SettingsError

log = logging.getLogger(__name__)

_CHANNEL_RE = re.compile(r"^\s*([^=\s][^=]*?)\s*=\s*(\d+)\s*$")


@dataclass(frozen=True)
class ChannelMap:
    """Whose microphone each channel is: ``names[k]`` wears the microphone on channel ``indices[k]``."""

    names: tuple[str, ...]
    indices: tuple[int, ...]

    @classmethod
    def parse(cls, specs: list[str]) -> ChannelMap:
        """Parse ``["Sam=0", "Alex=1"]``. Raises :class:`SettingsError` with a plain sentence."""
        names, indices = [], []
        for spec in specs:
            m = _CHANNEL_RE.match(spec)
            if not m:
                raise SettingsError(f"--channel wants NAME=INDEX, like --channel Sam=0; got {spec!r}.")
            name, index = m.group(1), int(m.group(2))
            if name in names:
                raise SettingsError(f"--channel names {name!r} twice.")
            if index in indices:
                raise SettingsError(f"--channel gives channel {index} to two people.")
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
    leak_margin_db: float = 3.0     # a person must stand this far above the crosstalk others put on their channel
    coupling_percentile: float = 25.0  # of level ratios in one person's frames: the others' own speech only adds
    noise_floor_db: float = -80.0   # levels are in units of the noise floor, never below this (digital silence)
    calibrate_every: float = 1.0    # seconds of audio between re-estimates of the mixing matrix
    history: float = 180.0          # seconds of speech-frame levels kept for calibration
    dominance_db: float = 3.0       # a calibration frame: the top person this far above every other
    min_frames: int = 20            # calibration frames needed per person before their row is trusted
    max_coupling: float = 0.8       # crosstalk can't be stronger than this (keeps G well conditioned)
    confirm_ratio: float = 0.3      # at a segment's end, this share of its voiced frames must still be theirs
    recent: float = 300.0           # seconds of per-frame levels kept to re-check segments


class ChannelAttributor:
    """Frames of a multichannel signal in, per-person speech flags out."""

    def __init__(self, cmap: ChannelMap, vad: VadSettings, settings: AttributorSettings | None = None) -> None:
        self.cmap = cmap
        self.settings = settings or AttributorSettings()
        self.people = len(cmap.names)
        self._idx = list(cmap.indices)
        self.detectors = [VoiceDetector(vad) for _ in range(self.people)]
        self.G = np.eye(self.people)          # no crosstalk assumed until the audio shows how much there is
        self._min_floor = 10 ** (self.settings.noise_floor_db / 10)
        hist_frames = int(self.settings.history / vad.frame_seconds)
        self._hist: deque[np.ndarray] = deque(maxlen=hist_frames)   # excess SNR per channel, speech frames
        self._since_calib = 0
        self._calib_frames = max(1, round(self.settings.calibrate_every / vad.frame_seconds))
        self._leak = 10 ** (self.settings.leak_margin_db / 10)
        self._gate = 10 ** (vad.snr_gate_db / 10)
        self.calibrated = np.zeros(self.people, bool)
        self._frame_s = vad.frame_seconds
        self._recent: deque[tuple[float, np.ndarray, np.ndarray]] = deque(maxlen=int(self.settings.recent / vad.frame_seconds))

    def push(self, frame: np.ndarray, t: float = 0.0) -> np.ndarray:
        """``frame``: (n, channels) float32 starting at ``t``. Returns one speech flag per person."""
        powers = np.empty(self.people)
        voiced = np.empty(self.people, bool)
        for k, ch in enumerate(self._idx):
            x = frame[:, ch]
            powers[k] = frame_power(x)
            voiced[k] = self.detectors[k].is_speech(x, powers[k])
        if not voiced.any():
            self._tick()
            return voiced
        floors = np.maximum([d.noise.level for d in self.detectors], self._min_floor)
        excess = np.maximum(powers - floors, 0.0) / floors   # excess power in units of the noise floor
        self._hist.append(excess)
        self._recent.append((t, excess, voiced))
        self._tick()
        return self._decide(excess, voiced)

    def _decide(self, excess: np.ndarray, voiced: np.ndarray) -> np.ndarray:
        sources = self.unmix(excess)
        # what the others' voices put on each person's channel, scaled back to that person's own level:
        # unmixing errors leave a residue of about this size, so a person must stand above it
        leak = self.G * sources[:, None]
        np.fill_diagonal(leak, 0.0)
        return voiced & (sources >= self._gate - 1) & (sources >= leak.max(axis=0) * self._leak)

    def refine(self, person: int, t0: float, t1: float, preroll: float = 0.3) -> tuple[float, float] | None:
        """Re-check a finished segment with the calibration of its end: whose speech was it, from when?

        Early in a session the mixing matrix is a guess, so crosstalk can open a segment on the wrong
        channel, or open it early; by the segment's end the calibration has usually caught up. Returns the
        segment's (start, end), the start moved to where this person's own speech begins, or None when
        too little of it is theirs after all.
        """
        if self.people == 1:
            return t0, t1
        frames = []
        for t, excess, voiced in reversed(self._recent):
            if t < t0 - 1e-9:
                break
            if t < t1:
                frames.append((t, voiced[person], voiced[person] and bool(self._decide(excess, voiced)[person])))
        frames.reverse()
        own = sum(v for _, v, _ in frames)
        mine = [m for _, _, m in frames]
        if own == 0:
            return t0, t1
        if sum(mine) < self.settings.confirm_ratio * own:
            return None
        w = max(1, round(0.3 / self._frame_s))
        for k, (t, _, m) in enumerate(frames):
            if m and sum(mine[k:k + w]) >= 0.5 * min(w, len(mine) - k):
                crosstalk = sum(v and not mm for _, v, mm in frames[:k])  # heard then, not theirs now
                return (max(t0, t - preroll) if crosstalk >= w // 2 else t0), t1
        return t0, t1

    def unmix(self, excess: np.ndarray) -> np.ndarray:
        """Per-person source levels (own-channel units) that best explain the channel levels."""
        if self.people == 1:
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
        if self.people == 1 or len(self._hist) < self.settings.min_frames:
            return
        E = np.asarray(self._hist)
        for _ in range(2):
            # unconstrained unmixing (e = s G  =>  s = e G^-1), vectorised; negatives mean "not there"
            S = np.maximum(E @ np.linalg.inv(self.G), 0.0)
            order = np.sort(S, axis=1)
            dom = np.argmax(S, axis=1)
            clear = (order[:, -1] >= 10.0) & (order[:, -1] >= order[:, -2] * 10 ** (self.settings.dominance_db / 10))
            G = self.G.copy()
            for i in range(self.people):
                rows = E[clear & (dom == i)]
                if len(rows) < self.settings.min_frames:
                    continue
                ratios = rows / rows[:, i:i + 1]
                G[i] = np.clip(np.percentile(ratios, self.settings.coupling_percentile, axis=0), 0.0, self.settings.max_coupling)
                G[i, i] = 1.0
                self.calibrated[i] = True
            self.G = G
        log.debug("channel mixing matrix now %s", np.round(self.G, 3).tolist())
