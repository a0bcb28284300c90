"""A turn's loudness (issue 10: a raised voice is one of the escalation cues)."""

from __future__ import annotations

import numpy as np
import pytest

from imago_voice.audio.loudness import speech_level


def _voice(seconds: float, amplitude: float, pauses: float = 0.0, seed: int = 0) -> np.ndarray:
    """Noise bursts shaped like syllables (4 per second), with ``pauses`` of the time silent."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    x = rng.standard_normal(n) * amplitude
    syllable = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) * 4 / 16000)
    x *= syllable
    if pauses:
        x[int(n * (1 - pauses)):] = 0.0
    return x.astype(np.float32)


def test_the_level_follows_the_gain():
    quiet, loud = speech_level(_voice(3, 0.01)), speech_level(_voice(3, 0.1))
    assert loud - quiet == pytest.approx(20.0, abs=0.01)


def test_pauses_and_a_silent_tail_do_not_lower_it():
    whole = speech_level(_voice(4, 0.05))
    with_pause = speech_level(_voice(4, 0.05, pauses=0.4))
    assert abs(whole - with_pause) < 1.0


def test_one_bump_does_not_raise_it():
    x = _voice(4, 0.02)
    bumped = x.copy()
    bumped[16000:16000 + 480] = 0.9     # one 30 ms knock
    assert abs(speech_level(bumped) - speech_level(x)) < 0.5


def test_too_short_or_silent():
    assert speech_level(_voice(0.3, 0.1)) is None
    assert speech_level(np.zeros(16000, np.float32)) == pytest.approx(-100.0)
