"""The echo filter: is a transcript the facilitator's own prompt, heard back through the room?"""

from __future__ import annotations

from collections.abc import Iterable

from imago_voice.protocol.text import normalize


def is_echo(text: str | None, prompts: Iterable[str], threshold: float = 0.8, min_words: int = 4) -> bool:
    """True when a transcript is mostly a prompt's words in the prompt's order (the facilitator heard itself).

    Answers share words with the prompts that ask for them ("go first", "that's all"), so the test is
    on word order (longest common subsequence) over at least ``min_words`` words, and the session applies
    it only to turns heard while, or just after, a prompt played.
    """
    words = normalize(text)
    if len(words) < min_words:
        return False
    for prompt in prompts:
        ref = normalize(prompt)
        if ref and _lcs(words, ref) / len(words) >= threshold:
            return True
    return False


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def within_prompts(start: float, end: float, windows: Iterable[tuple[float, float]], tail: float = 0.3,
                   lead: float = 0.8) -> bool:
    """True when speech from ``start`` to ``end`` lies wholly inside the time a prompt played (each window
    ``(t0, t1)`` plus ``tail`` for the room's echo). Listening while the facilitator talks (barge-in), such
    speech is taken only if it is a voice command: what is left of the prompt's echo after cancellation
    can sound to the recogniser like a short phrase ("Thank you.", "Okay."), and nothing else said wholly
    over a prompt can be answered before the prompt ends. Speech that goes on past a prompt is a turn."""
    merged: list[list[float]] = []
    for t0, t1 in sorted(windows):
        if merged and t0 <= merged[-1][1] + tail:     # prompts one after another: one stretch of echo
            merged[-1][1] = max(merged[-1][1], t1)
        else:
            merged.append([t0, t1])
    # a turn's start reaches back before its first voiced frame (the pre-roll and the onset look-back:
    # up to 0.8 s), so speech that starts within ``lead`` before a prompt's echo starts in it
    return any(t0 - lead <= start and end <= t1 + tail for t0, t1 in merged)
