"""The facilitated session: echo filter, prompt mix, and a replay of a scripted dialogue (real model)."""

import json

import numpy as np
import pytest
import soundfile as sf

from imago_voice.cli import main
from imago_voice.session import is_echo, mix_prompts
from tests.conftest import needs_espeak


@pytest.mark.parametrize("text, expect", [
    ("Sam, please say back what you heard.", True),
    ("please say back what you heard", True),
    ("say back what", False),              # a fragment this short could be anybody's
    ("If I got it, you feel lonely on Saturdays.", False),
    ("Yes.", False),                       # too short to judge: never discarded
    ("", False),
    ("Damn, you go first.", False),        # an answer uses the prompt's words, not its sentence
    ("Who would like to speak first?", True),
])
def test_is_echo(text, expect):
    prompts = ["Sam, please say back what you heard. Use your own words.", "Is now a good time?",
               "Who would like to speak first? Just say: I will go first."]
    assert is_echo(text, prompts) is expect


def test_mix_prompts_adds_each_prompt_at_its_time_on_every_channel():
    rec = np.zeros((16000, 2), np.float32)
    out = mix_prompts(rec, [(0.5, np.ones(4000, np.float32) * 0.5), (0.9, np.ones(16000, np.float32) * 0.5)], gain=1.0)
    assert out.shape == (int(0.9 * 16000) + 16000, 2)   # grown to hold the last prompt
    assert out[8000, 0] == pytest.approx(0.5) and out[8000, 1] == pytest.approx(0.5)
    assert out[7999, 0] == 0.0
    assert out[14400 + 100, 1] == pytest.approx(0.5)


def test_session_needs_names(capsys):
    assert main(["session", "--input", "x.wav"]) == 2
    assert "--names" in capsys.readouterr().err


@needs_espeak
@pytest.mark.model
def test_replay_of_a_scripted_dialogue_follows_every_step(tmp_path, capsys):
    from imago_voice.simulate import DIALOGUE_SCRIPT, scripted_session

    made = scripted_session()
    wav, log, mixed = tmp_path / "s.wav", tmp_path / "s.json", tmp_path / "mix.wav"
    sf.write(wav, made.audio, 16000)
    assert main(["session", "--input", str(wav), "--channel", "Sam=0", "--channel", "Alex=1", "--log", str(log),
                 "--prompts-wav", str(mixed)]) == 0
    out = capsys.readouterr().out
    doc = json.loads(log.read_text())
    assert [s["step"] for s in doc["steps"]] == made.steps
    assert doc["ended"] == "done" and doc["exercise"] == "dialogue"
    assert "switch" in made.steps and made.steps[-1] == "close"
    senders = {s["sender"] for s in doc["steps"] if s["step"] == "send"}
    assert senders == {"Sam", "Alex"}                          # both had the sender role
    assert [t["speaker"] for t in doc["turns"]] == [line.speaker for line in DIALOGUE_SCRIPT]
    assert len(doc["mirrors"]) == 3 and all(0 <= m["fidelity"] <= 1 for m in doc["mirrors"])
    assert all(set(p) == {"at", "step", "to", "text"} for p in doc["prompts"])
    # prompts come at the moments the engine would have spoken them, as when the recording was made
    made_at = [at for at, _ in made.prompts]
    logged = [p["at"] for p in doc["prompts"]]
    assert len(logged) == len(made_at)
    assert np.max(np.abs(np.array(logged) - np.array(made_at))) < 1.0
    assert set(doc["balance_by_role"]) == {"Sam", "Alex"}
    assert doc["balance_by_role"]["Sam"]["sender"] > 0 and doc["balance_by_role"]["Sam"]["receiver"] > 0
    assert "Thank you for listening to each other" in out
    mix, _ = sf.read(mixed)
    assert mix.shape[1] == 2 and len(mix) >= len(made.audio)


def test_silent_mode_keys_steer_the_engine_and_the_status_line_shows_the_state():
    import queue

    from imago_voice.console import KEYS, status_line
    from imago_voice.pipeline import LoopSettings, VoiceLoop
    from imago_voice.protocol import Engine, load_prompts
    from imago_voice.session import Session
    from imago_voice.sources import FileSource

    keys = queue.Queue()
    for command in ("next", "next"):          # the facilitator skips the opening and the appointment
        keys.put(command)
    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"))
    shown = []
    session = Session(engine, VoiceLoop(settings=LoopSettings(tick=0.5)), keys=keys,
                      on_tick=lambda snap, at: shown.append(status_line(snap, at)))
    session.run(FileSource("quiet.wav", data=np.zeros((16000 * 3, 1), np.float32)))
    steps = [s.step for s in engine.steps]
    assert steps[:3] == ["opening", "appointment", "send"]
    assert any("step send (Sam -> Alex)" in line for line in shown), shown[-1]
    assert "floor: Sam" in shown[-1]
    assert set(KEYS.values()) >= {"next", "back", "pause", "resume", "stop"}


@needs_espeak
@pytest.mark.parametrize("answers, kept", [(("Yes, you may.", "Yes, fine."), True), (("Yes, you may.", "No, I'd rather not."), False)])
def test_words_are_logged_only_when_everyone_said_yes(answers, kept):
    from imago_voice.pipeline import LoopSettings, VoiceLoop
    from imago_voice.protocol import Engine, EngineSettings, load_prompts
    from imago_voice.session import Session
    from imago_voice.sources import FileSource
    from imago_voice.synth import Line, conversation
    from tests.conftest import FakeTranscriber

    said = [*answers, "I would like to go first.", "Alex, is now a good time to talk?"]
    lines = [Line("Sam", said[0], 0.5), Line("Alex", said[1], 2.0), Line("Sam", said[2], 2.0), Line("Sam", said[3], 2.0)]
    audio, _ = conversation(lines, {"Sam": "en+m3", "Alex": "en+f2"})
    replies = iter(said)
    loop = VoiceLoop(transcriber=FakeTranscriber(lambda audio: next(replies)), settings=LoopSettings(tick=0.5))
    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"), EngineSettings(ask_consent=True))
    lines_out = []
    session = Session(engine, loop, on_line=lines_out.append)
    session.run(FileSource("mem.wav", data=audio.mean(axis=1, keepdims=True)))
    doc = session.log_dict("mem.wav", len(audio) / 16000, "dialogue")
    assert [s["step"] for s in doc["steps"]][:3] == ["consent", "opening", "appointment"]
    assert doc["consent"] == {"Sam": True, "Alex": kept} and doc["words_kept"] is kept
    assert len(doc["turns"]) == 4
    texts = [t["text"] for t in doc["turns"]]
    assert texts == (said if kept else [None] * 4)
    assert all(t["end"] > t["start"] for t in doc["turns"])     # the times are kept either way
    assert sum(doc["balance_by_role"]["Sam"].values()) > 0
    assert any("consent: Alex" in line for line in lines_out)
