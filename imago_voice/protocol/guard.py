"""Safety in the engine (a part of :class:`~imago_voice.protocol.engine.Engine`): what it does when a
conversation is no longer safe, when it heats up, and around a time-out.

* **Crisis stop.** A turn that speaks of self-harm or suicide, of violence or fear of a partner, or of a
  child in danger (:func:`~imago_voice.protocol.safety.crisis_cue`) stops the exercise at once, from any
  step, whoever said it, in a time-out too: the facilitator says, slowly, that this matters more than the
  exercise, says the resources of the session's locale for what was heard (data, see :mod:`.resources`),
  and offers to say them again. Whatever the guidance, silent included, this is spoken. Then it waits:
  "repeat" says the resources again, "resume" (somebody asks to go back) returns to the exercise where it
  was, "stop" ends; nothing else moves it, no reminder is said. It never diagnoses and never argues.
* **Escalation.** Blame and contempt markers (:func:`~imago_voice.protocol.safety.blame_markers`),
  interruptions (a turn that starts while the other's was still going), overlaps and raised voices (a turn
  ``raised_voice_db`` louder than the median of the same person's earlier turns on their microphone: each
  person is their own baseline, so a soft partner and a loud one are judged apart), counted over the last
  ``escalation_window`` seconds: at ``escalation_cues`` of them the facilitator offers a pause ("Let's take
  a breath. Would you like a short break?") at the next quiet moment (never over somebody speaking), at
  most once every ``escalation_every`` seconds. A yes starts a time-out; a no goes on.
* **Time-out.** It says how long and, when the session knows the time of day, when to meet back, and
  suggests something calming to do apart. At "resume" each person is asked whether they want to go on;
  everybody's yes goes on where it was, anybody's no ends the session kindly.
* **Check-in.** A crisis screen at the edge (a small model, :mod:`imago_voice.screen`) reads every turn too;
  when it hears crisis language that the rules did not, the facilitator does not stop the exercise but asks,
  slowly, whether they would like the numbers of people who can help ("yes or no"), and the exercise waits
  for the answer (no reminder, no next prompt). A yes is a crisis stop for what the screen heard; a no, or
  anything else said, goes on with the exercise where it was. At most once every ``check_in_every``
  seconds; never in a time-out; in silent guidance nothing is said (the event is logged for the facilitator).
* **First session.** ``disclose`` says, before anything else, what this is and is not and where help is.

Every one of these is a :class:`~imago_voice.protocol.events.SafetyEvent` for the log, without words.
"""

from __future__ import annotations

import logging

from imago_voice.protocol import intents
from imago_voice.protocol.events import Paused, Resumed, SafetyEvent, TurnEnded, WaitFor
from imago_voice.protocol.text import normalize

log = logging.getLogger(__name__)

_ANSWER_WORDS = 8   # the longest turn taken as the yes or no to a check-in


class Guard:
    """The safety half of the engine (see the module docstring). Mixed into the engine, whose
    ``__init__`` makes ``_crisis``, ``_heat``, ``_pause_due``, ``_pause_offered``, ``_last_offer``,
    ``_returning``, ``_time_of_day``, ``_last_turn`` and ``_levels``."""

    # ------------------------------------------------------------------------------------ crisis

    def _crisis_cue(self, text: str):
        rules = self._prompts.safety
        if rules is None or not self._settings.safety:
            return None
        from imago_voice.protocol.safety import crisis_cue

        return crisis_cue(text, rules)

    def _crisis_stop(self, cue, event: TurnEnded) -> None:
        """Stop the exercise: say that this matters more, the resources, and the offer to repeat them."""
        speaker = event.speaker if event.speaker in self._participants else None
        first = self._crisis is None
        self._crisis = cue.category
        self._held, self._pause_due, self._pause_offered, self._returning = [], False, None, None
        self._checking = None
        log.warning("crisis language heard (%s): the exercise is stopped and the resources are said", cue.category)
        self._emit(SafetyEvent(self._now, "crisis", cue.category, speaker))
        says = []
        if first:
            key = "crisis_named" if speaker is not None else "crisis"
            says.append(self._say_command(key, speaker, force=True, slow=True))
        says.append(self._say_command("crisis_intro", None, force=True, slow=True))
        resources = self._prompts.resources
        for item in resources.for_category(cue.category) if resources is not None else ():
            says.append(self._say_text(item.say, None, "resources", cue.category))
        says.append(self._say_command("crisis_offer", None, force=True, slow=True))
        self._last = says
        self._emit(WaitFor(None, self._now))

    def _during_crisis(self, event: TurnEnded, command: str | None) -> None:
        """After a crisis stop only "repeat", "resume", "stop", the rate and another crisis count."""
        if command == intents.REPEAT:
            self._emit(SafetyEvent(self._now, "crisis_repeated", self._crisis))
            for say in self._last:
                self._say_text(say.text, say.to, say.step, say.key)
            return
        if command == intents.RESUME:
            self._leave_crisis()
            return
        if command in (intents.STOP, intents.SLOWER, intents.FASTER):
            self._command(command)
            return
        cue = self._crisis_cue(event.text) if command is None else None
        if cue is not None and cue.category != self._crisis:
            self._crisis_stop(cue, event)   # another kind of danger: its resources too

    def _leave_crisis(self) -> None:
        self._emit(SafetyEvent(self._now, "crisis_resumed", self._crisis))
        self._crisis = None
        self._heat.clear()
        self._say_command("crisis_resume", None)
        self._paused = False
        self._counters = type(self._counters)()
        self._enter_step(self._step.id)   # the step where it stopped, from its start

    # ------------------------------------------------------------------------------------ check-in

    def _check_in(self, event: TurnEnded) -> bool:
        """The screen heard crisis language the rules did not: ask whether they would like the numbers.
        True when it asked (the turn waits for the answer); False when only the event is logged."""
        cue = event.screen
        speaker = event.speaker if event.speaker in self._participants else None
        recent = self._last_check is not None and self._now - self._last_check < self._settings.check_in_every
        if not self._settings.safety or self._paused or recent or self._settings.guide == "silent":
            self._emit(SafetyEvent(self._now, "screen", cue.category, speaker))
            return False
        log.info("the crisis screen heard %s language the rules did not: asking whether they want the numbers",
                 cue.category)
        self._last_check = self._now
        self._checking = event
        self._held, self._pause_due, self._pause_offered = [], False, None
        self._emit(SafetyEvent(self._now, "check_in", cue.category, speaker))
        self._say_command("check_in_named" if speaker is not None else "check_in", speaker, force=True, slow=True)
        self._emit(WaitFor(None, self._now))
        return True

    def _answer_check_in(self, event: TurnEnded, command: str | None) -> bool:
        """The turn after a check-in. A yes is a crisis stop; a no goes on with the exercise; "repeat" asks
        again. Anything else goes on too (the held turn first): True when this turn was only the answer."""
        held = self._checking
        speaker = held.speaker if held.speaker in self._participants else None
        if command == intents.REPEAT:
            self._say_command("check_in_named" if speaker is not None else "check_in", speaker, force=True, slow=True)
            self._record_turn(event, None)
            return True
        self._checking = None
        # an answer is short: a mirror that says "I got it" is the exercise going on, not a yes
        short = len(normalize(event.text)) <= _ANSWER_WORDS
        answer = intents.recognize_answer(event.text, self._vocab, ["yes", "no"]) if command is None and short else None
        if answer == "yes":
            self._emit(SafetyEvent(self._now, "check_in_accepted", held.screen.category, speaker))
            self._record_turn(held, None)
            self._record_turn(event, None)
            self._crisis_stop(held.screen, held)
            return True
        self._emit(SafetyEvent(self._now, "check_in_declined", held.screen.category, speaker))
        if answer == "no":
            self._record_turn(event, None)
            self._say_command("check_in_declined", None)
        self._on_turn(type(held)(held.speaker, held.start, held.end, held.text))   # the exercise, where it was
        return answer == "no"

    # ------------------------------------------------------------------------------------ escalation

    def _note_heat(self, event: TurnEnded) -> None:
        """Count the turn's blame markers and whether it started over somebody else's turn."""
        rules = self._prompts.safety
        if rules is None or not self._settings.safety:
            return
        from imago_voice.protocol.safety import blame_markers

        for _ in range(blame_markers(event.text, rules)):
            self._heat.append(event.end)
        last = self._last_turn
        if last is not None and event.speaker is not None and last.speaker not in (None, event.speaker) \
                and event.start < last.end - 0.3:
            self._heat.append(event.end)   # an interruption
        if self._raised_voice(event):
            self._heat.append(event.end)
        self._last_turn = event
        self._check_heat()

    def _raised_voice(self, event: TurnEnded) -> bool:
        """Whether the turn is much louder than the same person's usual (see :mod:`.levels`)."""
        if event.level is None or event.speaker is None or not self._levels.raised(event.speaker, event.level):
            return False
        speaker = event.speaker if event.speaker in self._participants else None
        self._emit(SafetyEvent(self._now, "raised_voice", None, speaker))
        return True

    def _note_overlap(self, at: float) -> None:
        if self._prompts.safety is not None and self._settings.safety:
            self._heat.append(at)
            self._check_heat()

    def _check_heat(self) -> None:
        s = self._settings
        while self._heat and self._heat[0] < self._now - s.escalation_window:
            self._heat.popleft()
        if len(self._heat) < s.escalation_cues or self._pause_due or self._paused or self._crisis is not None:
            return
        if self._last_offer is not None and self._now - self._last_offer < s.escalation_every:
            return
        self._pause_due = True
        self._emit(SafetyEvent(self._now, "escalation"))

    def _offer_pause_if_quiet(self) -> None:
        """At a quiet moment after the talk heated up: offer a pause (never over somebody speaking)."""
        if not self._pause_due or self._speaking or self._now - self._quiet_since < 1.0:
            return
        self._pause_due = False
        self._last_offer = self._now
        self._heat.clear()
        if self._settings.guide == "silent":
            return   # the facilitator leading the couple sees the cue; nothing is said
        self._pause_offered = self._now
        self._held = []
        self._say_command("pause_suggested", None)
        self._emit(SafetyEvent(self._now, "pause_suggested"))

    def _answer_pause_offer(self, event: TurnEnded) -> bool:
        """The turn after a pause was offered: a yes starts a time-out, a no goes on. True when it answered."""
        self._pause_offered = None
        answer = intents.recognize_answer(event.text, self._vocab, ["yes", "no"])
        if answer == "yes":
            self._emit(SafetyEvent(self._now, "pause_accepted"))
            self._command(intents.PAUSE)
            return True
        if answer == "no":
            self._emit(SafetyEvent(self._now, "pause_declined"))
            self._say_command("pause_declined", None)
            return True
        return False

    # ------------------------------------------------------------------------------------ time-out

    def _start_timeout(self) -> None:
        self._paused = True
        self._check_back_at = self._now + self._settings.timeout_minutes * 60.0
        self._speaking.clear()
        self._held, self._pause_due = [], False
        clock = self._time_of_day(self._check_back_at - self._now) if self._time_of_day is not None else None
        back_at = self._prompts.word("back_at", {"time": clock}) if clock else ""
        self._say_command("paused", None, back_at=back_at)
        self._emit(Paused(self._now, self._check_back_at))
        self._emit(SafetyEvent(self._now, "timeout_started"))

    def _ask_to_go_on(self) -> None:
        """"Resume" after a time-out: ask each person whether they want to go on."""
        self._returning = list(self._order)
        self._counters = type(self._counters)()
        self._say_command("return_check", self._returning[0])
        self._emit(WaitFor(self._returning[0], self._now))

    def _return_answer(self, event: TurnEnded | None, answer: str | None) -> None:
        """One person's answer to "do you want to go on?" (a turn, or a y/x key)."""
        who = self._returning[0]
        if event is not None and event.speaker in self._participants and event.speaker != who:
            return   # each person answers for themselves
        if answer is None:
            self._counters.unclear += 1
            if self._counters.unclear <= self._settings.max_unclear:
                self._say_command("return_unclear", who)
                return
            answer = "yes"   # they said "resume": after unclear answers, going on is what was asked for
        if answer == "no":
            self._returning = None
            self._emit(SafetyEvent(self._now, "return_declined", None, who))
            self._say_command("return_no", None)
            self._end("declined")
            return
        self._returning.pop(0)
        self._counters = type(self._counters)()
        if self._returning:
            self._say_command("return_next", self._returning[0])
            self._emit(WaitFor(self._returning[0], self._now))
            return
        self._returning = None
        self._paused = False
        self._speaking.clear()
        self._say_command("resumed", None)
        self._emit(Resumed(self._now))
        self._emit(SafetyEvent(self._now, "timeout_ended"))
        self._repeat()


__all__ = ["Guard"]
