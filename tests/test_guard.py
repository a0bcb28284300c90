"""Safety in the engine (issue 10), table-driven: the crisis stop in every step of every exercise, the
resources in the session's language and locale, the pause offered when the talk heats up, the time-out."""

from __future__ import annotations

import pytest

from imago_voice.protocol import (
    EXERCISES,
    Engine,
    EngineSettings,
    KeyCommand,
    SafetyEvent,
    Say,
    SessionEnded,
    Tick,
    TurnEnded,
    load_prompts,
)
from imago_voice.protocol.resources import load_resources
from tests.test_engine import ALEX, APPT, CHUNK, MIRROR, OPEN, ROUND1, SAM, run, said

CRISIS_EN = {
    "self_harm": "Sometimes I think everyone would be better off without me.",
    "violence": "He grabbed me so hard last week that it bruised.",
    "child": "When he drinks he hits our son and I'm scared for him.",
}
CRISIS_ES = {
    "self_harm": "A veces pienso que todos estarían mejor sin mí.",
    "violence": "Me agarró tan fuerte que me dejó moretones.",
}


def safety_events(log, kind=None):
    return [a for a in log if isinstance(a, SafetyEvent) and (kind is None or a.kind == kind)]


def spoken(log):
    return " ".join(a.text for a in log if isinstance(a, Say))


def _places(exercise: str):
    """A script prefix for each step of ``exercise`` where somebody is waited for (by walking with 'next')."""
    out, script = [], OPEN
    engine, _, _ = run(script, exercise=exercise)
    seen = set()
    while not engine.ended and len(script) < 80:
        key = (engine.step, engine.phase, engine.sender)
        if key not in seen:
            seen.add(key)
            out.append((f"{engine.step}/{engine.phase}", list(script)))
        script = script + [("key", "next")]
        engine, _, _ = run(script, exercise=exercise)
    return out


CASES = [(exercise, where, script) for exercise in EXERCISES for where, script in _places(exercise)]


@pytest.mark.parametrize("exercise,where,script", CASES, ids=[f"{e}:{w}" for e, w, _ in CASES])
def test_a_crisis_turn_stops_every_step_of_every_exercise(exercise, where, script):
    engine, log, last = run(script + [(ALEX, CRISIS_EN["self_harm"])], exercise=exercise)
    assert engine.crisis == "self_harm" and not engine.ended
    assert [e.kind for e in safety_events(last)] == ["crisis"]
    text = spoken(last)
    assert "matters more than this exercise" in text and "9, 8, 8" in text and "9, 1, 1" in text
    assert all(a.slow for a in last if isinstance(a, Say))
    # nothing moves it on: more turns, silence, the next key
    engine.handle(TurnEnded(SAM, 500.0, 502.0, "If I got it, you said you feel alone."))
    later = engine.handle(Tick(600.0)) + engine.handle(KeyCommand("next", 601.0))
    assert not [a for a in later if isinstance(a, Say)] and engine.crisis == "self_harm"
    assert engine.waiting_for is None


@pytest.mark.parametrize("category", sorted(CRISIS_EN))
def test_the_resources_fit_what_was_heard(category):
    _, _, last = run(CHUNK + [(SAM, CRISIS_EN[category])])
    text = spoken(last)
    for item in load_resources("en-US").for_category(category):
        assert item.say in text
    others = {r.name for c in CRISIS_EN if c != category for r in load_resources("en-US").for_category(c)}
    assert not any(name in text for name in others - {"Emergency"})


def test_resources_in_the_sessions_language_and_locale():
    _, _, last = run(CHUNK + [(SAM, CRISIS_ES["self_harm"])], language="es")
    assert "9, 8, 8" in spoken(last) and "oprimir el 2" in spoken(last)
    engine = Engine("dialogue", [SAM, ALEX], load_prompts("es", "dialogue", locale="es-ES"))
    engine.start(at=0.0)
    engine.handle(TurnEnded(ALEX, 1.0, 2.0, "Sam, tú primero."))
    out = engine.handle(TurnEnded(SAM, 3.0, 6.0, CRISIS_ES["violence"]))
    assert "0, 1, 6" in spoken(out) and "1, 1, 2" in spoken(out) and "9, 1, 1" not in spoken(out)


def test_repeat_resume_and_stop_after_a_crisis():
    script = MIRROR + [(SAM, CRISIS_EN["violence"])]
    engine, _, last = run(script + [(ALEX, "Can you repeat that?")])
    assert "7 9 9" in spoken(last) and engine.crisis == "violence"
    engine, log, last = run(script + [(ALEX, "Resume.")])
    assert engine.crisis is None and engine.step == "mirror"
    assert ("commands", "crisis_resume") in said(last) and safety_events(last, "crisis_resumed")
    engine, _, last = run(script + [(SAM, "Stop.")])
    assert engine.ended and isinstance(last[-1], SessionEnded)


def test_another_kind_of_danger_adds_its_resources():
    engine, _, last = run(CHUNK + [(SAM, CRISIS_EN["self_harm"]), (ALEX, CRISIS_EN["child"])])
    assert "4 2 2" in spoken(last) and "matters more" not in spoken(last)


def test_silent_guidance_still_speaks_a_crisis_stop():
    engine, log, last = run(CHUNK + [(ALEX, CRISIS_EN["self_harm"])], settings=EngineSettings(guide="silent"))
    assert "9, 8, 8" in spoken(last)
    assert [a for a in log if isinstance(a, Say)] == [a for a in last if isinstance(a, Say)]


def test_a_crisis_in_a_time_out_and_in_the_consent_question_stops_too():
    engine, _, last = run(APPT + [(SAM, "Pause."), (ALEX, CRISIS_EN["self_harm"])])
    assert engine.crisis == "self_harm" and "9, 8, 8" in spoken(last)
    engine, _, last = run([(SAM, CRISIS_EN["violence"])], settings=EngineSettings(ask_consent=True))
    assert engine.crisis == "violence"


def test_crisis_time_is_not_in_the_balance_and_the_log_has_no_words():
    engine, log, _ = run(CHUNK + [(SAM, CRISIS_EN["self_harm"]), (ALEX, "Oh no. I am here with you.")])
    event = safety_events(log, "crisis")[0]
    assert set(event.to_dict()) == {"at", "kind", "category", "speaker"} and event.speaker == SAM
    assert engine.ledger.paused_seconds == 2.0   # Alex's words after the stop are nobody's exercise time


@pytest.mark.parametrize("text", [
    "I feel like I'm dying inside when you ignore me.",
    "You never listen to me.",
    "This job is killing me.",
])
def test_ordinary_hurt_is_not_a_crisis(text):
    engine, log, _ = run(CHUNK + [(SAM, text)])
    assert engine.crisis is None and not safety_events(log, "crisis")


# ------------------------------------------------------------------------------------------ escalation

HEATED = [(SAM, "You always do this, you never listen."), (ALEX, "Oh great, here we go again, whatever."),
          (SAM, "You are so selfish, you always make it about you.")]


def test_a_heated_talk_is_offered_a_pause_at_a_quiet_moment():
    engine, log, last = run(CHUNK + HEATED)
    assert safety_events(log, "escalation")
    assert ("commands", "pause_suggested") not in said(last)   # not at once: it waits for quiet
    engine, log, last = run(CHUNK + HEATED + [("speak", ALEX), ("tick", 3.0)])
    assert ("commands", "pause_suggested") not in said(last)   # never over somebody speaking
    engine, log, last = run(CHUNK + HEATED + [("tick", 20.0)])
    assert said(last) == [("commands", "pause_suggested")]
    engine, _, last = run(CHUNK + HEATED + [("tick", 20.0), (ALEX, "Yes, please.")])
    assert engine.paused and ("commands", "paused") in said(last)
    engine, _, last = run(CHUNK + HEATED + [("tick", 20.0), (ALEX, "No, let's keep going.")])
    assert not engine.paused and said(last) == [("commands", "pause_declined")]


def test_a_pause_is_offered_at_most_once_every_few_minutes():
    script = CHUNK + HEATED + [("tick", 20.0), (ALEX, "No.")] + HEATED + [("tick", 20.0)]
    _, log, _ = run(script)
    assert said(log).count(("commands", "pause_suggested")) == 1
    _, log, _ = run(script + [("tick", 300.0)] + HEATED + [("tick", 20.0)])
    assert said(log).count(("commands", "pause_suggested")) == 2


def test_calm_talk_is_never_offered_a_pause():
    _, log, _ = run(ROUND1 + [("tick", 5.0)])
    assert not safety_events(log, "escalation") and ("commands", "pause_suggested") not in said(log)


def test_silent_guidance_notes_the_heat_but_says_nothing():
    _, log, last = run(CHUNK + HEATED + [("tick", 20.0)], settings=EngineSettings(guide="silent"))
    assert safety_events(log, "escalation") and not [a for a in log if isinstance(a, Say)]


# ------------------------------------------------------------------------------------------ raised voices

# a calm dialogue with each person's loudness: Sam's lapel hears Sam near -22 dBFS, Alex is 20 dB softer
CALM = [(ALEX, "Sam, you go first.", -42.0), (SAM, "Alex, is now a good time to talk?", -22.5),
        (ALEX, "Yes, now is good.", -41.0), (SAM, "I feel lonely when you work late every night.", -21.5),
        (ALEX, "If I got it, you feel lonely when I work late. Did I get it?", -42.5),
        (SAM, "Yes. And there is more, I miss our evenings.", -22.0),
        (ALEX, "You miss our evenings. Is there more?", -41.5)]


def _raised(log):
    return [(a.speaker, a.at) for a in safety_events(log, "raised_voice")]


@pytest.mark.parametrize("levels,raised", [
    # (Sam's next turns' levels, which of them count as raised)
    ([-21.0, -23.0, -20.0], [False, False, False]),     # an ordinary spread of a few dB
    ([-15.0], [False]),                                  # 7 dB up: under the 8 dB margin
    ([-13.0], [True]),                                   # 9 dB up
    ([-10.0, -9.0, -10.5], [True, True, True]),          # shouting on: the median moves slowly
    ([-45.0], [False]),                                  # softer is never a cue
])
def test_a_turn_much_louder_than_the_persons_own_usual_is_a_raised_voice(levels, raised):
    script = CALM + [(SAM, "It matters to me.", level) for level in levels]
    _, log, _ = run(script)
    found = [a for a in safety_events(log, "raised_voice")]
    assert len(found) == sum(raised) and all(a.speaker == SAM for a in found)


def test_each_person_is_their_own_baseline():
    """Sam is 20 dB louder than Alex throughout: neither is ever a raised voice (a shared median would
    call every one of Sam's turns raised)."""
    _, log, _ = run(CALM + CALM[1:] + [("tick", 20.0)])
    assert not _raised(log) and not safety_events(log, "escalation")


def test_no_baseline_no_cue():
    """Until a person has spoken a few times there is nothing to compare with."""
    _, log, _ = run([(ALEX, "Sam, you go first.", -42.0), (SAM, "Alex, is now a good time?", -22.0),
                     (ALEX, "Yes.", -12.0), (SAM, "Good.", -10.0)])
    assert not _raised(log)


def test_raised_voices_heat_the_talk_and_a_pause_is_offered():
    shouting = [(ALEX, "I am trying to tell you something!", -28.0), (SAM, "I heard you the first time!", -9.0),
                (ALEX, "Then why do you keep doing it!", -27.0)]
    engine, log, _ = run(CALM + shouting)
    assert [who for who, _ in _raised(log)] == [ALEX, SAM, ALEX]
    assert safety_events(log, "escalation")
    _, _, last = run(CALM + shouting + [("tick", 20.0)])
    assert said(last) == [("commands", "pause_suggested")]


def test_raised_voices_can_be_tuned_and_safety_off_ignores_them():
    shouting = [(SAM, "Listen to me!", -9.0), (SAM, "Listen!", -8.0), (SAM, "Now!", -9.5)]
    _, log, _ = run(CALM + shouting, settings=EngineSettings(raised_voice_db=15.0))
    assert not _raised(log)
    _, log, _ = run(CALM + shouting, settings=EngineSettings(safety=False))
    assert not _raised(log) and not safety_events(log, "escalation")


def test_the_session_passes_the_turns_level():
    from imago_voice.facilitator.session import Session
    from imago_voice.ledger import Turn

    seen = []

    class FakeEngine:
        ledger = None

        def handle(self, event):
            seen.append(event)
            return []

    session = Session(FakeEngine(), loop=None)
    session._turn(Turn(SAM, 1.0, 3.0, "Hello.", level=-23.5))
    session._turn(Turn(ALEX, 4.0, 6.0, "Hi."))
    assert [e.level for e in seen] == [-23.5, None]


# ------------------------------------------------------------------------------------------ first session

def test_the_first_session_notice_comes_before_anything_else():
    engine = Engine("dialogue", [SAM, ALEX], load_prompts("en", "dialogue"), EngineSettings(disclose=True))
    out = engine.start(at=0.0)
    says = [a for a in out if isinstance(a, Say)]
    assert says[0].key == "disclosure" and "not therapy" in says[0].text and "9, 8, 8" in says[0].text
    assert safety_events(out, "disclosure")
    engine = Engine("dialogue", [SAM, ALEX], load_prompts("en", "dialogue"))
    assert [a for a in engine.start(at=0.0) if isinstance(a, Say)][0].key != "disclosure"
