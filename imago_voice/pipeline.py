"""The voice loop: audio blocks in; speech starts and attributed, transcribed turns out.

The same code runs for a file and for a microphone: it only sees :class:`~imago_voice.audio.AudioBlock`
objects timed by sample count. Stages, in order:

    source -> frames -> speech flags per person (VAD, channel attribution) -> segmenter per person
           -> turn audio -> speaker spans (voiceprints, optional) -> transcription worker -> turns

Transcription starts early: when a person pauses, what they said so far is sent to the worker
speculatively; if the pause turns out to end the turn, that transcript is already (nearly) done when the
end-of-turn silence has passed. Long turns are committed in chunks at pauses, so only the last piece is
left at the end.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from imago_voice.audio import SAMPLE_RATE, AudioBlock
from imago_voice.channels import AttributorSettings, ChannelAttributor, ChannelMap
from imago_voice.errors import ImagoError, ModelError, VoiceprintError
from imago_voice.ledger import Overlap, Turn
from imago_voice.protocol.events import SpeechStarted, SpeechStopped, Tick
from imago_voice.transcribe import Transcriber, TranscriptionWorker
from imago_voice.vad import Segmenter, SegmentEvent, VadSettings, VoiceDetector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnTiming:
    """When a turn's end was decided (audio clock, and wall clock ``time.monotonic``) and when its
    transcript was ready (wall clock)."""

    turn: Turn
    decided_wall: float
    ready_wall: float
    decided_at: float = 0.0

    @property
    def latency(self) -> float:
        return max(0.0, self.ready_wall - self.decided_wall)


@dataclass(frozen=True)
class LoopSettings:
    vad: VadSettings = field(default_factory=VadSettings)
    attributor: AttributorSettings = field(default_factory=AttributorSettings)
    commit_chunk: float = 8.0   # at a pause, speech since the last cut this long is transcribed for good
    max_chunk: float = 28.0     # Whisper sees 30 s at most: cut even without a pause
    tail: float = 0.1           # audio kept after a turn's end (which has the VAD hangover) for transcription
    lead_silence: float = 0.2   # silence put before each piece sent to transcription
    tick: float = 0.0           # yield a Tick this often (seconds of audio); 0: never
    voice_margin: float = 0.05  # channels + voiceprints: another voice must match this much better to drop
    wait_for_text: bool = False  # replay: deliver each turn at the audio time its end was decided (deterministic)


class _History:
    """Recent audio, enough to cut out any open turn. Blocks older than needed are dropped."""

    def __init__(self) -> None:
        self._blocks: deque[AudioBlock] = deque()

    def add(self, block: AudioBlock) -> None:
        self._blocks.append(block)

    def trim(self, keep_from: float) -> None:
        first = int(keep_from * SAMPLE_RATE)
        while self._blocks and self._blocks[0].start + self._blocks[0].frames <= first:
            self._blocks.popleft()

    def cut(self, t0: float, t1: float, channel: int | None) -> np.ndarray:
        """Mono samples between two times: one channel, or the mean of all when ``channel`` is None."""
        a, b = int(round(t0 * SAMPLE_RATE)), int(round(t1 * SAMPLE_RATE))
        parts = []
        for blk in self._blocks:
            lo, hi = max(a, blk.start), min(b, blk.start + blk.frames)
            if lo < hi:
                x = blk.samples[lo - blk.start:hi - blk.start]
                parts.append(x[:, channel] if channel is not None else x.mean(axis=1))
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


@dataclass
class _Chunk:
    t0: float
    t1: float
    future: Future | None


@dataclass
class _OpenTurn:
    start: float
    pending_from: float
    chunks: list[_Chunk] = field(default_factory=list)
    speculative: _Chunk | None = None


@dataclass
class _PendingTurn:
    turns: list[Turn]                     # speaker spans (text filled in when the chunks are done)
    chunks: list[list[_Chunk]]            # per span
    decided_wall: float
    decided_at: float


class _Stream:
    """One person's (or the room's) speech: its segmenter, the channel its audio comes from, its open turn."""

    def __init__(self, speaker: str | None, channel: int | None, vad: VadSettings) -> None:
        self.speaker = speaker
        self.channel = channel
        self.segmenter = Segmenter(vad)
        self.open: _OpenTurn | None = None


class VoiceLoop:
    """Turns audio into events: :class:`SpeechStarted` / :class:`SpeechStopped` (speech that ended without a
    turn: too short, crosstalk, or muted), :class:`Tick` (time passing, if asked for), and attributed,
    transcribed :class:`Turn` objects. The events are the protocol engine's own (``protocol.events``).

    ``channels``: whose microphone each channel is (channel mode); without it the channels are mixed and
    speakers come from ``identifier`` (voiceprints) or stay None. ``transcriber``: None for no text.
    ``overlap_detector`` (one shared microphone): finds where two people speak at once inside a turn
    (``overlaps(audio, start=...) -> [(t0, t1), ...]``); the overlaps it finds, named from the voiceprints,
    collect in :attr:`flagged`. With one microphone per person overlaps follow from the turns themselves.
    """

    def __init__(self, *, channels: ChannelMap | None = None, transcriber: Transcriber | None = None,
                 identifier=None, settings: LoopSettings | None = None, overlap_detector=None) -> None:
        self.s = settings or LoopSettings()
        self.overlap_detector = overlap_detector
        self.flagged: list[Overlap] = []
        self.channels = channels
        self.identifier = identifier
        self.worker = TranscriptionWorker(transcriber) if transcriber is not None else None
        if channels is not None:
            self.attributor: ChannelAttributor | None = ChannelAttributor(channels, self.s.vad, self.s.attributor)
            self.streams = [_Stream(n, i, self.s.vad) for n, i in zip(channels.names, channels.indices)]
            self._detector = None
        else:
            self.attributor = None
            self.streams = [_Stream(None, None, self.s.vad)]
            self._detector = VoiceDetector(self.s.vad)
        self.history = _History()
        self.turns: list[Turn] = []
        self.timings: list[TurnTiming] = []
        self.now = 0.0
        self._pending: deque[_PendingTurn] = deque()
        self._muted: list[tuple[float, float]] = []
        self._next_tick = self.s.tick
        self._dropped: list[SpeechStopped] = []

    def mute(self, t0: float, t1: float) -> None:
        """Hear nothing between two audio times (the facilitator's own voice is playing then)."""
        log.debug("muted %.2f-%.2f (now %.2f)", t0, t1, self.now)
        self._muted.append((t0, t1))

    def _is_muted(self, t: float) -> bool:
        while self._muted and self._muted[0][1] <= t:
            self._muted.pop(0)
        return any(a <= t < b for a, b in self._muted)

    # ----------------------------------------------------------------------------------------- driving
    def run(self, source: Iterable[AudioBlock]) -> Iterator[SpeechStarted | SpeechStopped | Tick | Turn]:
        """Consume ``source`` to its end; yield events as they happen (turns in the order they ended)."""
        fn = self.s.vad.frame_samples
        carry: np.ndarray | None = None
        carry_start = 0
        try:
            for block in source:
                self.history.add(block)
                data = block.samples if carry is None else np.concatenate([carry, block.samples])
                start = block.start if carry is None else carry_start
                whole = (data.shape[0] // fn) * fn
                for off in range(0, whole, fn):
                    yield from self._frame(start + off, data[off:off + fn])
                carry, carry_start = (data[whole:], start + whole) if whole < data.shape[0] else (None, 0)
                yield from self._ready(block=self.s.wait_for_text)
                if self.s.tick > 0 and self.now >= self._next_tick:
                    yield Tick(round(self.now, 3))
                    self._next_tick = self.now + self.s.tick
                self._trim()
            for stream in self.streams:
                for ev in stream.segmenter.flush(self.now):
                    self._segment_event(stream, ev)
            yield from self._drain_dropped()
            yield from self._ready(block=True)
        finally:
            if self.worker is not None:
                self.worker.close()

    def _drain_dropped(self) -> Iterator[SpeechStopped]:
        while self._dropped:
            yield self._dropped.pop(0)

    def _frame(self, sample: int, frame: np.ndarray) -> Iterator[SpeechStarted | SpeechStopped]:
        t = sample / SAMPLE_RATE
        self.now = t + self.s.vad.frame_seconds
        if self.attributor is not None:
            flags = self.attributor.push(frame, t)
        else:
            mono = frame[:, 0] if frame.shape[1] == 1 else frame.mean(axis=1)
            flags = (self._detector.is_speech(mono),)
        if self._muted and self._is_muted(t):
            flags = [False] * len(self.streams)
        for stream, flag in zip(self.streams, flags):
            for ev in stream.segmenter.push(t, bool(flag)):
                started = self._segment_event(stream, ev)
                if started is not None:
                    yield started
            if stream.open is not None and self.now - stream.open.pending_from >= self.s.max_chunk:
                self._commit(stream, self.now)
        yield from self._drain_dropped()

    # ------------------------------------------------------------------------------------ turn building
    def _submit(self, stream: _Stream, t0: float, t1: float) -> Future | None:
        if self.worker is None:
            return None
        audio = self.history.cut(t0, t1 + self.s.tail, stream.channel)
        # a little silence first: Whisper tends to drop the first word of audio that starts mid-voice
        lead = np.zeros(int(self.s.lead_silence * SAMPLE_RATE), np.float32)
        return self.worker.submit(np.concatenate([lead, audio]))

    def _commit(self, stream: _Stream, at: float) -> None:
        op = stream.open
        spec = op.speculative
        if spec is not None and spec.t1 >= at - 1e-9 and abs(spec.t0 - op.pending_from) < 1e-9:
            chunk = spec
        else:
            if op.speculative is not None and op.speculative.future is not None:
                op.speculative.future.cancel()
            chunk = _Chunk(op.pending_from, at, self._submit(stream, op.pending_from, at))
        op.chunks.append(chunk)
        op.pending_from, op.speculative = at, None

    def _segment_event(self, stream: _Stream, ev: SegmentEvent) -> SpeechStarted | None:
        if ev.kind == "start":
            stream.open = _OpenTurn(ev.start, ev.start)
            return SpeechStarted(stream.speaker, ev.start)
        op = stream.open
        if op is None:
            return None
        if ev.kind == "pause":
            if ev.end - op.pending_from >= self.s.commit_chunk:
                self._commit(stream, ev.end)
            elif ev.end > op.pending_from:
                op.speculative = _Chunk(op.pending_from, ev.end, self._submit(stream, op.pending_from, ev.end))
        elif ev.kind == "resume":
            if op.speculative is not None and op.speculative.future is not None:
                op.speculative.future.cancel()
            op.speculative = None
        elif ev.kind == "end":
            if self.attributor is not None:
                kept = self.attributor.refine(self.streams.index(stream), ev.start, ev.end, self.s.vad.preroll)
                if kept is None:
                    log.debug("dropped %s's segment %.2f-%.2f: crosstalk after all", stream.speaker, ev.start, ev.end)
                    return self._segment_event(stream, SegmentEvent("drop", ev.at, ev.start, ev.end))
                if kept[0] > op.start:
                    op.start = kept[0]
                    if not op.chunks:
                        op.pending_from = max(op.pending_from, kept[0])
                if self._someone_else(stream, op.start, ev.end):
                    log.debug("dropped %s's segment %.2f-%.2f: another enrolled voice", stream.speaker, op.start, ev.end)
                    return self._segment_event(stream, SegmentEvent("drop", ev.at, ev.start, ev.end))
            if ev.end > op.pending_from + 1e-9 or not op.chunks:
                self._commit(stream, ev.end)
            self._finish(stream, op, ev.end, ev.at)
            stream.open = None
        elif ev.kind == "drop":
            for c in [*op.chunks, op.speculative]:
                if c is not None and c.future is not None:
                    c.future.cancel()
            stream.open = None
            self._dropped.append(SpeechStopped(stream.speaker, ev.at))
        return None

    def _someone_else(self, stream: _Stream, t0: float, t1: float) -> bool:
        """Channels and voiceprints together: is this channel's segment another enrolled person's voice?

        Channel mode decides where the channels are clean; where a microphone only heard crosstalk, the
        voice on it is somebody else's, and their voiceprint says so.
        """
        ident = self.identifier
        if ident is None or stream.speaker not in getattr(ident, "names", ()):
            return False
        try:
            scores = ident.scores(self.history.cut(t0, t1, stream.channel))
        except VoiceprintError:   # too little speech to tell
            return False
        best = max(scores, key=scores.get)
        return best != stream.speaker and scores[best] - scores[stream.speaker] > self.s.voice_margin

    def _finish(self, stream: _Stream, op: _OpenTurn, end: float, at: float) -> None:
        decided = time.monotonic()
        speaker = stream.speaker
        shared_mic = stream.channel is None and (self.identifier is not None or self.overlap_detector is not None)
        if shared_mic:
            audio = self.history.cut(op.start, end, None)
            spans = [] if self.identifier is None else \
                [sp for sp in self.identifier.spans(audio, start=op.start) if sp.end > sp.start]
            if self.overlap_detector is not None:
                self._flag_overlaps(audio, op.start, spans)
            if len(spans) > 1:
                for c in op.chunks:
                    if c.future is not None:
                        c.future.cancel()
                turns = [Turn(sp.speaker, sp.start, sp.end) for sp in spans]
                chunks = [[_Chunk(sp.start, sp.end, self._submit(stream, sp.start, sp.end))] for sp in spans]
                self._pending.append(_PendingTurn(turns, chunks, decided, at))
                return
            if spans:
                speaker = spans[0].speaker
        self._pending.append(_PendingTurn([Turn(speaker, op.start, end)], [op.chunks], decided, at))

    def _flag_overlaps(self, audio: np.ndarray, t0: float, spans: list) -> None:
        """One shared microphone: find where two voices overlap inside this turn and who they are.

        The names are the identified speakers next to the overlap; where only one is (somebody talks
        over the other without taking the turn, or a short "mm-hm"), the other is the enrolled voice that
        best matches the overlap's own audio. ``by``, who started speaking over the other, is the speaker
        whose span begins at the overlap, else the one who did not hold the turn.
        """
        try:
            regions = self.overlap_detector.overlaps(audio, start=t0)
        except ImagoError as exc:
            log.warning("overlapping speech will not be flagged: %s", exc)
            self.overlap_detector = None
            return
        margin = 0.3
        for a, b in regions:
            near = [sp for sp in spans if sp.speaker is not None and sp.start < b + margin and sp.end > a - margin]
            names = list(dict.fromkeys(sp.speaker for sp in near))
            if len(names) < 2 and self.identifier is not None:
                others = [n for n in self.identifier.names if n not in names]
                if len(others) > 1:
                    try:
                        scores = self.identifier.scores(self.history.cut(a, b, None))
                        others.sort(key=lambda n: scores.get(n, -1.0), reverse=True)
                    except VoiceprintError:   # too little speech to tell: the first other enrolled voice
                        pass
                names += others[:1]
            starters = [sp.speaker for sp in near[1:] if a - margin <= sp.start <= b]
            holder = near[0].speaker if near else None
            by = starters[0] if starters else next((n for n in names if n != holder), None) if holder else None
            self.flagged.append(Overlap(round(a, 3), round(b, 3), tuple(sorted(names)), by))
            log.info("overlap %.2f-%.2f: %s", a, b, ", ".join(names) or "unknown voices")

    def _ready(self, *, block: bool) -> Iterator[Turn]:
        while self._pending:
            head = self._pending[0]
            futures = [c.future for chunks in head.chunks for c in chunks if c.future is not None]
            if not block and not all(f.done() for f in futures):
                return
            self._pending.popleft()
            for turn, chunks in zip(head.turns, head.chunks):
                results = [self._result(c.future) for c in chunks]
                text = None if self.worker is None else " ".join(t for t, _ in results if t)
                ready = max([head.decided_wall, *(w for _, w in results)])
                done = Turn(turn.speaker, round(turn.start, 3), round(turn.end, 3), text)
                self.turns.append(done)
                self.timings.append(TurnTiming(done, head.decided_wall, ready, head.decided_at))
                yield done

    @staticmethod
    def _result(future: Future | None) -> tuple[str, float]:
        if future is None:
            return "", 0.0
        try:
            text, wall = future.result()
            return text.strip(), wall
        except ImagoError:
            raise
        except Exception as exc:  # noqa: BLE001 - a model failure becomes one plain error
            raise ModelError(f"Transcription failed: {exc}") from exc

    def _trim(self) -> None:
        keep = self.now - 2.0 - self.s.vad.preroll - self.s.vad.start_window
        for stream in self.streams:
            if stream.open is not None:
                keep = min(keep, stream.open.start)
        self.history.trim(keep)
