"""What goes into the engine (events) and what comes out (actions): frozen dataclasses.

Times are seconds on the audio clock (the clock of the microphone or of the recording being replayed),
never the wall clock. A ``speaker`` is one of the participants' names, or ``None`` when not known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union

from imago_voice.ledger import Overlap

# --------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class SpeechStarted:
    """A person began speaking (voice activity started). Drives the chunk limit and floor reminders."""

    speaker: str | None
    at: float


@dataclass(frozen=True)
class SpeechDropped:
    """Speech that began ended *without* becoming a turn: too short, crosstalk from another person's
    microphone, heard while muted, or discarded as the facilitator's own voice.

    A :class:`TurnEnded` ends the speech it belongs to; this event ends speech that has no turn.
    """

    speaker: str | None
    at: float


@dataclass(frozen=True)
class TurnEnded:
    """A turn finished and was transcribed: who spoke, from ``start`` to ``end``, and what was said.
    ``screen``: what a crisis screen at the edge (a model, :mod:`imago_voice.screen`) heard in the words, a
    :class:`~imago_voice.protocol.safety.Cue` or ``None``; the engine asks a gentle question on it (the
    rules' own cues stop the exercise). ``level``: how loud the speech was on its microphone, in dBFS, or
    ``None``; the engine compares it with the same person's other turns (a raised voice)."""

    speaker: str | None
    start: float
    end: float
    text: str
    screen: object | None = None
    level: float | None = None

    @property
    def at(self) -> float:
        """When the engine learns of the turn: its end."""
        return self.end


@dataclass(frozen=True)
class OverlapDetected:
    """Two or more people spoke at once (found inside one shared microphone's turn); recorded in the
    ledger. ``at`` is when it became known."""

    overlap: Overlap
    at: float


@dataclass(frozen=True)
class Tick:
    """Time passes (send one about every 0.5 s): silence reminders, the chunk limit, the time-out check-back."""

    at: float


@dataclass(frozen=True)
class KeyCommand:
    """A command from the facilitator's keyboard (silent mode).

    ``command`` is a voice command (``pause``, ``resume``, ``repeat``, ``next``, ``back``, ``slower``,
    ``faster``, ``stop``) or an answer given on behalf of the person awaited at a branch point (``yes``,
    ``no``, ``more``, ``done``, ``not_now``). Anything else is ignored.
    """

    command: str
    at: float


Event = Union[SpeechStarted, SpeechDropped, TurnEnded, OverlapDetected, Tick, KeyCommand]

# -------------------------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Say:
    """Speak ``text`` (already rendered) to ``to`` (a name, or ``None`` for everybody).

    ``step`` and ``key`` say where the text comes from: a step id and its key (``"enter"``,
    ``"stems"``, ``"reminder"``...), or ``"commands"`` and a command key (``"paused"``, ``"floor"``...).
    """

    text: str
    to: str | None
    step: str
    key: str
    at: float = 0.0
    slow: bool = False   # say it more slowly than the session's rate (the crisis resources)


@dataclass(frozen=True)
class SafetyEvent:
    """Something the safety rules did, for the log (never with words). ``kind``: ``crisis`` (a turn spoke of
    ``category``: self_harm, violence or child; the exercise stopped and the resources were said),
    ``crisis_repeated``, ``crisis_resumed`` (somebody asked to go back to the exercise), ``escalation`` (the
    talk heated up: blame, a burst of interruptions), ``raised_voice`` (a turn much louder than the same
    person's usual, one of the escalation cues), ``pause_suggested``, ``pause_accepted``,
    ``pause_declined``, ``timeout_started``, ``timeout_ended``, ``return_declined`` (not everybody wanted
    to go on after a time-out), ``disclosure`` (the first-session notice), ``check_in`` (the crisis screen
    heard something the rules did not: the facilitator asked whether they would like the numbers),
    ``check_in_accepted`` (yes: a crisis stop follows), ``check_in_declined``, ``screen`` (the screen heard
    something but nothing was asked: silent guidance, a time-out, or a check-in a short while ago).
    ``speaker``: whose turn it was."""

    at: float
    kind: str
    category: str | None = None
    speaker: str | None = None

    def to_dict(self) -> dict:
        return {"at": round(self.at, 3), "kind": self.kind, "category": self.category, "speaker": self.speaker}


@dataclass(frozen=True)
class StepChanged:
    """The exercise moved to ``step``; ``sender``/``receiver`` are the roles from now on (``None`` before
    they are known)."""

    step: str
    sender: str | None
    receiver: str | None
    at: float


@dataclass(frozen=True)
class WaitFor:
    """The floor is ``speaker``'s now (``None``: anybody may answer, as after the opening)."""

    speaker: str | None
    at: float = 0.0


@dataclass(frozen=True)
class MirrorScored:
    """A mirror turn ended; ``fidelity`` (0 to 1) is the share of the sender's content words it kept."""

    at: float
    fidelity: float
    sender: str | None = None
    receiver: str | None = None


@dataclass(frozen=True)
class ConsentGiven:
    """A person answered whether the words of this session may be kept (``agreed``); an unclear answer,
    or none, counts as no."""

    at: float
    person: str
    agreed: bool


@dataclass(frozen=True)
class LearnVoice:
    """Make ``person``'s voiceprint from what was said between ``start`` and ``end`` (audio time): the
    sample they gave when asked, with one shared microphone. ``keep``: they agreed to the session's record,
    so it may be stored for next time; else it lives for this session only."""

    at: float
    person: str
    start: float
    end: float
    keep: bool


@dataclass(frozen=True)
class RateChanged:
    """The speaking rate changed ("slower"/"faster"): ``rate`` multiplies the configured base rate."""

    at: float
    rate: float


@dataclass(frozen=True)
class Paused:
    """A time-out began; the facilitator checks back at ``check_back_at``."""

    at: float
    check_back_at: float


@dataclass(frozen=True)
class Resumed:
    """The time-out ended; the exercise goes on where it was."""

    at: float


@dataclass(frozen=True)
class SessionEnded:
    """The session is over. ``reason``: ``"done"`` (closed normally), ``"not_now"`` (the appointment was
    declined) or ``"stopped"`` (a stop command)."""

    at: float
    reason: str


@dataclass(frozen=True)
class TurnPlaced:
    """Where the step tracker put a turn (for the log): its ``step`` and ``phase``, the ``move`` it makes
    there, the tracker's ``confidence`` (0..1), the roles and round then (``None``: not sure who sends),
    whether the engine ``followed`` it there, and where the engine was waiting when the turn came."""

    at: float
    speaker: str | None
    start: float
    end: float
    step: str
    phase: str
    move: str | None
    confidence: float
    sender: str | None
    receiver: str | None
    round: int
    followed: bool
    engine_step: str
    engine_phase: str

    def to_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "speaker": self.speaker, "step": self.step,
                "phase": self.phase, "move": self.move, "confidence": round(self.confidence, 3), "sender": self.sender,
                "receiver": self.receiver, "round": self.round, "followed": self.followed,
                "engine_step": self.engine_step, "engine_phase": self.engine_phase}


Action = Union[Say, StepChanged, WaitFor, MirrorScored, ConsentGiven, LearnVoice, RateChanged, Paused, Resumed, SessionEnded,
               TurnPlaced, SafetyEvent]

# ---------------------------------------------------------------------------------------- read-outs

@dataclass(frozen=True)
class Balance:
    """Speaking time in seconds from the session's :class:`~imago_voice.ledger.Ledger`: per person, per
    person and role, per step and person; ``unattributed`` is speech nobody could be named for and
    ``paused`` speech during time-outs (neither is credited to anybody)."""

    by_person: Mapping[str, float]
    by_role: Mapping[str, Mapping[str, float]]
    unattributed: float = 0.0
    paused: float = 0.0
    by_step: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {
            "by_person": dict(self.by_person),
            "by_role": {name: dict(roles) for name, roles in self.by_role.items()},
            "by_step": {step: dict(row) for step, row in self.by_step.items()},
            "unattributed": self.unattributed,
            "paused": self.paused,
        }


@dataclass(frozen=True)
class StepRecord:
    """One visit to a step, for the log: ``end`` is ``None`` while the step is current."""

    step: str
    start: float
    end: float | None
    sender: str | None
    receiver: str | None

    def to_dict(self) -> dict:
        return {"step": self.step, "start": self.start, "end": self.end, "sender": self.sender, "receiver": self.receiver}


@dataclass(frozen=True)
class Snapshot:
    """What the silent-mode screen shows: the step, the roles, whose turn it is, how long the step has run,
    whether the session is paused or over, and the balance."""

    step: str | None
    sender: str | None
    receiver: str | None
    waiting_for: str | None
    step_elapsed: float
    paused: bool
    ended: bool
    rate: float
    balance: Balance = field(default_factory=lambda: Balance({}, {}))
    crisis: str | None = None   # the exercise is stopped for a crisis (self_harm, violence, child)
