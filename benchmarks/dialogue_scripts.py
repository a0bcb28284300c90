"""Unpaced Intentional Dialogue scripts with their true steps, for the step tracker benchmark.

A script is a couple's whole dialogue (both rounds, the role switch, the close) as turns of (speaker, text)
with the true step, phase and roles of each. Three styles:

* ``self``: a couple who self-facilitates from the first word: the appointment as their first sentence,
  mirrors that end with "did I get it? is there more?", answers folded into the next send ("yes, and
  also..."), a summary and validation in one turn, the switch asked for by either person (or not at all);
* ``mixed``: the same, with fewer stems (a mirror or summary without its stem);
* ``waiting``: a couple who waits for every prompt: short content, "yes", "no", few stems.

The wording of each move is drawn from banks written for this benchmark (not the tracker's stem data);
even-numbered variants are for tuning, odd-numbered ones for reporting, and a third bank with topics of its
own (dialogue_fresh.py, written after the report split had been looked at) for a fresh test. :func:`hear` makes a script
sound as a small Whisper model hears it (seeded): confusions from a list (some of which the stem data
does not know), lost words, a lost first or last few words, a speaker nobody could name, rarely the
wrong speaker. Nothing here reads files.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

from dialogue_fresh import FRESH_BANKS, FRESH_TOPICS
from dialogue_text import BANKS, CONFUSIONS, OPENING, TOPICS


@dataclass(frozen=True)
class Turn:
    speaker: str | None     # as attributed (None: nobody could be named)
    text: str               # as heard
    step: str               # the truth
    phase: str
    sender: str
    receiver: str
    sent: bool = False      # the sender's own words: part of the chunk the next mirror answers
    said_by: str = ""       # who really said it


@dataclass(frozen=True)
class Script:
    name: str
    language: str
    style: str
    names: tuple[str, str]
    first: str
    turns: tuple[Turn, ...]

    def chunks(self) -> dict[int, str]:
        """For each mirror turn (by index): the sender's words it answers (the sends since the last mirror)."""
        out, open_, last = {}, [], ""
        for i, t in enumerate(self.turns):
            if t.step == "mirror" and t.phase == "speak":
                if open_:
                    last, open_ = " ".join(open_), []
                out[i] = last
            elif t.sent:
                open_.append(t.text.strip())
            if t.step == "switch":
                open_, last = [], ""
        return out


class _Builder:
    def __init__(self, language: str, topic: int, names: tuple[str, str], rng: random.Random, parity: int) -> None:
        self.lang = language
        self.bank = FRESH_BANKS[language] if parity == 2 else BANKS[language]
        self.topic = (TOPICS[language] + FRESH_TOPICS[language])[topic]
        self.names, self.rng, self.parity = names, rng, parity
        self.turns: list[Turn] = []
        self.round = 0

    def roles(self, round_: int) -> tuple[str, str]:
        a, b = self.names
        return (a, b) if round_ % 2 == 0 else (b, a)

    def pick(self, key: str, **values: str) -> str:
        options = self.bank[key]
        allowed = [o for i, o in enumerate(options) if i % 2 == self.parity or self.parity == 2] or options
        text = self.rng.choice(allowed).format(**values)
        return text[0].upper() + text[1:]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def say(self, who: str, text: str, step: str, phase: str, sent: bool = False) -> None:
        s, r = self.roles(self.round)
        self.turns.append(Turn(who, text, step, phase, s, r, sent, who))


def _round(b: _Builder, r: int, style: str) -> None:
    b.round = r
    s, rcv = b.roles(r)
    t, rng = b.topic, b.rng
    stem = {"self": 0.92, "mixed": 0.6}[style]
    chunks = t["first"] if r == 0 else t["second"]
    chunks = chunks[:rng.choice([2, 3])]
    if r == 0:
        if b.chance(0.9):
            b.say(s, b.pick("appointment", name=rcv, topic=t["about"]), "appointment", "ask")
            if b.chance(0.9):
                b.say(rcv, b.pick("accept"), "appointment", "answer")
        if b.chance(0.15):
            b.say(s, b.pick("intention", hope=t["hope"]), "intention", "speak")
    else:
        x = rng.random()
        if x < 0.45:
            b.say(s, b.pick("switch_new"), "switch", "announce")
            if b.chance(0.35):
                b.say(rcv, b.pick("switch_reply"), "switch", "announce")
        elif x < 0.75:
            b.say(rcv, b.pick("switch_old"), "switch", "announce")
    merged, corrected = None, False
    for k, (chunk, body) in enumerate(chunks):
        b.say(s, merged or chunk, "send", "speak", sent=True)
        merged = None
        mirror = b.pick("mirror", body=body) if b.chance(stem) else body[0].upper() + body[1:] + "."
        asked = None
        if b.chance(0.7 if style == "self" else 0.4):
            suffix = b.pick("check_suffix")
            mirror += " " + suffix
            asked = "more" if ASKS_MORE.search(suffix.split("?")[-2]) else "check"
        b.say(rcv, mirror, "mirror", "speak")
        last = k == len(chunks) - 1
        if not last and not corrected and b.chance(0.08):
            corrected = True
            b.say(s, b.pick("correction", chunk=chunk[0].lower() + chunk[1:]), "send", "speak", sent=True)
            b.say(rcv, b.pick("mirror", body=body), "mirror", "speak")
            asked = None
        y = rng.random()
        if asked == "more":   # "...is there more?": the sender says whether there is (the "more" phase)
            if last:
                b.say(s, b.pick("done") if y < 0.7 else b.pick("yes") + " " + b.pick("done"), "mirror", "more")
            elif y < 0.5:
                merged = b.pick("merged", chunk=chunks[k + 1][0][0].lower() + chunks[k + 1][0][1:])
            else:
                b.say(s, b.pick("more"), "mirror", "more")
        elif last:
            if y < 0.55:
                b.say(s, b.pick("done"), "mirror", "check")
            elif y < 0.85:
                b.say(s, b.pick("yes"), "mirror", "check")
                b.say(rcv, b.pick("check_alone"), "mirror", "more")
                b.say(s, b.pick("done"), "mirror", "more")
            else:
                b.say(s, b.pick("yes") + " " + b.pick("done"), "mirror", "check")
        else:
            following = chunks[k + 1][0]
            if y < 0.35:
                merged = b.pick("merged", chunk=following[0].lower() + following[1:])
            elif y < 0.6:
                b.say(s, b.pick("more"), "mirror", "check")
            else:
                b.say(s, b.pick("yes"), "mirror", "check")
                b.say(rcv, b.pick("check_alone"), "mirror", "more")
                if b.chance(0.5):
                    b.say(s, b.pick("more_short"), "mirror", "more")
    summary = b.pick("summary", summary=t["summary"][r]) if b.chance(stem) else t["summary"][r][0].upper() + t["summary"][r][1:] + "."
    validation = b.pick("validation", reason=t["reason"][r])
    empathy = b.pick("empathy", feel=t["feel"][r])
    if b.chance(0.12):
        b.say(rcv, summary + " " + validation, "validate", "speak")
        b.say(rcv, empathy, "empathize", "speak")
    else:
        asked = b.chance(0.5)
        b.say(rcv, summary + (" " + b.pick("summary_check") if asked else ""), "summarize", "speak")
        if b.chance(0.7 if asked else 0.15):
            b.say(s, b.pick("ack"), "summarize", "check")
        if b.chance(0.12):
            b.say(rcv, validation + " " + empathy, "empathize", "speak")
        else:
            b.say(rcv, validation, "validate", "speak")
            b.say(rcv, empathy, "empathize", "speak")
    if b.chance(0.45):
        b.say(s, b.pick("empathy_ack"), "empathize", "check")


def _waiting_round(b: _Builder, r: int) -> None:
    """A couple who answers each prompt of the facilitator, in the order the engine asks."""
    b.round = r
    s, rcv = b.roles(r)
    t = b.topic
    chunks = (t["first"] if r == 0 else t["second"])[:b.rng.choice([2, 3])]
    if r == 0:
        b.say(s, b.pick("w_appointment", name=rcv), "appointment", "ask")
        b.say(rcv, b.pick("w_yes"), "appointment", "answer")
    for k, (chunk, body) in enumerate(chunks):
        clauses = re.split(r"(?<=[a-zá-ú]),\s", chunk, maxsplit=1)
        mine = len(clauses) == 2 and re.match(r"(I|me|my|yo|mi)\b", clauses[1])
        short = clauses[1] if mine and b.chance(0.5) else chunk   # "I feel lonely in the house.
        b.say(s, short[0].upper() + short[1:], "send", "speak", sent=True)
        b.say(rcv, b.pick("mirror", body=body) if b.chance(0.5) else body[0].upper() + body[1:] + ".", "mirror", "speak")
        if k == 0 and b.chance(0.1):
            b.say(s, b.pick("w_no"), "mirror", "check")
            b.say(s, short[0].upper() + short[1:], "send", "speak", sent=True)
            b.say(rcv, body[0].upper() + body[1:] + ".", "mirror", "speak")
        last = k == len(chunks) - 1
        if b.chance(0.3):
            b.say(s, b.pick("done" if last else "more"), "mirror", "check")
        else:
            b.say(s, b.pick("w_yes"), "mirror", "check")
            b.say(s, b.pick("w_no" if last else "w_yes"), "mirror", "more")
    b.say(rcv, b.pick("summary", summary=t["summary"][r]) if b.chance(0.5) else t["summary"][r][0].upper() + t["summary"][r][1:] + ".",
          "summarize", "speak")
    b.say(rcv, b.pick("w_validation", reason=t["reason"][r]), "validate", "speak")
    b.say(rcv, b.pick("empathy", feel=t["feel"][r]) if b.chance(0.6) else t["feel"][r][0].upper() + t["feel"][r][1:] + ".",
          "empathize", "speak")


def make_script(language: str, topic: int, names: tuple[str, str], style: str, seed: int, parity: int) -> Script:
    """One couple's whole dialogue (``parity``: 0 uses the tuning wordings, 1 the reporting ones, 2 the
    fresh bank, with topics 8 and 9)."""
    rng = random.Random(f"{language}-{topic}-{names}-{style}-{seed}")
    b = _Builder(language, topic, names, rng, parity)
    for r in (0, 1):
        _waiting_round(b, r) if style == "waiting" else _round(b, r, style)
    b.round = 1
    closers = list(names) if rng.random() < 0.5 else list(reversed(names))
    for who, value in zip(closers, b.topic["values"]):
        if style == "waiting" or b.chance(0.9):
            b.say(who, b.pick("appreciation", value=value), "close", "appreciate")
    return Script(f"{language}/{style}/t{topic}/{names[0]}-{names[1]}/s{seed}", language, style, names, names[0], tuple(b.turns))


NOISE = {  # per turn: confusion rate, word drop, lost first words, lost last words, unnamed speaker, wrong speaker
    "clean": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "asr": (0.35, 0.03, 0.08, 0.05, 0.03, 0.01),
    "asr+": (0.6, 0.06, 0.15, 0.1, 0.06, 0.02),
}


def hear(script: Script, level: str, seed: int) -> Script:
    """``script`` as heard at a noise ``level`` (see :data:`NOISE`), deterministic for ``seed``."""
    conf, drop, onset, tail, unnamed, wrong = NOISE[level]
    if level == "clean":
        return script
    rng = random.Random(f"{script.name}-{level}-{seed}")
    turns = []
    for t in script.turns:
        text = t.text
        for phrase, options in CONFUSIONS[script.language]:
            if rng.random() < conf:
                text = re.sub(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", rng.choice(options), text, count=1, flags=re.IGNORECASE)
        words = text.split()
        if len(words) >= 4:
            words = [w for w in words if rng.random() >= drop] or words
            if rng.random() < onset:
                words = words[rng.choice([1, 2]):]
            if rng.random() < tail and len(words) >= 6:
                words = words[:-rng.choice([2, 3])]
        speaker = t.speaker
        if rng.random() < unnamed:
            speaker = None
        elif rng.random() < wrong:
            speaker = next(n for n in script.names if n != t.speaker)
        turns.append(replace(t, text=" ".join(words), speaker=speaker))
    return replace(script, turns=tuple(turns))


COUPLES = {"tune": [("Sam", "Alex"), ("Maria", "John")], "report": [("Priya", "Tom"), ("Lucía", "Andrés")],
           "fresh": [("Noor", "Ben"), ("Carmen", "Diego")]}
SPLITS = {  # fixed: the tracker was tuned on "tune" only; "report" has other topics, couples, wordings, seeds;
    # "fresh" was written after "report" had been looked at once, and has its own topics and wordings
    "tune": {"topics": (0, 1, 2, 3), "seeds": range(5), "parity": 0},
    "report": {"topics": (4, 5, 6, 7), "seeds": range(1000, 1005), "parity": 1},
    "fresh": {"topics": (8, 9), "seeds": range(3000, 3010), "parity": 2},
}
STYLES = ("self", "mixed", "waiting")
#: a question that asks for more ("is there more?", "anything else?"), not whether the mirror got it
ASKS_MORE = re.compile(r"(more|anything else|what else|más|agregar)", re.IGNORECASE)


def split(name: str, languages=("en", "es")) -> list[Script]:
    """Every script of a split, clean (pass each through :func:`hear` for a noise level)."""
    spec = SPLITS[name]
    out = []
    for lang in languages:
        for topic in spec["topics"]:
            for style in STYLES:
                for seed in spec["seeds"]:
                    couple = COUPLES[name][(topic + seed) % 2]
                    out.append(make_script(lang, topic, couple, style, seed, spec["parity"]))
    return out


__all__ = ["NOISE", "OPENING", "SPLITS", "STYLES", "Script", "Turn", "hear", "make_script", "split"]
