"""A live session in which one partner says a crisis sentence: the facilitator stops the exercise and the
resources are heard in the room (what played into the PulseAudio sink is recorded and transcribed)."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from imago_voice.demo import DIALOGUE_VOICES
from tests.conftest import needs_espeak
from tests.support.couple import CONSENT_LINES, Line, LiveCouple, session_voice

pytestmark = [needs_espeak, pytest.mark.live, pytest.mark.model]

RATE = 170
SCRIPT = CONSENT_LINES + (
    Line("Sam", "I would like to go first."),
    Line("Sam", "Alex, I would like to talk about our weekends. Is now a good time?"),
    Line("Alex", "Yes, now is a good time."),
    Line("Sam", "Sometimes I think everyone would be better off without me."),
)


def _at_pauses(audio: np.ndarray, rate: int, longest: float = 25.0):
    """(start, end) windows of at most ``longest`` seconds, each cut in the middle of the longest pause in
    its second half (between two prompts, not between two words of one)."""
    frame = int(0.03 * rate)
    level = 10 * np.log10(np.array([np.mean(audio[i:i + frame] ** 2) + 1e-12 for i in range(0, len(audio), frame)]))
    quiet = level < max(float(np.percentile(level, 95)) - 35.0, -70.0)
    start, out = 0, []
    while len(audio) - start > longest * rate:
        lo, hi = (start + int(longest * rate / 2)) // frame, (start + int(longest * rate)) // frame
        best, run, cut = 0, 0, hi
        for k in range(lo, hi):
            run = run + 1 if quiet[k] else 0
            if run > best:
                best, cut = run, k - run // 2
        out.append((start, cut * frame))
        start = cut * frame
    return out + [(start, len(audio))]


def test_a_crisis_sentence_stops_the_session_and_the_resources_are_heard(pulse, tmp_path):
    import soundfile as sf

    from imago_voice.paths import models_dir
    from imago_voice.transcribe import WhisperTranscriber

    log, room = tmp_path / "live.json", tmp_path / "room.wav"
    # a first session in this data folder: the first-session notice is said too (the models stay where they are)
    env = dict(pulse, IMAGO_VOICE_DATA=str(tmp_path / "data"), IMAGO_VOICE_MODELS=str(models_dir()))
    couple = LiveCouple(SCRIPT, DIALOGUE_VOICES, tmp_path, pulse, renderer=session_voice(env, RATE))
    recorder = subprocess.Popen(["parecord", "--device=virt.monitor", "--channels=1", "--rate=16000",
                                 "--file-format=wav", str(room)], env=env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "imago_voice.cli", "session", "--channel", "Sam=0", "--channel", "Alex=1",
         "--rate", str(RATE), "--log", str(log), "--seconds", "150"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        couple.run(proc.stdout, deadline=time.monotonic() + 240)
        proc.wait(timeout=120)
    finally:
        for p in (proc, recorder):
            if p.poll() is None:
                p.terminate()
        recorder.wait(timeout=10)
    transcript = "\n".join(couple.seen)
    if proc.returncode != 0:
        pytest.fail(f"the session failed: {proc.stderr.read()}\n{transcript}")
    doc = json.loads(log.read_text())
    crisis = [e for e in doc["safety"] if e["kind"] == "crisis"]
    assert crisis and crisis[0]["category"] == "self_harm" and crisis[0]["speaker"] == "Sam", transcript
    assert [e["kind"] for e in doc["safety"]][0] == "disclosure"
    assert (tmp_path / "data" / "first-session-notice-given").exists()
    # the facilitator answered at once (the crisis turn's end to the first word of its answer: the turn's
    # end is only known after a second of silence, and it has to be transcribed)
    said = [p for p in doc["prompts"] if p["key"] in ("crisis_named", "crisis")]
    assert said and said[0]["at"] - crisis[0]["at"] < 3.0, (said[:1], crisis)
    assert [p for p in doc["prompts"] if p["step"] == "resources"]
    # and they were heard in the room: what played into the sink, transcribed
    audio, rate = sf.read(room, dtype="float32")
    assert rate == 16000 and len(audio) > 16000
    start = int(max(0.0, crisis[0]["at"] - 1.0) * rate)
    whisper = WhisperTranscriber()
    rest = np.asarray(audio[start:], np.float32)
    # cut at pauses, never through a word (a 20 s window once cut "Suicide and Crisis | Lifeline" in two)
    heard = " ".join(whisper.transcribe(rest[a:b]) for a, b in _at_pauses(rest, rate))
    digits = {"one": "1", "eight": "8", "nine": "9"}
    words = [digits.get(w, w) for w in heard.lower().replace(",", " ").replace(".", " ").replace("-", " ").split()]
    said_as = "".join(words)
    # the numbers must be heard whole: 988, and 911 after "danger" (Piper's voice; with
    # espeak-ng the small model heard only "in 8 8"). The name "Lifeline" is not required: in the room's
    # long windows tiny.en has heard Piper's "Crisis Lifeline" as "crisis, fly, fly" in about one run in
    # three, though it hears it in every clean render (noted in issue 11); "crisis" must be there
    after_danger = said_as.split("danger", 1)[-1]
    assert "crisis" in said_as and "988" in said_as and "911" in after_danger, heard
