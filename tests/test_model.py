"""The real Whisper model end to end: synthesized voices on two channels with crosstalk through `analyze`."""

import json

import pytest
import soundfile as sf

from imago_voice.cli import main
from imago_voice.ledger import Turn
from imago_voice.loop import VoiceLoop
from imago_voice.audio.sources import FileSource
from tests.support.synth import Line, conversation
from tests.conftest import needs_espeak, word_recall

pytestmark = [needs_espeak, pytest.mark.model]

LINES = [
    Line("Sam", "I would like to talk about our weekend. Is now a good time?", 0),
    Line("Alex", "Yes, now is a good time for me."),
    Line("Sam", "On Saturday you worked all day, and I felt lonely in the house."),
    Line("Alex", "If I got it, you felt lonely on Saturday. Did I get it?"),
]
VOICES = {"Sam": "en+m3", "Alex": "en+f2"}


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    audio, truth = conversation(LINES, VOICES, crosstalk_db=-8.0)
    path = tmp_path_factory.mktemp("rec") / "couple.wav"
    sf.write(path, audio, 16000)
    return path, truth


def test_analyze_names_and_transcribes_each_turn(recording, capsys):
    path, truth = recording
    out_json = path.with_suffix(".json")
    assert main(["analyze", str(path), "--channel", "Sam=0", "--channel", "Alex=1", "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    doc = json.loads(out_json.read_text())
    assert doc["audio"] == str(path) and doc["participants"] == ["Sam", "Alex"]
    assert [t["speaker"] for t in doc["turns"]] == [t.speaker for t in truth]
    for got, spoken in zip(doc["turns"], truth):
        assert word_recall(spoken.text, got["text"]) >= 0.7, (spoken.text, got["text"])
        assert got["start"] <= spoken.start + 0.1 and got["end"] >= spoken.end - 0.3
        assert got["text"] in printed
    bal = doc["balance"]
    assert set(bal) == {"Sam", "Alex"}
    assert bal["Sam"]["turns"] == 2 and bal["Alex"]["turns"] == 2
    assert bal["Sam"]["share"] + bal["Alex"]["share"] == pytest.approx(1.0, abs=1e-3)
    assert set(bal["Sam"]) >= {"seconds", "share", "turns", "longest", "interruptions"}
    assert doc["overlaps"] == []
    assert "Sam" in printed and "share" in printed


def test_mono_recording_is_transcribed_with_no_names(recording, whisper):
    path, truth = recording
    data = FileSource(path).data.mean(axis=1, keepdims=True)
    loop = VoiceLoop(transcriber=whisper)
    turns = [e for e in loop.run(FileSource("mem.wav", data=data)) if isinstance(e, Turn)]
    assert len(turns) == len(truth)
    assert all(t.speaker is None for t in turns)
    for got, spoken in zip(turns, truth):
        assert word_recall(spoken.text, got.text) >= 0.7


def test_explicit_model_folder(recording, capsys, whisper):
    path, _ = recording
    assert main(["analyze", str(path), "--model", str(whisper.path), "--channel", "Sam=0", "--channel", "Alex=1"]) == 0
    assert "lonely" in capsys.readouterr().out


@pytest.mark.parametrize("said,command", [("Stop.", "stop"), ("Wait.", "wait"), ("Time out.", "pause"),
                                          ("Hold on.", "wait"), ("Yes, I am ready.", None)])
def test_a_command_is_heard_quickly_the_short_way(whisper, said, command):
    """transcribe_short (the encoder hears 10 s, not 30; greedy) gives a command the same reading as the
    full pass, several times sooner (timings are in BENCHMARKS.md, not here)."""
    import numpy as np

    from imago_voice.protocol.intents import load_vocabulary, recognize_command
    from tests.support.synth import speak

    clip = np.concatenate([np.zeros(3200, np.float32), speak(said, "en+m3"), np.zeros(1600, np.float32)])
    vocab = load_vocabulary("en")
    quick = whisper.transcribe_short(clip)
    assert recognize_command(quick, vocab, over_prompt=True) == command, quick
    assert recognize_command(whisper.transcribe(clip), vocab, over_prompt=True) == command

