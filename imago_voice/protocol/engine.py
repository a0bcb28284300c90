"""The facilitator's brain: a pure state machine from events to actions.

No I/O, no clock, no threads: the caller feeds :mod:`~imago_voice.protocol.events` (with times on the
audio clock) to :meth:`Engine.handle` and carries out the actions it returns, in order.

How it decides
--------------
* **From who spoke** (roles) everywhere: a turn from the person whose floor it is moves the exercise on;
  a turn from anybody else does not (during a send, the other person hears once that the floor is the
  sender's).
* **From what was said** only at branch points (yes / no / there is more / that's all / not now, see
  :mod:`.intents`), and for the voice commands, which work anywhere, from anyone.
* **Unknown speakers.** A turn or speech start whose speaker is ``None`` (or not a participant) is taken
  to be from the person whose floor it is. In the opening, where anybody may answer, it counts only if
  it names somebody ("Sam goes first"); its time is then kept as ``unattributed``.
* **Who goes first** is decided by the first turn after the opening: a participant's name said in it
  wins (the first name said), else "you go first" hands it to the other of two, else its speaker.
* **Consent** (``ask_consent``): before the opening question each person is asked, by name, whether the
  words of the session may be kept; only a clear yes counts, and :attr:`Engine.consent` is true only
  when everybody said yes. Each answer is a :class:`ConsentGiven` action.
* **Split chunks.** Speech by the sender after the send ended but before the receiver mirrors is added
  to the chunk the mirror is scored against.

The exercises are tables (:data:`EXERCISES`) of :class:`Step` and :class:`Phase`: a phase waits for one
person, says some prompt keys on entering, and names where to go next (a *target*):

``then``                 the step's own ``then``
``phase:<name>``         another phase of the same step
``step:<id>[@<key>]``    enter a step, optionally saying only ``<key>`` instead of its usual prompts
``start``                the exercise's first step (after the opening)
``round_end``            the sender's round is over: switch roles, or close when everybody has sent
``round_start``          the first step of a round (after the switch)
``end:<reason>``         end the session (``done``, ``not_now``)
``consent``              everybody has answered the consent question: say what is kept, then ask who goes first
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from imago_voice.errors import UsageError
from imago_voice.protocol import intents
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
from imago_voice.protocol.fidelity import mirror_fidelity
from imago_voice.protocol.prompts import STEP_KEYS, Prompts

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
    ``"mirror"`` (score fidelity), ``"each"`` (next person), ``"consent"`` (a yes or no from each person). ``sending``: the chunk limit and floor
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
         extra=("next_person", "kept", "not_kept")),
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


@dataclass(frozen=True)
class EngineSettings:
    """Timing and behaviour. Times in seconds unless named otherwise.

    ``chunk_limit``: a sender talking this long hears "let's pause there" once per chunk (0: never).
    ``timeout_minutes``: length of a time-out before the facilitator checks back.
    ``silence_reminder``: silence while somebody is awaited before a reminder (0: never);
    ``max_reminders`` per wait (the first says the step's reminder, later ones its re-prompt).
    ``intention``: include the optional intention step. ``ask_consent``: open by asking each person
    whether the session's words may be kept. ``remirror_below``: fidelity under which the
    receiver is asked once to mirror again (``None``: never). ``max_unclear``: unclear answers at a
    branch point before the engine takes the default way on. ``rate_step``, ``min_rate``, ``max_rate``:
    how "slower"/"faster" change the speaking rate. ``seconds_per_word``: the engine's estimate of how
    long a prompt takes to say at rate 1.0 (silence is counted from the estimated end of a prompt).
    """

    chunk_limit: float = 45.0
    timeout_minutes: float = 20.0
    silence_reminder: float = 12.0
    max_reminders: int = 2
    intention: bool = False
    ask_consent: bool = False
    remirror_below: float | None = None
    max_unclear: int = 2
    rate_step: float = 0.15
    min_rate: float = 0.5
    max_rate: float = 2.0
    seconds_per_word: float = 0.4

    def __post_init__(self) -> None:
        checks = (
            (self.chunk_limit >= 0, "the chunk limit must be zero (off) or more seconds"),
            (self.timeout_minutes > 0, "the time-out must last more than zero minutes"),
            (self.silence_reminder >= 0, "the silence before a reminder must be zero (off) or more seconds"),
            (self.max_reminders >= 0, "the number of reminders cannot be negative"),
            (self.remirror_below is None or 0 < self.remirror_below <= 1, "the re-mirror threshold must be above 0 and at most 1"),
            (self.max_unclear >= 0, "the number of unclear answers cannot be negative"),
            (0 < self.rate_step < 1, "the rate step must be between 0 and 1"),
            (0 < self.min_rate <= 1 <= self.max_rate, "the rate limits must hold 1.0 between them"),
            (self.seconds_per_word >= 0, "the seconds per word cannot be negative"),
        )
        for ok, message in checks:
            if not ok:
                raise UsageError(f"Engine settings: {message}.")


@dataclass
class _Counters:
    """What resets whenever a phase is entered."""

    unclear: int = 0
    reminders: int = 0
    floor_reminded: bool = False
    chunk_prompted: bool = False


class Engine:
    """Walks the participants through one exercise.

    ``exercise``: an id from :data:`EXERCISES`. ``participants``: two or three names, in the order the
    close and the balance use until the first speaker is known. ``prompts``: from
    :func:`~imago_voice.protocol.prompts.load_prompts` for this exercise (checked here: a missing text is
    a :class:`~imago_voice.errors.PromptError`). Bad arguments are a
    :class:`~imago_voice.errors.UsageError`.

    Call :meth:`start` once, then :meth:`handle` for each event; both return the actions to carry out,
    in order. Events before :meth:`start` or after the session ended are ignored.
    """

    def __init__(
        self,
        exercise: str,
        participants: Sequence[str],
        prompts: Prompts,
        settings: EngineSettings | None = None,
    ) -> None:
        if exercise not in EXERCISES:
            raise UsageError(f"Unknown exercise '{exercise}'; choose one of {', '.join(EXERCISES)}.")
        names = [str(n).strip() for n in participants]
        if not 2 <= len(names) <= 3 or any(not n for n in names) or len({n.casefold() for n in names}) != len(names):
            raise UsageError("A session needs two or three people, each with a different name.")
        if prompts.exercise != exercise:
            raise UsageError(f"These prompts are for the exercise '{prompts.exercise}', not '{exercise}'.")
        self._ex = EXERCISES[exercise]
        prompts.require(self._ex.required_keys())
        self._p = prompts
        self._s = settings or EngineSettings()
        self._vocab = prompts.vocabulary
        self._participants = tuple(names)
        self._order: tuple[str, ...] = self._participants
        self._chosen = False
        self._round = 0
        self._sender: str | None = None
        self._receiver: str | None = None
        self._step = self._ex.steps["opening"]
        self._phase = self._step.phases[0]
        self._c = _Counters()
        self._each = 0
        self._chunk: list[str] = []
        self._remirrored = False
        self._history: list[tuple[str, int, str | None]] = []
        self._records: list[StepRecord] = []
        self._last: list[Say] = []
        self._speaking: dict[str | None, float] = {}
        self._quiet_since = 0.0
        self._now = 0.0
        self._started = False
        self._ended = False
        self._paused = False
        self._check_back_at = 0.0
        self._rate = 1.0
        self._mirrors: list[MirrorScored] = []
        self._time: dict[str, dict[str, float]] = {n: {"sender": 0.0, "receiver": 0.0, "other": 0.0} for n in names}
        self._unattributed = 0.0
        self._consent: dict[str, bool] = {}
        self._out: list[Action] = []

    # ------------------------------------------------------------------------------------ public API

    @property
    def exercise(self) -> str:
        return self._ex.id

    @property
    def participants(self) -> tuple[str, ...]:
        """The participants, the first speaker first once known."""
        return self._order

    @property
    def step(self) -> str | None:
        """The current step id (``None`` before :meth:`start`)."""
        return self._step.id if self._started else None

    @property
    def phase(self) -> str | None:
        return self._phase.name if self._started else None

    @property
    def sender(self) -> str | None:
        return self._sender

    @property
    def receiver(self) -> str | None:
        return self._receiver

    @property
    def waiting_for(self) -> str | None:
        """Whose floor it is (``None``: anybody's, or nobody's while paused or ended)."""
        if not self._started or self._ended or self._paused:
            return None
        return self._awaited()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def rate(self) -> float:
        """The speaking rate, as a multiple of the configured base rate."""
        return self._rate

    @property
    def consent(self) -> bool | None:
        """Whether everybody agreed that the words may be kept; ``None`` when nobody was asked (yet)."""
        if not self._s.ask_consent or len(self._consent) < len(self._participants):
            return None
        return all(self._consent.values())

    @property
    def words_may_be_kept(self) -> bool:
        """True unless consent was asked for and not everybody said yes (or not everybody answered)."""
        return not self._s.ask_consent or self.consent is True

    @property
    def consents(self) -> dict[str, bool]:
        """Each person's answer so far."""
        return dict(self._consent)

    @property
    def mirrors(self) -> tuple[MirrorScored, ...]:
        """Every mirror scored so far."""
        return tuple(self._mirrors)

    @property
    def steps(self) -> tuple[StepRecord, ...]:
        """Every step visited so far, with start and end times (for the log)."""
        return tuple(self._records)

    def balance(self) -> Balance:
        """Speaking time so far, per person and per person and role (sender, receiver, other)."""
        by_role = {n: MappingProxyType(dict(r)) for n, r in self._time.items()}
        by_person = {n: sum(r.values()) for n, r in self._time.items()}
        return Balance(MappingProxyType(by_person), MappingProxyType(by_role), self._unattributed)

    def balance_sentence(self) -> str:
        """The balance as said at the close ("Today Sam talked for about 4 minutes and Alex ...")."""
        return self._p.text("close", "balance", self._values(balance=self._balance_text()))

    def snapshot(self, at: float | None = None) -> Snapshot:
        """The state for a status display; ``at`` (default: the last event's time) gives the step timer."""
        now = self._now if at is None else at
        start = self._records[-1].start if self._records else now
        return Snapshot(
            step=self.step, sender=self._sender, receiver=self._receiver, waiting_for=self.waiting_for,
            step_elapsed=max(0.0, now - start), paused=self._paused, ended=self._ended, rate=self._rate,
            balance=self.balance(),
        )

    def start(self, at: float = 0.0) -> list[Action]:
        """Open the session: say what this is and ask who would like to speak first."""
        if self._started:
            raise UsageError("The session has already started.")
        self._started = True
        self._now = self._quiet_since = at
        self._enter_step("consent" if self._s.ask_consent else "opening")
        return self._flush()

    def handle(self, event: Event) -> list[Action]:
        """Take one event; return the actions it leads to (often none)."""
        if not self._started or self._ended:
            return []
        self._now = event.at
        if isinstance(event, Tick):
            self._on_tick()
        elif isinstance(event, TurnEnded):
            self._on_turn(event)
        elif isinstance(event, SpeechStarted):
            self._on_speech_started(event)
        elif isinstance(event, SpeechStopped):
            self._on_speech_stopped(event)
        elif isinstance(event, KeyCommand):
            self._on_key(event)
        else:
            raise UsageError(f"The engine cannot handle {type(event).__name__}.")
        return self._flush()

    # ------------------------------------------------------------------------------------ events

    def _on_tick(self) -> None:
        if self._paused:
            if self._now >= self._check_back_at:
                self._say_command("check_back", None)
                self._check_back_at += self._s.timeout_minutes * 60.0
            return
        phase, awaited = self._phase, self._awaited()
        if phase.who is None:
            return
        if phase.sending and self._s.chunk_limit and not self._c.chunk_prompted:
            since = self._speaking.get(self._sender)
            if since is not None and self._now - since >= self._s.chunk_limit:
                self._c.chunk_prompted = True
                self._say_command("chunk_limit", self._sender)
        if (
            self._s.silence_reminder
            and not self._speaking
            and self._c.reminders < self._s.max_reminders
            and self._now - self._quiet_since >= self._s.silence_reminder
        ):
            key = phase.reminder if self._c.reminders == 0 else phase.reprompt
            self._c.reminders += 1
            self._say_step(key, awaited)

    def _on_speech_started(self, event: SpeechStarted) -> None:
        speaker = self._resolve(event.speaker)
        self._speaking.setdefault(speaker, event.at)
        if not self._paused and self._phase.sending and speaker is not None and speaker != self._awaited():
            self._floor(speaker)

    def _on_speech_stopped(self, event: SpeechStopped) -> None:
        speaker = self._resolve(event.speaker)
        self._speaking.pop(speaker, None)
        self._speaking.pop(None, None)
        self._quiet_since = event.at

    def _on_turn(self, event: TurnEnded) -> None:
        speaker = self._resolve(event.speaker)
        self._speaking.pop(speaker, None)
        self._speaking.pop(None, None)
        self._quiet_since = event.end  # somebody spoke: the facilitator's last prompt is over
        if not self._paused:
            self._account(speaker, max(0.0, event.end - event.start))
        command = intents.recognize_command(event.text, self._vocab)
        if command is not None:
            self._command(command)
            return
        phase = self._phase
        if self._paused or phase.who is None:
            return
        if phase.who == ANYONE:
            self._choose_first(speaker, event.text)
            return
        if phase.hook == "consent":
            if speaker == self._awaited():  # each person answers for themselves
                self._consent_answer(intents.recognize_answer(event.text, self._vocab, ["yes", "no"]))
            return
        if speaker != self._awaited():
            if phase.hook == "mirror" and speaker == self._sender:
                self._chunk.append(event.text)  # the rest of a chunk split by a pause
            elif phase.sending and speaker is not None:
                self._floor(speaker)
            return
        if phase.branches:
            allowed = [answer for answer, _ in phase.branches]
            self._answer(intents.recognize_answer(event.text, self._vocab, allowed))
            return
        self._after_turn(event)

    def _on_key(self, event: KeyCommand) -> None:
        command = event.command.strip().lower().replace("-", "_").replace(" ", "_")
        if command in intents.COMMANDS:
            self._command(command)
        elif command in intents.ANSWERS and not self._paused and command in dict(self._phase.branches):
            self._answer(command)
        elif command in ("yes", "no") and not self._paused and self._phase.hook == "consent":
            self._consent_answer(command)

    # ------------------------------------------------------------------------------------ decisions

    def _after_turn(self, event: TurnEnded) -> None:
        """A turn from the awaited person in a phase without branches."""
        phase = self._phase
        if phase.hook == "chunk":
            self._chunk.append(event.text)
        elif phase.hook == "mirror":
            sent = " ".join(self._chunk).strip()
            if sent:
                score = MirrorScored(event.end, mirror_fidelity(sent, event.text, self._p.fidelity), self._sender, self._receiver)
                self._mirrors.append(score)
                self._emit(score)
                limit = self._s.remirror_below
                if limit is not None and score.fidelity < limit and not self._remirrored:
                    self._remirrored = True
                    self._c = _Counters()
                    self._last = [self._say_command("remirror", self._receiver)]
                    self._emit(WaitFor(self._receiver, self._now))
                    return
        elif phase.hook == "each":
            self._each += 1
            if self._each < len(self._order):
                self._c = _Counters()
                self._last = [self._say_step("next_person", self._awaited())]
                self._emit(WaitFor(self._awaited(), self._now))
                return
        self._go(phase.then)

    def _answer(self, answer: str | None) -> None:
        phase = self._phase
        if answer is None:
            self._c.unclear += 1
            if self._c.unclear > self._s.max_unclear:
                self._go(phase.default)
            else:
                self._say_step(phase.reprompt, self._awaited())
            return
        self._go(dict(phase.branches)[answer])

    def _consent_answer(self, answer: str | None) -> None:
        person = self._awaited()
        if answer is None:
            self._c.unclear += 1
            if self._c.unclear <= self._s.max_unclear:
                self._say_step("reprompt", person)
                return
        agreed = answer == "yes"   # after too many unclear answers: no
        self._consent[person] = agreed
        self._emit(ConsentGiven(self._now, person, agreed))
        self._each += 1
        if self._each < len(self._order):
            self._c = _Counters()
            self._last = [self._say_step("next_person", self._awaited())]
            self._emit(WaitFor(self._awaited(), self._now))
        else:
            self._go("consent")

    def _finish_consent(self) -> None:
        for person in self._participants:   # "next" skips the question: nobody left said yes
            if person not in self._consent:
                self._consent[person] = False
                self._emit(ConsentGiven(self._now, person, False))
        self._say_step("kept" if self.consent else "not_kept", None)
        self._enter_step("opening", "after_consent")

    def _choose_first(self, speaker: str | None, text: str) -> None:
        named = intents.mentioned_names(text, self._participants)
        if named:
            first = named[0]
        elif speaker is not None:
            others = [n for n in self._participants if n != speaker]
            first = others[0] if len(others) == 1 and intents.hands_over(text, self._vocab) else speaker
        else:
            self._c.unclear += 1
            if self._c.unclear > self._s.max_unclear:
                self._begin(self._participants[0])
            else:
                self._say_step("reprompt", None)
            return
        self._begin(first)

    def _begin(self, first: str) -> None:
        i = self._participants.index(first)
        self._order = self._participants[i:] + self._participants[:i]
        self._chosen = True
        self._round = 0
        self._set_roles()
        self._say_step("first", None)
        self._go("start")

    def _command(self, command: str) -> None:
        if command == intents.STOP:
            self._end("stopped")
        elif command == intents.PAUSE:
            if not self._paused:
                self._paused = True
                self._check_back_at = self._now + self._s.timeout_minutes * 60.0
                self._speaking.clear()
                self._say_command("paused", None)
                self._emit(Paused(self._now, self._check_back_at))
        elif command == intents.RESUME:
            if self._paused:
                self._paused = False
                self._speaking.clear()
                self._c = _Counters()
                self._say_command("resumed", None)
                self._emit(Resumed(self._now))
                self._repeat()
        elif command in (intents.SLOWER, intents.FASTER):
            factor = 1 - self._s.rate_step if command == intents.SLOWER else 1 + self._s.rate_step
            self._rate = round(min(self._s.max_rate, max(self._s.min_rate, self._rate * factor)), 3)
            self._emit(RateChanged(self._now, self._rate))
            self._say_command(command, None)
        elif command == intents.REPEAT:
            if self._paused:
                self._say_command("paused", None)
            else:
                self._repeat()
        elif self._paused:
            return  # next/back wait for the resume
        elif command == intents.NEXT:
            if self._phase.who == ANYONE:
                self._begin(self._participants[0])
            else:
                self._go("then")
        elif command == intents.BACK:
            self._back()

    def _back(self) -> None:
        if len(self._history) < 2:
            self._repeat()
            return
        self._history.pop()
        step_id, round_, override = self._history.pop()
        self._round = round_
        if self._chosen:
            self._set_roles()
        self._enter_step(step_id, override)

    def _repeat(self) -> None:
        for say in self._last:
            self._emit(Say(say.text, say.to, say.step, say.key, self._now))
            self._note_speech(say.text)
        if self._last:
            self._emit(WaitFor(self._awaited(), self._now))

    # ------------------------------------------------------------------------------------ moving

    def _go(self, target: str, step: Step | None = None) -> None:
        step = step or self._step
        if target == "then":
            target = step.then
        kind, _, arg = target.partition(":")
        if kind == "phase":
            self._enter_phase(next(p for p in self._step.phases if p.name == arg))
        elif kind == "step":
            step_id, _, override = arg.partition("@")
            self._enter_step(step_id, override or None)
        elif kind == "start":
            self._enter_step(self._ex.first)
        elif kind == "round_start":
            self._enter_step(self._ex.round_start)
        elif kind == "round_end":
            if self._round + 1 < len(self._order):
                self._round += 1
                self._set_roles()
                self._enter_step("switch")
            else:
                self._enter_step("close")
        elif kind == "end":
            self._end(arg)
        elif kind == "consent":
            self._finish_consent()
        else:  # pragma: no cover - the tables are checked by the tests
            raise ValueError(f"bad target {target!r}")

    def _enter_step(self, step_id: str, override: str | None = None) -> None:
        step = self._ex.steps[step_id]
        if step.optional and not getattr(self._s, step.optional):
            self._go("then", step)
            return
        if not step.announces:
            self._history.append((step_id, self._round, override))
        self._close_record()
        self._records.append(StepRecord(step_id, self._now, None, self._sender, self._receiver))
        self._step = step
        self._each = 0
        if any(p.hook == "mirror" for p in step.phases):
            self._remirrored = False
        self._emit(StepChanged(step_id, self._sender, self._receiver, self._now))
        self._enter_phase(step.phases[0], override)

    def _enter_phase(self, phase: Phase, override: str | None = None) -> None:
        self._phase = phase
        self._c = _Counters()
        if phase.hook == "chunk":
            self._chunk = []
        who = self._awaited()
        said = [self._say_step(key, who) for key in ((override,) if override else phase.say)]
        if phase.who is None:
            self._go(phase.then)
            return
        self._last = said
        self._emit(WaitFor(who, self._now))

    def _end(self, reason: str) -> None:
        if reason == "done":
            self._say_step("balance", None, balance=self._balance_text())
        elif reason == "not_now":
            self._say_step("not_now", None)
        else:
            self._say_command("stopped", None)
        self._close_record()
        self._ended = True
        self._paused = False
        self._emit(SessionEnded(self._now, reason))

    def _close_record(self) -> None:
        if self._records and self._records[-1].end is None:
            r = self._records[-1]
            self._records[-1] = StepRecord(r.step, r.start, self._now, r.sender, r.receiver)

    # ------------------------------------------------------------------------------------ helpers

    def _set_roles(self) -> None:
        n = len(self._order)
        self._sender = self._order[self._round % n]
        self._receiver = self._order[(self._round + 1) % n]

    def _awaited(self) -> str | None:
        who = self._phase.who
        if who == SENDER:
            return self._sender
        if who == RECEIVER:
            return self._receiver
        if who == EACH:
            return self._order[min(self._each, len(self._order) - 1)]
        return None

    def _resolve(self, speaker: str | None) -> str | None:
        if speaker in self._participants:
            return speaker
        return self._awaited()

    def _account(self, speaker: str | None, seconds: float) -> None:
        if speaker is None:
            self._unattributed += seconds
            return
        role = "other"
        if self._step.roles and speaker == self._sender:
            role = "sender"
        elif self._step.roles and speaker == self._receiver:
            role = "receiver"
        self._time[speaker][role] += seconds

    def _floor(self, speaker: str) -> None:
        if not self._c.floor_reminded:
            self._c.floor_reminded = True
            self._say_command("floor", speaker, floor=self._awaited())

    def _join(self, items: Sequence[str]) -> str:
        if len(items) < 2:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self._p.word('and', {})} {items[-1]}"

    def _time_words(self, seconds: float) -> str:
        if seconds < 60:
            return self._p.word("time_short", {})
        minutes = round(seconds / 60)
        if minutes <= 1:
            return self._p.word("time_minute", {})
        return self._p.word("time_minutes", {"n": minutes})

    def _balance_text(self) -> str:
        totals = self.balance().by_person
        return self._join([self._p.word("balance_item", {"name": n, "time": self._time_words(totals[n])}) for n in self._order])

    def _values(self, **extra: object) -> dict[str, object]:
        minutes = self._s.timeout_minutes
        values: dict[str, object] = {
            "sender": self._sender,
            "receiver": self._receiver,
            "names": self._join(list(self._order)),
            "floor": self._awaited(),
            "minutes": int(minutes) if float(minutes).is_integer() else minutes,
        }
        values.update(extra)
        return values

    def _say_step(self, key: str, to: str | None, **extra: object) -> Say:
        values = self._values(**extra)
        values.setdefault("name", to)
        return self._say(self._p.text(self._step.table, key, values), to, self._step.id, key)

    def _say_command(self, key: str, to: str | None, **extra: object) -> Say:
        values = self._values(**extra)
        values.setdefault("name", to)
        return self._say(self._p.command(key, values), to, "commands", key)

    def _say(self, text: str, to: str | None, step: str, key: str) -> Say:
        say = Say(text, to, step, key, self._now)
        self._emit(say)
        self._note_speech(text)
        return say

    def _note_speech(self, text: str) -> None:
        """Silence is counted from the estimated end of what the facilitator says."""
        seconds = len(text.split()) * self._s.seconds_per_word / self._rate
        self._quiet_since = max(self._quiet_since, self._now) + seconds

    def _emit(self, action: Action) -> None:
        self._out.append(action)

    def _flush(self) -> list[Action]:
        out, self._out = self._out, []
        return out
