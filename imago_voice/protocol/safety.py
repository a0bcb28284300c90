"""Crisis language in a turn: self-harm or suicide, violence or fear of a partner, a child in danger.

:func:`crisis_cue` reads one turn (a Whisper transcript) and gives the strongest :class:`Cue` in it, or
``None``; :func:`blame_markers` counts blame and contempt ("you always", "idiot", "yeah right"), which is
not a crisis but heat, for the escalation pause. Both are pure: the rules are data, one
``prompts/<language>/safety.toml`` per language, read by :func:`load_safety` into :class:`SafetyRules`.

**What a rule is.** Not keywords alone: each ``[[pattern]]`` is a list of *paraphrase frames*, short
sequences of elements matched in order over the normalised words (:func:`~imago_voice.protocol.text.normalize`)
of one sentence of the turn:

* ``word`` a word; ``@name`` one phrase of the class ``name`` of ``[classes]`` (a list of phrases; an
  entry ``@other`` takes in another class); ``a|b|@name`` any of several (``much_longer|for_long``:
  ``_`` joins the words of one alternative; ``$`` is the end of the sentence);
* ``?element`` an element that may be absent;
* elements follow each other directly, unless joined by a gap: ``+`` up to 2 words between, ``*`` up
  to 5, ``~`` up to 10 (a gap never crosses a sentence's end).

So "@self * wont|not * be around|here * longer|long|anymore" is a first-person subject with a "not being
here" frame ("I won't be around much longer", "I'm not going to be here for long"), and "@agent * @hit
+ me|my" a partner and a physical harm verb on the speaker ("he grabbed me so hard it bruised"). Words of
six letters or more are also heard when a small mishearing changes them (:func:`~.moves.similar` at
least ``fuzzy``: "ibuprofin", "strangeled").

**Joins.** ``[settings].joins`` lists words a recogniser writes apart ("my self", "any more"): they are made one
word again before matching.

**Guards.** A ``[[guard]]`` is a frame of figurative or harmless use ("dying inside", "kill you for
<food>", "pushed me away", "for my headache"): a crisis match that shares words with a guard's match,
in a category the guard names (all by default), does not count.

**Negation** (decided for recall): a negation word (``[classes].negation``) in the three words before a
match, or in a gap inside it, makes it *negated*. A pattern says what that does: ``negation = "soften"``
(the default for self-harm: "I would never hurt myself" is still a cue, at ``score *
negated_factor``, because a person who brings up not hurting themselves unasked is worth a gentle
check, and a spoken resource at the wrong moment costs little), ``"drop"`` (violence and child: "he has
never hit me" is not a cue) or ``"keep"`` (the frame holds its own negation: "I don't want to live").

The cue's ``reason`` is the id of the pattern that fired (with ``.negated`` when softened), never the
user's words. This module does no I/O except in :func:`load_safety`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType

from imago_voice.errors import PromptError
from imago_voice.protocol.moves import similar
from imago_voice.protocol.text import normalize

SELF_HARM, VIOLENCE, CHILD = "self_harm", "violence", "child"
#: The crisis categories (violence: violence by, or fear of, a partner or anyone at home).
CATEGORIES: tuple[str, ...] = (SELF_HARM, VIOLENCE, CHILD)
NEGATIONS: tuple[str, ...] = ("soften", "drop", "keep")
#: The words allowed between two elements joined by each gap mark.
GAPS: Mapping[str, int] = {"+": 2, "*": 5, "~": 10}
_NEGATION_WINDOW = 3
_SENTENCE = re.compile(r"[.!?;¿¡\n]+")

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Cue:
    """A crisis cue in one turn: its category (one of :data:`CATEGORIES`), how sure (0..1) and the id of
    the rule that fired (never the user's words)."""

    category: str
    score: float
    reason: str


@dataclass(frozen=True)
class Element:
    """One element of a frame: any of ``options`` (phrases; ``()`` is the end of the sentence), possibly
    ``optional``, after at most ``gap`` other words."""

    options: tuple[Phrase, ...]
    optional: bool = False
    gap: int = 0

    @property
    def end(self) -> bool:
        """Whether this element can only be the end of the sentence."""
        return all(not o for o in self.options)


@dataclass(frozen=True)
class Frame:
    elements: tuple[Element, ...]
    source: str


@dataclass(frozen=True)
class Pattern:
    """A ``[[pattern]]``: frames of one category, with a score and what a negation does to it."""

    id: str
    category: str
    score: float
    negation: str
    frames: tuple[Frame, ...]


@dataclass(frozen=True)
class Guard:
    """A ``[[guard]]``: frames of harmless use that cancel crisis matches they overlap, in ``categories``."""

    id: str
    categories: frozenset[str]
    frames: tuple[Frame, ...]


@dataclass(frozen=True)
class SafetyRules:
    """The compiled data of one language's ``safety.toml``."""

    language: str
    patterns: tuple[Pattern, ...]
    guards: tuple[Guard, ...]
    negation: frozenset[str]
    blame: tuple[Phrase, ...]
    joins: Mapping[Phrase, str] = field(default_factory=lambda: MappingProxyType({}))
    min_score: float = 0.3
    negated_factor: float = 0.5
    fuzzy: float = 0.85
    fuzzy_length: int = 6
    source: str = ""

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every word of every frame."""
        return frozenset(w for rule in (*self.patterns, *self.guards) for f in rule.frames for el in f.elements
                         for o in el.options for w in o)

    @cached_property
    def long_words(self) -> frozenset[str]:
        """The words that may be heard near (six letters or more, by default)."""
        return frozenset(w for w in self.vocabulary if len(w) >= self.fuzzy_length)


# --- reading the data -----------------------------------------------------------------------------


def _phrase_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise PromptError(f"In {where}, expected a non-empty list of phrases.")
    return value


def _classes(table: object, where: str) -> dict[str, tuple[Phrase, ...]]:
    if not isinstance(table, Mapping) or not table:
        raise PromptError(f"In {where}, the [classes] table is missing or empty.")
    raw = {name: _phrase_list(value, f"{where} [classes].{name}") for name, value in table.items()}
    done: dict[str, tuple[Phrase, ...]] = {}

    def expand(name: str, stack: tuple[str, ...]) -> tuple[Phrase, ...]:
        if name in done:
            return done[name]
        if name in stack:
            raise PromptError(f"In {where}, the class '{name}' takes itself in (through {' -> '.join(stack)}).")
        if name not in raw:
            raise PromptError(f"In {where}, the class '@{name}' is used but not defined in [classes].")
        out: list[Phrase] = []
        for entry in raw[name]:
            if entry.strip().startswith("@"):
                out.extend(expand(entry.strip()[1:], (*stack, name)))
            else:
                phrase = tuple(normalize(entry))
                if not phrase:
                    raise PromptError(f"In {where}, the class '{name}' has a phrase with no words: {entry!r}.")
                out.append(phrase)
        done[name] = tuple(dict.fromkeys(out))
        return done[name]

    for name in raw:
        expand(name, ())
    return done


def _frame(source: str, classes: Mapping[str, tuple[Phrase, ...]], where: str) -> Frame:
    elements: list[Element] = []
    gap = 0
    for part in source.split():
        if part in GAPS:
            if not elements or gap:
                raise PromptError(f"In {where}, the frame {source!r} has a gap mark '{part}' in a wrong place.")
            gap = GAPS[part]
            continue
        optional = part.startswith("?")
        body = part[1:] if optional else part
        found: list[Phrase] = []
        for alternative in body.split("|"):
            if alternative.startswith("@"):
                if alternative[1:] not in classes:
                    raise PromptError(f"In {where}, the frame {source!r} uses '{alternative}', which [classes] does not define.")
                found.extend(classes[alternative[1:]])
            elif alternative == "$":
                found.append(())
            elif words := tuple(normalize(alternative)):
                found.append(words)
            else:
                raise PromptError(f"In {where}, the frame {source!r} has an element with no words: {part!r}.")
        options = tuple(dict.fromkeys(found))
        elements.append(Element(options, optional, gap))
        gap = 0
    if gap or not elements or all(e.optional or any(not o for o in e.options) for e in elements):
        raise PromptError(f"In {where}, the frame {source!r} is empty or ends in a gap mark.")
    return Frame(tuple(elements), source)


def _frames(value: object, classes, where: str) -> tuple[Frame, ...]:
    return tuple(_frame(s, classes, where) for s in _phrase_list(value, where))


def _number(data: Mapping, key: str, default: float, where: str, low: float = 0.0, high: float = 1.0) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise PromptError(f"In {where}, '{key}' must be a number from {low:g} to {high:g}.")
    return float(value)


def parse_safety(language: str, data: Mapping[str, object], where: str = "the safety rules") -> SafetyRules:
    """Build :class:`SafetyRules` from the TOML of a ``safety.toml``; :class:`PromptError` when malformed."""
    meta = data.get("language")
    if not isinstance(meta, Mapping) or meta.get("code") != language:
        raise PromptError(f"In {where}, [language] must have code = \"{language}\".")
    settings = data.get("settings", {})
    if not isinstance(settings, Mapping):
        raise PromptError(f"In {where}, [settings] must be a table.")
    classes = _classes(data.get("classes"), where)
    if "negation" not in classes:
        raise PromptError(f"In {where}, [classes] needs 'negation' (the words that negate a frame).")
    patterns = []
    raw_patterns = data.get("pattern")
    if not isinstance(raw_patterns, list) or not raw_patterns:
        raise PromptError(f"In {where}, there is no [[pattern]].")
    seen: set[str] = set()
    for i, p in enumerate(raw_patterns):
        at = f"{where} [[pattern]] #{i + 1}"
        if not isinstance(p, Mapping) or not isinstance(p.get("id"), str) or not p["id"]:
            raise PromptError(f"In {at}, every pattern needs an 'id'.")
        at = f"{where} [[pattern]] '{p['id']}'"
        if p["id"] in seen:
            raise PromptError(f"In {where}, the pattern id '{p['id']}' is used twice.")
        seen.add(p["id"])
        if p.get("category") not in CATEGORIES:
            raise PromptError(f"In {at}, 'category' must be one of {', '.join(CATEGORIES)}.")
        negation = p.get("negation", "soften" if p["category"] == SELF_HARM else "drop")
        if negation not in NEGATIONS:
            raise PromptError(f"In {at}, 'negation' must be one of {', '.join(NEGATIONS)}.")
        unknown = sorted(set(p) - {"id", "category", "score", "negation", "match"})
        if unknown:
            raise PromptError(f"In {at}, '{unknown[0]}' is not a pattern key.")
        patterns.append(Pattern(p["id"], p["category"], _number(p, "score", 0.8, at), negation,
                                _frames(p.get("match"), classes, f"{at} match")))
    guards = []
    for i, g in enumerate(data.get("guard", [])):
        at = f"{where} [[guard]] #{i + 1}"
        if not isinstance(g, Mapping) or not isinstance(g.get("id"), str):
            raise PromptError(f"In {at}, every guard needs an 'id'.")
        cats = g.get("categories", list(CATEGORIES))
        if not isinstance(cats, list) or not cats or not set(cats) <= set(CATEGORIES):
            raise PromptError(f"In {at}, 'categories' must list some of {', '.join(CATEGORIES)}.")
        guards.append(Guard(g["id"], frozenset(cats), _frames(g.get("match"), classes, f"{at} match")))
    blame_table = data.get("blame")
    if not isinstance(blame_table, Mapping):
        raise PromptError(f"In {where}, the [blame] table is missing.")
    blame = tuple(dict.fromkeys(tuple(normalize(b)) for b in _phrase_list(blame_table.get("markers"), f"{where} [blame].markers")))
    joins = {}
    raw_joins = settings.get("joins", [])
    for entry in raw_joins if isinstance(raw_joins, list) else [None]:
        words = tuple(normalize(entry)) if isinstance(entry, str) else ()
        if len(words) < 2:
            raise PromptError(f"In {where} [settings], 'joins' must be a list of phrases of two words or more (heard apart, one word).")
        joins[words] = "".join(words)
    return SafetyRules(
        joins=MappingProxyType(joins),
        language=language,
        patterns=tuple(patterns),
        guards=tuple(guards),
        negation=frozenset(w for p in classes["negation"] for w in p),
        blame=tuple(b for b in blame if b),
        min_score=_number(settings, "min_score", 0.3, f"{where} [settings]"),
        negated_factor=_number(settings, "negated_factor", 0.5, f"{where} [settings]"),
        fuzzy=_number(settings, "fuzzy", 0.85, f"{where} [settings]", 0.75, 1.0),
        fuzzy_length=int(_number(settings, "fuzzy_length", 6, f"{where} [settings]", 3, 99)),
        source=where,
    )


def load_safety(language: str, root=None) -> SafetyRules:
    """Read and compile ``<root>/<language>/safety.toml`` (root: as :mod:`.prompts`, default the
    package's prompts, or ``$IMAGO_VOICE_PROMPTS``); :class:`PromptError` when it is missing or broken."""
    from imago_voice.protocol.prompts import _folder, _read

    folder = _folder(root)
    if not (folder / language).is_dir():
        raise PromptError(f"There are no prompts for the language '{language}' in {folder}.")
    path = folder / language / "safety.toml"
    return parse_safety(language, _read(path), str(path))


# --- matching -------------------------------------------------------------------------------------


def _join(tokens: tuple[str, ...], joins: Mapping[Phrase, str]) -> tuple[str, ...]:
    """``tokens`` with the word pairs a recogniser splits ("my self", "any more") made one word again."""
    if not joins:
        return tokens
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for phrase, word in joins.items():
            if tokens[i:i + len(phrase)] == phrase:
                out.append(word)
                i += len(phrase)
                break
        else:
            out.append(tokens[i])
            i += 1
    return tuple(out)


def _sentences(text: str | None, joins: Mapping[Phrase, str] = MappingProxyType({})) -> list[tuple[str, ...]]:
    return [_join(words, joins) for part in _SENTENCE.split(text or "") if (words := tuple(normalize(part)))]


@lru_cache(maxsize=1 << 16)
def _word_like(word: str, token: str, fuzzy: float, length: int) -> bool:
    if word == token:
        return True
    return len(word) >= length and len(token) >= length - 1 and similar(word, token) >= fuzzy


def _at(option: Phrase, tokens: Sequence[str], i: int, rules: SafetyRules) -> int:
    """The end of ``option`` heard at ``tokens[i:]``, or -1."""
    if i + len(option) > len(tokens):
        return -1
    for k, word in enumerate(option):
        if not _word_like(word, tokens[i + k], rules.fuzzy, rules.fuzzy_length):
            return -1
    return i + len(option)


def _match_frame(frame: Frame, tokens: Sequence[str], rules: SafetyRules) -> tuple[int, int, tuple[int, ...]] | None:
    """The first (start, end, skipped word positions) at which ``frame`` is heard, shortest first."""
    elements = frame.elements
    n = len(tokens)

    def rest(k: int, pos: int, skipped: tuple[int, ...]) -> tuple[int, tuple[int, ...]] | None:
        if k == len(elements):
            return pos, skipped
        el = elements[k]
        for gap in range(1 if k == 0 else el.gap + 1):
            at = pos + gap
            if at > n:
                break
            for option in el.options:
                end = (at if at == n else -1) if not option else _at(option, tokens, at, rules)
                if end >= 0:
                    found = rest(k + 1, end, skipped + tuple(range(pos, at)))
                    if found:
                        return found
        if el.optional:
            return rest(k + 1, pos, skipped)
        return None

    for start in range(n):
        found = rest(0, start, ())
        if found:
            end, skipped = found
            return start, end, skipped
    return None


@lru_cache(maxsize=4096)
def _needs(frame: Frame) -> tuple[frozenset[str], ...]:
    """For each element that must be heard, the first words of its options (a quick check before matching)."""
    return tuple(frozenset(o[0] for o in el.options) for el in frame.elements
                 if not el.optional and all(el.options))


def _present(tokens: Sequence[str], rules: SafetyRules) -> frozenset[str]:
    """The words of the rules heard in ``tokens`` (exactly, or near for long words)."""
    heard = set(tokens) & rules.vocabulary
    for token in set(tokens):
        if len(token) >= rules.fuzzy_length - 1:
            heard.update(w for w in rules.long_words if _word_like(w, token, rules.fuzzy, rules.fuzzy_length))
    return frozenset(heard)


def _negated(tokens: Sequence[str], start: int, skipped: Sequence[int], rules: SafetyRules) -> bool:
    before = tokens[max(0, start - _NEGATION_WINDOW):start]
    return any(t in rules.negation for t in before) or any(tokens[i] in rules.negation for i in skipped)


def cues(text: str | None, rules: SafetyRules) -> list[Cue]:
    """Every crisis cue in ``text`` (one per pattern heard, guards applied), strongest first."""
    found: dict[str, Cue] = {}
    for tokens in _sentences(text, rules.joins):
        present = _present(tokens, rules)
        guarded: list[tuple[int, int, frozenset[str]]] = []
        for guard in rules.guards:
            for frame in guard.frames:
                if not all(need & present for need in _needs(frame)):
                    continue
                m = _match_frame(frame, tokens, rules)
                if m:
                    guarded.append((m[0], m[1], guard.categories))
        for pattern in rules.patterns:
            for frame in pattern.frames:
                if not all(need & present for need in _needs(frame)):
                    continue
                m = _match_frame(frame, tokens, rules)
                if not m:
                    continue
                start, end, skipped = m
                if any(pattern.category in cats and s < end and start < e for s, e, cats in guarded):
                    continue
                score, reason = pattern.score, pattern.id
                if pattern.negation != "keep" and _negated(tokens, start, skipped, rules):
                    if pattern.negation == "drop":
                        continue
                    score, reason = score * rules.negated_factor, f"{pattern.id}.negated"
                if score >= rules.min_score and (pattern.id not in found or found[pattern.id].score < score):
                    found[pattern.id] = Cue(pattern.category, round(score, 3), reason)
    return sorted(found.values(), key=lambda c: (-c.score, CATEGORIES.index(c.category), c.reason))


def crisis_cue(text: str | None, rules: SafetyRules) -> Cue | None:
    """The strongest crisis cue in one turn, or ``None``."""
    found = cues(text, rules)
    return found[0] if found else None


def blame_markers(text: str | None, rules: SafetyRules) -> int:
    """How many blame or contempt markers ``text`` holds ("you always", "you never", "idiot", "oh great",
    "whatever", "yeah right"): each stretch of words counted once, the longest marker first."""
    tokens = normalize(text)
    taken = [False] * len(tokens)
    count = 0
    for phrase in sorted(rules.blame, key=len, reverse=True):
        size = len(phrase)
        for i in range(len(tokens) - size + 1):
            if tuple(tokens[i:i + size]) == phrase and not any(taken[i:i + size]):
                taken[i:i + size] = [True] * size
                count += 1
    return count


__all__ = ["CATEGORIES", "CHILD", "SELF_HARM", "VIOLENCE", "Cue", "SafetyRules", "blame_markers", "crisis_cue",
           "cues", "load_safety", "parse_safety"]
