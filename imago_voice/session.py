"""A facilitated session: the voice loop's events into the protocol engine, its actions out to the world.

This module is glue with one job: it owns no device and no model. It is given a
:class:`~imago_voice.pipeline.VoiceLoop`, an :class:`~imago_voice.protocol.Engine`, and, for a live
session, a renderer and a player for the prompts. The engine decides; the session carries its actions
out (speak, log), keeps the loop from hearing the facilitator's own voice, and writes the log.

Live: prompts are played, and the loop is muted while each plays (plus a tail); a transcript that matches
a prompt just spoken is discarded as an echo. Replay: nothing is played or gated (a recording neither
contains the prompts nor waits for them); prompts are logged at the moment the engine would have spoken
them, on the recording's clock, and can be mixed into a copy of the recording to listen to.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from imago_voice.audio import SAMPLE_RATE, AudioBlock
from imago_voice.ledger import Turn, balance, overlaps
from imago_voice.pipeline import VoiceLoop
from imago_voice.protocol import (
    Engine,
    KeyCommand,
    ConsentGiven,
    MirrorScored,
    RateChanged,
    Say,
    SessionEnded,
    SpeechStarted,
    SpeechStopped,
    StepChanged,
    Tick,
    TurnEnded,
)
from imago_voice.scoring import normalize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptRecord:
    at: float               # audio clock: when it was (or would have been) spoken
    step: str
    to: str | None
    text: str
    key: str = ""
    end: float | None = None  # audio clock: when it finished playing (live), else None


@dataclass
class SessionRecord:
    """Everything the log holds, gathered as the session runs."""

    prompts: list[PromptRecord] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    echoes: list[Turn] = field(default_factory=list)
    ended: str | None = None


def is_echo(text: str | None, prompts: Iterable[str], threshold: float = 0.8, min_words: int = 4) -> bool:
    """True when a transcript is mostly a prompt's words in the prompt's order (the facilitator heard itself).

    Answers share words with the prompts that ask for them ("go first", "that's all"), so the test is
    on word order (longest common subsequence) over at least ``min_words`` words, and the session applies
    it only to turns heard while, or just after, a prompt played.
    """
    words = normalize(text)
    if len(words) < min_words:
        return False
    for prompt in prompts:
        ref = normalize(prompt)
        if ref and _lcs(words, ref) / len(words) >= threshold:
            return True
    return False


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


class _Clock:
    """Maps the wall clock to the audio clock of a live source, from when its blocks arrive."""

    def __init__(self) -> None:
        self.audio = 0.0
        self.wall = time.monotonic()

    def seen(self, block: AudioBlock) -> None:
        self.audio, self.wall = block.t1, time.monotonic()

    def to_audio(self, wall: float) -> float:
        return self.audio + (wall - self.wall)


class Session:
    """Runs one exercise over a source of audio.

    ``renderer``/``player``: how prompts are spoken (both None: nothing is spoken, as in replay and
    silent mode). ``live``: gate the microphone while prompts play. ``on_line``: called with each line
    of the running transcript (steps, prompts, turns) for the terminal. ``keys``: a queue the
    facilitator's keyboard fills with command names (silent mode). ``on_tick``: called with the engine's
    snapshot and the audio time on each tick (silent mode's status display).
    """

    def __init__(self, engine: Engine, loop: VoiceLoop, *, renderer=None, player=None, live: bool = False,
                 on_line: Callable[[str], None] = lambda line: None, keys: queue.Queue | None = None,
                 on_tick: Callable[[object, float], None] | None = None, echo_tail: float = 0.6,
                 keep_prompt_audio: bool = False) -> None:
        self.engine, self.loop = engine, loop
        self.renderer, self.player, self.live = renderer, player, live
        self.on_line, self.keys, self.on_tick = on_line, keys, on_tick
        self.echo_tail = echo_tail
        self.record = SessionRecord()
        self.prompt_audio: list[tuple[float, np.ndarray]] = []   # (audio time, 16 kHz mono) for --prompts-wav
        self._keep_audio = keep_prompt_audio
        self._clock = _Clock()
        self._busy_until = 0.0   # audio clock: end of the last prompt queued (replay: as if spoken)
        self._stop = False

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
        self._started = False
        for event in self.loop.run(self._watch(source)):
            at = getattr(event, "at", self.loop.now)
            if isinstance(event, Tick):
                self._extend_mute()
                actions = self.engine.handle(event)
                actions += self._keys(event.at)
                if self.on_tick is not None:
                    self.on_tick(self.engine.snapshot(event.at), event.at)
            elif isinstance(event, (SpeechStarted, SpeechStopped)):
                actions = self.engine.handle(event)
            elif isinstance(event, Turn):
                at = self.loop.timings[-1].decided_at if self.loop.timings else event.end
                actions = self._turn(event)
            else:
                actions = []
            self._carry_out(actions, at)
            if self.engine.ended:
                self._stop = True
        if not self._started:
            self._carry_out(self.engine.start(at=0.0), at=0.0)
        if self.player is not None:
            self.player.close()
        if self.record.ended is None:
            self.record.ended = "end of audio"
        return self.record

    def _extend_mute(self) -> None:
        """Playback can start later than planned: keep deaf until the prompts have really played out."""
        if self.live and self.player is not None and hasattr(self.player, "busy_until"):
            now_wall = time.monotonic()
            until = self.player.busy_until()
            if until > now_wall:
                self.loop.mute(self._clock.to_audio(now_wall), self._clock.to_audio(until) + self.echo_tail)

    def _keys(self, at: float) -> list:
        actions = []
        while self.keys is not None and not self.keys.empty():
            actions += self.engine.handle(KeyCommand(self.keys.get_nowait(), at))
        return actions

    def _turn(self, turn: Turn) -> list:
        # prompts that were playing when this turn began (an echo starts with the prompt, an answer after it)
        recent = [p.text for p in self.record.prompts
                  if p.at - 0.5 <= turn.start <= (p.end if p.end is not None else p.at + 30.0) + 0.5]
        if self.live and is_echo(turn.text, recent):
            self.record.echoes.append(turn)
            log.info("discarded an echo of a prompt: %r", turn.text)
            return self.engine.handle(SpeechStopped(turn.speaker, turn.end))
        self.record.turns.append(turn)
        who = turn.speaker or "(unknown)"
        self.on_line(f"{turn.start:8.2f}  {who}: {turn.text or ''}")
        return self.engine.handle(TurnEnded(turn.speaker, turn.start, turn.end, turn.text or ""))

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
            elif isinstance(action, MirrorScored):
                self.on_line(f"{at:8.2f}  (mirror kept {action.fidelity * 100:.0f} % of the content words)")
            elif isinstance(action, RateChanged) and self.renderer is not None:
                self.renderer.rate = action.rate
            elif isinstance(action, SessionEnded):
                self.record.ended = action.reason
                self.on_line(f"{at:8.2f}  (session ended: {action.reason})")

    def _say(self, action: Say, at: float) -> None:
        audio = None
        if self.renderer is not None and (self.player is not None or self._keep_audio):
            audio = self.renderer.render(action.text)
        end = None
        if self.player is not None and audio is not None:
            start_wall, end_wall = self.player.play(audio)
            start, end = self._clock.to_audio(start_wall), self._clock.to_audio(end_wall)
            if self.live:
                # hear nothing from now until the prompt has played out, plus a tail for the room
                self.loop.mute(self._clock.to_audio(time.monotonic()) - 0.1, end + self.echo_tail)
            at = start
        else:
            at = max(at, self._busy_until)
            if audio is not None:
                end = at + len(audio) / SAMPLE_RATE
                self._busy_until = end
        if audio is not None and self._keep_audio:
            self.prompt_audio.append((at, audio))
        self.record.prompts.append(PromptRecord(round(at, 3), action.step, action.to, action.text, action.key,
                                                None if end is None else round(end, 3)))
        self.on_line(f"{at:8.2f}  >> {action.text}")

    # ------------------------------------------------------------------------------------------- output
    def log_dict(self, audio: str, duration: float, exercise: str) -> dict:
        from imago_voice.report import session_dict

        doc = session_dict(audio, duration, self.engine.participants, self.record.turns, self.loop.flagged)
        doc["exercise"] = exercise
        doc["prompts"] = [{"at": p.at, "step": p.step, "to": p.to, "text": p.text} for p in self.record.prompts]
        doc["steps"] = [s.to_dict() for s in self.engine.steps]
        doc["mirrors"] = [{"at": m.at, "fidelity": round(m.fidelity, 3)} for m in self.engine.mirrors]
        doc["balance_by_role"] = self.engine.balance().to_dict()["by_role"]
        doc["echoes_discarded"] = len(self.record.echoes)
        doc["words_kept"] = self.engine.words_may_be_kept
        if self.engine.consents:
            doc["consent"] = self.engine.consents
        if not self.engine.words_may_be_kept:   # nobody's words without everybody's yes: times only
            for turn in doc["turns"]:
                turn["text"] = None
        doc["ended"] = self.record.ended
        return doc

    def summary(self) -> str:
        from imago_voice.report import format_balance

        rows = balance(self.record.turns, self.engine.participants, flagged=self.loop.flagged)
        return format_balance(rows, overlaps(self.record.turns, self.loop.flagged)) + "\n" + self.engine.balance_sentence()


def mix_prompts(recording: np.ndarray, prompts: list[tuple[float, np.ndarray]], gain: float = 0.8) -> np.ndarray:
    """The recording (n, channels) with each prompt added at its time on every channel, to listen to."""
    out = recording.astype(np.float32).copy()
    for at, audio in prompts:
        a = int(round(at * SAMPLE_RATE))
        need = a + len(audio)
        if need > out.shape[0]:
            out = np.concatenate([out, np.zeros((need - out.shape[0], out.shape[1]), np.float32)])
        out[a:need] += gain * audio[:, None]
    return np.clip(out, -1.0, 1.0)
