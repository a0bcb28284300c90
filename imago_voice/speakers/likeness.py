"""Whether one microphone carries another's sound: how alike the spectra of two channels are in a frame.

Crosstalk is the dominant voice again, coloured by the room: the shape of its spectrum (which bands are
loud, which are quiet) follows the dominant channel's. A second person's own voice has other formants
and another pitch. So the correlation of two channels' log band levels is high for crosstalk (in
simulated rooms: 5th percentile 0.5, median 0.85) and low where a channel carries a voice of its own
that the others do not (a median of 0.07 on the real two-microphone recording in ../shared, whose
channels share no crosstalk at all). It is a cue for "someone else is talking too" that needs no
calibration; the levels are the other one.
"""

from __future__ import annotations

import numpy as np

_FFT = 512
# 20 log-spaced bands from ~190 Hz to 4 kHz, in 512-point FFT bins at 16 kHz
_EDGES = np.unique(np.round(np.geomspace(6, 128, 21)).astype(int))


def band_levels(frame: np.ndarray) -> np.ndarray:
    """(bands, channels) log band energies of one frame (samples, channels)."""
    taper = np.hanning(len(frame)).astype(np.float32)[:, None]
    power = np.abs(np.fft.rfft(frame * taper, _FFT, axis=0)) ** 2
    lo = _EDGES[0]
    return np.log(np.add.reduceat(power[lo:_EDGES[-1]], _EDGES[:-1] - lo, axis=0) + 1e-10)


def likeness(bands: np.ndarray, a: int, b: int) -> float:
    """Correlation (-1..1) of channels ``a`` and ``b``'s band levels from :func:`band_levels`."""
    x = bands[:, a] - bands[:, a].mean()
    y = bands[:, b] - bands[:, b].mean()
    return float(x @ y / (np.sqrt((x @ x) * (y @ y)) + 1e-12))
