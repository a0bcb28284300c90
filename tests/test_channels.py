import numpy as np
import pytest

from imago_voice.speakers.channels import ChannelMap
from imago_voice.errors import AudioInputError, SettingsError
from imago_voice.ledger import balance, overlaps
from imago_voice.loop import VoiceLoop
from tests.support.scoring import attribution, share_error
from imago_voice.audio.sources import FileSource
from tests.support.synth import Line, conversation
from tests.conftest import collect, needs_espeak


@pytest.mark.parametrize("specs, names, indices", [
    (["Sam=0", "Alex=1"], ("Sam", "Alex"), (0, 1)),
    ([" Mary Ann = 3 "], ("Mary Ann",), (3,)),
])
def test_parse(specs, names, indices):
    m = ChannelMap.parse(specs)
    assert m.names == names and m.indices == indices
    assert m.width == max(indices) + 1


@pytest.mark.parametrize("specs, message", [
    (["Sam"], "NAME=INDEX"), (["=1"], "NAME=INDEX"), (["Sam=x"], "NAME=INDEX"), (["Sam=-1"], "NAME=INDEX"),
    (["Sam=0", "Sam=1"], "twice"), (["Sam=0", "Alex=0"], "two people"),
])
def test_malformed_channel_specs(specs, message):
    with pytest.raises(SettingsError, match=message):
        ChannelMap.parse(specs)


def test_channel_beyond_the_file():
    with pytest.raises(AudioInputError, match="has 2 channels"):
        ChannelMap.parse(["Sam=0", "Kim=2"]).check(2, "talk.wav")


LINES = [
    Line("A", "I would like to talk about the weekend, is now a good time for you?", 0),
    Line("B", "Yes, now is a good time, I am listening to you."),
    Line("A", "On Saturday you worked all day and I felt lonely in the house."),
    Line("B", "If I got it, you felt lonely on Saturday while I worked."),
    Line("A", "Yes, you got it, that is all for now."),
]
VOICES = {"A": "en+m3", "B": "en+f2"}


def run_channels(audio, names):
    loop = VoiceLoop(channels=ChannelMap(tuple(names), tuple(range(len(names)))))
    turns, _, _ = collect(loop, FileSource("mem.wav", data=audio))
    return turns


def check(turns, truth, names, min_attr=0.95, max_share=0.03):
    truth3 = [(t.speaker, t.start, t.end) for t in truth]
    acc = attribution(truth3, turns)
    rows = balance(turns, names)
    err = share_error(truth3, {n: r.share for n, r in rows.items()})
    assert acc >= min_attr, (acc, turns)
    assert err <= max_share, (err, rows)
    # no turn credited to someone who was silent then
    for turn in turns:
        mine = [t for t in truth if t.speaker == turn.speaker and t.start < turn.end and turn.start < t.end]
        assert mine, f"{turn} matches nothing {turn.speaker} said"


@needs_espeak
@pytest.mark.parametrize("crosstalk_db", [-6.0, -12.0])
def test_two_people_with_crosstalk(crosstalk_db):
    audio, truth = conversation(LINES, VOICES, crosstalk_db=crosstalk_db)
    turns = run_channels(audio, ["A", "B"])
    check(turns, truth, ["A", "B"])
    assert [t.speaker for t in turns] == [t.speaker for t in truth]


@needs_espeak
def test_one_channel_with_10_db_more_gain():
    audio, truth = conversation(LINES, VOICES, crosstalk_db=-9.0, gains_db={"B": 10.0})
    check(run_channels(audio, ["A", "B"]), truth, ["A", "B"])


@needs_espeak
def test_a_quiet_persons_mic_is_not_credited_with_the_loud_partners_speech():
    # B speaks 12 dB softer than A, and B's mic hears A at -3 dB: louder than B's own voice on it.
    audio, truth = conversation(LINES, VOICES, crosstalk_db=-60.0, noise_db=-90)
    a, b = audio[:, 0].copy(), audio[:, 1] * 10 ** (-12 / 20)
    rng = np.random.default_rng(3)
    mic_a = a + 10 ** (-14 / 20) * b + rng.normal(0, 10 ** (-60 / 20), len(a))
    mic_b = b + 10 ** (-3 / 20) * a + rng.normal(0, 10 ** (-60 / 20), len(a))
    mix = np.stack([mic_a, mic_b], axis=1).astype(np.float32)
    turns = run_channels(mix, ["A", "B"])
    check(turns, truth, ["A", "B"])


@needs_espeak
def test_four_people():
    voices = {"A": "en+m3", "B": "en+f2", "C": "en+m1", "D": "en+f4"}
    lines = [Line(n, f"This is {n.lower()} speaking, telling you something about my day today.", 0 if i == 0 else 1.0)
             for i, n in enumerate(["A", "B", "C", "D", "B", "A", "D", "C"])]
    audio, truth = conversation(lines, voices, crosstalk_db=-8.0, gains_db={"C": 10.0})
    check(run_channels(audio, list(voices)), truth, list(voices))


@needs_espeak
def test_simultaneous_speech_is_an_overlap_with_both_names():
    lines = [Line("A", "I am telling you a long story about my week at work and how tired I feel now.", 0),
             Line("B", "Wait, can I say something right now please?", -3.0),
             Line("A", "Okay, go ahead.", 1.2)]
    audio, truth = conversation(lines, VOICES, crosstalk_db=-10.0)
    turns = run_channels(audio, ["A", "B"])
    found = overlaps(turns)
    assert found, turns
    true_start, true_end = truth[1].start, truth[0].end
    assert any(set(o.speakers) == {"A", "B"} and o.start < true_end and true_start < o.end for o in found)
    rows = balance(turns, ["A", "B"])
    assert rows["B"].interruptions == 1
