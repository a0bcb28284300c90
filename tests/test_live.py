"""The live path for real: audio played into a PulseAudio null sink is what `listen` hears through PortAudio."""

import json
import select
import signal
import subprocess
import sys
import time

import pytest
import soundfile as sf

from tests.support.synth import Line, conversation
from tests.conftest import needs_espeak, word_recall

pytestmark = [needs_espeak, pytest.mark.live, pytest.mark.model]

LINES = [
    Line("Sam", "I would like to talk about our weekend. Is now a good time?", 0),
    Line("Alex", "Yes, now is a good time for me."),
    Line("Sam", "On Saturday I felt lonely in the house."),
]
VOICES = {"Sam": "en+m3", "Alex": "en+f2"}


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    audio, truth = conversation(LINES, VOICES, crosstalk_db=-8.0, lead=0.5)
    path = tmp_path_factory.mktemp("live") / "couple.wav"
    sf.write(path, audio, 16000)
    return path, truth, len(audio) / 16000


def start_listen(env, args):
    cmd = [sys.executable, "-m", "imago_voice.cli", "listen", "--channel", "Sam=0", "--channel", "Alex=1", *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        if ready:
            line = proc.stderr.readline()
            seen += line
            if "Listening" in line:
                return proc
        if proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"listen did not start: {seen}{proc.stderr.read() if proc.stderr else ''}")


def check_turns(doc, truth):
    turns = doc["turns"]
    assert [t["speaker"] for t in turns] == [t.speaker for t in truth], turns
    for got, spoken in zip(turns, truth):
        assert word_recall(spoken.text, got["text"]) >= 0.7, (spoken.text, got["text"])
    # the gaps between turns are heard as they were played (the stream is paced in real time)
    for k in range(1, len(truth)):
        heard = turns[k]["start"] - turns[0]["start"]
        played = truth[k].start - truth[0].start
        assert heard == pytest.approx(played, abs=0.35)


def test_listen_hears_a_couple_through_the_null_sink(pulse, recording, tmp_path):
    path, truth, duration = recording
    out = tmp_path / "live.json"
    proc = start_listen(pulse, ["--seconds", f"{duration + 4:.1f}", "--json", str(out)])
    subprocess.run(["paplay", str(path)], env=pulse, check=True, timeout=60)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    check_turns(json.loads(out.read_text()), truth)
    assert "share" in stdout
    assert "input overflows" not in stdout


def test_ctrl_c_ends_listening_with_the_balance(pulse, recording, tmp_path):
    path, truth, _ = recording
    out = tmp_path / "live.json"
    proc = start_listen(pulse, ["--json", str(out)])
    subprocess.run(["paplay", str(path)], env=pulse, check=True, timeout=60)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    doc = json.loads(out.read_text())
    check_turns(doc, truth)
    assert doc["balance"]["Sam"]["turns"] == 2
