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
