"""Shared fixtures: synthetic voices, a fake transcriber, the real model, a PulseAudio null sink.

Tests that run the real Whisper model are marked ``model``, those that play or record through a
PulseAudio null sink ``live``: ``pytest -m "not live and not model"`` is the fast suite.
"""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest

from imago_voice.paths import MODELS_ENV, models_dir

# Tests move the data folder (IMAGO_VOICE_DATA) to keep voiceprints apart; the installed models stay where
# the install step put them, for this process and the programs it starts.
os.environ.setdefault(MODELS_ENV, str(models_dir()))

from imago_voice.facilitator.render import espeak_available

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (scripts/setup.sh installs it as root)")


class FakeTranscriber:
    """Records what it was asked to transcribe; answers with a fixed text or a function of the audio."""

    def __init__(self, answer="words", delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.calls: list[int] = []
        self.short_calls = 0

    def transcribe_short(self, audio: np.ndarray) -> str:
        self.short_calls += 1
        return self.transcribe(audio)

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
    from tests.support.virtual_audio import null_sink, pulse_available

    if not pulse_available():
        pytest.skip("PulseAudio is not installed and could not be (scripts/setup.sh installs it as root)")
    try:
        with null_sink() as env:
            yield env
    except DeviceError as exc:
        pytest.skip(f"PulseAudio could not start here: {exc}")


def collect(loop, source):
    """Run a voice loop over a source: (turns, overlaps flagged, every event), as a consumer sees them."""
    from imago_voice.ledger import Overlap, Turn

    events = list(loop.run(source))
    return ([e for e in events if isinstance(e, Turn)], [e for e in events if isinstance(e, Overlap)], events)


def _refuse(what: str, mark: str):
    def refuse(*args, **kwargs):
        pytest.fail(f"this test uses {what}: mark it @pytest.mark.{mark}, so that the fast suite "
                    f"(pytest -m 'not live and not model') stays fast and needs no model or sound server")
    return refuse


@pytest.fixture(autouse=True)
def _marks_say_what_a_test_uses(request, monkeypatch):
    """A test that loads the real Whisper model must be marked ``model``; one that opens a sound device, ``live``."""
    marks = {m.name for m in request.node.iter_markers()}
    if "model" not in marks:
        import faster_whisper

        monkeypatch.setattr(faster_whisper, "WhisperModel", _refuse("the real Whisper model", "model"))
    if "live" not in marks:
        try:
            import sounddevice
        except OSError:   # no PortAudio: nothing can open a device anyway
            return
        for name in ("InputStream", "OutputStream"):
            monkeypatch.setattr(sounddevice, name, _refuse("a sound device", "live"))
