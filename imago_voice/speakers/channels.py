"""Who is speaking when each person has their own microphone (one channel each).

Real lapel and headset microphones hear the other people too (crosstalk), smeared by the room's
reverberation, at a level that depends on distance and on how people lean; a quiet person's microphone
can hear a loud partner nearly as loud as its own wearer, and someone who barely speaks has no level of
their own to calibrate on. So this stage does not model the room; it asks two plain questions per frame:

* **Whose voice is it?** The person whose own channel stands highest above its own noise floor (levels
  in units of each channel's floor, so a channel with more preamp gain is not favoured). That is the
  loudest-channel rule; it needs no calibration, so it holds from the first word and for a person who
  says almost nothing.
* **Is someone else talking too?** Only if their channel is louder, relative to the dominant person's,
  than the dominant voice's own crosstalk makes it: the level difference each person's voice produces
  between their channel and each other channel is learned as the session goes on (its median over frames
  where that person clearly dominates; a prior of the same size until then), and another person is
  flagged only when their channel stands ``overlap_margin_db`` above it.

Each finished segment is re-checked at its end with the crosstalk levels learned by then, so a segment
opened early in a session on crosstalk is dropped. The output is one speech flag per person per frame;
the :class:`~imago_voice.loop.segmenter.Segmenter` smooths them. See BENCHMARKS.md (rooms) for what was
measured, including the methods that lost (the earlier unmixing of a calibrated mixing matrix among them).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from dataclasses import dataclass

import numpy as np

from imago_voice.audio.voice_activity import VadSettings, VoiceDetector, frame_power
from imago_voice.speakers.arrival import ArrivalOrder
from imago_voice.speakers.likeness import band_levels, likeness
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
    overlap_margin_db: float = 12.0  # another person's channel must stand this far above the dominant voice's crosstalk
    unlike_below: float = 0.2        # ... or its spectrum is this unlike the dominant channel's (-1: never)
    leak_prior_db: float = -3.0      # crosstalk level difference assumed until it is learned (conservative: few overlaps)
    leak_percentile: float = 50.0    # of the level differences seen while one voice dominates (others talking only add)
    prior_frames: int = 30           # the prior weighs like this many learned frames
    learn_snr_db: float = 15.0       # frames where the dominant voice is this far above its floor teach the crosstalk
    learn_every: float = 1.0         # seconds of audio between re-estimates of the crosstalk levels
    history: float = 120.0           # seconds of dominant-voice frames kept per pair to learn from
    noise_floor_db: float = -80.0    # levels are taken above each channel's floor, never below this (digital silence)
    confirm_ratio: float = 0.3       # at a segment's end, this share of its voiced frames must still be theirs
    dominance_frames: int = 9        # whose voice it is: the majority over this many frames
    arrival: bool = True             # use which microphone hears a voice first (channels sampled together)
    arrival_within_db: float = 6.0   # ... when the loudest channel is not this much louder than the first one
    arrival_clear_db: float = 10.0   # frames where one channel stands this far above the rest check the arrival cue
    arrival_agreement: float = 0.6   # ... and it is dropped when it agrees with them less often than this
    arrival_checks: int = 100        # after this many checks
    recent: float = 300.0            # seconds of per-frame levels kept to re-check segments


class ChannelAttributor:
    """Frames of a multichannel signal in, per-person speech flags out."""

    def __init__(self, cmap: ChannelMap, vad: VadSettings, settings: AttributorSettings | None = None) -> None:
        self.cmap = cmap
        self.settings = settings or AttributorSettings()
        self.people = len(cmap.names)
        self._idx = list(cmap.indices)
        self.detectors = [VoiceDetector(vad) for _ in range(self.people)]
        st = self.settings
        self._min_floor_db = st.noise_floor_db
        n = self.people
        self._diffs: list[list[deque[float]]] = [[deque(maxlen=int(st.history / vad.frame_seconds)) for _ in range(n)]
                                                 for _ in range(n)]
        #: leak[d, j]: level of channel j minus that of channel d while d alone speaks (dB), as learned so far
        self.leak = np.full((n, n), st.leak_prior_db)
        np.fill_diagonal(self.leak, 0.0)
        self._since = 0
        self._every = max(1, round(st.learn_every / vad.frame_seconds))
        self._frame_s = vad.frame_seconds
        self._recent: deque[tuple[float, np.ndarray, np.ndarray, int, np.ndarray]] = deque(maxlen=int(st.recent / vad.frame_seconds))
        self.arrival = ArrivalOrder(n) if st.arrival and n > 1 else None
        self._checks = deque(maxlen=max(st.arrival_checks * 5, 1))   # did arrival agree with clear levels?
        self.arrival_trusted = self.arrival is not None
        self._first = -1
        self._votes: deque[tuple[float, int]] = deque()
        self._vote_span = (st.dominance_frames - 0.5) * vad.frame_seconds

    def push(self, frame: np.ndarray, t: float = 0.0) -> np.ndarray:
        """``frame``: (n, channels) float32 starting at ``t``. Returns one speech flag per person."""
        n = self.people
        level = np.empty(n)
        voiced = np.empty(n, bool)
        for k, ch in enumerate(self._idx):
            x = frame[:, ch]
            p = frame_power(x)
            voiced[k] = self.detectors[k].is_speech(x, p)
            level[k] = 10 * np.log10(p)
        if self.arrival is not None:
            self.arrival.push(frame[:, self._idx])
        self._tick()
        if not voiced.any():
            return voiced
        floor = np.maximum(10 * np.log10([d.noise.level for d in self.detectors]), self._min_floor_db)
        snr = level - floor
        d = self._smooth(self._dominant(snr, voiced), t)
        own = self._own_voice(frame, level, voiced, d)
        self._recent.append((t, level, voiced, d, own))
        # the crosstalk is learned only where the cues agree on whose voice it is
        if voiced[d] and snr[d] >= self.settings.learn_snr_db and d == int(np.argmax(snr)) and self._first in (d, -1):
            for j in range(n):
                if j != d:
                    self._diffs[d][j].append(level[j] - level[d])
        return self._decide(level, voiced, d, own)

    def _own_voice(self, frame: np.ndarray, level: np.ndarray, voiced: np.ndarray, d: int) -> np.ndarray:
        """Which other voiced channels carry a sound unlike the dominant one's (a voice of their own)."""
        own = np.zeros(self.people, bool)
        limit = self.settings.unlike_below
        if self.people < 2 or limit <= -1 or not voiced[d]:
            return own
        others = [j for j in range(self.people) if j != d and voiced[j]]
        if not others:
            return own
        bands = band_levels(frame[:, self._idx])
        for j in others:
            own[j] = likeness(bands, d, j) < limit
        return own

    def _smooth(self, d: int, t: float) -> int:
        """The most frequent dominant voice over the last few frames with sound (a majority, causal)."""
        votes = self._votes
        while votes and votes[0][0] < t - self._vote_span:
            votes.popleft()
        votes.append((t, d))
        counts = np.bincount([v for _, v in votes], minlength=self.people)
        best = int(np.argmax(counts))
        return d if counts[d] == counts[best] else best

    def _dominant(self, snr: np.ndarray, voiced: np.ndarray) -> int:
        """Whose voice this frame mostly is: the channel that hears it first, else the loudest above its floor."""
        loudest = int(np.argmax(snr))
        if self.arrival is None:
            return loudest
        first = self._first = self.arrival.first()
        if first < 0:
            return loudest
        order = np.sort(snr)
        if order[-1] - order[-2] >= self.settings.arrival_clear_db:
            self._checks.append(first == loudest)
        if not (self.arrival_trusted and voiced[first]):
            return loudest
        # levels far apart outweigh the arrival order (which a reverberant tail or a second voice can fool)
        return first if snr[loudest] - snr[first] < self.settings.arrival_within_db else loudest

    def _decide(self, level: np.ndarray, voiced: np.ndarray, d: int, own: np.ndarray) -> np.ndarray:
        flags = np.zeros(self.people, bool)
        if not voiced[d]:
            return flags
        flags[d] = True
        if self.people > 1:
            rel = level - level[d]
            flags |= voiced & ((rel > self.leak[d] + self.settings.overlap_margin_db) | own)
        return flags

    def refine(self, person: int, t0: float, t1: float, preroll: float = 0.3) -> tuple[float, float] | None:
        """Re-check a finished segment with the crosstalk learned by its end: whose speech was it, when?

        Early in a session the crosstalk levels are a prior, so crosstalk can open a segment on the wrong
        channel, or open it early; by the segment's end they have usually been learned. The segment's
        pre-roll and hangover are kept only where nobody else's voice dominates: they must not reach into
        the previous or the next speaker's words. Returns the segment's (start, end), or None when too
        little of it is theirs after all.
        """
        if self.people == 1:
            return t0, t1
        frames = []   # (t, voiced on their channel, theirs, somebody else's voice dominates)
        for t, level, voiced, d, own in reversed(self._recent):
            if t < t0 - 1e-9:
                break
            if t < t1:
                flags = self._decide(level, voiced, d, own)
                frames.append((t, voiced[person], voiced[person] and bool(flags[person]), d != person and bool(flags[d])))
        frames.reverse()
        own = sum(f[1] for f in frames)
        mine = [f[2] for f in frames]
        if own == 0 or not any(mine):
            return (t0, t1) if own == 0 else None
        if sum(mine) < self.settings.confirm_ratio * own:
            return None
        fs = self._frame_s
        start, end = t0, t1
        w = max(1, round(0.3 / fs))
        for k, (t, _, m, _) in enumerate(frames):
            if m and sum(mine[k:k + w]) >= 0.5 * min(w, len(mine) - k):
                crosstalk = sum(v and not mm for _, v, mm, _ in frames[:k])  # heard then, not theirs now
                if crosstalk >= w // 2:
                    start = max(t0, t - preroll)
                break
        first = next(k for k, m in enumerate(mine) if m)
        last = max(k for k, m in enumerate(mine) if m)
        others = [f[0] for f in frames[:first] if f[3] and f[0] >= start - 1e-9]
        if others:                       # the pre-roll reached into someone else's voice
            start = max(start, min(others[-1] + fs, frames[first][0]))
        if any(f[3] for f in frames[last + 1:]):   # so did the hangover
            end = min(end, frames[last][0] + fs)
        return start, max(end, start + fs)

    def _tick(self) -> None:
        self._since += 1
        if self._since >= self._every:
            self._since = 0
            self.learn()

    def learn(self) -> None:
        """Re-estimate the crosstalk level differences from the frames each person dominated."""
        st = self.settings
        for d in range(self.people):
            for j in range(self.people):
                diffs = self._diffs[d][j]
                if j == d or not diffs:
                    continue
                m = len(diffs)
                learned = np.percentile(np.fromiter(diffs, float), st.leak_percentile)
                self.leak[d, j] = (learned * m + st.leak_prior_db * st.prior_frames) / (m + st.prior_frames)
        log.debug("crosstalk levels now %s dB", np.round(self.leak, 1).tolist())
        if self.arrival is not None and len(self._checks) >= st.arrival_checks:
            agree = sum(self._checks) / len(self._checks)
            trusted = agree >= st.arrival_agreement
            if trusted != self.arrival_trusted:
                log.info("arrival order %s: it agrees with the levels on %.0f %% of clear frames",
                         "used again" if trusted else "no longer used", agree * 100)
            self.arrival_trusted = trusted
