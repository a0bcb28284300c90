"""A small simulated room for self-contained tests: voices reach every microphone through the room.

:func:`in_room` takes each person's dry voice (one column each) and returns what microphones placed in a
reverberant shoebox room record (pyroomacoustics' image-source method), with self-noise per microphone.
Unlike :func:`tests.support.synth.microphones` (fixed-gain crosstalk), the crosstalk here is smeared in
time, and its level and delay follow from where people sit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import fftconvolve

from imago_voice.audio.blocks import SAMPLE_RATE

ROOM = (5.0, 4.0, 2.6)


def in_room(dry: np.ndarray, mouths: Sequence[Sequence[float]], mics: Sequence[Sequence[float]], *,
            rt60: float = 0.45, dims: Sequence[float] = ROOM, gains_db: Sequence[float] | None = None,
            noise_db: float = -66.0, seed: int = 0, max_order: int | None = None) -> np.ndarray:
    """``dry``: (samples, people). Returns (samples, microphones) float32; the first microphone's peak near -6 dBFS
    for a person at 0 dB (``gains_db``: each person's level)."""
    import pyroomacoustics as pra

    absorption, order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(list(dims), fs=SAMPLE_RATE, materials=pra.Material(absorption),
                       max_order=min(order, max_order) if max_order else order)
    for m in mouths:
        room.add_source(list(m))
    room.add_microphone_array(np.asarray(mics, float).T)
    room.compute_rir()
    n = dry.shape[0]
    out = np.zeros((n, len(mics)), np.float32)
    gains = [10 ** (g / 20) for g in (gains_db or [0.0] * dry.shape[1])]
    for m in range(len(mics)):
        for p in range(dry.shape[1]):
            out[:, m] += gains[p] * fftconvolve(dry[:, p], room.rir[m][p])[:n].astype(np.float32)
    out *= 10 ** (-6 / 20) / (np.abs(out).max() + 1e-12)
    out += np.random.default_rng(seed).normal(0, 10 ** (noise_db / 20), out.shape).astype(np.float32)
    return np.clip(out, -1, 1)


def seated(people: int, *, radius: float = 0.8, centre=(2.5, 2.0), height: float = 1.2) -> list[list[float]]:
    """Mouth positions of ``people`` round a table."""
    angles = np.arange(people) * 2 * np.pi / people + 0.3
    return [[centre[0] + radius * np.cos(a), centre[1] + radius * np.sin(a), height] for a in angles]


def lapel(mouths: Sequence[Sequence[float]], drop: float = 0.2) -> list[list[float]]:
    """A lapel microphone ``drop`` metres below each mouth."""
    return [[m[0], m[1], m[2] - drop] for m in mouths]


def on_table(mouths: Sequence[Sequence[float]], centre=(2.5, 2.0), reach: float = 0.35) -> list[list[float]]:
    """A microphone on the table in front of each person (``reach`` towards the centre, at 0.75 m)."""
    out = []
    for m in mouths:
        d = np.array(centre) - np.array(m[:2])
        d /= np.linalg.norm(d)
        out.append([m[0] + reach * d[0], m[1] + reach * d[1], 0.75])
    return out
