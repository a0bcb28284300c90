"""One shared microphone and nobody enrolled: the session learns each voice from a sentence said when asked,
then tells the two apart for the rest of the dialogue (a scripted couple, replayed through the real loop)."""

import json

import numpy as np
import pytest
import soundfile as sf

from imago_voice.cli import main
from imago_voice.demo import DIALOGUE_SCRIPT, DIALOGUE_VOICES, Line, scripted_session
from imago_voice.protocol import EngineSettings
from imago_voice.speakers.store import list_stored
from tests.conftest import needs_espeak

pytestmark = needs_espeak

SAMPLES = (
    Line("Sam", "My name is Sam. Today I worked in the garden, and then I fixed the old fence by the gate."),
    Line("Alex", "I am Alex. Today I went to the market early, and I cooked a big soup for the whole week."),
)


def _shared_microphone(tmp_path):
    made = scripted_session(SAMPLES + DIALOGUE_SCRIPT, DIALOGUE_VOICES,
                            settings=EngineSettings(learn_voices=("Sam", "Alex")))
    mono = made.audio.mean(axis=1)              # one microphone in the middle of the room
    wav = tmp_path / "shared.wav"
    sf.write(wav, mono, 16000)
    return made, wav


@pytest.mark.model
def test_voices_learned_by_voice_tell_the_couple_apart(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IMAGO_VOICE_DATA", str(tmp_path / "data"))
    made, wav = _shared_microphone(tmp_path)
    log = tmp_path / "s.json"
    assert main(["session", "--input", str(wav), "--names", "Sam,Alex", "--learn-voices", "--log", str(log),
                 "--guide", "full"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(log.read_text())
    assert [v["person"] for v in doc["voices_learned"]] == ["Sam", "Alex"], out
    assert all(v["seconds"] >= 2.0 and not v["stored"] for v in doc["voices_learned"])   # no consent: not kept
    assert list_stored() == []                  # nothing of their voices is left on disk
    assert [s["step"] for s in doc["steps"]] == made.steps, out
    assert doc["ended"] == "done"
    # after the samples, who spoke: by time, against the script's truth
    truth = made.truth[len(SAMPLES):]
    talk = {t["start"]: t for t in doc["turns"]}
    right = total = 0.0
    for said in truth:
        for t in talk.values():
            overlap = min(said.end, t["end"]) - max(said.start, t["start"])
            if overlap > 0:
                total += overlap
                right += overlap if t["speaker"] == said.speaker else 0.0
    assert total > 0.8 * sum(s.end - s.start for s in truth)
    print(f"attributed by time: {right / total:.1%} of {total:.0f} s")
    assert right / total >= 0.95, [(t["speaker"], t["text"]) for t in doc["turns"]]
    assert "could not tell your voices apart" not in out
    assert doc["balance_by_role"]["Sam"]["sender"] > 0 and doc["balance_by_role"]["Alex"]["sender"] > 0


@pytest.mark.parametrize("keep", [True, False])
def test_a_learned_voice_is_stored_only_after_a_yes_and_known_next_time(tmp_path, monkeypatch, keep):
    """The session's part (no Whisper needed): the sample's voiceprint goes to the loop at once, and to the
    store only when that person said yes; next time a stored voice is recognised and not asked for again."""
    from imago_voice.cli.session import _voices_to_learn
    from imago_voice.demo import speak
    from imago_voice.facilitator.session import Session
    from imago_voice.protocol import Engine, LearnVoice, load_prompts

    monkeypatch.setenv("IMAGO_VOICE_DATA", str(tmp_path / "data"))
    sample = speak(SAMPLES[0].text, DIALOGUE_VOICES["Sam"])

    class History:
        def cut(self, t0, t1, channel):
            return sample[int(t0 * 16000):int(t1 * 16000)]

    class Loop:
        history, learned = History(), []

        def learn_voice(self, vp):
            self.learned.append(vp)

    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"))
    session = Session(engine, Loop())
    session._carry_out([LearnVoice(1.0, "Sam", 0.0, len(sample) / 16000, keep)], at=1.0)
    assert [vp.name for vp in session.loop.learned] == ["Sam"]
    assert [(v.person, v.stored) for v in session.record.voices] == [("Sam", keep)]
    assert list_stored() == (["Sam"] if keep else [])

    class Args:
        enroll, input, learn_voices = [], None, None

    args = Args()
    # next time: Sam's stored voice is known (no sample asked for), Alex's is learned
    assert _voices_to_learn(args, None, ["Sam", "Alex"]) == (("Alex",) if keep else ("Sam", "Alex"))
    assert (getattr(args, "identifier", None) is not None) == keep


def test_a_sample_too_short_for_a_voiceprint_is_said_and_the_session_goes_on(tmp_path, monkeypatch):
    from imago_voice.facilitator.session import Session
    from imago_voice.protocol import Engine, LearnVoice, load_prompts

    monkeypatch.setenv("IMAGO_VOICE_DATA", str(tmp_path / "data"))

    class History:
        def cut(self, t0, t1, channel):
            return np.zeros(int((t1 - t0) * 16000), np.float32)   # silence: no speech at all

    class Loop:
        history = History()

        def learn_voice(self, vp):
            raise AssertionError("no voiceprint from silence")

    lines = []
    session = Session(Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue")), Loop(), on_line=lines.append)
    session._carry_out([LearnVoice(1.0, "Sam", 0.0, 3.0, True)], at=1.0)
    assert session.record.voices[0].error and not session.record.voices[0].stored
    assert any("could not learn Sam's voice" in line for line in lines) and list_stored() == []
