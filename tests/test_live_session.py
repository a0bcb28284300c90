"""A simulated couple through the live path: partners and facilitator all play into a PulseAudio null sink.

Two espeak-ng voices answer when the facilitator hands them the floor; the microphone (the sink's
monitor, through PortAudio) hears both the partners and the facilitator. The facilitator's own prompts
must never come back as a turn, and the steps must be those of the replay of the same script.
"""

import json
import subprocess
import sys
import time

import pytest

from imago_voice.demo import DIALOGUE_SCRIPT, DIALOGUE_VOICES, scripted_session
from tests.support.couple import CONSENT_LINES, LiveCouple, session_voice
from tests.conftest import needs_espeak, word_recall

pytestmark = [needs_espeak, pytest.mark.live, pytest.mark.model]

RATE = 170  # words per minute of the prompts: a little brisk, to keep the test short


def test_a_simulated_couple_goes_through_a_whole_dialogue(pulse, tmp_path):
    # a log is kept, so the session first asks each of them whether their words may be kept: both say yes
    script = CONSENT_LINES + DIALOGUE_SCRIPT
    from imago_voice.paths import models_dir

    # a data folder of its own (the first-session notice already given): the couple reads the session's
    # rendered prompts from its cache, to know how long each lasts
    env = dict(pulse, IMAGO_VOICE_DATA=str(tmp_path / "data"), IMAGO_VOICE_MODELS=str(models_dir()))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "first-session-notice-given").write_text("test\n")
    couple = LiveCouple(script, DIALOGUE_VOICES, tmp_path, pulse, renderer=session_voice(env, RATE))
    log = tmp_path / "live.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "imago_voice.cli", "session", "--channel", "Sam=0", "--channel", "Alex=1",
         "--rate", str(RATE), "--log", str(log), "--seconds", "600"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        couple.run(proc.stdout, deadline=time.monotonic() + 900)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    transcript = "\n".join(couple.seen) + f"\n(lines said again when asked again: {couple.repeated})"
    (tmp_path / "transcript.txt").write_text(transcript)
    if proc.returncode != 0:
        pytest.fail(f"the session failed: {proc.stderr.read()}\n{transcript}")
    doc = json.loads(log.read_text())
    # a line the facilitator did not understand ("Sorry, I did not catch that") is said again, as a person
    # would: the turn it was asked again for is left out of the comparison
    heard = [(t["speaker"], t["text"]) for k, t in enumerate(doc["turns"]) if k not in couple.unclear]
    expected = [(line.speaker, line.text) for line in script]
    # every turn is a partner's line, in order, by the right person: the facilitator's own voice never
    # became a turn (a prompt heard as speech would be an extra turn, or a turn with the prompt's words)
    if [w for w, _ in heard] != [w for w, _ in expected] or \
            any(word_recall(line, text) < 0.5 for (_, text), (_, line) in zip(heard, expected)):
        pytest.fail("turns differ from the script:\n" + "\n".join(f"{h}  <->  {e}" for h, e in zip(heard, expected))
                    + f"\n\n{transcript}")
    # the same steps as the replay of the same script
    assert doc["consent"] == {"Sam": True, "Alex": True} and doc["words_kept"] is True
    if [s["step"] for s in doc["steps"]] != ["consent"] + scripted_session().steps:
        pytest.fail(f"steps differ: {[s['step'] for s in doc['steps']]}\n\n{transcript}")
    assert doc["ended"] == "done"
    assert doc["stats"]["input_overflows"] == 0
