"""The exercises as tables: each one a set of :class:`Step` objects, each step a few :class:`Phase` waits.

The engine (:mod:`.engine`) walks these tables; nothing here decides anything. A phase waits for one
person, says some prompt keys on entering, and names where to go next (a *target*):

``then``                 the step's own ``then``
``phase:<name>``         another phase of the same step
``step:<id>[@<key>]``    enter a step, optionally saying only ``<key>`` instead of its usual prompts
``start``                the exercise's first step (after the opening)
``round_start``          the first step of a round (after the switch)
``round_end``            the sender's round is over: switch roles, or close when everybody has sent
``end:<reason>``         end the session (``done``, ``not_now``)
``consent``              everybody has answered the consent question: say what is kept, then learn the voices
                         (one shared microphone) or ask who goes first
``voices``               everybody has given a voice sample: ask who goes first

Every exercise shares the steps ``consent``, ``voices``, ``opening``, ``switch`` and ``close``; the prompts for every
key a step may say are checked against the prompt files (:meth:`Exercise.required_keys`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from imago_voice.protocol.prompts import STEP_KEYS

# Who a phase waits for.
SENDER, RECEIVER, ANYONE, EACH = "sender", "receiver", "anyone", "each"


@dataclass(frozen=True)
class Phase:
    """One wait inside a step.

    ``who``: ``"sender"``, ``"receiver"``, ``"anyone"`` (the opening), ``"each"`` (every participant in
    turn, the close) or ``None`` (nobody: an announcement that goes straight on to ``then``).
    ``say``: prompt keys said on entering. ``then``: target after a turn (phases without branches).
    ``branches``: (answer, target) pairs — a branch point. ``default``: target after too many unclear
    answers. ``reminder``/``reprompt``: keys for silence and for an unclear answer (or a second silence).
    ``hook``: extra work on a turn: ``"choose_first"``, ``"chunk"`` (keep the sender's words),
    ``"mirror"`` (score fidelity), ``"each"`` (next person), ``"consent"`` (a yes or no from each person),
    ``"voices"`` (a voice sample from each person). ``sending``: the chunk limit and floor
    reminders apply.
    """

    name: str
    who: str | None
    say: tuple[str, ...] = ("enter", "stems")
    then: str = "then"
    branches: tuple[tuple[str, str], ...] = ()
    default: str = "then"
    reminder: str = "reminder"
    reprompt: str = "reprompt"
    hook: str | None = None
    sending: bool = False


@dataclass(frozen=True)
class Step:
    """A step of an exercise: its phases, where it goes when done (``then``), the prompt table it speaks
    from (``prompts``, default its id), the :class:`EngineSettings` flag that enables it when it is
    optional, whether speaking time counts by role (``roles``), and the extra prompt keys that targets
    say in it (``extra``)."""

    id: str
    phases: tuple[Phase, ...]
    then: str
    prompts: str | None = None
    optional: str | None = None
    roles: bool = True
    extra: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return self.prompts or self.id

    @property
    def announces(self) -> bool:
        """True when nobody is waited for: the step only says something and goes on."""
        return all(p.who is None for p in self.phases)

    def keys(self) -> set[str]:
        """Every prompt key this step may say."""
        keys = set(self.extra)
        for phase in self.phases:
            keys.update(phase.say)
            if phase.who is not None:
                keys.update((phase.reminder, phase.reprompt))
        if not self.announces:
            keys.update(STEP_KEYS)
        return keys


@dataclass(frozen=True)
class Exercise:
    """An exercise: its steps by id, the first step after the opening, and the first step of each later
    round (after the switch). The shared steps ``opening``, ``switch`` and ``close`` are always there."""

    id: str
    steps: Mapping[str, Step]
    first: str
    round_start: str

    def required_keys(self) -> dict[str, set[str]]:
        """Prompt keys needed, by prompt table (step id, or the shared table a step speaks from)."""
        out: dict[str, set[str]] = {}
        for step in self.steps.values():
            out.setdefault(step.table, set()).update(step.keys())
        return out


def _speak(step_id: str, who: str, then: str, **kw: object) -> Step:
    """A step where one person says one thing."""
    return Step(step_id, (Phase("speak", who),), then=then, **kw)  # type: ignore[arg-type]


def _send(step_id: str, mirror: str) -> Step:
    """A sending step: the sender says a chunk, then the receiver mirrors it."""
    phase = Phase("speak", SENDER, then=f"step:{mirror}", hook="chunk", sending=True)
    return Step(step_id, (phase,), then=f"step:{mirror}", extra=("again", "missed"))


def _mirror(step_id: str, send: str, then: str) -> Step:
    """A mirror of ``send``: the receiver says it back; the sender says whether there is more."""
    again, missed = f"step:{send}@again", f"step:{send}@missed"
    return Step(
        step_id,
        (
            Phase("speak", RECEIVER, then="phase:check", hook="mirror"),
            Phase(
                "check", SENDER, say=("check",),
                branches=(("more", again), ("done", "then"), ("yes", "phase:more"), ("no", missed)),
                reminder="check", reprompt="check_reprompt",
            ),
            Phase(
                "more", SENDER, say=("more_question",),
                branches=(("yes", again), ("more", again), ("no", "then"), ("done", "then")),
                reminder="more_question", reprompt="check_reprompt",
            ),
        ),
        then=then,
        prompts="mirror",
    )


_SHARED: tuple[Step, ...] = (
    Step("opening", (Phase("ask", ANYONE, hook="choose_first"),), then="start", roles=False,
         extra=("first", "after_consent")),
    Step("consent", (Phase("ask", EACH, hook="consent"),), then="consent", roles=False,
         extra=("next_person", "kept", "not_kept", "enter_voices")),
    Step("voices", (Phase("learn", EACH, hook="voices"),), then="voices", roles=False,
         extra=("next_person", "learned", "learned_kept", "after_consent")),
    Step("switch", (Phase("announce", None, say=("enter",)),), then="round_start"),
    Step("close", (Phase("appreciate", EACH, hook="each"),), then="end:done", roles=False,
         extra=("next_person", "balance")),
)


def _exercise(exercise_id: str, first: str, round_start: str, *steps: Step) -> Exercise:
    table = {s.id: s for s in (*_SHARED, *steps)}
    return Exercise(exercise_id, MappingProxyType(table), first, round_start)


#: The exercises the engine knows, by id.
EXERCISES: Mapping[str, Exercise] = MappingProxyType(
    {
        "dialogue": _exercise(
            "dialogue", "appointment", "intention",
            Step(
                "appointment",
                (
                    Phase("ask", SENDER, then="phase:answer", reprompt="reminder"),
                    Phase(
                        "answer", RECEIVER, say=(),
                        branches=(("yes", "then"), ("no", "end:not_now"), ("not_now", "end:not_now")),
                        reminder="answer",
                    ),
                ),
                then="step:intention",
                extra=("not_now",),
            ),
            _speak("intention", SENDER, "step:send", optional="intention"),
            _send("send", "mirror"),
            _mirror("mirror", "send", "step:summarize"),
            _speak("summarize", RECEIVER, "step:validate"),
            _speak("validate", RECEIVER, "step:empathize"),
            _speak("empathize", RECEIVER, "round_end"),
        ),
        "appreciation": _exercise(
            "appreciation", "appreciate", "appreciate",
            _send("appreciate", "mirror"),
            _mirror("mirror", "appreciate", "round_end"),
        ),
        "behavior-change": _exercise(
            "behavior-change", "frustration", "frustration",
            _send("frustration", "mirror"),
            _mirror("mirror", "frustration", "step:desire"),
            _send("desire", "mirror_desire"),
            _mirror("mirror_desire", "desire", "step:requests"),
            _send("requests", "mirror_requests"),
            _mirror("mirror_requests", "requests", "step:gift"),
            _speak("gift", RECEIVER, "round_end"),
        ),
        "caring-behaviors": _exercise(
            "caring-behaviors", "now", "now",
            _send("now", "mirror"),
            _mirror("mirror", "now", "step:past"),
            _send("past", "mirror_past"),
            _mirror("mirror_past", "past", "step:wish"),
            _send("wish", "mirror_wish"),
            _mirror("mirror_wish", "wish", "round_end"),
        ),
        # The sender speaks as the child they were; the receiver listens as that child's parent, then
        # steps out of the role to say what they can give now.
        "parent-child": _exercise(
            "parent-child", "childhood", "childhood",
            _send("childhood", "mirror"),
            _mirror("mirror", "childhood", "step:worst"),
            _send("worst", "mirror_worst"),
            _mirror("mirror_worst", "worst", "step:needed"),
            _send("needed", "mirror_needed"),
            _mirror("mirror_needed", "needed", "step:summarize"),
            _speak("summarize", RECEIVER, "step:validate"),
            _speak("validate", RECEIVER, "step:empathize"),
            _speak("empathize", RECEIVER, "step:give"),
            _speak("give", RECEIVER, "round_end"),
        ),
        # Closing the Exits: one way the sender avoids being close, then one exit they will close or
        # use less for now, and the receiver's thanks.
        "exits": _exercise(
            "exits", "exit", "exit",
            _send("exit", "mirror"),
            _mirror("mirror", "exit", "step:willing"),
            _send("willing", "mirror_willing"),
            _mirror("mirror_willing", "willing", "step:thank"),
            _speak("thank", RECEIVER, "round_end"),
        ),
    }
)
