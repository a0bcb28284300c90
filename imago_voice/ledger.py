"""The balance ledger: who spoke how much, from attributed turns. Pure code, no audio.

Per person: speech seconds, share of everyone's named speech, number of turns, longest uninterrupted
stretch (consecutive turns of one person with nobody else starting in between), interruptions (turns that
start while somebody else is still speaking) and overlap seconds (time spent speaking over someone).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    """One person's stretch of speech. ``speaker`` is None where nobody could be named."""

    speaker: str | None
    start: float
    end: float
    text: str | None = None

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class Overlap:
    """Two or more people speaking at once. ``by``: who started speaking over the other, when known.

    With one microphone per person overlaps follow from the turns themselves; with one shared microphone
    the turns never overlap, and overlaps are *flagged* by the loop (an overlap detector, names from the
    voiceprints) and given to :func:`overlaps` and :func:`balance` alongside the turns.
    """

    start: float
    end: float
    speakers: tuple[str, ...]
    by: str | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class PersonBalance:
    name: str
    seconds: float
    share: float
    turns: int
    longest: float
    interruptions: int
    overlap: float

    def as_dict(self) -> dict:
        return {"seconds": round(self.seconds, 3), "share": round(self.share, 4), "turns": self.turns,
                "longest": round(self.longest, 3), "interruptions": self.interruptions,
                "overlap": round(self.overlap, 3)}


def _union_length(intervals: Iterable[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def overlaps(turns: Sequence[Turn], flagged: Sequence[Overlap] = ()) -> list[Overlap]:
    """Stretches where two or more people speak at once, merged, with everyone involved: from turns that
    overlap in time, and from ``flagged`` overlaps (found inside one shared microphone's turns)."""
    named = sorted((t for t in turns if t.speaker is not None and t.end > t.start), key=lambda t: t.start)
    pieces: list[tuple[float, float, set[str], str | None]] = []
    for i, a in enumerate(named):
        for b in named[i + 1:]:
            if b.start >= a.end:
                break
            if b.speaker != a.speaker:
                pieces.append((b.start, min(a.end, b.end), {a.speaker, b.speaker}, b.speaker))
    pieces += [(o.start, o.end, set(o.speakers), o.by) for o in flagged if o.end > o.start]
    merged: list[Overlap] = []
    for s, e, who, by in sorted(pieces, key=lambda p: p[0]):
        if merged and s <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Overlap(last.start, max(last.end, e), tuple(sorted(set(last.speakers) | who)), last.by or by)
        else:
            merged.append(Overlap(s, e, tuple(sorted(who)), by))
    return merged


def balance(turns: Sequence[Turn], participants: Sequence[str] = (), max_gap: float = 2.0,
            flagged: Sequence[Overlap] = ()) -> dict[str, PersonBalance]:
    """The ledger, one row per participant (everyone named in ``participants`` or in a turn).

    A person's consecutive turns form one stretch when nobody else starts in between and the silence
    between them is at most ``max_gap`` seconds (a longer silence, or the facilitator speaking, ends it).
    ``flagged`` overlaps (one shared microphone) add to the overlap time of everyone in them, and count
    as an interruption by the person who started speaking over the other (``by``).
    """
    names = list(dict.fromkeys([*participants, *(t.speaker for t in turns if t.speaker is not None)]))
    named = sorted((t for t in turns if t.speaker is not None), key=lambda t: (t.start, t.end))
    seconds = {n: _union_length((t.start, t.end) for t in named if t.speaker == n) for n in names}
    total = sum(seconds.values())
    rows = {}
    for n in names:
        mine = [t for t in named if t.speaker == n]
        others = [t for t in named if t.speaker != n]
        interruptions = sum(1 for t in mine if any(o.start < t.start < o.end for o in others))
        interruptions += sum(1 for o in flagged if o.by == n)
        overlap = _union_length(
            [(max(t.start, o.start), min(t.end, o.end)) for t in mine for o in others
             if o.start < t.end and t.start < o.end]
            + [(o.start, o.end) for o in flagged if n in o.speakers and o.end > o.start])
        rows[n] = PersonBalance(n, seconds[n], seconds[n] / total if total > 0 else 0.0, len(mine),
                                _longest_stretch(named, n, max_gap), interruptions, overlap)
    return rows


def _longest_stretch(named: Sequence[Turn], name: str, max_gap: float) -> float:
    """Longest run of ``name``'s consecutive turns that nobody else started a turn inside of."""
    best, cur_start, cur_end = 0.0, None, None
    for t in named:
        if t.speaker == name:
            if cur_start is not None and t.start - cur_end > max_gap:
                best = max(best, cur_end - cur_start)
                cur_start = None
            if cur_start is None:
                cur_start, cur_end = t.start, t.end
            else:
                cur_end = max(cur_end, t.end)
        elif cur_start is not None:
            best = max(best, min(cur_end, t.start) - cur_start if t.start < cur_end else cur_end - cur_start)
            cur_start = cur_end = None
            # a run broken by someone else ends where they started
    if cur_start is not None:
        best = max(best, cur_end - cur_start)
    return best
