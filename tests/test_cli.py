"""The command line: bad input is one plain line and a non-zero exit, never a traceback."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from imago_voice.cli import main
from tests.conftest import needs_espeak

CASES = [
    (lambda d: ["analyze", str(d / "missing.wav")], "no such file", 1),
    (lambda d: ["analyze", str(d / "empty.wav")], "is empty", 1),
    (lambda d: ["analyze", str(d / "text.wav")], "not an audio file", 1),
    (lambda d: ["analyze", str(d / "stereo.wav"), "--channel", "Sam=0", "--channel", "Kim=5"], "asks for channel 5", 1),
    (lambda d: ["analyze", str(d / "stereo.wav"), "--channel", "Sam"], "NAME=INDEX", 2),
    (lambda d: ["analyze", str(d / "stereo.wav"), "--channel", "Sam=0", "--channel", "Sam=1"], "twice", 2),
    (lambda d: ["analyze", str(d / "stereo.wav"), "--model", str(d / "nomodel")], "No model at", 1),
    (lambda d: ["analyze", str(d / "stereo.wav"), "--end-silence", "0.1"], "end-silence", 2),
    (lambda d: ["analyze"], "required", 2),
    (lambda d: ["frobnicate"], "invalid choice", 2),
    (lambda d: ["listen", "--seconds", "-3"], "positive", 2),
]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("hello, I am a text file\n")
    sf.write(tmp_path / "stereo.wav", np.zeros((16000, 2), np.float32), 16000)
    return tmp_path


@pytest.mark.parametrize("make_args, message, code", CASES)
def test_bad_input_is_one_plain_line(files, capsys, make_args, message, code):
    assert main(make_args(files)) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("imago-voice: ")
    assert message in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_console_script_exit_code(files):
    run = subprocess.run([sys.executable, "-m", "imago_voice.cli", "analyze", str(files / "text.wav")],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip() == f"imago-voice: {files / 'text.wav'} is not an audio file this program can read."


def test_silence_gives_no_turns_and_an_empty_ledger(files, capsys):
    assert main(["analyze", str(files / "stereo.wav"), "--no-transcript", "--channel", "A=0", "--channel", "B=1",
                 "--json", str(files / "out.json")]) == 0
    import json

    doc = json.loads((files / "out.json").read_text())
    assert doc["turns"] == [] and doc["participants"] == ["A", "B"]
    assert doc["balance"]["A"]["seconds"] == 0.0
    assert doc["duration"] == pytest.approx(1.0)


def test_doctor_says_what_is_missing_and_its_exit_code_says_whether_anything_needed_is(capsys, monkeypatch):
    from imago_voice.cli import doctor

    checks = [doctor.Check("PortAudio", True, "V19"),
              doctor.Check("espeak-ng", False, "the speech synthesizer is not installed", "apt-get install espeak-ng"),
              doctor.Check("microphone", False, "no input device found", "plug one in", required=False)]
    monkeypatch.setattr(doctor, "run_checks", lambda: checks)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "[missing] espeak-ng" in out and "fix: apt-get install espeak-ng" in out
    assert "[note   ] microphone" in out and "Something needed is missing" in out
    monkeypatch.setattr(doctor, "run_checks", lambda: [checks[0], checks[2]])   # only an optional one missing
    assert main(["doctor"]) == 0
    assert "All set." in capsys.readouterr().out


@needs_espeak
def test_doctor_finds_nothing_needed_missing_after_the_setup(capsys):
    # scripts/setup.sh installs everything doctor calls required: PortAudio, espeak-ng, webrtcvad, a model
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "speech model" in out and "PortAudio" in out and "data folder" in out
    assert main(["devices"]) == 0
