"""Speaker resolution: who a finished turn belongs to, worked out on a worker thread, never on the audio thread.

Two cases need the voiceprints (a few tenths of a second per turn, too slow for the audio thread):

* **One shared microphone** (:meth:`SpeakerResolver.shared_microphone`): the turn is split where the
  voice changes inside it and each part named from the voiceprints; where the overlap detector finds
  two people speaking at once, the overlap is flagged with both names and who cut in.
* **Channels and voiceprints together** (:meth:`SpeakerResolver.someone_else`): a channel's segment that
  carries another enrolled person's voice is crosstalk, and dropped.

The resolver is given the turn's audio, already cut, so it never touches the loop's audio history.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.errors import ImagoError, VoiceprintError
from imago_voice.ledger import Overlap

log = logging.getLogger(__name__)

#: How near an overlap a speaker span must lie to count as one of the overlapping voices (seconds).
OVERLAP_MARGIN = 0.3


@dataclass(frozen=True)
class Span:
    """A stretch of one turn given to one person (``None``: nobody enrolled)."""

    speaker: str | None
    start: float
    end: float


def _slice(audio: np.ndarray, start: float, t0: float, t1: float) -> np.ndarray:
    """The samples of ``audio`` (which begins at ``start``) between two times, as the history cuts them."""
    a0 = int(round(start * SAMPLE_RATE))
    a, b = int(round(t0 * SAMPLE_RATE)) - a0, int(round(t1 * SAMPLE_RATE)) - a0
    return audio[max(0, a):max(0, b)]


class SpeakerResolver:
    """Voiceprint work on finished turns. ``identifier``: a
    :class:`~imago_voice.speakers.identify.SpeakerIdentifier` (or anything with ``names``, ``spans`` and
    ``scores``); ``overlap_detector``: anything with ``overlaps(audio, start=...) -> [(t0, t1), ...]``;
    ``voice_margin``: how much better another voiceprint must match for a channel's segment to be theirs.
    """

    def __init__(self, identifier=None, overlap_detector=None, voice_margin: float = 0.05) -> None:
        self.identifier = identifier
        self.overlap_detector = overlap_detector
        self.voice_margin = voice_margin

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(getattr(self.identifier, "names", ()))

    def shared_microphone(self, audio: np.ndarray, start: float) -> tuple[list[Span], list[Overlap]]:
        """Who spoke when in one shared microphone's turn (``audio`` starts at ``start``), and the
        overlaps inside it. No spans when there are no voiceprints."""
        spans = [] if self.identifier is None else \
            [Span(sp.speaker, sp.start, sp.end) for sp in self.identifier.spans(audio, start=start) if sp.end > sp.start]
        overlaps = self._overlaps(audio, start, spans) if self.overlap_detector is not None else []
        return spans, overlaps

    def someone_else(self, audio: np.ndarray, speaker: str | None) -> bool:
        """Channels and voiceprints together: is this channel's segment another enrolled person's voice?

        Channel mode decides where the channels are clean; where a microphone only heard crosstalk, the
        voice on it is somebody else's, and their voiceprint says so.
        """
        if self.identifier is None or speaker not in self.names:
            return False
        try:
            scores = self.identifier.scores(audio)
        except VoiceprintError:   # too little speech to tell
            return False
        best = max(scores, key=scores.get)
        return best != speaker and scores[best] - scores[speaker] > self.voice_margin

    def _overlaps(self, audio: np.ndarray, start: float, spans: list[Span]) -> list[Overlap]:
        """Where two voices overlap inside this turn, and who they are.

        The names are the identified speakers next to the overlap; where only one is (somebody talks over
        the other without taking the turn, or a short "mm-hm"), the other is the enrolled voice that best
        matches the overlap's own audio. ``by``, who started speaking over the other, is the speaker whose
        span begins at the overlap, else the one who did not hold the turn.
        """
        try:
            regions = self.overlap_detector.overlaps(audio, start=start)
        except ImagoError as exc:
            log.warning("overlapping speech will not be flagged: %s", exc)
            self.overlap_detector = None
            return []
        found = []
        for a, b in regions:
            near = [sp for sp in spans if sp.speaker is not None and sp.start < b + OVERLAP_MARGIN
                    and sp.end > a - OVERLAP_MARGIN]
            names = list(dict.fromkeys(sp.speaker for sp in near))
            if len(names) < 2 and self.identifier is not None:
                others = [n for n in self.names if n not in names]
                if len(others) > 1:
                    scores: Mapping[str, float] = {}
                    try:
                        scores = self.identifier.scores(_slice(audio, start, a, b))
                    except VoiceprintError:   # too little speech to tell: the first other enrolled voice
                        pass
                    others.sort(key=lambda n: scores.get(n, -1.0), reverse=True)
                names += others[:1]
            starters = [sp.speaker for sp in near[1:] if a - OVERLAP_MARGIN <= sp.start <= b]
            holder = near[0].speaker if near else None
            by = starters[0] if starters else next((n for n in names if n != holder), None) if holder else None
            found.append(Overlap(round(a, 3), round(b, 3), tuple(sorted(names)), by))
            log.info("overlap %.2f-%.2f: %s", a, b, ", ".join(names) or "unknown voices")
        return found
