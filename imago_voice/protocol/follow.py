"""Following the couple and leading only when needed (a part of :class:`~imago_voice.protocol.engine.Engine`).

:class:`Follow` is the engine's seam with the :class:`~imago_voice.protocol.tracker.StepTracker`:

* **Every turn is placed.** Each turn that is not a voice command (nor said in a time-out or the consent
  question) goes to the tracker, which says which step and phase of the exercise it belongs to, who is
  the sender then, and how sure it is. The engine emits a :class:`TurnPlaced` for the log and records
  the turn in the ledger under that step and role.
* **The engine moves with the couple.** When the tracker puts a turn somewhere else than where the engine
  waits, and it is sure (``follow_confidence``) and either the turn's own words make that move ("did I
  get it?", "you make sense") or it is very sure (``follow_sure``), the engine goes there without a word
  and takes the turn as that place's move: an appointment request as the first sentence, a receiver who
  asks "is there more?" themselves, a sender who says "you got it" and goes straight on. A turn the
  tracker puts where the engine waits is read by the engine's own rules, as before.
* **Mirrors are scored against the right words**: the chunk the sender actually sent since the last
  mirror (:meth:`StepTracker.chunk_for_mirror`), whichever phase the engine was in.
* **Guidance** (``EngineSettings.guide``). ``full``: every prompt is said as it comes. ``light``: a
  step's prompts are held when the engine enters it and said only if the couple waits
  (``lead_after`` seconds of silence) or goes wrong (a receiver who answers back instead of mirroring
  hears the mirror prompt); a couple that did a step without its stem hears the stem once, the next
  time the step comes. ``silent``: nothing is said; the engine only follows, times and logs. The
  voice commands, reminders, re-prompts after an unclear answer, the consent question and the close's
  balance are said in full and light alike.
* **Recovery.** "We are at the summary", "back to the mirror" (the ``[vocabulary.places]`` phrases)
  move the engine to that step; after those and after next/back the tracker is re-anchored there.
"""

from __future__ import annotations

import logging

from imago_voice.ledger import Turn
from imago_voice.protocol import intents
from imago_voice.protocol import moves as mv
from imago_voice.protocol.events import Say, TurnEnded, TurnPlaced
from imago_voice.protocol.text import normalize
from imago_voice.protocol.tracker import Assignment

log = logging.getLogger(__name__)

FULL, LIGHT, SILENT = "full", "light", "silent"
GUIDES: tuple[str, ...] = (FULL, LIGHT, SILENT)
#: The move whose stem a step's turn is expected to carry (a step done without it hears the stem once).
_STEMMED_KINDS = ("mirror", "speak", "ask")
#: A receiver's stemless turn that speaks of themselves is not a mirror unless it keeps this share of the words.
_SELF_SPOKEN_BELOW = 0.5
#: The moves that begin a place of their own: a turn is split where one of them begins after other words.
_OPENERS = frozenset({mv.APPOINTMENT, mv.INTENTION, mv.MIRROR, mv.SUMMARY, mv.VALIDATION, mv.EMPATHY, mv.SWITCH,
                      mv.APPRECIATION})
_MIN_PIECE = 3     # words, at least, in each piece of a split turn
_OPENING_ANSWER_WORDS = 8   # an answer to "who would like to speak first?" is at most this long
_MIN_CONTENT = 3   # words of one's own after an answer for the answer to be a piece of its own


class Follow:
    """The following half of the engine (see the module docstring). Mixed into the engine, whose
    ``__init__`` makes ``_tracker`` (or ``None``), ``_held``, ``_stemless``, ``_stems_told``,
    ``_placements`` and ``_assignment``."""

    # ------------------------------------------------------------------------------------ placing turns

    def _pieces(self, event: TurnEnded) -> list[TurnEnded]:
        """One person's turn that holds several moves ("...of course you'd feel that. I imagine you feel
        ...", "Yes. And also I...") split where each later move begins, its time shared by the words: a
        couple who does not wait runs its moves together, and the voice loop hears one turn."""
        moves_vocab = self._prompts.moves
        if self._tracker is None or not self._settings.follow or not event.text or moves_vocab is None:
            return [event]
        reading = mv.read(event.text, moves_vocab)
        tokens = len(reading.tokens)
        cuts: list[int] = []
        last_move = None
        for m in sorted(reading.matches, key=lambda m: m.start):
            if m.move in _OPENERS and m.start >= _MIN_PIECE and m.move != last_move \
                    and tokens - m.start >= _MIN_PIECE and (not cuts or m.start - cuts[-1] >= _MIN_PIECE):
                cuts.append(m.start)
            if m.move in _OPENERS:
                last_move = m.move
        answer_end = 0   # an answer at the start, then words of one's own: "Yes, you got it. And also, I miss..."
        for m in sorted(reading.matches, key=lambda m: m.start):
            if m.move in mv.ANSWER_MOVES and m.start <= max(1, answer_end):
                answer_end = max(answer_end, m.end)
        if answer_end and not cuts and answer_end < tokens:
            rest = [t for t in reading.tokens[answer_end:] if t not in moves_vocab.stopwords]
            if len(rest) >= _MIN_CONTENT:
                cuts.append(answer_end)
        if not cuts:
            return [event]
        words = event.text.split()
        ends, count = [], 0   # the normalised tokens up to the end of each word
        for word in words:
            count += len(normalize(word))
            ends.append(count)
        pieces, begin, t0 = [], 0, event.start
        span = max(0.0, event.end - event.start)
        for cut in [*cuts, tokens]:
            k = next((i + 1 for i, e in enumerate(ends) if e >= cut), len(words))
            k = max(k, begin + 1) if cut < tokens else len(words)
            text = " ".join(words[begin:k]).strip()
            if not text:
                continue
            t1 = event.start + span * (min(cut, tokens) / tokens if tokens else 1.0)
            pieces.append(TurnEnded(event.speaker, t0, t1 if cut < tokens else event.end, text))
            begin, t0 = k, t1
        return pieces if len(pieces) > 1 else [event]

    def _place_turn(self, event: TurnEnded) -> Assignment | None:
        """Let the tracker place the turn; emit what it said. ``None`` without a tracker."""
        if self._tracker is None:
            return None
        speaker = event.speaker if event.speaker in self._participants else None
        a = self._tracker.observe(speaker, event.text)
        self._assignment = a
        return a

    def _note_placement(self, event: TurnEnded, a: Assignment, followed: bool) -> None:
        speaker = event.speaker if event.speaker in self._participants else None
        placed = TurnPlaced(event.end, speaker, event.start, event.end, a.step, a.phase, a.move, a.confidence,
                            a.sender, a.receiver, a.round, followed, self._step.id, self._phase.name)
        self._placements.append(placed)
        self._emit(placed)

    def _here(self) -> tuple[str, str]:
        """Where the engine waits, in the tracker's terms."""
        if self._step.id == "opening":
            return "opening", "start"
        return self._step.id, self._phase.name

    def _engine_index(self) -> int | None:
        """The tracker node where the engine waits (its round), or ``None`` when the graph has none."""
        step, phase = self._here()
        nodes = self._tracker.graph.find(step, phase)
        fits = [n for n in nodes if n.round == self._round] or nodes
        return fits[0].index if fits else None

    def _should_follow(self, a: Assignment, speaker: str | None, text: str = "") -> bool:
        s = self._settings
        if not s.follow or a.confidence < s.follow_confidence:
            return False
        if (a.step, a.phase) == self._here() and (a.sender is None or a.sender == self._sender or not self._chosen):
            return False
        if self._step.id == "opening" and a.move not in a.heard:
            # "I'd like to go first" is the answer to who goes first, not a send; a long question that the
            # tracker takes for the appointment ("could we talk about... is this okay for you?") is the ask
            return a.kind == "ask" and speaker is not None and len(normalize(text)) > _OPENING_ANSWER_WORDS
        # the order alone is not enough to move the engine: the turn's words must make the move (a send has
        # no stem: its speaker must be the sender), or the tracker must be very sure
        by_words = a.move in a.heard or (a.move == mv.SEND and speaker is not None and speaker == a.sender)
        if not by_words and a.confidence < s.follow_sure:
            return False
        if a.kind == "switch" and self._chosen and a.round == self._round and a.sender in (None, self._sender):
            return False   # "I'd like to respond" when the engine has switched already: its own rules read it
        here = self._engine_index()
        if here is not None and a.index >= 0:
            node = self._tracker.graph.nodes[here]
            # the sender's words after the send, before any mirror: the rest of the chunk (the engine keeps it)
            if node.kind == "mirror" and speaker is not None and speaker == self._sender and a.round == node.round \
                    and a.kind in ("send", "check", "more"):
                return False
            loop = node.group >= 0 and a.index == node.group and a.round == node.round   # more to send
            if a.index < here and not loop:
                # the sender's "yes" after a receiver's step the engine already moved on from
                if a.kind == "ack" and a.round == self._round:
                    return False
                # going back needs a sure tracker and words of substance or a question ("tell me more"):
                # a short "okay" never moves it back
                asked = a.move in a.heard and a.move not in mv.ANSWER_MOVES
                if a.confidence < s.follow_sure or not (a.kind in ("send", "mirror") or asked):
                    return False
        return True

    def _follow(self, a: Assignment, event: TurnEnded) -> None:
        """Go where the tracker put the turn, without a word, and take the turn as that place's move."""
        log.info("following the couple to %s/%s (%.2f): %r", a.step, a.phase, a.confidence, event.text[:60])
        self._take_roles(a, event)
        if a.kind == "switch":
            self._enter_step(self._ex.round_start)
            return
        if a.kind == "ack":   # the sender's "yes" after a receiver's step: the step is over
            self._place(a.step, "speak")
            self._go(self._step.then)
            return
        self._place(a.step, a.phase)
        phase = self._phase
        if phase.branches:
            allowed = [answer for answer, _ in phase.branches]
            answer = a.answer if a.answer in allowed else intents.recognize_answer(event.text, self._vocab, allowed)
            self._answer(answer)
        else:
            self._after_turn(event)

    def _take_roles(self, a: Assignment, event: TurnEnded) -> None:
        """The roles of the place the turn was put: its round, and its sender when the tracker knows."""
        sender = a.sender
        if sender is None and not self._chosen and event.speaker in self._participants and len(self._participants) == 2:
            by_sender = a.move in (mv.APPOINTMENT, mv.INTENTION, mv.SEND, mv.MORE, mv.DONE)
            sender = event.speaker if by_sender else next(n for n in self._participants if n != event.speaker)
        if sender is None:
            return
        n = len(self._participants)
        i = (self._participants.index(sender) - a.round) % n
        self._order = self._participants[i:] + self._participants[:i]
        self._chosen = True
        self._round = a.round
        self._set_roles()

    def _place(self, step_id: str, phase_name: str) -> None:
        """Be at ``step_id``/``phase_name`` at once, saying nothing (the couple is already there)."""
        step = self._ex.steps[step_id]
        phase = next((p for p in step.phases if p.name == phase_name), step.phases[0])
        if step_id != self._step.id:
            self._open_step(step)
        self._phase = phase
        self._counters = type(self._counters)()
        if phase.hook == "chunk":
            self._chunk = []
        self._held = []
        self._last = []

    def _reanchor(self) -> None:
        """After next/back or "we are at...": the tracker starts again from where the engine is."""
        if self._tracker is None or not self._started or self._ended:
            return
        step, phase = self._here()
        if not self._tracker.graph.find(step, phase):
            phase = None
            if not self._tracker.graph.find(step):
                return
        self._tracker.reanchor(step, phase, sender=self._sender if self._chosen else None,
                               round_=self._round if self._chosen else None)

    def _sent_words(self) -> str:
        """The chunk a mirror answers: the tracker's (the sender's words since the last mirror), else the engine's."""
        chunk = self._tracker.chunk_for_mirror() if self._tracker is not None and self._settings.follow else ""
        return chunk or " ".join(self._chunk).strip()

    def _is_not_a_mirror(self, text: str, fidelity: float) -> bool:
        """Light guidance: a receiver's turn without a mirror's stem that keeps almost none of the sender's
        words, or that speaks of oneself ("I work late because...") and keeps less than half of them."""
        a = self._assignment
        if self._settings.guide != LIGHT or a is None or mv.MIRROR in a.heard:
            return False
        below = self._settings.lead_mirror_below
        if mv.read(text, self._prompts.moves).voice > 0:
            below = max(below, _SELF_SPOKEN_BELOW)
        return fidelity < below

    def _note_stem(self, a: Assignment | None) -> None:
        """Remember a step the couple did without its stem (light guidance says the stem once, next time)."""
        if a is None or a.kind not in _STEMMED_KINDS or a.move is None or a.move == mv.SEND:
            return
        if a.move not in a.heard:
            self._stemless.add(a.step)

    # ------------------------------------------------------------------------------------ guidance

    def _lead(self, key: str, to: str | None) -> None:
        """A prompt the couple may not need: said in full guidance, held in light, dropped in silent."""
        guide = self._settings.guide
        if guide == FULL or self._step.id in ("consent", "voices"):   # asked, whatever the guidance
            say = self._say_step(key, to)
            self._last.append(say)
            if guide == FULL:
                self._release([say], said=True)
            return
        say = Say(self._phrasing.step(self._step.table, key, {**self._values(), "name": to}), to, self._step.id, key,
                  self._now)
        self._last.append(say)
        if guide == SILENT:
            return
        if key == "enter" and self._step.id in self._stemless and self._step.id not in self._stems_told \
                and "stems" in self._phase.say:
            self._stems_told.add(self._step.id)
            self._release([self._say_step("stems", to)], said=True)
        self._held.append(say)

    def _release(self, says: list[Say], said: bool = False) -> None:
        """Say held prompts now (or note prompts just said), and tell the tracker which step was asked for."""
        if not said:
            for say in says:
                self._emit(Say(say.text, say.to, say.step, say.key, self._now))
                self._note_speech(say.text)
        if says and self._tracker is not None:
            step, phase = self._here()
            if self._tracker.graph.find(step, phase):
                self._tracker.prompted(step, phase)

    def _lead_if_waiting(self) -> None:
        """Light guidance: the couple has been quiet for ``lead_after`` seconds (``lead_after_waiting`` once
        they have waited for the last prompt held): say what was held."""
        wait = self._settings.lead_after_waiting if self._couple_waits else self._settings.lead_after
        if self._held and not self._speaking and self._now - self._quiet_since >= wait:
            held, self._held = self._held, []
            self._couple_waits = True
            self._release(held)

    def _record_turn(self, event: TurnEnded, a: Assignment | None) -> None:
        """Put the turn in the ledger under the step and role it was placed at (else the engine's)."""
        speaker = event.speaker if event.speaker in self._participants else None
        step_id, sender, receiver = self._step.id, self._sender, self._receiver
        if a is not None and a.step in self._ex.steps and (a.sender is not None or not self._chosen):
            step_id = a.step
            if a.sender is not None:
                sender, receiver = a.sender, a.receiver
        roles = self._ex.steps[step_id].roles
        role = "other"
        if roles and speaker is not None and speaker == sender:
            role = "sender"
        elif roles and speaker is not None and speaker == receiver:
            role = "receiver"
        self.ledger.add(Turn(speaker, event.start, max(event.start, event.end), event.text),
                        step=step_id, role=role, paused=self._paused or self._crisis is not None)
