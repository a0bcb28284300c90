"""The one text normaliser: what every comparison of words goes through.

Intents, mirror fidelity, the echo filter and the tests' word error rate all compare words after
:func:`normalize`: case folded, accents taken off, apostrophes dropped inside words, and anything that is
not a letter or a digit (in any script) a word break. So Whisper's "Yep, you got it." and "yep you got
it" are the same, and so are "¿Está bien?" and "esta bien".
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = "'\u2019\u2018`\u00b4\u02bc"
_DROP = str.maketrans("", "", _APOSTROPHES)
_WORD = re.compile(r"[^\W_]+")


def normalize(text: str | None) -> list[str]:
    """Lower-case words of ``text`` without accents, apostrophes or punctuation.

    "That’s it!" → ``["thats", "it"]``; "Time-out." → ``["time", "out"]``; "¿Sí, está bien?" →
    ``["si", "esta", "bien"]``; "Straße" → ``["strasse"]``.
    """
    if not text:
        return []
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_DROP)
    return _WORD.findall(text)
