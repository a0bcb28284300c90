"""Transcript scheduling: which stretches of an open turn are sent to the transcription worker, and when.

Transcription starts early: when a person pauses, what they said so far is sent speculatively; if the
pause turns out to end the turn, that transcript is already (nearly) done when the end-of-turn silence
has passed, and if they go on, it is cancelled. Long turns are committed in chunks at pauses (and cut
even without one before Whisper's 30 s window), so only the last piece is left when the turn ends.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

#: ``submit(t0, t1)``: send the audio between two times to be transcribed (None: no transcription).
Submit = Callable[[float, float], "Future | None"]


@dataclass
class Chunk:
    """A stretch of a turn sent to the transcription worker (``future`` None: no transcriber)."""

    t0: float
    t1: float
    future: Future | None

    def cancel(self) -> None:
        if self.future is not None:
            self.future.cancel()


@dataclass
class OpenTurn:
    """A turn that has started and not yet ended, with what of it is being transcribed.

    ``pending_from``: the start of what has not been committed yet. ``speculative``: the stretch since
    then, sent at the last pause in case the pause ends the turn.
    """

    start: float
    submit: Submit
    pending_from: float = 0.0
    chunks: list[Chunk] = field(default_factory=list)
    speculative: Chunk | None = None
    early: bool = False          # its first words were reported early (VoiceLoop.listen_early): once only
    glance: Chunk | None = None  # the words so far, transcribed quickly at a lull (listening early)

    def __post_init__(self) -> None:
        self.pending_from = self.start

    def paused(self, end: float, commit_chunk: float) -> None:
        """A pause at ``end``: commit a long stretch for good, else transcribe the stretch speculatively."""
        if end - self.pending_from >= commit_chunk:
            self.commit(end)
        elif end > self.pending_from:
            self.speculative = Chunk(self.pending_from, end, self.submit(self.pending_from, end))

    def resumed(self) -> None:
        """Speech went on after a pause: the speculative transcript is stale."""
        if self.speculative is not None:
            self.speculative.cancel()
        self.speculative = None

    def commit(self, at: float) -> None:
        """Everything from ``pending_from`` to ``at`` becomes a chunk (the speculative one if it fits)."""
        spec = self.speculative
        if spec is not None and spec.t1 >= at - 1e-9 and abs(spec.t0 - self.pending_from) < 1e-9:
            chunk = spec
        else:
            if spec is not None:
                spec.cancel()
            chunk = Chunk(self.pending_from, at, self.submit(self.pending_from, at))
        self.chunks.append(chunk)
        self.pending_from, self.speculative = at, None

    def too_long(self, now: float, max_chunk: float) -> bool:
        return now - self.pending_from >= max_chunk

    def move_start(self, start: float) -> None:
        """The turn really starts later (what came before was somebody else's crosstalk)."""
        if start > self.start:
            self.start = start
            if not self.chunks:
                self.pending_from = max(self.pending_from, start)

    def close(self, end: float) -> list[Chunk]:
        """The turn ended at ``end``: commit what is left; the chunks, in order."""
        if end > self.pending_from + 1e-9 or not self.chunks:
            self.commit(end)
        return self.chunks

    def cancel(self) -> None:
        """The turn will not be one (dropped): cancel every transcription of it."""
        for chunk in [*self.chunks, self.speculative]:
            if chunk is not None:
                chunk.cancel()
