"""The engine's words: prompt texts filled in for the state of the session, and the balance sentence.

:class:`Phrasing` knows the prompt files (:class:`~imago_voice.protocol.prompts.Prompts`) and how to
fill their placeholders; the engine tells it who is who. Pure: no state of its own beyond the prompts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from imago_voice.protocol.prompts import Prompts


class Phrasing:
    """Fills prompt texts. ``timeout_minutes`` is the time-out length that ``{minutes}`` says."""

    def __init__(self, prompts: Prompts, timeout_minutes: float) -> None:
        self.prompts = prompts
        self._minutes = int(timeout_minutes) if float(timeout_minutes).is_integer() else timeout_minutes

    def values(self, *, sender: str | None, receiver: str | None, order: Sequence[str],
               floor: str | None) -> dict[str, object]:
        """The placeholder values for the current state."""
        return {"sender": sender, "receiver": receiver, "names": self.join(list(order)), "floor": floor,
                "minutes": self._minutes, "back_at": "", "brief": ""}

    def step(self, table: str, key: str, values: Mapping[str, object]) -> str:
        return self.prompts.text(table, key, values)

    def command(self, key: str, values: Mapping[str, object]) -> str:
        return self.prompts.command(key, values)

    def join(self, items: Sequence[str]) -> str:
        """"Sam", "Sam and Alex", "Kim, Sam and Alex"."""
        if len(items) < 2:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self.prompts.word('and', {})} {items[-1]}"

    def time_words(self, seconds: float) -> str:
        """"less than a minute", "about one minute", "about 4 minutes"."""
        if seconds < 60:
            return self.prompts.word("time_short", {})
        minutes = round(seconds / 60)
        if minutes <= 1:
            return self.prompts.word("time_minute", {})
        return self.prompts.word("time_minutes", {"n": minutes})

    def balance(self, order: Sequence[str], seconds: Mapping[str, float], unattributed: float) -> str:
        """The ``{balance}`` of the closing sentence: each person's time, or, when nobody could be told
        apart, that the program cannot say."""
        if unattributed > 0 and not any(seconds.get(name, 0.0) > 0 for name in order):
            return self.prompts.word("balance_unknown", {})
        return self.join([self.prompts.word("balance_item", {"name": n, "time": self.time_words(seconds.get(n, 0.0))})
                          for n in order])
