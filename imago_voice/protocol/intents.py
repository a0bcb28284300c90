"""Recognise what a transcript means at the few points where words matter.

Two kinds of meaning, both matched on words normalised by :func:`~imago_voice.protocol.text.normalize`
(case, punctuation, accents and apostrophes ignored, so Whisper's "Yep, you got it." and "yep you got
it" are the same):

* **answers** at a branch point: ``yes``, ``no``, ``more`` ("there is more"), ``done`` ("that's all")
  and ``not_now``;
* **voice commands**, anywhere: ``pause`` (also "time out"), ``resume``, ``repeat``, ``next``, ``back``,
  ``slower``, ``faster``, ``stop``.

A command must be *the whole utterance* (its phrase plus only filler words such as "please", "let's",
"can we") or *clearly addressed* (it contains a wake word such as "guide" and is short). So "Stop." and
"Can we take a time out?" are commands, while "I want to stop feeling ignored" is not.

The phrases are data: each language's ``prompts/<language>/common.toml`` has a ``[vocabulary]`` table,
read into a :class:`Vocabulary`. This module does no I/O except in :func:`load_vocabulary`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from imago_voice.errors import PromptError
from imago_voice.protocol.text import normalize

YES, NO, MORE, DONE, NOT_NOW = "yes", "no", "more", "done", "not_now"
#: The answers, in the order of precedence used when one utterance holds several of them.
ANSWERS: tuple[str, ...] = (NOT_NOW, MORE, DONE, NO, YES)

PAUSE, RESUME, REPEAT, NEXT, BACK, SLOWER, FASTER, STOP = (
    "pause", "resume", "repeat", "next", "back", "slower", "faster", "stop",
)
COMMANDS: tuple[str, ...] = (PAUSE, RESUME, REPEAT, NEXT, BACK, SLOWER, FASTER, STOP)
#: Said over a prompt only ("wait", "hold on"): the prompt stops and the facilitator waits. Not a command
#: otherwise: "wait" after "is there more?" is the sender saying there is more.
HOLD = "wait"

_UNSURE = "unsure"  # "not sure", "maybe": a match that makes an answer unclear on purpose

Phrase = tuple[str, ...]


def _phrase(text: str) -> Phrase:
    return tuple(normalize(text))


def _find(tokens: Sequence[str], phrase: Phrase) -> Iterable[tuple[int, int]]:
    size = len(phrase)
    for start in range(len(tokens) - size + 1):
        if tuple(tokens[start:start + size]) == phrase:
            yield start, start + size


@dataclass(frozen=True)
class Vocabulary:
    """The phrases of one language. Every phrase is stored normalised, as a tuple of words.

    ``answers`` maps each of :data:`ANSWERS` to its phrases; ``unsure`` holds phrases that make an answer
    unclear ("not sure"); ``commands`` maps each of :data:`COMMANDS` to its phrases; ``fillers`` are the
    words allowed around a command; ``wake_words`` address the facilitator; ``you_first`` are phrases by
    which one person hands the first turn to the other ("you go first").
    """

    language: str
    answers: Mapping[str, tuple[Phrase, ...]]
    unsure: tuple[Phrase, ...]
    commands: Mapping[str, tuple[Phrase, ...]]
    fillers: frozenset[str]
    wake_words: frozenset[str]
    you_first: tuple[Phrase, ...]
    max_command_words: int = 8
    max_addressed_words: int = 12
    places: Mapping[str, tuple[Phrase, ...]] = field(default_factory=lambda: MappingProxyType({}))
    place_leads: tuple[Phrase, ...] = ()
    holds: tuple[Phrase, ...] = ()     # phrases of :data:`HOLD`

    @classmethod
    def from_mapping(cls, language: str, data: Mapping[str, object], where: str = "the vocabulary") -> Vocabulary:
        """Build from a ``[vocabulary]`` TOML table; raise :class:`PromptError` when it is incomplete."""

        def phrases(value: object, name: str) -> tuple[Phrase, ...]:
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
                raise PromptError(f"In {where}, '{name}' must be a non-empty list of phrases.")
            out = tuple(_phrase(v) for v in value)
            if any(not p for p in out):
                raise PromptError(f"In {where}, '{name}' has a phrase with no words in it.")
            return out

        def section(name: str) -> Mapping[str, object]:
            value = data.get(name)
            if not isinstance(value, Mapping):
                raise PromptError(f"In {where}, the table '{name}' is missing.")
            return value

        answers_table = section("answers")
        commands_table = section("commands")
        answers = {a: phrases(answers_table.get(a), f"answers.{a}") for a in ANSWERS}
        commands = {c: phrases(commands_table.get(c), f"commands.{c}") for c in COMMANDS}
        words = {}
        for name in ("fillers", "wake_words"):
            words[name] = frozenset(w for p in phrases(data.get(name), name) for w in p)
        limits = {}
        for name, default in (("max_command_words", 8), ("max_addressed_words", 12)):
            value = data.get(name, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise PromptError(f"In {where}, '{name}' must be a whole number above zero.")
            limits[name] = value
        places_table = data.get("places", {})
        if not isinstance(places_table, Mapping):
            raise PromptError(f"In {where}, 'places' must be a table of step names.")
        places = {step: phrases(value, f"places.{step}") for step, value in places_table.items()}
        leads = phrases(data["place_leads"], "place_leads") if "place_leads" in data else ()
        if places and not leads:
            raise PromptError(f"In {where}, 'places' needs 'place_leads' (\"we are at\", \"back to\"...).")
        holds = phrases(data["hold"], "hold") if "hold" in data else ()
        return cls(
            holds=holds,
            places=MappingProxyType(places),
            place_leads=leads,
            language=language,
            answers=answers,
            unsure=phrases(data.get("unsure"), "unsure"),
            commands=commands,
            fillers=words["fillers"],
            wake_words=words["wake_words"],
            you_first=phrases(data.get("you_first"), "you_first"),
            **limits,
        )


def recognize_answer(text: str, vocabulary: Vocabulary, allowed: Iterable[str] | None = None) -> str | None:
    """The answer ``text`` gives (one of :data:`ANSWERS`), or ``None`` when it gives none or is unsure.

    Only answers in ``allowed`` (default: all) are looked for. A phrase inside a longer matched phrase
    does not count ("no more" is ``done``, not ``no``; "not right now" is ``not_now``, not ``yes``), and
    when several remain the precedence is :data:`ANSWERS` order: not_now, more, done, no, yes — so
    "no, that's everything" is ``done`` and "yes, there is more" is ``more``.
    """
    tokens = normalize(text)
    wanted = set(ANSWERS if allowed is None else allowed) & set(ANSWERS)
    matches: list[tuple[int, int, str]] = []
    for intent in (*ANSWERS, _UNSURE):
        if intent != _UNSURE and intent not in wanted:
            continue
        for phrase in vocabulary.unsure if intent == _UNSURE else vocabulary.answers[intent]:
            matches.extend((start, end, intent) for start, end in _find(tokens, phrase))
    kept = {
        intent
        for start, end, intent in matches
        if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in matches)
    }
    if _UNSURE in kept and not (kept & {NOT_NOW, MORE, DONE}):
        return None
    for intent in ANSWERS:
        if intent in kept:
            return intent
    return None


def recognize_command(text: str, vocabulary: Vocabulary, over_prompt: bool = False) -> str | None:
    """The voice command ``text`` gives (one of :data:`COMMANDS`; with ``over_prompt``, said while a prompt
    plays, also :data:`HOLD`), or ``None``.

    A command counts when the utterance is its phrase plus filler words only (and at most
    ``max_command_words`` words), or when it names a wake word and has at most ``max_addressed_words``.
    """
    tokens = normalize(text)
    if not tokens:
        return None
    found: list[tuple[int, int, int, str]] = []  # (-length, start, end, command): longest phrase first
    table = dict(vocabulary.commands)
    if over_prompt and vocabulary.holds:
        table[HOLD] = vocabulary.holds
    for command, phrases in table.items():
        for phrase in phrases:
            found.extend((-(end - start), start, end, command) for start, end in _find(tokens, phrase))
    if not found:
        return None
    whole = tuple(tokens)
    if not any(whole == phrase for phrases in table.values() for phrase in phrases) and \
            any(whole == phrase for phrases in vocabulary.answers.values() for phrase in phrases):
        return None   # an answer word for word, as a small model hears it ("that's all" as "next all")
    found.sort()
    addressed = any(t in vocabulary.wake_words for t in tokens)
    if addressed and len(tokens) <= vocabulary.max_addressed_words:
        return found[0][3]
    if len(tokens) > vocabulary.max_command_words:
        return None
    ignorable = vocabulary.fillers | vocabulary.wake_words
    for _, start, end, command in found:
        rest = tokens[:start] + tokens[end:]
        if all(t in ignorable for t in rest):
            return command
    return None


def recognize_place(text: str, vocabulary: Vocabulary) -> str | None:
    """The step ``text`` says the couple is at or wants to go to ("we are at the summary", "back to the
    mirror"): a step id of ``[vocabulary.places]``, or ``None``. A place phrase counts only after a lead
    phrase ("we are at", "back to") in a short utterance (at most ``max_addressed_words``), so "I feel like
    you never mirror me" is not a place."""
    tokens = normalize(text)
    if not tokens or not vocabulary.places or len(tokens) > vocabulary.max_addressed_words:
        return None
    leads = [end for phrase in vocabulary.place_leads for _, end in _find(tokens, phrase)]
    if not leads:
        return None
    first_lead = min(leads)
    found = [(start, -(end - start), step) for step, phrases in vocabulary.places.items() for phrase in phrases
             for start, end in _find(tokens, phrase) if start >= first_lead]
    return min(found)[2] if found else None


def mentioned_names(text: str, names: Sequence[str]) -> list[str]:
    """The names from ``names`` said in ``text``, in the order they are first said."""
    tokens = normalize(text)
    firsts: list[tuple[int, str]] = []
    for name in names:
        phrase = _phrase(name)
        hits = [start for start, _ in _find(tokens, phrase)] if phrase else []
        if hits:
            firsts.append((hits[0], name))
    return [name for _, name in sorted(firsts)]


def hands_over(text: str, vocabulary: Vocabulary) -> bool:
    """Whether ``text`` hands the first turn to the other person ("you go first", "after you")."""
    tokens = normalize(text)
    return any(True for phrase in vocabulary.you_first for _ in _find(tokens, phrase))


def load_vocabulary(language: str, root: object = None) -> Vocabulary:
    """Read the vocabulary of ``language`` from ``prompts/<language>/common.toml`` (see :mod:`.prompts`)."""
    from imago_voice.protocol.prompts import load_common

    return load_common(language, root).vocabulary
