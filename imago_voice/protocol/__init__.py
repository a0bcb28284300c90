"""The pure part of the facilitator: exercises as data, prompts as data, intents, and the engine.

Nothing here does audio, speech or timing of its own: feed :class:`Engine` events, carry out its actions.

    events.py     what goes in (events) and what comes out (actions)
    exercises.py  the exercises as tables of steps and phases
    settings.py   the engine's timing and behaviour settings
    engine.py     the state machine: what each event means
    walk.py       moving through the tables, voice commands, and what is said on the way
    phrasing.py   prompt texts filled in for the state of the session
    prompts.py    the prompt files (package data) read and checked
    intents.py    answers and voice commands recognised in a transcript
    moves.py      the moves of a dialogue heard in a turn (mirror, check, summary...), as likelihoods
    stepgraph.py  the places of an exercise a turn can belong to, and the order prior between them
    tracker.py    the step tracker: which step each turn belongs to and who sends
    follow.py     the engine following the tracker, and guidance (full, light, silent)
    guard.py      safety: the crisis stop, a pause offered when the talk heats up, the time-out's return
    safety.py     crisis language and blame heard in a turn
    resources.py  the crisis resources of a locale, as data
    fidelity.py   how much of the sender's words a mirror kept
    text.py       the one text normaliser

    from imago_voice.protocol import Engine, EngineSettings, TurnEnded, load_prompts

    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"))
    actions = engine.start(at=0.0)
    actions = engine.handle(TurnEnded("Sam", 1.0, 2.5, "I'll go first."))
"""

from imago_voice.protocol.engine import Engine
from imago_voice.protocol.events import (
    Action,
    Balance,
    ConsentGiven,
    LearnVoice,
    Event,
    KeyCommand,
    MirrorScored,
    OverlapDetected,
    Paused,
    RateChanged,
    Resumed,
    SafetyEvent,
    Say,
    SessionEnded,
    Snapshot,
    SpeechStarted,
    SpeechDropped,
    StepChanged,
    StepRecord,
    Tick,
    TurnEnded,
    TurnPlaced,
    WaitFor,
)
from imago_voice.protocol.exercises import EXERCISES, Exercise, Phase, Step
from imago_voice.protocol.fidelity import FidelityRules, content_words, mirror_fidelity
from imago_voice.protocol.moves import MoveVocabulary, load_moves
from imago_voice.protocol.intents import (
    ANSWERS,
    COMMANDS,
    Vocabulary,
    load_vocabulary,
    recognize_answer,
    recognize_command,
)
from imago_voice.protocol.prompts import (
    Prompts,
    available_exercises,
    available_languages,
    load_common,
    load_prompts,
)
from imago_voice.protocol.settings import EngineSettings
from imago_voice.protocol.text import normalize
from imago_voice.protocol.tracker import Assignment, StepTracker, TrackerSettings

__all__ = [
    "ANSWERS",
    "COMMANDS",
    "EXERCISES",
    "Action",
    "Assignment",
    "Balance",
    "ConsentGiven",
    "LearnVoice",
    "Engine",
    "EngineSettings",
    "Event",
    "Exercise",
    "FidelityRules",
    "KeyCommand",
    "MoveVocabulary",
    "MirrorScored",
    "OverlapDetected",
    "Paused",
    "Phase",
    "Prompts",
    "RateChanged",
    "Resumed",
    "SafetyEvent",
    "Say",
    "SessionEnded",
    "Snapshot",
    "SpeechStarted",
    "SpeechDropped",
    "Step",
    "StepChanged",
    "StepRecord",
    "StepTracker",
    "Tick",
    "TrackerSettings",
    "TurnEnded",
    "TurnPlaced",
    "Vocabulary",
    "WaitFor",
    "available_exercises",
    "available_languages",
    "content_words",
    "load_common",
    "load_prompts",
    "load_moves",
    "load_vocabulary",
    "mirror_fidelity",
    "normalize",
    "recognize_answer",
    "recognize_command",
]
