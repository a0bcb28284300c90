"""Mirror fidelity: how much of what the sender said the mirror kept.

The score is the share of the sender's distinct *content words* that also appear in the mirror, after
removing stop-words (pronouns, articles, little verbs — so "I feel alone" and "you feel alone" match)
and a light stemming (one suffix off, doubled last letter undone: "ignored", "ignoring" and "ignore"
all become "ignor"). It is recall, not precision: words the receiver adds do not lower it.

The stop-words and suffixes are data, per language, in the ``[fidelity]`` table of
``prompts/<language>/common.toml``, read into :class:`FidelityRules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from imago_voice.errors import PromptError
from imago_voice.protocol.text import normalize

_VOWELS = frozenset("aeiouy")
_KEEP_DOUBLE = frozenset("lsz")


@dataclass(frozen=True)
class FidelityRules:
    """Stop-words (normalised like transcripts), suffixes tried longest first, and the shortest stem kept."""

    stopwords: frozenset[str]
    suffixes: tuple[str, ...]
    min_stem: int = 3

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], where: str = "the fidelity rules") -> FidelityRules:
        """Build from a ``[fidelity]`` TOML table; raise :class:`PromptError` when it is malformed."""
        out: dict[str, object] = {}
        for name in ("stopwords", "suffixes"):
            value = data.get(name)
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
                raise PromptError(f"In {where}, '{name}' must be a non-empty list of words.")
            out[name] = value
        min_stem = data.get("min_stem", 3)
        if not isinstance(min_stem, int) or isinstance(min_stem, bool) or min_stem < 1:
            raise PromptError(f"In {where}, 'min_stem' must be a whole number above zero.")
        stopwords = frozenset(w for v in out["stopwords"] for w in normalize(v))  # type: ignore[union-attr]
        suffixes = sorted({"".join(normalize(v)) for v in out["suffixes"]} - {""}, key=lambda s: (-len(s), s))  # type: ignore[union-attr]
        return cls(stopwords=stopwords, suffixes=tuple(suffixes), min_stem=min_stem)


def stem(word: str, rules: FidelityRules) -> str:
    """``word`` with its longest listed suffix removed (if the rest keeps ``min_stem`` letters) and a
    doubled final consonant undone ("stopped" → "stopp" → "stop")."""
    for suffix in rules.suffixes:
        if word.endswith(suffix) and len(word) - len(suffix) >= rules.min_stem:
            word = word[: -len(suffix)]
            break
    if len(word) > rules.min_stem and word[-1] == word[-2] and word[-1].isalpha() and word[-1] not in _VOWELS | _KEEP_DOUBLE:
        word = word[:-1]
    return word


def content_words(text: str, rules: FidelityRules) -> set[str]:
    """The stems of the words of ``text`` that are not stop-words."""
    return {stem(w, rules) for w in normalize(text) if w not in rules.stopwords}


def mirror_fidelity(sent: str, mirror: str, rules: FidelityRules) -> float:
    """Share (0.0 to 1.0) of the content words of ``sent`` that ``mirror`` kept; 1.0 when ``sent`` has none."""
    wanted = content_words(sent, rules)
    if not wanted:
        return 1.0
    return len(wanted & content_words(mirror, rules)) / len(wanted)
