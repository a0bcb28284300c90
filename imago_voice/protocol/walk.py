"""How the engine moves through an exercise's tables and what it says on the way (a part of :class:`Engine`).

:class:`Walk` holds the engine's moving parts: going to a target (:meth:`Walk._go`), entering a step or
a phase (and saying its prompts), going back, repeating the last prompts, ending; the voice commands that steer all of that (pause, resume, slower,
faster, repeat, next, back, stop); the roles of each
round; and turning prompt keys into :class:`~imago_voice.protocol.events.Say` actions. It is a mixin of
:class:`~imago_voice.protocol.engine.Engine`, whose ``__init__`` makes the state used here (``_ex``,
``_step``, ``_phase``, ``_round``, ``_order``, ``_sender``, ``_receiver``, ``_history``, ``_records``,
``_last``, ``_counters``, ``_settings``, ``_phrasing``, ``_now``, ``_rate``, ``_quiet_since``, ``_out``)
and whose decisions (what a turn means) call into it. The split is the seam between *where the couple
is* and *what their words mean*.
"""

from __future__ import annotations

from dataclasses import dataclass

from imago_voice.protocol import intents
from imago_voice.protocol.events import Action, RateChanged, Say, SessionEnded, StepChanged, StepRecord, WaitFor
from imago_voice.protocol.exercises import ANYONE, EACH, RECEIVER, SENDER, Phase, Step


@dataclass
class PhaseCounters:
    """What resets whenever a phase is entered."""

    unclear: int = 0
    reminders: int = 0
    floor_reminded: bool = False
    chunk_prompted: bool = False


class Walk:
    """The moving half of the engine (see the module docstring)."""

    def _command(self, command: str) -> None:
        if command == intents.STOP:
            self._end("stopped")
        elif command == intents.PAUSE:
            if not self._paused:
                self._start_timeout()
        elif command == intents.RESUME:
            if self._paused and self._returning is None:
                self._ask_to_go_on()   # each person says whether they want to go on (see guard.py)
        elif command in (intents.SLOWER, intents.FASTER):
            factor = 1 - self._settings.rate_step if command == intents.SLOWER else 1 + self._settings.rate_step
            self._rate = round(min(self._settings.max_rate, max(self._settings.min_rate, self._rate * factor)), 3)
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
            self._held = []
            if self._phase.who == ANYONE:
                self._begin(self._participants[0])
            else:
                self._go("then")
            self._reanchor()
        elif command == intents.BACK:
            self._held = []
            self._back()
            self._reanchor()

    def _go_to_place(self, step_id: str) -> None:
        """"We are at the summary", "back to the mirror": go to that step of this round and say its prompts."""
        if self._paused or not self._chosen:
            return
        if step_id == "mirror":   # the mirror of the last send (an exercise has one mirror per send)
            send = next((s for s, _, _ in reversed(self._history) if any(p.hook == "chunk" for p in self._ex.steps[s].phases)),
                        self._ex.first)
            step_id = self._ex.steps[send].then.partition(":")[2]
        if step_id == "switch":
            self._go("round_end")
        elif step_id in self._ex.steps:
            self._held = []
            self._enter_step(step_id)
        else:
            return
        self._reanchor()

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
        self._held = []
        if self._settings.guide != "silent":
            self._release(list(self._last))
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
        elif kind == "voices":
            self._enter_step("opening", "after_consent")
        else:  # pragma: no cover - the tables are checked by the tests
            raise ValueError(f"bad target {target!r}")

    def _enter_step(self, step_id: str, override: str | None = None) -> None:
        step = self._ex.steps[step_id]
        if step.optional and not getattr(self._settings, step.optional):
            self._go("then", step)
            return
        self._open_step(step, override)
        self._enter_phase(step.phases[0], override)

    def _open_step(self, step: Step, override: str | None = None) -> None:
        """Make ``step`` the current one: its place in the history, its record, the StepChanged action."""
        if not step.announces:
            self._history.append((step.id, self._round, override))
        self._close_record()
        self._records.append(StepRecord(step.id, self._now, None, self._sender, self._receiver))
        self._step = step
        self._each = 0
        if any(p.hook == "mirror" for p in step.phases):
            self._remirrored = False
        self._emit(StepChanged(step.id, self._sender, self._receiver, self._now))

    def _enter_phase(self, phase: Phase, override: str | None = None) -> None:
        self._phase = phase
        self._counters = PhaseCounters()
        if phase.hook == "chunk":
            self._chunk = []
        who = self._awaited()
        self._last = []
        for key in (override,) if override else phase.say:
            self._lead(key, who)
        if phase.who is None:
            self._go(phase.then)
            return
        self._emit(WaitFor(who, self._now))

    def _end(self, reason: str) -> None:
        if reason == "done":
            self._say_step("balance", None, balance=self._balance_text())
        elif reason == "not_now":
            self._say_step("not_now", None)
        elif reason == "declined":
            pass   # not everybody wanted to go on after a time-out: the kind words were said already
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
            people = self._learning if self._phase.hook == "voices" else self._order
            return people[min(self._each, len(people) - 1)]
        return None

    def _resolve(self, speaker: str | None) -> str | None:
        if speaker in self._participants:
            return speaker
        return self._awaited()

    def _balance_text(self) -> str:
        return self._phrasing.balance(self._order, self.ledger.seconds(), self.ledger.unattributed_seconds)

    def _values(self, **extra: object) -> dict[str, object]:
        values = self._phrasing.values(sender=self._sender, receiver=self._receiver, order=self._order,
                                       floor=self._awaited())
        values.update(extra)
        return values

    def _say_step(self, key: str, to: str | None, **extra: object) -> Say:
        values = self._values(**extra)
        values.setdefault("name", to)
        return self._say(self._phrasing.step(self._step.table, key, values), to, self._step.id, key)

    def _say_command(self, key: str, to: str | None, *, force: bool = False, slow: bool = False, **extra: object) -> Say:
        values = self._values(**extra)
        values.setdefault("name", to)
        return self._say(self._phrasing.command(key, values), to, "commands", key, force=force, slow=slow)

    def _say_text(self, text: str, to: str | None, step: str, key: str) -> Say:
        """Say a text as it is, slowly, whatever the guidance (the crisis resources)."""
        return self._say(text, to, step, key, force=True, slow=True)

    def _say(self, text: str, to: str | None, step: str, key: str, *, force: bool = False, slow: bool = False) -> Say:
        say = Say(text, to, step, key, self._now, slow)
        if force or self._settings.guide != "silent":   # silent guidance says nothing, but a crisis stop
            self._emit(say)
            self._note_speech(text)
        return say

    def _note_speech(self, text: str) -> None:
        """Silence is counted from the estimated end of what the facilitator says."""
        seconds = len(text.split()) * self._settings.seconds_per_word / self._rate
        self._quiet_since = max(self._quiet_since, self._now) + seconds

    def _emit(self, action: Action) -> None:
        self._out.append(action)

    def _flush(self) -> list[Action]:
        out, self._out = self._out, []
        return out
