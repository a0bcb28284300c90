"""What the facilitator may say in a session, known before it starts: for rendering prompts ahead.

A neural voice takes about a second to render a long prompt, so the facilitator's voice renders what it
is likely to need before it is needed (:mod:`imago_voice.facilitator.voice`). The names are known from
the start, so most prompt texts are too: each step's and command's text filled in for every way the
people can be sender, receiver and the person named. Texts that depend on what happens (the balance,
the time of day a time-out ends) are left out. Pure: prompts and names in, texts out.

The order is the order of need: the crisis stop and its resources first (they must never wait), then
the opening and the consent question, then the exercise's steps in their order, then the commands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import permutations

from imago_voice.errors import PromptError
from imago_voice.protocol.phrasing import Phrasing
from imago_voice.protocol.prompts import Prompts, placeholders

#: Placeholders whose values are only known as the session goes (those texts are not rendered ahead).
_UNKNOWN = frozenset({"balance", "time", "n"})
#: Commands said slowly (the crisis stop; see :mod:`.guard`).
SLOW_COMMANDS = ("crisis", "crisis_named", "crisis_intro", "crisis_offer", "check_in", "check_in_named")


def texts_ahead(prompts: Prompts, participants: Sequence[str], phrasing: Phrasing,
                step_order: Iterable[str] = ()) -> list[tuple[str, bool]]:
    """Every prompt text the session may say that the names alone determine, as ``(text, slow)``, in
    the order they are likely to be needed, each once."""
    names = list(participants)
    out: dict[tuple[str, bool], None] = {}

    def fill(template: str, slow: bool) -> None:
        try:
            fields = placeholders(template)
        except PromptError:
            return
        if fields & _UNKNOWN:
            return
        pairs = permutations(names, 2) if fields & {"sender", "receiver", "floor"} else [(names[0], names[1])]
        for sender, receiver in pairs:
            for name in (names if "name" in fields else [None]):
                values = phrasing.values(sender=sender, receiver=receiver, order=names, floor=receiver)
                values["name"] = name
                if "floor" in fields:
                    values["floor"] = name or receiver
                try:
                    text = template.format_map({k: v for k, v in values.items() if v is not None})
                except (KeyError, ValueError, IndexError):
                    continue
                out.setdefault((text, slow), None)

    for key in SLOW_COMMANDS:
        if key in prompts.commands:
            fill(prompts.commands[key], True)
    resources = prompts.resources
    for item in getattr(resources, "items", ()):
        out.setdefault((item.say, True), None)
    order = ["consent", "voices", "opening", *step_order]
    order += [s for s in prompts.steps if s not in order]
    for step in order:
        for template in prompts.steps.get(step, {}).values():
            fill(template, False)
    for key, template in prompts.commands.items():
        if key not in SLOW_COMMANDS:
            fill(template, False)
    return list(out)
