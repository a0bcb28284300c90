"""The voice loop: audio blocks in; speech starts, attributed and transcribed turns, and overlaps out.

The same code runs for a file and for a microphone: it only sees :class:`~imago_voice.audio.AudioBlock`
objects timed by sample count. Stages, in order:

    source -> framing (framing.py) -> speech flags per person (VAD; channel attribution, speakers/)
           -> segments per person (segmenter.py) -> transcript scheduling (turns.py)
           -> speaker resolution on a worker (speakers.py, voiceprints) -> transcription worker -> turns

The audio thread only detects speech and cuts audio; the model and the voiceprints run on worker
threads, so capture never waits. In replay (``wait_for_text``) each turn is delivered at the audio time
its end was decided, however long its transcription took, so the same recording always gives the same
events.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE, AudioBlock
from imago_voice.audio.loudness import speech_level
from imago_voice.audio.voice_activity import VadSettings, VoiceDetector
from imago_voice.errors import ImagoError, ModelError
from imago_voice.ledger import Overlap, Turn
from imago_voice.loop.framing import AudioHistory, Framer
from imago_voice.loop.segmenter import SegmentEvent, Segmenter
from imago_voice.loop.speakers import Span, SpeakerResolver, _slice
from imago_voice.loop.turns import Chunk, OpenTurn
from imago_voice.protocol.events import SpeechDropped, SpeechStarted, Tick
from imago_voice.speakers.channels import AttributorSettings, ChannelAttributor, ChannelMap
from imago_voice.transcribe import Transcriber, TranscriptionWorker

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class EarlyWords:
    """What the first words of a turn still open were heard as (``start`` to ``end``, audio clock), while
    the loop was asked to listen early (``VoiceLoop.listen_early``: a prompt is playing). The turn itself
    follows as usual when it ends; this lets a voice command said over a prompt act before the end-of-turn
    silence has passed. Reported at each lull (as soon as the words may have ended: a quick, rough
    transcript, the transcriber's ``transcribe_short``) and again at the first pause (the transcript the
    loop starts at every pause anyway), so the same words may come twice."""

    speaker: str | None
    start: float
    end: float
    text: str
    at: float


#: What the loop yields.
LoopEvent = SpeechStarted | SpeechDropped | Tick | Turn | Overlap | EarlyWords


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
    early_max: float = 2.5      # listening early: only speech this short at its first pause (a command) is reported
    early_lull: float | None = 0.2  # listening early: the words so far are transcribed quickly after this
    #                                 much silence (the hangover: where the words may have ended), before the pause


@dataclass(frozen=True)
class _Resolved:
    """What speaker resolution decided for a finished turn."""

    spans: list[Span] | None = None          # None: the turn stands as it is
    chunks: list[list[Chunk]] | None = None  # per span, when the turn was split
    overlaps: list[Overlap] = field(default_factory=list)
    dropped: bool = False                    # crosstalk after all: no turn


@dataclass
class _PendingTurn:
    """A finished turn waiting for its speaker resolution and its transcripts, in the order turns ended."""

    speaker: str | None
    start: float
    end: float
    chunks: list[Chunk]
    decided_wall: float
    decided_at: float
    audio: np.ndarray                    # the turn's samples on its channel (the mean, on a shared microphone)
    resolved: Future | None = None       # of a _Resolved


class _Stream:
    """One person's (or the room's) speech: its segmenter, the channel its audio comes from, its open turn."""

    def __init__(self, speaker: str | None, channel: int | None, vad: VadSettings,
                 lull: float | None = None) -> None:
        self.speaker = speaker
        self.channel = channel
        self.segmenter = Segmenter(vad, lull)
        self.open: OpenTurn | None = None


class VoiceLoop:
    """Turns audio into events: :class:`SpeechStarted` / :class:`SpeechDropped` (speech that ended without
    becoming a turn: too short, crosstalk, or muted), :class:`Tick` (time passing, if asked for),
    attributed, transcribed :class:`Turn` objects, and :class:`Overlap` objects (two people at once on one
    shared microphone, yielded just before the turns they were found in). The speech events are the
    protocol engine's own (``protocol.events``).

    ``channels``: whose microphone each channel is (channel mode); without it the channels are mixed and
    speakers come from ``identifier`` (voiceprints) or stay None. ``transcriber``: None for no text.
    ``overlap_detector`` (one shared microphone): finds where two people speak at once inside a turn
    (``overlaps(audio, start=...) -> [(t0, t1), ...]``). With one microphone per person, overlaps follow
    from the turns themselves (see :mod:`imago_voice.ledger`).
    """

    def __init__(self, *, channels: ChannelMap | None = None, transcriber: Transcriber | None = None,
                 identifier=None, settings: LoopSettings | None = None, overlap_detector=None) -> None:
        self.settings = settings or LoopSettings()
        self.channels = channels
        self.resolver = SpeakerResolver(identifier, overlap_detector, self.settings.voice_margin)
        self.worker = TranscriptionWorker(transcriber) if transcriber is not None else None
        self._speaker_pool: ThreadPoolExecutor | None = None
        if channels is not None:
            self.attributor: ChannelAttributor | None = ChannelAttributor(channels, self.settings.vad,
                                                                          self.settings.attributor)
            self.streams = [_Stream(n, i, self.settings.vad, self.settings.early_lull)
                            for n, i in zip(channels.names, channels.indices)]
            self._detector = None
        else:
            self.attributor = None
            self.streams = [_Stream(None, None, self.settings.vad, self.settings.early_lull)]
            self._detector = VoiceDetector(self.settings.vad)
        self.history = AudioHistory()
        #: seconds of audio kept behind the present beyond what open turns need (a session learning voices
        #: cuts a finished turn's audio out after the turn has been delivered)
        self.keep_audio = 0.0
        self.timings: list[TurnTiming] = []
        self.now = 0.0
        self._pending: deque[_PendingTurn] = deque()
        self._muted: list[tuple[float, float]] = []
        self._next_tick = self.settings.tick
        self._dropped: list[SpeechDropped] = []
        #: ``listen_early(t) -> bool``: report :class:`EarlyWords` for speech paused at audio time ``t``
        #: (the session: while a prompt plays). None: never.
        self.listen_early = None
        self._early: list[tuple[_Stream, OpenTurn, Chunk]] = []

    def mute(self, t0: float, t1: float) -> None:
        """Hear nothing between two audio times (the facilitator's own voice is playing then)."""
        log.debug("muted %.2f-%.2f (now %.2f)", t0, t1, self.now)
        self._muted.append((t0, t1))

    def unmute_from(self, t: float) -> None:
        """Hear again from ``t`` on (a prompt that was to play then could not be played)."""
        self._muted = [(a, min(b, t)) for a, b in self._muted if a < t]

    def _is_muted(self, t: float) -> bool:
        while self._muted and self._muted[0][1] <= t:
            self._muted.pop(0)
        return any(a <= t < b for a, b in self._muted)

    # ----------------------------------------------------------------------------------------- driving
    def run(self, source: Iterable[AudioBlock]) -> Iterator[LoopEvent]:
        """Consume ``source`` to its end; yield events as they happen (turns in the order they ended).

        Interrupted (``KeyboardInterrupt``) while transcripts are still awaited, it stops at once: work
        not yet started is cancelled and nothing more is waited for.
        """
        framer = Framer(self.settings.vad.frame_samples)
        wait = self.settings.wait_for_text
        interrupted = False
        try:
            for block in source:
                self.history.add(block)
                for sample, frame in framer.frames(block):
                    yield from self._frame(sample, frame)
                    # everything is timed by frames, never by blocks: the events, their order and the
                    # ticks are the same whatever the block size of the source
                    if self._early:     # before the turns: a turn's early words never come after it
                        yield from self._early_words()
                    if self._pending:
                        yield from self._ready(block=wait)
                    if self.settings.tick > 0 and self.now >= self._next_tick - 1e-9:
                        yield Tick(round(self.now, 3))
                        self._next_tick = self.now + self.settings.tick
                if self._early:
                    yield from self._early_words()
                if self._pending:
                    yield from self._ready(block=wait)
                self._trim()
            for stream in self.streams:
                for ev in stream.segmenter.flush(self.now):
                    self._segment_event(stream, ev)
            yield from self._drain_dropped()
            self._early.clear()     # the audio is over: what is left comes as turns
            yield from self._ready(block=True)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            self.close(wait=not interrupted)

    def close(self, *, wait: bool = True) -> None:
        """Stop the worker threads (``wait=False``: without waiting for a transcription in progress)."""
        if self.worker is not None:
            self.worker.close(wait=wait)
        if self._speaker_pool is not None:
            self._speaker_pool.shutdown(wait=wait, cancel_futures=True)

    def _drain_dropped(self) -> Iterator[SpeechDropped]:
        while self._dropped:
            yield self._dropped.pop(0)

    def _frame(self, sample: int, frame: np.ndarray) -> Iterator[SpeechStarted | SpeechDropped]:
        t = sample / SAMPLE_RATE
        self.now = t + self.settings.vad.frame_seconds
        if self.attributor is not None:
            flags = self.attributor.push(frame, t)
            # a channel's energy may be the others' crosstalk: no onset rule there
            energetic: list[bool | None] = [None] * len(self.streams)
        else:
            mono = frame[:, 0] if frame.shape[1] == 1 else frame.mean(axis=1)
            flags = (self._detector.is_speech(mono),)
            energetic = [self._detector.energetic]
        if self._muted and self._is_muted(t):
            flags = [False] * len(self.streams)
            energetic = [False] * len(self.streams)
        for stream, flag, above in zip(self.streams, flags, energetic):
            for ev in stream.segmenter.push(t, bool(flag), above):
                started = self._segment_event(stream, ev)
                if started is not None:
                    yield started
            if stream.open is not None and stream.open.too_long(self.now, self.settings.max_chunk):
                stream.open.commit(self.now)
        yield from self._drain_dropped()

    # ------------------------------------------------------------------------------------ turn building
    def learn_voice(self, voiceprint) -> None:
        """From now on, tell this person's voice apart on the shared microphone (a voiceprint made during
        the session; the next turns are attributed with it)."""
        if self.resolver.identifier is None:
            from imago_voice.speakers.identify import SpeakerIdentifier

            self.resolver.identifier = SpeakerIdentifier([voiceprint])
        else:
            self.resolver.identifier.add(voiceprint)

    def _transcribe(self, audio: np.ndarray, short: bool = False) -> Future | None:
        if self.worker is None:
            return None
        # a little silence first: Whisper tends to drop the first word of audio that starts mid-voice
        lead = np.zeros(int(self.settings.lead_silence * SAMPLE_RATE), np.float32)
        return self.worker.submit(np.concatenate([lead, audio]), short=short)

    def _submit(self, stream: _Stream, t0: float, t1: float, short: bool = False) -> Future | None:
        if self.worker is None:
            return None
        return self._transcribe(self.history.cut(t0, t1 + self.settings.tail, stream.channel), short)

    def _listening_early(self, op: OpenTurn, end: float) -> bool:
        """Whether the words of ``op`` up to ``end`` are to be reported early: short so far (a command,
        not a turn's first chunk) and paused while the session listens early."""
        return self.worker is not None and self.listen_early is not None and not op.chunks \
            and not op.early and end - op.start <= self.settings.early_max and self.listen_early(end)

    def _segment_event(self, stream: _Stream, ev: SegmentEvent) -> SpeechStarted | None:
        if ev.kind == "start":
            stream.open = OpenTurn(ev.start, lambda t0, t1: self._submit(stream, t0, t1))
            return SpeechStarted(stream.speaker, ev.start)
        op = stream.open
        if op is None:
            return None
        if ev.kind == "lull":
            # the words may have ended: a quick, rough transcript of them, in case they are a command (the
            # pause's fuller transcript follows; the session acts on whichever says a command first)
            if self._listening_early(op, ev.end):
                op.glance = Chunk(op.start, ev.end, self._submit(stream, op.start, ev.end, short=True))
                self._early.append((stream, op, op.glance))
        elif ev.kind == "pause":
            op.paused(ev.end, self.settings.commit_chunk)
            spec = op.speculative
            if spec is not None and spec.future is not None and self._listening_early(op, ev.end):
                op.early = True     # the first pause only: what follows belongs to the turn
                self._early.append((stream, op, spec))
        elif ev.kind == "resume":
            op.resumed()
            if op.glance is not None:   # not yet started: not needed any more
                op.glance.cancel()
                op.glance = None
        elif ev.kind == "end":
            if self.attributor is not None:
                kept = self.attributor.refine(self.streams.index(stream), ev.start, ev.end, self.settings.vad.preroll)
                if kept is None:
                    log.debug("dropped %s's segment %.2f-%.2f: crosstalk after all", stream.speaker, ev.start, ev.end)
                    return self._segment_event(stream, SegmentEvent("drop", ev.at, ev.start, ev.end))
                op.move_start(kept[0])
                end = kept[1]
            else:
                end = ev.end
            self._finish(stream, op, op.close(end), end, ev.at)
            stream.open = None
        elif ev.kind == "drop":
            op.cancel()
            stream.open = None
            self._dropped.append(SpeechDropped(stream.speaker, ev.at))
        return None

    def _early_words(self) -> Iterator[EarlyWords]:
        """The first pauses' transcripts that are ready (only once each; none for speech that went on)."""
        still = []
        for stream, op, chunk in self._early:
            future = chunk.future
            if future.cancelled():
                continue
            if not future.done():
                still.append((stream, op, chunk))
                continue
            text, _ = self._result(future, transcript=True)
            if text:
                yield EarlyWords(stream.speaker, op.start, chunk.t1, text, round(self.now, 3))
        self._early = still

    def _speakers(self) -> ThreadPoolExecutor:
        if self._speaker_pool is None:
            self._speaker_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speakers")
        return self._speaker_pool

    def _finish(self, stream: _Stream, op: OpenTurn, chunks: list[Chunk], end: float, at: float) -> None:
        """A turn ended: queue it, with speaker resolution on the worker where voiceprints are needed."""
        resolver = self.resolver
        if stream.channel is None and (resolver.identifier is not None or resolver.overlap_detector is not None):
            audio = self.history.cut(op.start, end + self.settings.tail, None)   # the turn and its tail
            pending = _PendingTurn(stream.speaker, op.start, end, chunks, time.monotonic(), at, audio)
            pending.resolved = self._speakers().submit(self._resolve_shared, audio, op.start, end, chunks)
        else:
            audio = self.history.cut(op.start, end, stream.channel)
            pending = _PendingTurn(stream.speaker, op.start, end, chunks, time.monotonic(), at, audio)
            if stream.channel is not None and stream.speaker in resolver.names:
                pending.resolved = self._speakers().submit(
                    lambda: _Resolved(dropped=resolver.someone_else(audio, stream.speaker)))
        self._pending.append(pending)

    def _resolve_shared(self, audio: np.ndarray, start: float, end: float, chunks: list[Chunk]) -> _Resolved:
        """(Worker thread) one shared microphone: split the turn by voice; transcribe each part on its own."""
        turn_audio = audio[: int(round(end * SAMPLE_RATE)) - int(round(start * SAMPLE_RATE))]
        spans, overlaps = self.resolver.shared_microphone(turn_audio, start)
        if len(spans) <= 1:
            return _Resolved([Span(spans[0].speaker, start, end)] if spans else None, None, overlaps)
        for chunk in chunks:
            chunk.cancel()
        per_span = [[Chunk(sp.start, sp.end, self._transcribe(_slice(audio, start, sp.start, sp.end + self.settings.tail))
                           if self.worker is not None else None)] for sp in spans]
        return _Resolved(spans, per_span, overlaps)

    def _ready(self, *, block: bool) -> Iterator[Turn | Overlap | SpeechDropped]:
        """Deliver finished turns, in the order they ended, once their speakers and transcripts are known."""
        while self._pending:
            head = self._pending[0]
            if head.resolved is not None and not (block or head.resolved.done()):
                return
            resolved: _Resolved = self._result(head.resolved) if head.resolved is not None else _Resolved()
            if resolved.dropped:
                self._pending.popleft()
                for chunk in head.chunks:
                    chunk.cancel()
                log.debug("dropped %s's segment %.2f-%.2f: another enrolled voice", head.speaker, head.start, head.end)
                yield SpeechDropped(head.speaker, head.decided_at)
                continue
            if resolved.chunks is not None:
                parts = [(sp.speaker, sp.start, sp.end, chunks) for sp, chunks in zip(resolved.spans, resolved.chunks)]
            else:
                speaker = resolved.spans[0].speaker if resolved.spans else head.speaker
                parts = [(speaker, head.start, head.end, head.chunks)]
            futures = [c.future for *_, chunks in parts for c in chunks if c.future is not None]
            if not block and not all(f.done() for f in futures):
                return
            self._pending.popleft()
            yield from resolved.overlaps
            for speaker, start, end, chunks in parts:
                results = [self._result(c.future, transcript=True) for c in chunks]
                text = None if self.worker is None else " ".join(t for t, _ in results if t)
                ready = max([head.decided_wall, *(w for _, w in results)])
                level = speech_level(_slice(head.audio, head.start, start, end))
                done = Turn(speaker, round(start, 3), round(end, 3), text, round(head.decided_at, 3), level)
                self.timings.append(TurnTiming(done, head.decided_wall, ready, head.decided_at))
                yield done

    @staticmethod
    def _result(future: Future | None, *, transcript: bool = False):
        if future is None:
            return ("", 0.0) if transcript else None
        try:
            result = future.result()
        except ImagoError:
            raise
        except Exception as exc:  # noqa: BLE001 - a model failure becomes one plain error
            what = "Transcription" if transcript else "Telling the voices apart"
            raise ModelError(f"{what} failed: {exc}") from exc
        if transcript:
            text, wall = result
            return text.strip(), wall
        return result

    def _trim(self) -> None:
        vad = self.settings.vad
        keep = self.now - max(2.0, self.keep_audio) - vad.preroll - vad.start_window - vad.onset_lookback
        for stream in self.streams:
            if stream.open is not None:
                keep = min(keep, stream.open.start)
        self.history.trim(keep)
