"""Which microphone hears a voice first: the time-delay cue for channel attribution.

A voice reaches its wearer's microphone a few milliseconds before anyone else's (10-60 cm against 0.7-2.5
m: 2-7 ms). Levels say the same thing only when the wearer's microphone is much nearer; on microphones
set on a table in front of each person, or in a room that echoes, the levels of the channels come close
and the loudest channel is often the wrong one, while the order of arrival still holds. The delay
between each pair of channels is the peak of their phase-transform cross-correlation (GCC-PHAT, which
whitens the spectrum so the direct path stands out from the reflections), over a short window that ends
at the current frame; the channel that leads every other one is where the voice comes from.

It only makes sense when the channels are sampled together (one audio interface). Channels from separate
devices drift apart; :class:`~imago_voice.speakers.channels.ChannelAttributor` checks the cue against the
levels as the session goes and stops using it when they disagree.
"""

from __future__ import annotations

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE


class ArrivalOrder:
    """Frames of several channels in; per frame, the channel that hears the sound first, or -1."""

    def __init__(self, channels: int, window: int = 1024, max_delay: float = 0.01, min_peak: float = 0.1) -> None:
        self.channels = channels
        self.window = window
        self.max_lag = int(round(max_delay * SAMPLE_RATE))
        self.min_peak = min_peak
        self._buf = np.zeros((window, channels), np.float32)
        self._taper = np.hanning(window).astype(np.float32)[:, None]
        self._pairs = [(a, b) for a in range(channels) for b in range(a + 1, channels)]

    def push(self, frame: np.ndarray) -> None:
        """Add a frame (samples, channels) to the window (cheap; call for every frame)."""
        n = len(frame)
        if n >= self.window:
            self._buf[:] = frame[-self.window:]
        else:
            self._buf[:-n] = self._buf[n:]
            self._buf[-n:] = frame

    def measure(self) -> None:
        """Delays and peak heights of every pair over the window just pushed (``lags``, ``peaks``)."""
        spectra = np.fft.rfft(self._buf * self._taper, 2 * self.window, axis=0)
        m = self.max_lag
        self.lags = np.zeros((self.channels, self.channels), int)
        self.peaks = np.ones((self.channels, self.channels))
        for a, b in self._pairs:
            cross = spectra[:, a] * np.conj(spectra[:, b])
            cross /= np.abs(cross) + 1e-12
            r = np.fft.irfft(cross)
            r = np.concatenate([r[-m:], r[:m + 1]])
            k = int(np.argmax(r))
            self.lags[a, b], self.lags[b, a] = k - m, m - k     # > 0: the first channel hears it later
            self.peaks[a, b] = self.peaks[b, a] = r[k]

    def first(self) -> int:
        """The channel that leads every other one over the window just pushed, or -1 if none clearly does.

        Also leaves ``lags`` and ``peaks`` (how alike two channels are: near 0 for unrelated sounds)."""
        if self.channels < 2:
            return 0
        self.measure()
        if self.peaks.min() < self.min_peak:
            return -1
        leads = (self.lags > 0).sum(axis=0)     # how many channels hear it later than this one
        best = int(np.argmax(leads))
        return best if leads[best] == self.channels - 1 else -1
