"""The crisis screen's check-in (issue 10): when the screen at the edge hears crisis language that the
rules did not, the facilitator asks, slowly, whether they would like the numbers; a yes is a crisis stop,
a no goes on where the exercise was. Engine tables, and the session passing the screen's cue along."""

from __future__ import annotations

import pytest

from imago_voice.protocol import EngineSettings, KeyCommand, SafetyEvent, Say, StepChanged, Tick, TurnEnded
from imago_voice.protocol.resources import load_resources
from imago_voice.protocol.safety import Cue
from tests.test_engine import ALEX, APPT, CHUNK, SAM, run

SCREENED = "I went through my things and sorted out who gets what, it is all written down now."
CUE = Cue("self_harm", 0.99, "screen")


def kinds(actions):
    return [a.kind for a in actions if isinstance(a, SafetyEvent)]


def say_keys(actions):
    return [a.key for a in actions if isinstance(a, Say)]


def screened(engine, speaker, text, at, cue=CUE):
    return engine.handle(TurnEnded(speaker, at, at + 2.0, text, cue))


def turn(engine, speaker, text, at):
    return engine.handle(TurnEnded(speaker, at, at + 2.0, text))


def test_a_screened_turn_is_asked_about_and_the_exercise_waits():
    engine, _, _ = run(APPT)
    out = screened(engine, SAM, SCREENED, 100.0)
    assert kinds(out) == ["check_in"] and say_keys(out) == ["check_in_named"]
    ask = next(a for a in out if isinstance(a, Say))
    assert ask.slow and ask.text.startswith("Sam,") and "Yes or no?" in ask.text
    assert engine.crisis is None and (engine.step, engine.phase) == ("send", "speak")   # held, not taken yet
    # while it waits: no reminder, however long the silence
    assert not [a for a in engine.handle(Tick(200.0)) + engine.handle(Tick(400.0)) if isinstance(a, Say)]


@pytest.mark.parametrize("answer", ["Yes.", "Yes please."])
def test_a_yes_is_a_crisis_stop_for_what_the_screen_heard(answer):
    engine, _, _ = run(APPT)
    screened(engine, SAM, SCREENED, 100.0)
    out = turn(engine, SAM, answer, 104.0)
    assert kinds(out) == ["check_in_accepted", "crisis"] and engine.crisis == "self_harm"
    text = " ".join(a.text for a in out if isinstance(a, Say))
    assert "matters more than this exercise" in text
    for item in load_resources("en-US").for_category("self_harm"):
        assert item.say in text


def test_a_no_goes_on_where_the_exercise_was():
    engine, _, _ = run(APPT)
    screened(engine, SAM, "I feel lonely when you work late every night.", 100.0)
    out = turn(engine, SAM, "No, I'm okay.", 104.0)
    assert kinds(out) == ["check_in_declined"] and engine.crisis is None
    keys = say_keys(out)
    assert keys[0] == "check_in_declined"
    # the held turn was Sam's send: the exercise moved on to Alex's mirror
    assert engine.waiting_for == ALEX and engine.step == "mirror"


def test_anything_else_goes_on_with_the_held_turn_then_this_one():
    engine, _, _ = run(APPT)
    screened(engine, SAM, "I feel lonely when you work late every night.", 100.0)
    out = turn(engine, ALEX, "If I got it, you feel lonely when I work late every night. Did I get it?", 104.0)
    assert kinds(out) == ["check_in_declined"] and "check_in_declined" not in say_keys(out)
    assert (engine.step, engine.phase, engine.waiting_for) == ("mirror", "check", SAM)   # the send, then the mirror


def test_the_rules_stop_before_the_screen_asks():
    engine, _, _ = run(APPT)
    out = screened(engine, SAM, "Sometimes I think everyone would be better off without me.", 100.0)
    assert kinds(out) == ["crisis"] and engine.crisis == "self_harm"


def test_a_crisis_said_as_the_answer_stops_and_resume_goes_back():
    engine, _, _ = run(APPT)
    screened(engine, SAM, SCREENED, 100.0)
    out = turn(engine, SAM, "Honestly I don't want to live anymore.", 104.0)
    assert kinds(out) == ["crisis"]
    turn(engine, ALEX, "Resume.", 110.0)
    assert engine.crisis is None
    # the check-in was settled by the crisis stop: ticks may remind again
    later = engine.handle(Tick(200.0))
    assert [a for a in later if isinstance(a, Say)]


def test_repeat_asks_again():
    engine, _, _ = run(APPT)
    screened(engine, SAM, SCREENED, 100.0)
    out = turn(engine, ALEX, "Repeat.", 104.0)
    assert say_keys(out) == ["check_in_named"] and engine.step == "send"


def test_at_most_one_check_in_every_few_minutes():
    settings = EngineSettings(check_in_every=600.0)
    engine, _, _ = run(APPT, settings=settings)
    screened(engine, SAM, SCREENED, 100.0)
    turn(engine, SAM, "No.", 104.0)
    out = screened(engine, ALEX, "If I got it, you sorted out your things.", 110.0)
    assert kinds(out) == ["screen"] and "check_in" not in " ".join(say_keys(out))
    out = screened(engine, SAM, "Yes, you got it.", 800.0)
    assert kinds(out) == ["check_in"]


def test_silent_guidance_logs_the_screen_and_says_nothing():
    engine, _, _ = run(APPT, settings=EngineSettings(guide="silent"))
    out = screened(engine, SAM, "I feel lonely when you work late every night.", 100.0)
    assert kinds(out) == ["screen"] and not [a for a in out if isinstance(a, Say)]
    assert engine.step == "mirror"   # the turn was taken as it came


def test_not_in_a_time_out():
    engine, _, _ = run(CHUNK + [(ALEX, "Pause.")])
    out = screened(engine, SAM, SCREENED, 200.0)
    assert kinds(out) == ["screen"] and not [a for a in out if isinstance(a, Say) and a.key.startswith("check_in")]


def test_safety_off_asks_nothing():
    engine, _, _ = run(APPT, settings=EngineSettings(safety=False))
    out = screened(engine, SAM, SCREENED, 100.0)
    assert "check_in" not in kinds(out)


def test_spanish_check_in():
    engine, _, _ = run([(ALEX, "Sam, empieza tú."), (SAM, "Alex, ¿es un buen momento para hablar?"), (ALEX, "Sí.")],
                       language="es")
    out = screened(engine, SAM, "Ya dejé todo arreglado.", 100.0)
    ask = [a for a in out if isinstance(a, Say)]
    assert kinds(out) == ["check_in"] and ask and "¿Sí o no?" in ask[0].text


def test_the_session_passes_the_screens_cue_with_the_turn():
    from imago_voice.facilitator.session import Session
    from imago_voice.ledger import Turn

    seen = []

    class Engine:
        ledger = None

        def handle(self, event):
            seen.append(event)
            return []

    class Screen:
        def __call__(self, text):
            return CUE if "sorted out" in text else None

    session = Session(Engine(), loop=None, screen=Screen())
    session._turn(Turn(SAM, 1.0, 3.0, SCREENED))
    session._turn(Turn(ALEX, 4.0, 6.0, "If I got it."))
    assert [e.screen for e in seen] == [CUE, None]
    assert [e.text for e in seen] == [SCREENED, "If I got it."]


def test_a_key_settles_the_check_in_and_does_its_job():
    engine, _, _ = run(APPT)
    screened(engine, SAM, SCREENED, 100.0)
    out = engine.handle(KeyCommand("next", 104.0))
    assert [a.step for a in out if isinstance(a, StepChanged)] == ["mirror"]
    later = turn(engine, ALEX, "If I got it, you sorted out your things.", 110.0)
    assert "check_in_declined" not in kinds(later) and ("mirror", "check") == (engine.step, engine.phase)
