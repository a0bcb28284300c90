"""Properties that must hold for any input (hypothesis): the engine never raises and always ends in a valid
state, the ledger's shares are a proper split, and the voice loop gives the same turns whatever the block
size of its source."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imago_voice.ledger import Ledger, Overlap, Turn, balance, overlaps
from imago_voice.protocol import (
    EXERCISES,
    Engine,
    EngineSettings,
    KeyCommand,
    OverlapDetected,
    SpeechDropped,
    SpeechStarted,
    StepChanged,
    Tick,
    TurnEnded,
    load_prompts,
)
from imago_voice.protocol.intents import ANSWERS, COMMANDS

NAMES = ("Sam", "Alex", "Kim")
PHRASES = ("I would like to go first.", "Alex, is now a good time?", "Yes.", "No.", "There is more.",
           "That's all.", "Not now.", "Pause.", "Resume.", "Repeat.", "Next.", "Go back.", "Stop.", "Slower.",
           "Faster.", "I feel lonely when you work late.", "If I got it, you feel lonely. Is there more?",
           "Hmm.", "", "Sí, claro.", "Guide, time out please.", "You go first.", "Sam should start.")
_PROMPTS: dict = {}


def _prompts(exercise, language="en"):
    if (exercise, language) not in _PROMPTS:
        _PROMPTS[exercise, language] = load_prompts(language, exercise)
    return _PROMPTS[exercise, language]


speaker = st.sampled_from((*NAMES, None, "Stranger"))
event = st.one_of(
    st.tuples(st.just("turn"), speaker, st.sampled_from(PHRASES), st.floats(0.1, 60.0)),
    st.tuples(st.just("tick"), st.floats(0.0, 1500.0)),
    st.tuples(st.just("start"), speaker),
    st.tuples(st.just("drop"), speaker),
    st.tuples(st.just("key"), st.sampled_from((*COMMANDS, *ANSWERS, "yes", "no", "bogus", " Not-Now "))),
    st.tuples(st.just("overlap"), st.floats(0.1, 5.0)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exercise=st.sampled_from(sorted(EXERCISES)), people=st.integers(2, 3), consent=st.booleans(),
       language=st.sampled_from(("en", "es")), script=st.lists(event, max_size=60))
def test_any_events_leave_the_engine_in_a_valid_state(exercise, people, consent, language, script):
    names = list(NAMES[:people])
    engine = Engine(exercise, names, _prompts(exercise, language), EngineSettings(ask_consent=consent))
    actions = engine.start(at=0.0)
    t = 0.0
    for item in script:
        kind = item[0]
        if kind == "turn":
            _, who, text, length = item
            actions += engine.handle(TurnEnded(who, t, t + length, text))
            t += length + 0.5
        elif kind == "tick":
            t += item[1]
            actions += engine.handle(Tick(t))
        elif kind == "start":
            actions += engine.handle(SpeechStarted(item[1], t))
        elif kind == "drop":
            actions += engine.handle(SpeechDropped(item[1], t))
        elif kind == "key":
            actions += engine.handle(KeyCommand(item[1], t))
        else:
            actions += engine.handle(OverlapDetected(Overlap(t, t + item[1], ("Alex", "Sam"), "Alex"), t))
        # a valid state after every event
        steps = EXERCISES[exercise].steps
        assert engine.step in steps
        assert engine.phase in {p.name for p in steps[engine.step].phases}
        assert engine.waiting_for in (None, *names)
        assert set(engine.participants) == set(names)
        if engine.sender is not None:
            assert engine.sender in names and engine.receiver in names and engine.sender != engine.receiver
        assert 0.5 <= engine.rate <= 2.0
        if engine.ended:
            assert engine.waiting_for is None and engine.steps[-1].end is not None
    records = engine.steps
    assert all(r.end is None or r.end >= r.start for r in records)
    assert all(r.end is not None for r in records[:-1])
    assert [a.step for a in actions if isinstance(a, StepChanged)] == [r.step for r in records]
    balance_now = engine.balance()
    assert all(v >= 0 for v in balance_now.by_person.values())
    assert balance_now.unattributed >= 0 and balance_now.paused >= 0
    for person, roles in balance_now.by_role.items():
        assert sum(roles.values()) == pytest.approx(balance_now.by_person[person], abs=1e-6)


turn = st.builds(lambda who, start, length: Turn(who, start, start + length),
                 st.sampled_from(("A", "B", "C", None)), st.floats(0.0, 500.0), st.floats(0.0, 30.0))


@settings(max_examples=300, deadline=None)
@given(turns=st.lists(turn, max_size=40), participants=st.lists(st.sampled_from(("A", "B", "D")), unique=True),
       paused=st.lists(st.booleans(), max_size=40))
def test_the_ledger_shares_are_a_split_of_the_named_speech(turns, participants, paused):
    ledger = Ledger(participants)
    for k, t in enumerate(turns):
        ledger.add(t, paused=k < len(paused) and paused[k])
    rows = ledger.balance()
    shares = [r.share for r in rows.values()]
    assert all(0.0 <= s <= 1.0 + 1e-9 for s in shares)
    assert all(r.seconds >= 0 and r.longest >= 0 and r.overlap >= 0 and r.interruptions >= 0 for r in rows.values())
    if sum(r.seconds for r in rows.values()) > 0:
        assert sum(shares) == pytest.approx(1.0)
    else:
        assert sum(shares) == 0.0
    assert set(participants) <= set(rows)
    for r in rows.values():
        assert r.longest <= r.seconds + 1e-9 or r.longest <= max((t.end for t in turns), default=0.0)
    assert all(o.end >= o.start and len(o.speakers) >= 2 for o in overlaps(turns))
    counted = [t for k, t in enumerate(turns) if not (k < len(paused) and paused[k])]
    assert rows == balance(counted, participants)


@pytest.fixture(scope="module")
def talk():
    from tests.support.synth import Line, conversation

    lines = [Line("A", "Good morning, I would like to tell you about my day.", 0),
             Line("B", "Please go on, I am listening.", 1.2),
             Line("A", "It was long and I am tired now.", 0.6),
             Line("B", "Okay.", 1.5)]
    audio, _ = conversation(lines, {"A": "en+m3", "B": "en+f2"}, crosstalk_db=-9.0)
    return audio


@pytest.mark.skipif(__import__("shutil").which("espeak-ng") is None, reason="espeak-ng is not installed")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(block=st.integers(1, 4000), mono=st.booleans())
def test_the_loop_gives_the_same_turns_whatever_the_block_size(talk, block, mono):
    from imago_voice.audio.sources import FileSource
    from imago_voice.loop import LoopSettings, VoiceLoop
    from imago_voice.speakers.channels import ChannelMap
    from tests.conftest import FakeTranscriber, collect

    audio = talk.mean(axis=1, keepdims=True) if mono else talk
    channels = None if mono else ChannelMap(("A", "B"), (0, 1))

    def turns_with(size):
        loop = VoiceLoop(channels=channels, transcriber=FakeTranscriber(lambda a: f"{len(a)}"),
                         settings=LoopSettings(tick=0.5, wait_for_text=True))
        found, _, events = collect(loop, FileSource("mem.wav", data=np.asarray(audio), block=size))
        return found, [(type(e).__name__, getattr(e, "at", None)) for e in events]

    reference = turns_with(480)
    assert reference[0], "the conversation has turns"
    assert turns_with(block) == reference      # the same turns, and the same events in the same order
