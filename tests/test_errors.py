"""One error family: failures below the command line are typed imago-voice errors, and the command line
turns each into one plain line and a non-zero exit."""

import os
import stat

import numpy as np
import pytest

from imago_voice.cli import main
from imago_voice.errors import (
    ImagoError,
    ModelError,
    OutputError,
    SettingsError,
    SynthesisError,
    UsageError,
    VoiceprintError,
)


def test_the_family():
    assert issubclass(UsageError, SettingsError) and issubclass(SettingsError, ImagoError)
    assert SettingsError.exit_code == UsageError.exit_code == 2
    for cls in (ModelError, OutputError, SynthesisError, VoiceprintError):
        assert issubclass(cls, ImagoError) and cls.exit_code == 1


def test_a_failing_synthesizer_is_a_synthesis_error(tmp_path, monkeypatch):
    from imago_voice.facilitator.render import EspeakNgRenderer

    broken = tmp_path / "espeak-ng"
    broken.write_text("#!/bin/sh\necho 'espeak-ng: no voice found for xx' >&2\nexit 1\n")
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    renderer = EspeakNgRenderer(voice="xx")
    with pytest.raises(SynthesisError, match="no voice found for xx"):
        renderer.render("Hello.")
    silent = tmp_path / "bin2"
    silent.mkdir()
    (silent / "espeak-ng").write_text("#!/bin/sh\nexit 0\n")     # says it worked, wrote nothing
    (silent / "espeak-ng").chmod(0o755)
    monkeypatch.setenv("PATH", f"{silent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(SynthesisError, match="no usable audio"):
        EspeakNgRenderer().render("Hello.")


def test_writing_where_nothing_can_be_written_is_an_output_error(tmp_path):
    from imago_voice.audio.files import write_audio
    from imago_voice.output import write_json

    with pytest.raises(OutputError, match="Could not write"):
        write_audio(tmp_path / "no" / "such" / "dir.wav", np.zeros(160, np.float32))
    with pytest.raises(OutputError, match="Could not write"):
        write_json(tmp_path, {"a": 1})


def test_networks_give_typed_errors_for_bad_input():
    from imago_voice.speakers.encoder import SpeakerEncoder
    from imago_voice.speakers.overlap import OverlapDetector

    from tests.support.speakers import random_encoder_weights

    weights = random_encoder_weights(np.random.default_rng(0))
    with pytest.raises(VoiceprintError):
        SpeakerEncoder(weights=weights).embed_mels(np.zeros((1, 10, 13), np.float32))
    with pytest.raises(SettingsError):
        OverlapDetector(window_step=0)


@pytest.mark.parametrize("make_args, message", [
    (lambda d: ["demo", "--out", str(d / "file.txt" / "demo")], "Could not make the folder"),
    (lambda d: ["analyze", str(d / "x.wav"), "--no-transcript", "--json", str(d / "no" / "out.json")], "Could not write"),
])
def test_the_command_line_says_one_plain_line(tmp_path, capsys, make_args, message):
    from imago_voice.audio.files import write_audio

    (tmp_path / "file.txt").write_text("a file, not a folder\n")
    write_audio(tmp_path / "x.wav", np.zeros(16000, np.float32))
    assert main(make_args(tmp_path)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("imago-voice: ") and message in err and len(err.splitlines()) == 1


def test_a_second_ctrl_c_stops_listening_at_once():
    from imago_voice.cli.common import Interrupts

    class Source:
        stopped = 0

        def stop(self):
            self.stopped += 1

    source = Source()
    handler = Interrupts(source)
    handler()                                  # the first press: stop listening, finish what was heard
    assert source.stopped == 1
    with pytest.raises(KeyboardInterrupt):     # the second: stop now
        handler()


def test_a_prompts_folder_without_the_language_is_one_plain_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IMAGO_VOICE_PROMPTS", str(tmp_path))
    assert main(["session", "--input", str(tmp_path / "x.wav"), "--names", "A,B"]) == 1
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "no prompts for the language 'en'" in err and len(err.splitlines()) == 1
