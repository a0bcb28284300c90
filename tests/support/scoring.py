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


def speaker_frames(spans: Sequence[tuple[str, float, float]], names: Sequence[str], duration: float,
                   step: float = 0.01) -> np.ndarray:
    """(frames, people) bool: who is speaking in each ``step`` of time, from (speaker, start, end) spans."""
    out = np.zeros((int(np.ceil(duration / step)) + 1, len(names)), bool)
    index = {n: k for k, n in enumerate(names)}
    for who, s, e in spans:
        if who in index:
            out[int(round(s / step)): int(round(e / step)), index[who]] = True
    return out


def diarization_scores(truth: Sequence[tuple[str, float, float]], found: Sequence[tuple[str, float, float]],
                       names: Sequence[str], duration: float, step: float = 0.01) -> dict[str, float]:
    """Who-spoke-when figures, on ``step`` frames.

    * ``attribution``: of the time exactly one person truly speaks (solo speech), the share where exactly
      that person, and nobody else, is found speaking;
    * ``share_error``: largest difference, in points, between a person's true and found share of talk time;
    * ``overlap_true`` / ``overlap_found`` (seconds with two or more people at once), and the overlap
      ``precision`` and ``recall``;
    * ``missed`` / ``false``: solo speech found as nobody's, and seconds someone is found speaking when
      nobody is.
    """
    R = speaker_frames(truth, names, duration, step)
    S = speaker_frames(found, names, duration, step)
    n = min(len(R), len(S))
    R, S = R[:n], S[:n]
    solo = R.sum(1) == 1
    right = solo & (S == R).all(1)
    r_share = R.sum(0) / max(R.sum(), 1)
    s_share = S.sum(0) / max(S.sum(), 1)
    r_ov, s_ov = R.sum(1) >= 2, S.sum(1) >= 2
    return {
        "solo": float(solo.sum() * step),
        "attribution": float(right.sum() / max(solo.sum(), 1)),
        "share_error": float(np.abs(r_share - s_share).max() * 100),
        "shares_true": [float(x) for x in r_share],
        "shares_found": [float(x) for x in s_share],
        "overlap_true": float(r_ov.sum() * step),
        "overlap_found": float(s_ov.sum() * step),
        "precision": float((r_ov & s_ov).sum() / max(s_ov.sum(), 1)) if s_ov.any() else float("nan"),
        "recall": float((r_ov & s_ov).sum() / max(r_ov.sum(), 1)) if r_ov.any() else float("nan"),
        "missed": float((solo & ~S.any(1)).sum() * step),
        "false": float((~R.any(1) & S.any(1)).sum() * step),
    }
