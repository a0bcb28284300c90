"""The facilitator's brain: a pure state machine from events to actions.

No I/O, no clock, no threads: the caller feeds :mod:`~imago_voice.protocol.events` (with times on the
audio clock) to :meth:`Engine.handle` and carries out the actions it returns, in order. The exercises it
walks are the tables of :mod:`.exercises`; what it says comes from :mod:`.phrasing`; every turn goes into
the session's :class:`~imago_voice.ledger.Ledger`, which the balance it reports and says is asked of.

How it decides
--------------
* **From who spoke** (roles) everywhere: a turn from the person whose floor it is moves the exercise on;
  a turn from anybody else does not (during a send, the other person hears once that the floor is the
  sender's).
* **From what was said** only at branch points (yes / no / there is more / that's all / not now, see
  :mod:`.intents`), and for the voice commands, which work anywhere, from anyone.
* **Unknown speakers.** A turn or speech start whose speaker is ``None`` (or not a participant) is taken
  to be from the person whose floor it is, for moving on. In the opening, where anybody may answer, it
  counts only if it names somebody ("Sam goes first"). Its time is never credited to anybody: the
  ledger keeps it as unattributed.
* **Who goes first** is decided by the first turn after the opening: a participant's name said in it
  wins (the first name said), else "you go first" hands it to the other of two, else its speaker.
* **Consent** (``ask_consent``): before the opening question each person is asked, by name, whether the
  words of the session may be kept; only a clear yes counts, and :attr:`Engine.consent` is true only
  when everybody said yes. Each answer is a :class:`ConsentGiven` action.
* **Split chunks.** Speech by the sender after the send ended but before the receiver mirrors is added
  to the chunk the mirror is scored against.
* **Time-outs.** While paused only the voice commands count; speech then is kept in the ledger as
  paused time, credited to nobody.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import MappingProxyType

from imago_voice.errors import SettingsError
from imago_voice.ledger import Ledger
from imago_voice.protocol import intents
from imago_voice.protocol.events import (
    Action,
    Balance,
    ConsentGiven,
    Event,
    KeyCommand,
    LearnVoice,
    MirrorScored,
    OverlapDetected,
    Say,
    Snapshot,
    SpeechDropped,
    SpeechStarted,
    StepRecord,
    Tick,
    TurnEnded,
    TurnPlaced,
    SafetyEvent,
    WaitFor,
)
from imago_voice.protocol.ahead import texts_ahead
from imago_voice.protocol.exercises import ANYONE, EXERCISES
from imago_voice.protocol.fidelity import mirror_fidelity
from imago_voice.protocol.follow import Follow
from imago_voice.protocol.guard import Guard
from imago_voice.protocol.levels import OwnLevels
from imago_voice.protocol.phrasing import Phrasing
from imago_voice.protocol.tracker import Assignment, StepTracker
from imago_voice.protocol.walk import Walk, PhaseCounters
from imago_voice.protocol.prompts import Prompts
from imago_voice.protocol.settings import EngineSettings
from imago_voice.protocol.text import normalize


#: An answer to "who would like to speak first?" is at most this many words; a longer turn is the speaker starting.
_SHORT_ANSWER_WORDS = 8


class Engine(Walk, Follow, Guard):
    """Walks the participants through one exercise.

    ``exercise``: an id from :data:`~imago_voice.protocol.exercises.EXERCISES`. ``participants``: two or
    three names, in the order the close and the balance use until the first speaker is known.
    ``prompts``: from :func:`~imago_voice.protocol.prompts.load_prompts` for this exercise (checked here:
    a missing text is a :class:`~imago_voice.errors.PromptError`). ``ledger``: where the turns are
    recorded (a new one by default). Bad arguments are a :class:`~imago_voice.errors.SettingsError`.

    Call :meth:`start` once, then :meth:`handle` for each event; both return the actions to carry out,
    in order. Events before :meth:`start` or after the session ended are ignored.
    """

    def __init__(self, exercise: str, participants: Sequence[str], prompts: Prompts,
                 settings: EngineSettings | None = None, *, ledger: Ledger | None = None,
                 time_of_day: Callable[[float], str | None] | None = None) -> None:
        # time_of_day(seconds from now): that moment as the time of day to say ("8:40 PM"), or None
        if exercise not in EXERCISES:
            raise SettingsError(f"Unknown exercise '{exercise}'; choose one of {', '.join(EXERCISES)}.")
        names = [str(n).strip() for n in participants]
        if not 2 <= len(names) <= 3 or any(not n for n in names) or len({n.casefold() for n in names}) != len(names):
            raise SettingsError("A session needs two or three people, each with a different name.")
        if prompts.exercise != exercise:
            raise SettingsError(f"These prompts are for the exercise '{prompts.exercise}', not '{exercise}'.")
        self._ex = EXERCISES[exercise]
        prompts.require(self._ex.required_keys())
        self._prompts = prompts
        self._settings = settings or EngineSettings()
        self._phrasing = Phrasing(prompts, self._settings.timeout_minutes)
        self._vocab = prompts.vocabulary
        self.ledger = ledger if ledger is not None else Ledger(names)
        self._participants = tuple(names)
        self._order: tuple[str, ...] = self._participants
        self._chosen = False
        self._round = 0
        self._sender: str | None = None
        self._receiver: str | None = None
        self._step = self._ex.steps["opening"]
        self._phase = self._step.phases[0]
        self._counters = PhaseCounters()
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
        self._consent: dict[str, bool] = {}
        # one shared microphone: the people whose voices the session learns first (in the "voices" step)
        self._learning = tuple(n for n in names if n in self._settings.learn_voices)
        self._out: list[Action] = []
        # following the couple (see :mod:`.follow`)
        self._tracker = StepTracker(exercise, names, prompts.moves) if prompts.moves is not None else None
        self._assignment: Assignment | None = None
        self._placements: list[TurnPlaced] = []
        self._held: list[Say] = []
        self._couple_waits = False   # light guidance: they waited for the last prompt held (so lead sooner)
        # safety (see :mod:`.guard`)
        self._crisis: str | None = None
        self._heat: deque[float] = deque()
        self._pause_due = False
        self._pause_offered: float | None = None
        self._last_offer: float | None = None
        self._checking: TurnEnded | None = None   # a check-in was asked about this turn
        self._last_check: float | None = None
        self._returning: list[str] | None = None
        self._time_of_day = time_of_day
        self._last_turn: TurnEnded | None = None
        s = self._settings
        self._levels = OwnLevels(s.raised_voice_db, s.raised_after, s.raised_history)   # a raised voice
        self._stemless: set[str] = set()
        self._stems_told: set[str] = set()

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
        if not self._started or self._ended or self._crisis is not None:
            return None
        if self._paused:
            return self._returning[0] if self._returning else None
        return self._awaited()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def crisis(self) -> str | None:
        """What the crisis stop was for (self_harm, violence, child), while the exercise is stopped for it."""
        return self._crisis

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def rate(self) -> float:
        """The speaking rate, as a multiple of the configured base rate."""
        return self._rate

    def command_in(self, text: str, over_prompt: bool = False) -> str | None:
        """The voice command ``text`` is (in the session's language), or None: what a session needs to know
        about words said over a prompt before the engine hears them. ``over_prompt``: said while a prompt
        plays, where "wait" (:data:`~.intents.HOLD`) counts too (the session stops the prompt; the engine is
        not told)."""
        return intents.recognize_command(text, self._vocab, over_prompt)

    def texts_ahead(self) -> list[tuple[str, bool]]:
        """The prompt texts this session may say that the names alone determine, as ``(text, slow)``,
        most urgent first (for rendering them ahead; see :mod:`.ahead`)."""
        return texts_ahead(self._prompts, self._participants, self._phrasing,
                           [s.table for s in self._ex.steps.values()])

    @property
    def voices_to_learn(self) -> tuple[str, ...]:
        """The people whose voice samples the session asks for (one shared microphone)."""
        return self._learning

    @property
    def consent(self) -> bool | None:
        """Whether everybody agreed that the words may be kept; ``None`` when nobody was asked (yet)."""
        if not self._settings.ask_consent or len(self._consent) < len(self._participants):
            return None
        return all(self._consent.values())

    @property
    def words_may_be_kept(self) -> bool:
        """True unless consent was asked for and not everybody said yes (or not everybody answered)."""
        return not self._settings.ask_consent or self.consent is True

    @property
    def consents(self) -> dict[str, bool]:
        """Each person's answer so far."""
        return dict(self._consent)

    @property
    def mirrors(self) -> tuple[MirrorScored, ...]:
        """Every mirror scored so far."""
        return tuple(self._mirrors)

    @property
    def placements(self) -> tuple[TurnPlaced, ...]:
        """Where the step tracker put each turn it saw, and whether the engine followed it there."""
        return tuple(self._placements)

    @property
    def guide(self) -> str:
        """The guidance: full, light or silent (see :mod:`.follow`)."""
        return self._settings.guide

    @property
    def steps(self) -> tuple[StepRecord, ...]:
        """Every step visited so far, with start and end times (for the log)."""
        return tuple(self._records)

    def balance(self) -> Balance:
        """Speaking time so far, from the ledger: per person, per person and role, per step."""
        ledger = self.ledger
        freeze = lambda table: MappingProxyType({k: MappingProxyType(v) for k, v in table.items()})  # noqa: E731
        return Balance(MappingProxyType(ledger.seconds()), freeze(ledger.by_role()), ledger.unattributed_seconds,
                       ledger.paused_seconds, freeze(ledger.by_step()))

    def balance_sentence(self) -> str:
        """The balance as said at the close ("Today Sam talked for about 4 minutes and Alex ...")."""
        return self._phrasing.step("close", "balance", self._values(balance=self._balance_text()))

    def snapshot(self, at: float | None = None) -> Snapshot:
        """The state for a status display; ``at`` (default: the last event's time) gives the step timer."""
        now = self._now if at is None else at
        start = self._records[-1].start if self._records else now
        return Snapshot(
            step=self.step, sender=self._sender, receiver=self._receiver, waiting_for=self.waiting_for,
            step_elapsed=max(0.0, now - start), paused=self._paused, ended=self._ended, rate=self._rate,
            balance=self.balance(), crisis=self._crisis,
        )

    def start(self, at: float = 0.0) -> list[Action]:
        """Open the session: say what this is and ask who would like to speak first."""
        if self._started:
            raise RuntimeError("The session has already started.")
        self._started = True
        self._now = self._quiet_since = at
        if self._settings.disclose:
            resources = self._prompts.resources
            self._say_command("disclosure", None, brief=resources.brief if resources is not None else "")
            self._emit(SafetyEvent(at, "disclosure"))
        if self._settings.ask_consent:
            self._enter_step("consent", "enter_voices" if self._learning else None)
        else:
            self._enter_step("voices" if self._learning else "opening")
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
        elif isinstance(event, SpeechDropped):
            self._on_speech_dropped(event)
        elif isinstance(event, OverlapDetected):
            self.ledger.add_overlap(event.overlap)
            self._note_overlap(event.at)
        elif isinstance(event, KeyCommand):
            self._on_key(event)
        else:
            raise TypeError(f"The engine cannot handle {type(event).__name__}.")
        return self._flush()

    # ------------------------------------------------------------------------------------ events

    def _on_tick(self) -> None:
        if self._crisis is not None or self._checking is not None:
            return   # after a crisis stop nothing is said unless asked for; a check-in waits for its answer
        if self._paused:
            if self._now >= self._check_back_at:
                self._say_command("check_back", None)
                self._check_back_at += self._settings.timeout_minutes * 60.0
            return
        phase, awaited = self._phase, self._awaited()
        if phase.who is None:
            return
        self._offer_pause_if_quiet()
        self._lead_if_waiting()
        if phase.sending and self._settings.chunk_limit and not self._counters.chunk_prompted:
            since = self._speaking.get(self._sender)
            if since is not None and self._now - since >= self._settings.chunk_limit:
                self._counters.chunk_prompted = True
                self._say_command("chunk_limit", self._sender)
        if (
            self._settings.silence_reminder
            and not self._speaking
            and self._counters.reminders < self._settings.max_reminders
            and self._now - self._quiet_since >= self._settings.silence_reminder
        ):
            key = phase.reminder if self._counters.reminders == 0 else phase.reprompt
            self._counters.reminders += 1
            self._say_step(key, awaited)

    def _on_speech_started(self, event: SpeechStarted) -> None:
        speaker = self._resolve(event.speaker)
        self._speaking.setdefault(speaker, event.at)
        if not self._paused and self._phase.sending and speaker is not None and speaker != self._awaited():
            self._floor(speaker)

    def _on_speech_dropped(self, event: SpeechDropped) -> None:
        speaker = self._resolve(event.speaker)
        self._speaking.pop(speaker, None)
        self._speaking.pop(None, None)
        self._quiet_since = event.at

    def _on_turn(self, event: TurnEnded) -> None:
        speaker = self._resolve(event.speaker)
        self._speaking.pop(speaker, None)
        self._speaking.pop(None, None)
        self._quiet_since = event.end  # somebody spoke: the facilitator's last prompt is over
        command = intents.recognize_command(event.text, self._vocab)
        if self._crisis is not None:
            self._record_turn(event, None)
            self._during_crisis(event, command)
            return
        cue = self._crisis_cue(event.text) if command is None else None
        if cue is not None:   # before anything else, in any step, in a time-out too
            self._record_turn(event, None)
            self._crisis_stop(cue, event)
            return
        if self._checking is not None:
            if self._answer_check_in(event, command):
                return
        elif command is None and event.screen is not None and self._check_in(event):
            return
        if self._returning is not None and command is None:
            self._record_turn(event, None)
            self._return_answer(event, intents.recognize_answer(event.text, self._vocab, ["yes", "no"]))
            return
        if self._pause_offered is not None and command is None and self._answer_pause_offer(event):
            self._record_turn(event, None)
            return
        if command is None and not self._paused:
            self._note_heat(event)
        place = None if command is not None else intents.recognize_place(event.text, self._vocab)
        if command is not None or place is not None:
            self._record_turn(event, None)
            if command is not None:
                self._command(command)
            else:
                self._go_to_place(place)
            return
        phase = self._phase
        if self._paused or phase.who is None or phase.hook in ("consent", "voices"):
            if phase.hook == "voices" and not self._paused:
                # the sample is the person asked for, whoever the voiceprints made so far say it was
                event = replace(event, speaker=self._awaited())
            self._record_turn(event, None)
            if phase.hook == "consent" and not self._paused and speaker == self._awaited():
                # each person answers for themselves
                self._consent_answer(intents.recognize_answer(event.text, self._vocab, ["yes", "no"]))
            elif phase.hook == "voices" and not self._paused:
                self._voice_sample(event)   # whoever the voiceprints (not yet all made) say it was
            return
        for piece in self._pieces(event):   # one person's moves run together are taken one by one
            if self._ended:
                return
            self._take_turn(piece)

    def _take_turn(self, event: TurnEnded) -> None:
        """A turn (or a piece of one) that is not a command, in the exercise: place it, then follow or read it."""
        speaker = self._resolve(event.speaker)
        phase = self._phase
        if phase.who is None:
            return
        if self._held:   # the couple went on before the prompts held for this place were needed
            self._couple_waits = False
        self._held = []
        placed = self._place_turn(event)
        followed = placed is not None and self._should_follow(placed, event.speaker, event.text)
        # the ledger keeps the turn where the tracker put it when the engine followed it there, or when the
        # tracker is sure and the roles are known (the sender's "yes" after a summary the engine moved on
        # from is the summary's); else where the engine took it
        sure = placed is not None and self._chosen and placed.confidence >= self._settings.follow_confidence
        self._record_turn(event, placed if followed or sure else None)
        if placed is not None:
            self._note_placement(event, placed, followed)
        if followed:
            self._note_stem(placed)
            self._follow(placed, event)
            return
        if phase.who == ANYONE:
            self._choose_first(speaker, event.text)
            return
        if speaker != self._awaited():
            if phase.hook == "mirror" and speaker == self._sender:
                self._chunk.append(event.text)  # the rest of a chunk split by a pause
            elif phase.sending and speaker is not None and not (placed is not None and placed.kind == "ack"):
                self._floor(speaker)   # (the sender's "yes, that's it" to the last step is not taking the floor)
            return
        if placed is not None and (placed.step, placed.phase) == self._here():
            self._note_stem(placed)
        if phase.branches:
            allowed = [answer for answer, _ in phase.branches]
            self._answer(intents.recognize_answer(event.text, self._vocab, allowed))
            return
        self._after_turn(event)

    def _on_key(self, event: KeyCommand) -> None:
        command = event.command.strip().lower().replace("-", "_").replace(" ", "_")
        if self._crisis is not None:
            if command in intents.COMMANDS:
                self._during_crisis(TurnEnded(None, event.at, event.at, ""), command)
            return
        if self._returning is not None and command in ("yes", "no"):
            self._return_answer(None, command)
            return
        if self._checking is not None:   # the facilitator's key goes on: the held turn is kept, not taken
            held, self._checking = self._checking, None
            self._emit(SafetyEvent(self._now, "check_in_declined", held.screen.category,
                                   held.speaker if held.speaker in self._participants else None))
            self._record_turn(held, None)
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
            sent = self._sent_words()
            if sent:
                fidelity = mirror_fidelity(sent, event.text, self._prompts.fidelity)
                if self._is_not_a_mirror(event.text, fidelity) and not self._remirrored:
                    # light guidance: the receiver answered back instead of mirroring: lead the mirror
                    self._remirrored = True
                    self._counters = PhaseCounters()
                    led, self._last = self._last, []
                    if led and not any(s.key == "remirror" for s in led):
                        self._release(led)
                        self._last = led
                    else:
                        self._last = [self._say_command("remirror", self._receiver)]
                    self._emit(WaitFor(self._receiver, self._now))
                    return
                score = MirrorScored(event.end, fidelity, self._sender, self._receiver)
                self._mirrors.append(score)
                self._emit(score)
                limit = self._settings.remirror_below
                if limit is not None and score.fidelity < limit and not self._remirrored:
                    self._remirrored = True
                    self._counters = PhaseCounters()
                    self._last = [self._say_command("remirror", self._receiver)]
                    self._emit(WaitFor(self._receiver, self._now))
                    return
        elif phase.hook == "each":
            self._each += 1
            if self._each < len(self._order):
                self._counters = PhaseCounters()
                self._last = []
                self._lead("next_person", self._awaited())
                self._emit(WaitFor(self._awaited(), self._now))
                return
        self._go(phase.then)

    def _answer(self, answer: str | None) -> None:
        phase = self._phase
        if answer is None:
            self._counters.unclear += 1
            if self._counters.unclear > self._settings.max_unclear:
                self._go(phase.default)
            else:
                self._say_step(phase.reprompt, self._awaited())
            return
        self._go(dict(phase.branches)[answer])

    def _consent_answer(self, answer: str | None) -> None:
        person = self._awaited()
        if answer is None:
            self._counters.unclear += 1
            if self._counters.unclear <= self._settings.max_unclear:
                self._say_step("reprompt", person)
                return
        agreed = answer == "yes"   # after too many unclear answers: no
        self._consent[person] = agreed
        self._emit(ConsentGiven(self._now, person, agreed))
        self._each += 1
        if self._each < len(self._order):
            self._counters = PhaseCounters()
            self._last = [self._say_step("next_person", self._awaited())]
            self._emit(WaitFor(self._awaited(), self._now))
        else:
            self._go("consent")

    def _voice_sample(self, event: TurnEnded) -> None:
        """The awaited person's voice sample: learn it (a short one is asked for again, once or twice)."""
        person = self._awaited()
        if event.end - event.start < self._settings.voice_sample and \
                self._counters.unclear < self._settings.max_unclear:
            self._counters.unclear += 1
            self._say_step("reprompt", person)
            return
        keep = self._consent.get(person) is True
        self._emit(LearnVoice(self._now, person, event.start, event.end, keep))
        self._say_step("learned_kept" if keep else "learned", person)
        self._each += 1
        if self._each < len(self._learning):
            self._counters = PhaseCounters()
            self._last = [self._say_step("next_person", self._awaited())]
            self._emit(WaitFor(self._awaited(), self._now))
        else:
            self._go("voices")

    def _finish_consent(self) -> None:
        for person in self._participants:   # "next" skips the question: nobody left said yes
            if person not in self._consent:
                self._consent[person] = False
                self._emit(ConsentGiven(self._now, person, False))
        self._say_step("kept" if self.consent else "not_kept", None)
        self._enter_step("voices" if self._learning else "opening", "after_consent")

    def _choose_first(self, speaker: str | None, text: str) -> None:
        # a short answer names who starts ("Alex, you start", "you go first"); in a longer turn the speaker
        # has started ("Hi Alex, could we talk about how fast you drive? Is this okay for you?")
        short = len(normalize(text)) <= _SHORT_ANSWER_WORDS or speaker is None
        named = intents.mentioned_names(text, self._participants) if short else []
        if named:
            first = named[0]
        elif speaker is not None:
            others = [n for n in self._participants if n != speaker]
            first = others[0] if len(others) == 1 and short and intents.hands_over(text, self._vocab) else speaker
        else:
            self._counters.unclear += 1
            if self._counters.unclear > self._settings.max_unclear:
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
        self._last = []
        self._lead("first", None)
        first_said = self._last
        self._go("start")
        self._last = first_said + self._last if self._settings.guide != "full" else self._last
        self._reanchor()

    def _floor(self, speaker: str) -> None:
        if not self._counters.floor_reminded:
            self._counters.floor_reminded = True
            self._say_command("floor", speaker, floor=self._awaited())
