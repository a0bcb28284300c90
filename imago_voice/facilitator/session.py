"""A facilitated session: the voice loop's events into the protocol engine, its actions out to the world.

This module is glue with one job: it owns no device and no model. It is given a
:class:`~imago_voice.loop.VoiceLoop`, an :class:`~imago_voice.protocol.Engine` (with the session's
ledger), and, for a live session, a renderer and a player for the prompts. The engine decides; the
session carries its actions out (speak, show), keeps the loop from hearing the facilitator's own voice,
and keeps a record of what was said (:class:`~imago_voice.facilitator.record.SessionRecord`).

Live: prompts are played. With a player that keeps a reference of what it played (barge-in), the
microphone is listened to all the time, after echo cancellation (:mod:`imago_voice.audio.echo_cancel`):
speech that starts over a prompt ducks it, a voice command said over it stops it (and then acts), and
other speech is kept as a turn. Without one, the loop is muted while each prompt plays (plus a tail).
Either way a transcript that matches a prompt just spoken is discarded as an echo. The audio clock is mapped to the wall clock from each
block's capture time (stamped in the microphone's callback), so the mute window lands where the prompt
really is in the audio even when the loop runs behind. Replay: nothing is played or gated (a recording
neither contains the prompts nor waits for them); prompts are recorded at the moment the engine would
have spoken them, on the recording's clock, and can be mixed into a copy of the recording.
"""

from __future__ import annotations

import collections
import logging
import queue
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE, AudioBlock
from imago_voice.audio.echo_cancel import EchoTimes, cancel_echo
from imago_voice.facilitator.echo import is_echo, within_prompts
from imago_voice.facilitator.record import (
    BargeIn,
    PromptRecord,
    SessionRecord,
    VoiceLearned,
    log_document,
)
from imago_voice.facilitator.render import SLOW
from imago_voice.ledger import Overlap, Turn
from imago_voice.loop import EarlyWords, VoiceLoop
from imago_voice.output import format_ledger
from imago_voice.protocol import (
    ConsentGiven,
    Engine,
    LearnVoice,
    KeyCommand,
    MirrorScored,
    OverlapDetected,
    RateChanged,
    SafetyEvent,
    Say,
    SessionEnded,
    SpeechDropped,
    SpeechStarted,
    StepChanged,
    Tick,
    TurnEnded,
    TurnPlaced,
)
from imago_voice.protocol.intents import HOLD

log = logging.getLogger(__name__)



def _event_time(event, now: float) -> float:
    """When the session acts on a loop event: a turn when its end was decided, others at their own time."""
    if isinstance(event, Turn):
        return event.decided_at if event.decided_at is not None else event.end
    return getattr(event, "at", now)


class AudioClock:
    """Maps the wall clock (``time.monotonic``) to the audio clock of a source.

    A live block says when its first sample was captured; a replayed one does not, and is taken to be
    heard as it is read.
    """

    def __init__(self) -> None:
        self.audio = 0.0
        self.wall = time.monotonic()

    def seen(self, block: AudioBlock) -> None:
        if block.captured is not None:
            self.audio, self.wall = block.t0, block.captured
        else:
            self.audio, self.wall = block.t1, time.monotonic()

    def to_audio(self, wall: float) -> float:
        return self.audio + (wall - self.wall)


class Session:
    """Runs one exercise over a source of audio.

    ``renderer``/``player``: how prompts are spoken (both None: nothing is spoken, as in replay and
    silent mode). ``live``: gate the microphone while prompts play. ``on_line``: called with each line
    of the running transcript (steps, prompts, turns) for the terminal. ``keys``: a queue the
    facilitator's keyboard fills with command names (silent mode). ``on_tick``: called with the engine's
    snapshot and the audio time on each tick (silent mode's status display). ``screen``: the crisis
    screen called on each turn's words (its cue goes to the engine with the turn), or None.
    """

    def __init__(self, engine: Engine, loop: VoiceLoop, *, renderer=None, player=None, live: bool = False,
                 on_line: Callable[[str], None] = lambda line: None, keys: queue.Queue | None = None,
                 on_tick: Callable[[object, float], None] | None = None, echo_tail: float = 0.6,
                 keep_prompt_audio: bool = False, screen=None) -> None:
        self.engine, self.loop = engine, loop
        self.screen = screen   # a crisis screen (:mod:`imago_voice.screen`) read on each turn's words, or None
        self.renderer, self.player, self.live = renderer, player, live
        self.on_line, self.keys, self.on_tick = on_line, keys, on_tick
        self.echo_tail = echo_tail
        self.record = SessionRecord()
        self.prompt_audio: list[tuple[float, np.ndarray]] = []   # (audio time, 16 kHz mono) for --prompts-wav
        self._keep_audio = keep_prompt_audio
        self._clock = AudioClock()
        self._busy_until = 0.0   # audio clock: end of the last prompt queued (replay: as if spoken)
        self._playing: list[tuple[int, object]] = []   # (prompt index, playback) not yet over
        self._started = False
        self._stop = False
        # barge-in: listen while prompts play, the echo taken out with what the player says it played
        self.played = getattr(player, "reference", None) if live else None
        self._ducked = False
        self._acted: dict[float, str] = {}   # start of speech whose early words already acted: the command
        self.echo_times = EchoTimes()     # where the microphone really heard the prompts (barge-in)
        self._placed: set[int] = set()     # prompts whose record was moved to when they were really heard
        self._turn_starts: collections.deque[float] = collections.deque(maxlen=20)   # of the last turns handled
        if self.played is not None:
            self.loop.listen_early = self._prompt_at
        if getattr(engine, "voices_to_learn", ()) and hasattr(loop, "keep_audio"):
            loop.keep_audio = 30.0   # a voice sample is cut out of the history after its turn has come

    @property
    def ledger(self):
        return self.engine.ledger

    # ----------------------------------------------------------------------------------------- running
    def _watch(self, source: Iterable[AudioBlock]) -> Iterator[AudioBlock]:
        for block in source:
            self._clock.seen(block)
            if not self._started:
                # the session opens when the audio starts: a microphone's first block can take a second or
                # two, and the clock that maps playback times onto the audio must be known first
                self._started = True
                self._carry_out(self.engine.start(at=block.t0), at=block.t0)
            yield block
            if self._stop:
                return

    def run(self, source: Iterable[AudioBlock]) -> SessionRecord:
        """Run to the end of the source or of the exercise; the player is closed however it ends."""
        self._started = False
        if self.played is not None:
            source = cancel_echo(source, self.played, heard=self.echo_times)
        try:
            for event in self.loop.run(self._watch(source)):
                self._carry_out(self._handle(event), _event_time(event, self.loop.now))
                if self.engine.ended:
                    self._stop = True
            if not self._started:
                self._carry_out(self.engine.start(at=0.0), at=0.0)
        finally:
            if self.player is not None:
                self.player.close()
            self._check_playback()
        if self.record.ended is None:
            self.record.ended = "end of audio"
        return self.record

    def _handle(self, event) -> list:
        if isinstance(event, Tick):
            self._check_playback()
            self._extend_mute()
            actions = self.engine.handle(event)
            actions += self._keys(event.at)
            if self.on_tick is not None:
                self.on_tick(self.engine.snapshot(event.at), event.at)
            return actions
        if isinstance(event, (SpeechStarted, SpeechDropped)):
            if self.played is not None:
                self._duck(isinstance(event, SpeechStarted))
            return self.engine.handle(event)
        if isinstance(event, Turn):
            return self._turn(event)
        if isinstance(event, EarlyWords):
            return self._early(event)
        if isinstance(event, Overlap):
            return self.engine.handle(OverlapDetected(event, self.loop.now))
        return []

    def _speaking(self) -> bool:
        return self.player is not None and self.player.busy_until() > time.monotonic()

    def _duck(self, on: bool) -> None:
        """Someone started talking over a prompt: play it on more quietly; they stopped: as before."""
        if on and not self._ducked and self._speaking():
            self.player.duck()
            self._ducked = True
        elif not on and self._ducked:
            self.player.unduck()
            self._ducked = False

    def _prompt_at(self, t: float) -> bool:
        """(The loop asks) whether a prompt was playing at audio time ``t``, or is still to finish."""
        return self._speaking() or self.echo_times.during(t, self.echo_tail) or \
            any(p.at <= t <= p.end + self.echo_tail for p in self.record.prompts[-3:] if p.end is not None)

    def _early(self, words: EarlyWords) -> list:
        """The first words of speech over a prompt: a voice command acts now, not after the turn's end."""
        command = self.engine.command_in(words.text, over_prompt=True)
        seen = [*self._acted, *self._turn_starts]
        if command is None or not self._speaking() or any(abs(t - words.start) < 0.05 for t in seen):
            return []
        self._acted[words.start] = command
        self._stop_prompt(command, words.end)
        self.on_line(f"{words.start:8.2f}  {words.speaker or '(unknown)'}: {words.text}")
        if command == HOLD:   # the prompt is quiet now; the engine waits for them as it was
            return []
        return self.engine.handle(TurnEnded(words.speaker, words.start, words.end, words.text))

    def _already_acted(self, turn: Turn) -> bool:
        """The turn whose first words already acted as a command (the same command, nothing more)."""
        for start, command in list(self._acted.items()):
            if abs(start - turn.start) < 0.05:
                del self._acted[start]
                return bool(turn.text) and self.engine.command_in(turn.text, over_prompt=True) == command
        return False

    def _barge_in(self, turn: Turn) -> str | None:
        """A turn said while a prompt plays: a voice command stops the prompt before the engine acts on it
        (the command, if it stopped one)."""
        command = self.engine.command_in(turn.text or "", over_prompt=True) if turn.text else None
        stopped = command is not None and self._speaking()
        if stopped:
            self._stop_prompt(command, turn.end)
        self._duck(False)
        return command if stopped else None

    def _stop_prompt(self, command: str, said_until: float) -> None:
        if self.player.stop():
            stopped = self._clock.to_audio(time.monotonic())
            self.record.barge_ins.append(BargeIn(command, said_until, round(stopped, 3)))
            log.info("a voice command over a prompt (%s): stopped it %.2f s after the words ended",
                     command, stopped - said_until)
            for index, playback in self._playing:   # what was cut ends where it was cut
                if index < len(self.record.prompts) and (playback.played is None or playback.error == "stopped"):
                    self.record.prompts[index] = self.record.prompts[index].cut(round(stopped, 3))
        self._duck(False)

    def _learn_voice(self, action: LearnVoice) -> None:
        """A person's voice sample, given when asked: their voiceprint, used from the next turn on, and
        stored for next time if they said yes to the record. No audio is kept."""
        from imago_voice.errors import ImagoError
        from imago_voice.speakers.store import store
        from imago_voice.speakers.voiceprint import enroll

        history = getattr(self.loop, "history", None)
        audio = history.cut(action.start, action.end, None) if history is not None else np.zeros(0, np.float32)
        try:
            voiceprint = enroll(action.person, audio)
            self.loop.learn_voice(voiceprint)
            stored = False
            if action.keep:
                store(voiceprint)
                stored = True
        except (ImagoError, OSError) as exc:
            log.warning("could not learn %s's voice: %s", action.person, exc)
            self.record.voices.append(VoiceLearned(action.person, round(action.at, 3), error=str(exc)))
            self.on_line(f"{action.at:8.2f}  (could not learn {action.person}'s voice: {exc})")
            return
        self.record.voices.append(VoiceLearned(action.person, round(action.at, 3), voiceprint.seconds, stored))
        if len(self.record.voices) >= len(self.engine.voices_to_learn) and hasattr(self.loop, "keep_audio"):
            self.loop.keep_audio = 0.0   # every voice is learned: back to the audio open turns need
        kept = "stored for next time" if stored else "for this session only"
        self.on_line(f"{action.at:8.2f}  (voice learned: {action.person}, from {voiceprint.seconds:.1f} s of speech, {kept})")

    def _extend_mute(self) -> None:
        """Playback can start later than planned: keep deaf until the prompts have really played out."""
        if self.live and self.player is not None and self.played is None:
            now_wall = time.monotonic()
            until = self.player.busy_until()
            if until > now_wall:
                self.loop.mute(self._clock.to_audio(now_wall), self._clock.to_audio(until) + self.echo_tail)

    def _place(self, index: int, playback) -> None:
        """Listening while it talks, a prompt's record follows when it was really heard (the device says,
        once it starts), not when it was planned: the echo filters go by it."""
        heard = getattr(playback, "heard", None)
        if self.played is None or heard is None or index in self._placed or index >= len(self.record.prompts):
            return
        self._placed.add(index)
        delta = heard - playback.start
        if abs(delta) > 0.02:
            rec = self.record.prompts[index]
            self.record.prompts[index] = replace(rec, at=round(rec.at + delta, 3),
                                                 end=None if rec.end is None else round(rec.end + delta, 3))
            log.debug("prompt %d was heard %+.2f s from when it was planned", index, delta)

    def _check_playback(self) -> None:
        """Prompts that could not be played are recorded as such, and the loop listens again at once."""
        still = []
        for index, playback in self._playing:
            self._place(index, playback)
            if playback.played is None:
                still.append((index, playback))
            elif not playback.played and playback.error == "stopped":
                pass    # stopped by a voice command said over it (record.barge_ins)
            elif not playback.played:
                if index not in self.record.not_played:   # a prompt played in parts counts once
                    self.record.not_played.append(index)
                log.warning("a prompt was not played (%s): %r", playback.error, self.record.prompts[index].text)
                if self.live:
                    self.loop.unmute_from(self._clock.to_audio(time.monotonic()))
                    self._extend_mute()   # prompts still queued behind the failed one keep their mute
        self._playing = still

    def _keys(self, at: float) -> list:
        actions = []
        while self.keys is not None and not self.keys.empty():
            actions += self.engine.handle(KeyCommand(self.keys.get_nowait(), at))
        return actions

    def _turn(self, turn: Turn) -> list:
        self._turn_starts.append(turn.start)
        for index, playback in self._playing:    # the prompts' times as the device played them
            self._place(index, playback)
        # prompts that were playing when this turn began (an echo starts with the prompt, an answer after it)
        recent = [p.text for p in self.record.prompts
                  if p.at - 0.5 <= turn.start <= (p.end if p.end is not None else p.at + 30.0) + 0.5]
        if self.live and is_echo(turn.text, recent):
            self.record.echoes.append(turn)
            log.info("discarded an echo of a prompt: %r", turn.text)
            if self.played is not None:
                self._duck(False)
            return self.engine.handle(SpeechDropped(turn.speaker, turn.end))
        if self.played is not None:
            if self._already_acted(turn):
                log.info("the voice command %r was acted on at its first pause", turn.text)
                return self.engine.handle(SpeechDropped(turn.speaker, turn.end))
            # where the echo really was (lined up by the canceller), and where the prompts were planned
            windows = self.echo_times.windows() + [(p.at, p.end) for p in self.record.prompts if p.end is not None]
            over = within_prompts(turn.start, turn.end, windows, self.echo_tail)
            command = self.engine.command_in(turn.text, over_prompt=True) if turn.text else None
            if over and command is None:
                self.record.echoes.append(turn)
                log.info("discarded speech heard wholly over a prompt (not a command): %r", turn.text)
                self._duck(False)
                return self.engine.handle(SpeechDropped(turn.speaker, turn.end))
            # "wait" over a prompt: the prompt stops; the engine is not told (after one, it means "more")
            if self._barge_in(turn) == HOLD or (over and command == HOLD):
                self.on_line(f"{turn.start:8.2f}  {turn.speaker or '(unknown)'}: {turn.text}")
                return self.engine.handle(SpeechDropped(turn.speaker, turn.end))
        who = turn.speaker or "(unknown)"
        self.on_line(f"{turn.start:8.2f}  {who}: {turn.text or ''}")
        screen = self.screen(turn.text) if self.screen is not None and turn.text else None
        return self.engine.handle(TurnEnded(turn.speaker, turn.start, turn.end, turn.text or "", screen, turn.level))

    # ----------------------------------------------------------------------------------------- actions
    def _carry_out(self, actions: list, at: float) -> None:
        for action in actions:
            if isinstance(action, Say):
                self._say(action, at)
            elif isinstance(action, StepChanged):
                roles = f" (sender {action.sender}, receiver {action.receiver})" if action.sender else ""
                self.on_line(f"{at:8.2f}  == {action.step}{roles}")
            elif isinstance(action, ConsentGiven):
                answer = "yes, the words may be kept" if action.agreed else "no, the words are not kept"
                self.on_line(f"{at:8.2f}  (consent: {action.person}: {answer})")
            elif isinstance(action, LearnVoice):
                self._learn_voice(action)
            elif isinstance(action, SafetyEvent):
                self.record.safety.append(action)
                if action.kind == "crisis":
                    self.on_line(f"{at:8.2f}  !! SAFETY: the exercise is stopped: crisis language ({action.category}); "
                                 "the resources are being said")
                elif action.kind in ("check_in", "screen"):
                    asked = "asked whether they want the numbers" if action.kind == "check_in" else "nothing was asked"
                    self.on_line(f"{at:8.2f}  !! SAFETY: the crisis screen heard possible crisis language "
                                 f"({action.category}); {asked}")
                elif action.kind in ("escalation", "raised_voice", "pause_suggested", "pause_accepted", "return_declined",
                                     "check_in_accepted", "check_in_declined"):
                    self.on_line(f"{at:8.2f}  (safety: {action.kind.replace('_', ' ')})")
            elif isinstance(action, TurnPlaced) and action.followed:
                self.on_line(f"{at:8.2f}  (following the couple: {action.step}, {action.phase}; "
                             f"sure {action.confidence * 100:.0f} %)")
            elif isinstance(action, MirrorScored):
                self.on_line(f"{at:8.2f}  (mirror kept {action.fidelity * 100:.0f} % of the content words)")
            elif isinstance(action, RateChanged) and self.renderer is not None:
                self.renderer.rate = action.rate
                if hasattr(self.renderer, "ahead"):    # "slower": what may be said, ahead at the new rate
                    self.renderer.ahead(self.engine.texts_ahead())
            elif isinstance(action, SessionEnded):
                self.record.ended = action.reason
                self.on_line(f"{at:8.2f}  (session ended: {action.reason})")

    def _say(self, action: Say, at: float) -> None:
        """Speak a prompt. A renderer that renders sentence by sentence (``parts``) has its first sentence
        played while the next renders; the microphone is kept deaf until the last has played out."""
        parts = None
        if self.renderer is not None and (self.player is not None or self._keep_audio):
            parts = self._render(action)
        end = None
        pieces: list[np.ndarray] = []
        if self.player is not None and parts is not None:
            start = None
            for audio in parts:
                pieces.append(audio)
                playback = self.player.play(audio)
                if start is None:
                    start = self._clock.to_audio(playback.start)
                end = self._clock.to_audio(playback.end)
                if self.live and self.played is None:
                    # hear nothing from now until the prompt has played out, plus a tail for the room
                    self.loop.mute(self._clock.to_audio(time.monotonic()) - 0.1, end + self.echo_tail)
                self._playing.append((len(self.record.prompts), playback))
            at = start if start is not None else at
        else:
            at = max(at, self._busy_until)
            if parts is not None:
                pieces = list(parts)
                end = at + sum(len(p) for p in pieces) / SAMPLE_RATE
                self._busy_until = end
        if pieces and self._keep_audio:
            self.prompt_audio.append((at, np.concatenate(pieces)))
        self.record.prompts.append(PromptRecord(round(at, 3), action.step, action.to, action.text, action.key,
                                                None if end is None else round(end, 3)))
        self.on_line(f"{at:8.2f}  >> {action.text}")

    def _render(self, action: Say) -> Iterator[np.ndarray]:
        """A prompt's audio, in one piece or sentence by sentence (a renderer with ``parts``); one marked
        ``slow`` (the crisis resources) at 80 % of the session's rate."""
        renderer = self.renderer
        rate = getattr(renderer, "rate", None)
        if action.slow and rate is not None:
            renderer.rate = rate * SLOW
        try:
            if hasattr(renderer, "parts"):
                yield from renderer.parts(action.text)
            else:
                yield renderer.render(action.text)
        finally:
            if action.slow and rate is not None:
                renderer.rate = rate

    # ------------------------------------------------------------------------------------------- output
    def log_dict(self, audio: str, duration: float) -> dict:
        return log_document(self.engine, self.record, audio, duration)

    def summary(self) -> str:
        return format_ledger(self.engine.ledger) + "\n" + self.engine.balance_sentence()
