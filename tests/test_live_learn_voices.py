"""A shared microphone, live, with nobody enrolled: a simulated couple (two espeak-ng voices) plays into one
PulseAudio sink that the microphone hears, as on a laptop. The session asks each of them for a sentence,
learns their voices from it, stores them after their yes, and tells them apart for the rest."""

import json
import subprocess
import sys
import time

import pytest

from imago_voice.demo import DIALOGUE_SCRIPT, DIALOGUE_VOICES
from tests.conftest import needs_espeak
from tests.support.couple import CONSENT_LINES, LiveCouple, session_voice
from tests.test_learn_voices import SAMPLES

pytestmark = [needs_espeak, pytest.mark.live, pytest.mark.model]

RATE = 170


def test_a_shared_microphone_session_learns_both_voices_and_tells_them_apart(pulse, tmp_path):
    from imago_voice.paths import models_dir

    data = tmp_path / "data"
    data.mkdir()
    (data / "first-session-notice-given").write_text("test\n")
    env = dict(pulse, IMAGO_VOICE_DATA=str(data), IMAGO_VOICE_MODELS=str(models_dir()))
    script = CONSENT_LINES + SAMPLES + DIALOGUE_SCRIPT
    # one microphone: both voices reach it alike (no channel of their own)
    couple = LiveCouple(script, DIALOGUE_VOICES, tmp_path, pulse, renderer=session_voice(env, RATE), crosstalk_db=0.0)
    log = tmp_path / "live.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "imago_voice.cli", "session", "--names", "Sam,Alex", "--rate", str(RATE),
         "--log", str(log), "--seconds", "600"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        couple.run(proc.stdout, deadline=time.monotonic() + 900)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    transcript = "\n".join(couple.seen)
    if proc.returncode != 0:
        pytest.fail(f"the session failed: {proc.stderr.read()}\n{transcript}")
    doc = json.loads(log.read_text())
    learned = doc.get("voices_learned", [])
    assert [(v["person"], v["stored"]) for v in learned] == [("Sam", True), ("Alex", True)], transcript
    assert len(list((data / "voiceprints").glob("*.json"))) == 2   # kept for next time, after their yes
    assert doc["ended"] == "done", transcript
    # after the consent answers and the two samples: who spoke, turn by turn, against the script
    rest = [t for k, t in enumerate(doc["turns"]) if k not in couple.unclear][len(CONSENT_LINES) + len(SAMPLES):]
    expected = [line.speaker for line in DIALOGUE_SCRIPT]
    right = sum(t["speaker"] == e for t, e in zip(rest, expected))
    assert len(rest) == len(expected) and right / len(expected) >= 0.95, \
        "\n".join(f"{t['speaker']}: {t['text']}  <->  {e}" for t, e in zip(rest, expected)) + "\n\n" + transcript
