"""Measures used by tests and benchmarks: word error rate, attribution of speech time, share error."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imago_voice.protocol.text import normalize as normalize_text

_NUMBERS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
            "7": "seven", "8": "eight", "9": "nine", "10": "ten"}


def normalize(text: str | None) -> list[str]:
    """The package's one normaliser, with small English numerals spelled out (Whisper writes "3" or "three")."""
    return [_NUMBERS.get(w, w) for w in normalize_text(text)]


def word_errors(reference: str, hypothesis: str | None) -> tuple[int, int]:
    """(edit distance in words, reference word count)."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d = d, np.empty_like(d)
        d[0] = i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return int(d[-1]), len(ref)


def wer(references: Sequence[str], hypotheses: Sequence[str | None]) -> float:
    errors = total = 0
    for r, h in zip(references, hypotheses):
        e, n = word_errors(r, h)
        errors, total = errors + e, total + n
    return errors / max(total, 1)


def attribution(truth: Sequence[tuple[str, float, float]], turns: Sequence, step: float = 0.01) -> float:
    """Share of true speech time that lies inside a turn attributed to the right person.

    ``truth``: (speaker, start, end) per stretch of speech; ``turns``: objects with speaker/start/end.
    Time where two true speakers overlap counts for each.
    """
    good = total = 0
    for who, s, e in truth:
        t = np.arange(s, e, step)
        covered = np.zeros(len(t), bool)
        for turn in turns:
            if turn.speaker == who:
                covered |= (t >= turn.start) & (t < turn.end)
        good += int(covered.sum())
        total += len(t)
    return good / max(total, 1)


def share_error(truth: Sequence[tuple[str, float, float]], shares: dict[str, float]) -> float:
    """Largest absolute difference (in share, 0..1) between true and measured talk shares."""
    seconds: dict[str, float] = {}
    for who, s, e in truth:
        seconds[who] = seconds.get(who, 0.0) + (e - s)
    total = sum(seconds.values())
    return max(abs(seconds[w] / total - shares.get(w, 0.0)) for w in seconds)
