"""Echo cancellation: take the facilitator's own voice out of what the microphone hears.

While a prompt plays, the microphone hears it back through the room (a laptop's speakers are a hand's
width from its microphone). To keep listening while the facilitator talks (barge-in), the played audio is
the *reference*: what reaches the microphone is, to a good approximation, that reference through the
room's impulse response, and an adaptive filter learns that response and subtracts its estimate.

This is a **linear** canceller only, on purpose: a partitioned-block frequency-domain adaptive filter
(the "multi-delay filter" of Soo and Pang, 1990, the core of Speex's and WebRTC's cancellers), with two
paths (Ochiai et al.): a background filter adapts on every block, a foreground filter produces the output
and takes the background's coefficients only when they cancel better, so speech that talks over the
prompt (double talk) cannot drive the output filter astray. WebRTC's full processor (AEC3, measured in
``benchmarks/bench_echo.py``) adds a non-linear suppressor that also removes most of a voice said over the
prompt: commands were heard 2 times in 24 after it. Written here rather than taken from a package because
the packages that have a linear-only mode need a compiled library (speexdsp) or run sample by sample in
Python (padasip, pyroomacoustics' NLMS), too slow for 16 kHz live on two cores.

:class:`PlayedAudio` is the reference: the player writes each block it hands the device with the moment it
will be heard (``time.monotonic``); the canceller stage (:func:`cancel_echo`) reads the reference for each
microphone block by its capture time. Blocks without a capture time (a replayed file) pass through.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE, AudioBlock

# Seconds a device's capture or playback stamp may stray from the sample count before it is believed
# (PortAudio's stamps jitter by a few ms per block; a real jump means samples were lost).
JUMP = 0.02

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CancellerSettings:
    block: int = 160          # samples per adaptation block (10 ms); source blocks must be multiples of it
    taps: float = 0.25        # seconds of echo the filter models (the lead included)
    lead: float = 0.05        # seconds the reference is read ahead of its stamped time (stamps may be late)
    step: float = 0.04        # normalised step size of the background filter
    copy_ratio: float = 0.7   # background error below this fraction of the foreground's: take it
    reset_ratio: float = 4.0  # background error above this multiple of the foreground's: it diverged
    copy_gain: float = 8.0    # dB the background must take off the microphone to be copied (not in double talk)
    smoothing: float = 0.9    # of the error energies compared (per block)
    floor: float = 1e-7       # reference energy per sample below which nothing is adapted (silence)
    gate_margin: float = 14.0  # dB above the expected residual echo a block needs to pass the gate as voice
    gate_depth: float = 60.0  # dB taken off blocks the gate holds for residual echo
    gate_hold: float = 0.2    # seconds the gate stays open after a voice


class EchoCanceller:
    """One channel's canceller: ``process(mic, ref)`` returns the microphone with the echo of ``ref`` taken
    out. Both are float arrays of the same length, a multiple of ``settings.block``; ``ref`` is the played
    audio as it will reach the microphone's clock, read ``settings.lead`` early."""

    def __init__(self, settings: CancellerSettings | None = None) -> None:
        self.settings = s = settings or CancellerSettings()
        self.n = s.block
        self.parts = max(1, int(round(s.taps * SAMPLE_RATE / s.block)))
        bins = self.n + 1
        self._x = np.zeros((self.parts, bins), np.complex128)   # reference spectra, newest first
        self._wf = np.zeros((self.parts, bins), np.complex128)  # foreground filter (produces the output)
        self._wb = np.zeros((self.parts, bins), np.complex128)  # background filter (adapts)
        self._prev = np.zeros(self.n)                           # the previous reference block
        self._eb = self._ef = self._ed = 0.0
        self._ratio = 1.0     # residual echo / echo estimate, when only the echo is heard (tracked low)
        self._open = 0        # blocks the gate stays open
        self._sx = self._se = 0.0
        self.gated = 0        # blocks held for residual echo
        self._quiet = self.parts + 1                            # blocks since the reference last had energy
        self.copies = self.resets = 0

    @property
    def idle(self) -> bool:
        """Nothing played for longer than the filter's memory: the output is the microphone as it is."""
        return self._quiet > self.parts

    def reset(self) -> None:
        self.__init__(self.settings)

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        mic = np.asarray(mic, np.float64).reshape(-1)
        ref = np.asarray(ref, np.float64).reshape(-1)
        if len(mic) != len(ref) or len(mic) % self.n:
            raise ValueError(f"microphone and reference must have the same length, a multiple of {self.n}")
        out = np.empty(len(mic), np.float32)
        for i in range(0, len(mic), self.n):
            out[i:i + self.n] = self._block(mic[i:i + self.n], ref[i:i + self.n])
        return out

    def _block(self, d: np.ndarray, x: np.ndarray) -> np.ndarray:
        s, n = self.settings, self.n
        energetic = float(np.dot(x, x)) / n > s.floor
        self._quiet = 0 if energetic else self._quiet + 1
        if self._quiet > self.parts:      # no echo can be in this block: the filter's memory is silent
            self._prev = x
            return d
        self._x = np.roll(self._x, 1, axis=0)
        self._x[0] = np.fft.rfft(np.concatenate([self._prev, x]))
        self._prev = x
        yf = np.fft.irfft((self._wf * self._x).sum(axis=0), 2 * n)[n:]
        yb = np.fft.irfft((self._wb * self._x).sum(axis=0), 2 * n)[n:]
        ef, eb = d - yf, d - yb
        a = s.smoothing
        self._ef = a * self._ef + (1 - a) * float(np.dot(ef, ef))
        self._eb = a * self._eb + (1 - a) * float(np.dot(eb, eb))
        self._ed = a * self._ed + (1 - a) * float(np.dot(d, d))
        if energetic:
            # normalised by the reference's power in each bin over the filter's length
            power = (self._x.real ** 2 + self._x.imag ** 2).mean(axis=0)
            E = np.fft.rfft(np.concatenate([np.zeros(n), eb]))
            grad = np.conj(self._x) * E / (power + 1e-3 * power.mean() + 1e-10)
            # gradient constraint: keep each partition's impulse response to its own n samples
            g = np.fft.irfft(grad, 2 * n, axis=1)
            g[:, n:] = 0.0
            self._wb += s.step * np.fft.rfft(g, axis=1)
        out = self._gate(ef, x)
        if self._eb < s.copy_ratio * self._ef and self._eb < self._ed * 10 ** (-s.copy_gain / 10):
            self._wf[:] = self._wb
            self._ef = self._eb
            self.copies += 1
        elif self._eb > s.reset_ratio * self._ef and self._ef > 0:
            self._wb[:] = self._wf
            self._eb = self._ef
            self.resets += 1
        return out

    def _gate(self, e: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Silence a block that is no louder than the echo the filter leaves behind: what is left of the
        prompt must not sound like someone talking. A voice above it passes whole.

        The expected residual is the reference's recent energy (held over the room's tail) times the ratio
        the canceller achieves when only the echo is heard, tracked from its lows; it starts at 1 (nothing
        cancelled yet: a voice must then be louder than the echo itself)."""
        s = self.settings
        ee, ex = float(np.dot(e, e)), float(np.dot(x, x))
        self._sx = max(ex, 0.9 * self._sx)          # the reference's energy, held over ~100 ms of room tail
        if self._sx <= 1e-12:
            return e
        self._se = 0.7 * self._se + 0.3 * ee        # the output's energy over ~30 ms
        ratio = self._se / self._sx
        w = 0.1 if ratio < self._ratio else 0.002   # follows its lows fast, its highs (a voice on top) slowly
        self._ratio = (1 - w) * self._ratio + w * ratio
        if self._se > self._ratio * self._sx * 10 ** (s.gate_margin / 10):
            self._open = int(s.gate_hold * SAMPLE_RATE / self.n)
            return e
        if self._open > 0:
            self._open -= 1
            return e
        self.gated += 1
        return e * 10 ** (-s.gate_depth / 20)


class PlayedAudio:
    """What the facilitator played and when it is heard: written by the player (any thread), read by the
    canceller stage by ``time.monotonic`` moments. Keeps ``keep`` seconds."""

    def __init__(self, keep: float = 10.0) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._runs: deque[tuple[float, np.ndarray]] = deque()   # (when the first sample is heard, samples)

    def add(self, heard_at: float, samples: np.ndarray) -> None:
        samples = np.asarray(samples, np.float32).reshape(-1).copy()
        with self._lock:
            self._runs.append((heard_at, samples))
            while self._runs and self._runs[0][0] + len(self._runs[0][1]) / SAMPLE_RATE < heard_at - self.keep:
                self._runs.popleft()

    def read(self, at: float, n: int) -> np.ndarray:
        """``n`` samples of what is heard from ``at`` on (silence where nothing was played)."""
        out = np.zeros(n, np.float32)
        with self._lock:
            runs = list(self._runs)
        for t0, samples in runs:
            offset = int(round((t0 - at) * SAMPLE_RATE))
            lo, hi = max(0, offset), min(n, offset + len(samples))
            if lo < hi:
                out[lo:hi] += samples[lo - offset:hi - offset]
        return out

    def playing(self, t0: float, t1: float) -> bool:
        """Whether anything was played between two moments."""
        with self._lock:
            return any(a < t1 and a + len(s) / SAMPLE_RATE > t0 for a, s in self._runs)


class EchoTimes:
    """Where, on the audio clock, the microphone heard the facilitator play: stretches ``(t0, t1)``, in
    order, one per run of blocks whose reference had sound (written by :func:`cancel_echo`, which lines the
    reference up with the microphone sample by sample, so these are where the echo really is; the times
    planned for a prompt can be off by the device's latency). Keeps the last ``keep`` stretches."""

    def __init__(self, keep: int = 50, gap: float = 0.5) -> None:
        self.spans: deque[list[float]] = deque(maxlen=keep)
        self.gap = gap    # silences shorter than this inside what is played (between sentences) join it

    def add(self, t0: float, t1: float) -> None:
        if self.spans and t0 <= self.spans[-1][1] + self.gap:
            self.spans[-1][1] = t1
        else:
            self.spans.append([t0, t1])

    def windows(self) -> list[tuple[float, float]]:
        return [(a, b) for a, b in self.spans]

    def during(self, t: float, tail: float = 0.0) -> bool:
        return any(a <= t <= b + tail for a, b in self.spans)


def cancel_echo(source: Iterable[AudioBlock], played: PlayedAudio,
                settings: CancellerSettings | None = None, heard: EchoTimes | None = None) -> Iterator[AudioBlock]:
    """The source's blocks with the played audio's echo taken out of each channel (one canceller each).
    ``heard``: where the played audio was (see :class:`EchoTimes`).

    Blocks without a capture time (a replayed file: it holds no prompts) pass as they are."""
    settings = settings or CancellerSettings()
    cancellers: list[EchoCanceller] = []
    anchor = None   # when sample 0 was captured: blocks are timed by sample count, not by their jittery stamps
    for block in source:
        if block.captured is None:
            yield block
            continue
        if not cancellers:
            cancellers = [EchoCanceller(settings) for _ in range(block.channels)]
        if anchor is None or abs(block.captured - (anchor + block.t0)) > JUMP:
            anchor = block.captured - block.t0   # the first block, or a jump (samples lost in an overflow)
        ref = played.read(anchor + block.t0 + settings.lead, block.frames)
        if heard is not None and ref.any():
            heard.add(block.t0, block.t1)
        if not ref.any() and all(c.idle for c in cancellers):
            yield block     # nothing played for longer than the filter remembers
            continue
        samples = np.stack([c.process(block.samples[:, i], ref) for i, c in enumerate(cancellers)], axis=1)
        yield AudioBlock(block.start, samples.astype(np.float32), block.captured)
