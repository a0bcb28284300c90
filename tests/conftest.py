"""Shared fixtures: synthetic voices, a fake transcriber, the real model, a PulseAudio null sink."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from imago_voice.synth import espeak_available

ROOT = Path(__file__).resolve().parent.parent

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
    """A private PulseAudio daemon with a null sink ``virt``; its monitor is the default source.

    Yields the environment (PULSE_SERVER) to give to processes that should use it.
    """
    if not shutil.which("pulseaudio") or not shutil.which("pactl") or not shutil.which("paplay"):
        pytest.skip("PulseAudio is not installed and could not be (scripts/setup.sh installs it as root)")
    runtime = Path(tempfile.mkdtemp(prefix="imago-pulse-"))
    socket = runtime / "native"
    env = dict(os.environ, PULSE_RUNTIME_PATH=str(runtime), PULSE_SERVER=f"unix:{socket}")
    env.pop("PULSE_SINK", None)
    env.pop("PULSE_SOURCE", None)
    log = open(runtime / "log", "w")
    proc = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "--use-pid-file=no", "--disallow-exit",
         "--load=module-null-sink sink_name=virt",
         f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if proc.poll() is not None:
                break
            if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail("PulseAudio did not start: " + (runtime / "log").read_text())
        if proc.poll() is not None:
            pytest.skip("PulseAudio could not start here: " + (runtime / "log").read_text()[-300:])
        subprocess.run(["pactl", "set-default-sink", "virt"], env=env, check=True)
        subprocess.run(["pactl", "set-default-source", "virt.monitor"], env=env, check=True)
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(runtime, ignore_errors=True)
