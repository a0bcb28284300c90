"""The one ledger of who spoke when: turns and overlaps in, every speaking-time figure out. Pure code.

:class:`Ledger` is the single account of a session (or of a recording): the engine records each turn in
it with the step and role it belonged to and whether the session was paused, overlaps found inside one
shared microphone's turns are added to it, and every figure anyone shows or says is asked of it:

* per person (:meth:`Ledger.balance`): speech seconds, share of everyone's named speech, number of turns,
  longest uninterrupted stretch (consecutive turns of one person with nobody else starting in between),
  interruptions (turns that start while somebody else is still speaking) and overlap seconds;
* per person and role (:meth:`Ledger.by_role`) and per step (:meth:`Ledger.by_step`);
* on their own: speech during a time-out (:attr:`Ledger.paused_seconds`) and speech nobody could be
  named for (:attr:`Ledger.unattributed_seconds`). Neither is credited to anybody.

The functions :func:`balance` and :func:`overlaps` are the computations themselves, on any list of turns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

#: Roles under which speaking time is counted. ``other`` is time outside the send/receive steps
#: (the opening, the close) or from a third person who holds neither role.
ROLES: tuple[str, ...] = ("sender", "receiver", "other")


@dataclass(frozen=True)
class Turn:
    """One person's stretch of speech. ``speaker`` is None where nobody could be named.

    ``decided_at`` (audio clock) is when the voice loop decided the turn had ended: its end plus the
    end-of-turn silence; None where nobody decided (a turn made up by hand). ``level``: how loud the
    turn's speech was on its microphone, in dBFS (:func:`~imago_voice.audio.loudness.speech_level`), or None.
    """

    speaker: str | None
    start: float
    end: float
    text: str | None = None
    decided_at: float | None = None
    level: float | None = None

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


@dataclass(frozen=True)
class Entry:
    """A turn as the ledger keeps it: the step it was spoken in, the speaker's role then, and whether the
    session was paused (a time-out)."""

    turn: Turn
    step: str | None = None
    role: str = "other"
    paused: bool = False


class Ledger:
    """Turns and flagged overlaps of one session or recording, and every figure computed from them.

    ``participants``: everybody who gets a row even before (or without) speaking. ``max_gap``: the
    silence that ends a person's uninterrupted stretch (see :func:`balance`).
    """

    def __init__(self, participants: Sequence[str] = (), max_gap: float = 2.0) -> None:
        self.participants = tuple(participants)
        self.max_gap = max_gap
        self._entries: list[Entry] = []
        self._flagged: list[Overlap] = []

    def add(self, turn: Turn, *, step: str | None = None, role: str = "other", paused: bool = False) -> None:
        """Record a turn (its role is one of :data:`ROLES`)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self._entries.append(Entry(turn, step, role, paused))

    def add_overlap(self, overlap: Overlap) -> None:
        """Record an overlap found inside one shared microphone's turn."""
        self._flagged.append(overlap)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries)

    @property
    def turns(self) -> list[Turn]:
        """Every turn recorded, in the order it was recorded."""
        return [e.turn for e in self._entries]

    @property
    def flagged(self) -> tuple[Overlap, ...]:
        return tuple(self._flagged)

    def _counted(self) -> list[Turn]:
        return [e.turn for e in self._entries if not e.paused]

    def balance(self) -> dict[str, PersonBalance]:
        """One row per person (participants first): the figures of :func:`balance`, time-outs left out."""
        return balance(self._counted(), self.participants, self.max_gap, self._flagged)

    def overlaps(self) -> list[Overlap]:
        """Every stretch of two or more people speaking at once (time-outs included)."""
        return overlaps(self.turns, self._flagged)

    def seconds(self) -> dict[str, float]:
        """Speech seconds per person, time-outs left out."""
        return {name: row.seconds for name, row in self.balance().items()}

    def by_role(self) -> dict[str, dict[str, float]]:
        """Speech seconds per person and role (:data:`ROLES`), time-outs left out."""
        out = {name: dict.fromkeys(ROLES, 0.0) for name in self.balance()}
        for e in self._entries:
            if not e.paused and e.turn.speaker is not None:
                out[e.turn.speaker][e.role] += e.turn.duration
        return out

    def by_step(self) -> dict[str, dict[str, float]]:
        """Speech seconds per step and person, in the order the steps were first spoken in."""
        out: dict[str, dict[str, float]] = {}
        for e in self._entries:
            if not e.paused and e.turn.speaker is not None and e.step is not None:
                row = out.setdefault(e.step, {})
                row[e.turn.speaker] = row.get(e.turn.speaker, 0.0) + e.turn.duration
        return out

    @property
    def paused_seconds(self) -> float:
        """Speech during time-outs (by anybody), counted for nobody."""
        return sum(e.turn.duration for e in self._entries if e.paused)

    @property
    def unattributed_seconds(self) -> float:
        """Speech outside time-outs whose speaker nobody could name."""
        return sum(e.turn.duration for e in self._entries if not e.paused and e.turn.speaker is None)

    def summary(self) -> Mapping[str, object]:
        """The figures as one JSON-ready mapping (what logs and status displays show)."""
        return MappingProxyType({
            "by_person": {n: round(v, 3) for n, v in self.seconds().items()},
            "by_role": {n: {r: round(v, 3) for r, v in roles.items()} for n, roles in self.by_role().items()},
            "by_step": {s: {n: round(v, 3) for n, v in row.items()} for s, row in self.by_step().items()},
            "paused": round(self.paused_seconds, 3),
            "unattributed": round(self.unattributed_seconds, 3),
        })
