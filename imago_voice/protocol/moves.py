"""The moves of a dialogue: what one turn *does*, from its words and who said it.

A move is one act of the Intentional Dialogue: the sender's appointment request ("is now a good time?"),
an answer (yes / no / there is more / that's all / not now), the sender's own words (a *send*), the
receiver's mirror ("if I got it..."), the check ("did I get it?") and its sibling "is there more?"
(``ask_more``: a "no" to it means "that's all", a "no" to the check "you missed it"), summary, validation,
empathy, the role switch ("I would like to respond"), the intention and the closing appreciation. Voice
commands are not moves (see :mod:`.intents`).

:func:`read` finds the stems of every move in a turn (a Whisper transcript, possibly misheard): anywhere
in it, word by word with some slack (one lost word, an inserted one, a near spelling for words of three
letters or more; a one-word stem must be heard exactly, and a stem's words that are not stop-words must
be heard), each stretch of words going to the longest stem that matches it. :func:`word_likelihoods` turns that :class:`Reading` into how likely the words are under each move, relative to words that do no
move at all; :func:`move_likelihoods` adds who said them. A send has no stems: it is the default content
move of the sender. The stems are data: the ``[moves]`` table of ``prompts/<language>/common.toml``, read
into a :class:`MoveVocabulary` (the answers add to the ``[vocabulary.answers]`` phrases).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import cached_property, lru_cache
from types import MappingProxyType

from imago_voice.errors import PromptError
from imago_voice.protocol.text import normalize

APPOINTMENT, INTENTION, SEND, MIRROR, CHECK, ASK_MORE = "appointment", "intention", "send", "mirror", "check", "ask_more"
SUMMARY, VALIDATION, EMPATHY, SWITCH, APPRECIATION = "summary", "validation", "empathy", "switch", "appreciation"
YES, NO, MORE, DONE, NOT_NOW = "yes", "no", "more", "done", "not_now"
#: Every move, the stemless send included.
MOVES: tuple[str, ...] = (APPOINTMENT, INTENTION, SEND, MIRROR, CHECK, ASK_MORE, SUMMARY, VALIDATION, EMPATHY,
                          SWITCH, APPRECIATION, YES, NO, MORE, DONE, NOT_NOW)
#: The answers, in the precedence used when one turn holds several (as :data:`.intents.ANSWERS`).
ANSWER_MOVES: tuple[str, ...] = (NOT_NOW, MORE, DONE, NO, YES)
STEMMED: tuple[str, ...] = tuple(m for m in MOVES if m != SEND)
#: Moves that carry no words of their own (a long turn is unlikely to be one of them) ...
SHORT: frozenset[str] = frozenset({CHECK, ASK_MORE, *ANSWER_MOVES})
#: ... and moves that are mostly words of their own (a turn of no content words is unlikely one of them).
WORDY: frozenset[str] = frozenset({SEND, MIRROR, SUMMARY})
#: Moves said about the other person ("you feel..."), where a send speaks of oneself ("I feel...").
ABOUT_YOU: frozenset[str] = frozenset({MIRROR, SUMMARY, EMPATHY})

SENDER, RECEIVER, OTHER, UNKNOWN = "sender", "receiver", "other", "unknown"
ROLES: tuple[str, ...] = (SENDER, RECEIVER, OTHER, UNKNOWN)
_S, _R = frozenset({SENDER}), frozenset({RECEIVER})
#: Who makes each move.
MAKERS: Mapping[str, frozenset[str]] = MappingProxyType({
    APPOINTMENT: _S, INTENTION: _S, SEND: _S, MIRROR: _R, CHECK: _R, ASK_MORE: _R, SUMMARY: _R, VALIDATION: _R, EMPATHY: _R,
    SWITCH: _S | _R, APPRECIATION: frozenset({SENDER, RECEIVER, OTHER}), YES: _S | _R, NO: _S | _R, MORE: _S,
    DONE: _S, NOT_NOW: _R,
})
_ANSWERS = frozenset(ANSWER_MOVES)
_CHECKS = frozenset({CHECK, ASK_MORE})
#: Moves that may share a turn with each move without counting against it ("Yes, and also..." is a send).
COMPANIONS: Mapping[str, frozenset[str]] = MappingProxyType({
    APPOINTMENT: frozenset({SWITCH, YES}), INTENTION: frozenset({APPOINTMENT, YES}),
    SEND: frozenset({YES, NO, MORE, SWITCH}), MIRROR: _CHECKS | {YES}, CHECK: _CHECKS | {MIRROR, YES},
    ASK_MORE: _CHECKS | {MIRROR, YES}, SUMMARY: _CHECKS | {MIRROR}, VALIDATION: _CHECKS | {SUMMARY, MIRROR, YES},
    EMPATHY: _CHECKS | {VALIDATION, SUMMARY, MIRROR, YES}, SWITCH: frozenset({APPOINTMENT, YES, APPRECIATION}),
    APPRECIATION: frozenset({YES, DONE, SWITCH}), YES: _ANSWERS | {APPRECIATION}, NO: _ANSWERS, MORE: _ANSWERS,
    DONE: _ANSWERS | {APPRECIATION}, NOT_NOW: _ANSWERS,
})

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class MoveVocabulary:
    """One language's stems, normalised, by move; ``stopwords`` are the words that carry no content
    (the ``[fidelity]`` stop-words: a turn's content is what is left when stems and these are taken out);
    ``first_person`` and ``second_person``: the words by which one speaks of oneself and of the other."""

    language: str
    stems: Mapping[str, tuple[Phrase, ...]]
    stopwords: frozenset[str] = frozenset()
    first_person: frozenset[str] = frozenset()
    second_person: frozenset[str] = frozenset()

    @classmethod
    def from_mapping(cls, language: str, data: Mapping[str, object], *, answers: Mapping[str, Iterable[Phrase]] | None = None,
                     stopwords: Iterable[str] = (), where: str = "the moves") -> MoveVocabulary:
        """Build from a ``[moves]`` TOML table (every stemmed move a non-empty list of phrases), adding
        ``answers`` (normalised phrases by answer, from the vocabulary); :class:`PromptError` when malformed."""
        def phrases(name: str, kind: str) -> list[Phrase]:
            value = data.get(name)
            out = [tuple(normalize(v)) for v in value] if isinstance(value, list) and all(isinstance(v, str) for v in value) else []
            if not out or not all(out):
                raise PromptError(f"In {where}, '{name}' must be a non-empty list of {kind}, each with words in it.")
            return out

        persons = [frozenset(w for p in phrases(name, "words") for w in p) for name in ("first_person", "second_person")]
        stems = {m: tuple(dict.fromkeys(phrases(m, "phrases") + [tuple(p) for p in (answers or {}).get(m, ())]))
                 for m in STEMMED}
        unknown = sorted(set(data) - set(STEMMED) - {"first_person", "second_person"})
        if unknown:
            raise PromptError(f"In {where}, '{unknown[0]}' is not a move; the moves are {', '.join(STEMMED)}.")
        return cls(language, MappingProxyType(stems), frozenset(stopwords), *persons)

    @cached_property
    def words(self) -> frozenset[str]:
        """Every word of every stem."""
        return frozenset(w for phrases in self.stems.values() for p in phrases for w in p)


@dataclass(frozen=True)
class Match:
    """A stem of ``move`` heard over the words ``start:end`` of a turn, ``quality`` 0..1 (1: every word)."""

    move: str
    start: int
    end: int
    quality: float
    size: int

    @property
    def heard(self) -> float:
        """How many of the stem's words were heard (weighted by likeness, less the extra words)."""
        return round(self.quality * self.size, 6)


@dataclass(frozen=True)
class Reading:
    """What one turn's words show: the stems heard (each stretch of words given to one move), a score
    0..1 per stemmed move, ``content``: how many words are neither stems nor stop-words, and ``extra``:
    how many words are not stems at all ("you got it, I miss the walks too" has 6, of which 2 content);
    ``voice``: -1..1, from speaking of the other ("you", "your": below 0) to speaking of oneself (above 0)."""

    tokens: tuple[str, ...]
    matches: tuple[Match, ...]
    scores: Mapping[str, float]
    content: int
    extra: int = 0
    voice: float = 0.0

    def score(self, move: str) -> float:
        return self.scores.get(move, 0.0)

    @property
    def heard(self) -> tuple[str, ...]:
        """The moves whose stems were heard, strongest first."""
        return tuple(sorted((m for m, s in self.scores.items() if s > 0), key=lambda m: -self.scores[m]))

    @property
    def question(self) -> str | None:
        """The receiver's last question in this turn: :data:`CHECK` ("did I get it?") or :data:`ASK_MORE`
        ("is there more?"), or ``None``."""
        asked = [m for m in self.matches if m.move in _CHECKS]
        return max(asked, key=lambda m: m.end).move if asked else None

    @property
    def answer(self) -> str | None:
        """The answer this turn gives, by :data:`ANSWER_MOVES` precedence among the answers heard."""
        heard = [a for a in ANSWER_MOVES if self.score(a) >= 0.5]
        return heard[0] if heard else None


@dataclass(frozen=True)
class MoveModel:
    """How stems, length and role turn into likelihoods (tuned on the benchmark's tuning scripts only).

    ``hit[m]``: how often a turn that is move ``m`` has one of its stems heard; ``false_alarm[m]``: how
    often a turn that is not ``m`` (nor a companion of it) has one. ``min_quality``: the share of a
    stem's words to hear, and of its words that are not stop-words; ``insert_cost``: per extra word
    inside a stem. ``short_decay``: the factor per word beyond its stems for a move with no words of its
    own; ``wordy_floor``, ``wordy_rise``, ``wordy_words``: for a move that is mostly words, the factor at
    no content word, its rise per content word, and the words it needs at least. ``clash``: the factor by
    which another move's stem (not a companion) counts against a move; ``person``: how much speaking of
    oneself favours a send (and of the other a mirror, summary or empathy); ``role_slip``: the factor
    for a move made by the wrong role (speakers are sometimes named wrong); ``stem_alone``: for a move
    that is mostly words, the factor at least kept when its stem is heard in full with nothing after it.
    """

    hit: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({
        APPOINTMENT: 0.85, INTENTION: 0.7, MIRROR: 0.7, CHECK: 0.7, ASK_MORE: 0.7, SUMMARY: 0.7, VALIDATION: 0.7, EMPATHY: 0.7,
        SWITCH: 0.6, APPRECIATION: 0.85, YES: 0.75, NO: 0.7, MORE: 0.7, DONE: 0.75, NOT_NOW: 0.8}))
    false_alarm: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({
        APPOINTMENT: 0.01, INTENTION: 0.01, MIRROR: 0.03, CHECK: 0.03, ASK_MORE: 0.03, SUMMARY: 0.01, VALIDATION: 0.02,
        EMPATHY: 0.02, SWITCH: 0.01, APPRECIATION: 0.02, YES: 0.1, NO: 0.05, MORE: 0.05, DONE: 0.02, NOT_NOW: 0.01}))
    min_quality: float = 0.7
    insert_cost: float = 0.3
    short_decay: float = 0.45
    wordy_floor: float = 0.05
    wordy_rise: float = 0.2
    wordy_words: int = 4
    clash: float = 0.5
    person: float = 1.2
    role_slip: float = 0.08
    stem_alone: float = 0.3


DEFAULT_MODEL = MoveModel()


@lru_cache(maxsize=1 << 16)
def similar(a: str, b: str) -> float:
    """How alike two words are, 0..1: 1 when equal; for words of three letters or more their spelling
    likeness when it is at least 0.75 ("feeling"/"feline", "dialogue"/"dialog"); else 0."""
    if a == b:
        return 1.0
    if len(a) < 3 or len(b) < 3 or 2 * min(len(a), len(b)) / (len(a) + len(b)) < 0.75:
        return 0.0
    ratio = SequenceMatcher(None, a, b).ratio()
    return ratio if ratio >= 0.75 else 0.0


def align(stem: Phrase, tokens: tuple[str, ...], insert_cost: float = 0.3,
          key: tuple[bool, ...] | None = None) -> tuple[float, float, int, int]:
    """The best match of ``stem`` over a stretch of ``tokens``: (quality 0..1, key quality 0..1, start,
    end). A stem word heard counts its likeness, a lost one nothing, an extra word inside the stretch
    ``-insert_cost``; the quality is the total over the stem's length, the key quality the same over the
    ``key`` words only (1 when none is marked)."""
    m = len(tokens)
    key = key or (False,) * len(stem)
    prev = [(0.0, 0.0, j) for j in range(m + 1)]   # (score, key score, start) per end position
    for word, is_key in zip(stem, key):
        cur = [prev[0]] + [(0.0, 0.0, 0)] * m
        for j in range(1, m + 1):
            best = prev[j]                                          # this stem word lost
            sim = similar(word, tokens[j - 1])
            if sim:
                p = prev[j - 1]
                here = (p[0] + sim, p[1] + (sim if is_key else 0.0), p[2])  # heard here
                best = max(best, here, key=lambda c: (c[0], c[1]))
            c = cur[j - 1]
            best = max(best, (c[0] - insert_cost, c[1], c[2]), key=lambda c: (c[0], c[1]))  # an extra word
            cur[j] = best
        prev = cur
    end = max(range(m + 1), key=lambda j: (prev[j][0], prev[j][1], -j))
    score, key_score, start = prev[end]
    keys = sum(key)
    return score / len(stem), (key_score / keys if keys else 1.0), start, end


def read(text: str | None, vocab: MoveVocabulary, model: MoveModel = DEFAULT_MODEL) -> Reading:
    """Find every move's stems in ``text``; each stretch of words goes to the longest, best stem over it."""
    tokens = tuple(normalize(text))
    present = {w for w in vocab.words for t in set(tokens) if similar(w, t)}
    found: list[Match] = []
    for move, phrases in vocab.stems.items():
        for stem in phrases:
            if sum(w in present for w in stem) < model.min_quality * len(stem):
                continue
            if len(stem) == 1:  # a one-word stem is heard exactly or not at all
                at = tokens.index(stem[0]) if stem[0] in tokens else -1
                quality, key, start, end = (1.0, 1.0, at, at + 1) if at >= 0 else (0.0, 0.0, 0, 0)
            else:  # its words, and its words that are not stop-words: "I would like to [respond]" needs "respond"
                quality, key, start, end = align(stem, tokens, model.insert_cost, tuple(w not in vocab.stopwords for w in stem))
            if quality >= model.min_quality and key >= model.min_quality and end > start:
                found.append(Match(move, start, end, quality, len(stem)))
    # the stem that heard most words wins a stretch; of those that heard as many, the one heard most fully
    found.sort(key=lambda f: (-f.heard, -f.quality, f.start, MOVES.index(f.move)))
    kept: list[Match] = []
    for f in found:  # a stretch of words goes to one move, or to several that match it equally ("hay más")
        clashes = [k for k in kept if k.start < f.end and f.start < k.end and k.move != f.move]
        if all((k.start, k.end, k.quality, k.size) == (f.start, f.end, f.quality, f.size) for k in clashes):
            kept.append(f)
    scores: dict[str, float] = {}
    for f in kept:
        spec = 1.0 if f.size >= 3 or len(tokens) <= 4 else (0.85 if f.size == 2 else 0.5)
        scores[f.move] = max(scores.get(f.move, 0.0), f.quality * spec)
    covered = {i for k in kept for i in range(k.start, k.end)}
    rest = [t for i, t in enumerate(tokens) if i not in covered]
    content = sum(1 for t in rest if t not in vocab.stopwords)
    me = sum(1 for t in rest if t in vocab.first_person)
    you = sum(1 for t in rest if t in vocab.second_person)
    return Reading(tokens, tuple(kept), MappingProxyType(scores), content, len(rest), (me - you) / (me + you + 1))


def _stem_factor(s: float, hit: float, false_alarm: float) -> float:
    """The likelihood ratio of a stem heard with score ``s``: from (1-hit)/(1-false_alarm) when not heard
    to hit/false_alarm when heard in full, geometrically (a stem with one word lost still counts much)."""
    return (hit / false_alarm) ** s * ((1 - hit) / (1 - false_alarm)) ** (1 - s)


def word_likelihoods(reading: Reading, model: MoveModel = DEFAULT_MODEL) -> dict[str, float]:
    """How likely the words of ``reading`` are under each move, relative to words that make no move."""
    out: dict[str, float] = {}
    for move in MOVES:
        lr = 1.0 if move == SEND else _stem_factor(reading.score(move), model.hit[move], model.false_alarm[move])
        for other, s in reading.scores.items():
            if other != move and other not in COMPANIONS[move]:
                lr *= model.clash ** s
        if move in SHORT:
            lr *= model.short_decay ** reading.extra
        elif move in WORDY:
            wordy = min(1.0, model.wordy_floor + model.wordy_rise * reading.content) * min(1.0, reading.extra / model.wordy_words)
            # the stem alone ("Let me see if I got it all.", then a pause) starts that move all the same
            lr *= max(wordy, model.stem_alone if reading.extra == 0 and reading.score(move) >= 1.0 else 0.0)
        if move == SEND:
            lr *= math.exp(model.person * reading.voice)
        elif move in ABOUT_YOU:
            lr *= math.exp(-model.person * reading.voice)
        out[move] = lr
    return out


def role_fit(move: str, role: str, model: MoveModel = DEFAULT_MODEL) -> float:
    """1 when ``role`` makes ``move`` (or is unknown), else ``model.role_slip``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    return 1.0 if role == UNKNOWN or role in MAKERS[move] else model.role_slip


def move_likelihoods(role: str, text: str | Reading, vocab: MoveVocabulary,
                     model: MoveModel = DEFAULT_MODEL) -> dict[str, float]:
    """The likelihood of each move for one turn said by ``role`` (sender, receiver, other or unknown)."""
    reading = text if isinstance(text, Reading) else read(text, vocab, model)
    return {m: lr * role_fit(m, role, model) for m, lr in word_likelihoods(reading, model).items()}


def load_moves(language: str, root: object = None) -> MoveVocabulary:
    """Read the moves of ``language`` from ``prompts/<language>/common.toml`` (see :mod:`.prompts`)."""
    from imago_voice.protocol.prompts import load_common

    return load_common(language, root).moves  # type: ignore[arg-type]
