"""The pure part of the facilitator: exercises as data, prompts as data, intents, and the engine.

Nothing here does audio, speech or timing of its own: feed :class:`Engine` events, carry out its actions.

    from imago_voice.protocol import Engine, EngineSettings, TurnEnded, load_prompts

    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"))
    actions = engine.start(at=0.0)
    actions = engine.handle(TurnEnded("Sam", 1.0, 2.5, "I'll go first."))
"""

from imago_voice.protocol.engine import EXERCISES, Engine, EngineSettings, Exercise, Phase, Step
from imago_voice.protocol.events import (
    Action,
    Balance,
    ConsentGiven,
    Event,
    KeyCommand,
    MirrorScored,
    Paused,
    RateChanged,
    Resumed,
    Say,
    SessionEnded,
    Snapshot,
    SpeechStarted,
    SpeechStopped,
    StepChanged,
    StepRecord,
    Tick,
    TurnEnded,
    WaitFor,
)
from imago_voice.protocol.fidelity import FidelityRules, content_words, mirror_fidelity
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

__all__ = [
    "ANSWERS",
    "COMMANDS",
    "EXERCISES",
    "Action",
    "Balance",
    "ConsentGiven",
    "Engine",
    "EngineSettings",
    "Event",
    "Exercise",
    "FidelityRules",
    "KeyCommand",
    "MirrorScored",
    "Paused",
    "Phase",
    "Prompts",
    "RateChanged",
    "Resumed",
    "Say",
    "SessionEnded",
    "Snapshot",
    "SpeechStarted",
    "SpeechStopped",
    "Step",
    "StepChanged",
    "StepRecord",
    "Tick",
    "TurnEnded",
    "Vocabulary",
    "WaitFor",
    "available_exercises",
    "available_languages",
    "content_words",
    "load_common",
    "load_prompts",
    "load_vocabulary",
    "mirror_fidelity",
    "recognize_answer",
    "recognize_command",
]
