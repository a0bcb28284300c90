"""Shared fixtures: synthetic voices, a fake transcriber, the real model, a PulseAudio null sink."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from imago_voice.synth import espeak_available

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (scripts/setup.sh installs it as root)")


class FakeTranscriber:
    """Records what it was asked to transcribe; answers with a fixed text or a function of the audio."""

    def __init__(self, answer="words", delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.calls: list[int] = []

    def transcribe(self, audio: np.ndarray) -> str:
        self.calls.append(len(audio))
        if self.delay:
            time.sleep(self.delay)
        return self.answer(audio) if callable(self.answer) else self.answer


@pytest.fixture
def fake_transcriber():
    return FakeTranscriber()


@pytest.fixture(scope="session")
def whisper():
    from imago_voice.transcribe import WhisperTranscriber

    return WhisperTranscriber()


def words(text: str | None) -> list[str]:
    return re.findall(r"[a-z']+", (text or "").lower())


def word_recall(reference: str, hypothesis: str | None) -> float:
    ref, hyp = words(reference), set(words(hypothesis))
    return sum(w in hyp for w in ref) / max(len(ref), 1)


@pytest.fixture(scope="session")
def pulse():
    """A private PulseAudio daemon with a null sink; yields the environment for processes that use it."""
    from imago_voice.errors import DeviceError
    from imago_voice.virtual_audio import null_sink, pulse_available

    if not pulse_available():
        pytest.skip("PulseAudio is not installed and could not be (scripts/setup.sh installs it as root)")
    try:
        with null_sink() as env:
            yield env
    except DeviceError as exc:
        pytest.skip(f"PulseAudio could not start here: {exc}")
