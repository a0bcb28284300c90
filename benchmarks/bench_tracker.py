"""Step tracker benchmark (issue 9, "Follow the couple"): text-level, on unpaced dialogue scripts.

    .venv/bin/python benchmarks/bench_tracker.py [--split tune|report|both] [--no-write] [--losses 25]

Scripts (dialogue_scripts.py): whole Intentional Dialogues, both rounds and the close, in English and
Spanish, three couple styles (self-facilitating, the same with fewer stems, waiting for every prompt),
heard clean and through two levels of simulated ASR trouble. FIXED SPLIT: the tracker's weights were
tuned on the "tune" scripts only (topics 0-3, their couples, even-numbered wordings, seeds 0-4); the
"report" scripts have other topics, couples, wordings (odd-numbered) and seeds. The report split was
held out until its first measurement (recorded below as FIRST_LOOK); it showed a matcher bug, which was
fixed, so it is a development set since; the "fresh" split (dialogue_fresh.py: topics, couples and a
wording bank of its own, written after that) is the held-out one now.

Measured per turn: the step (and phase) it was put in, the roles (who is sender and receiver); per
script: the order of steps (consecutive turns of one step taken as one), every turn right; per mirror:
whether the words it is scored against are the ones the sender sent since the last mirror. Beside the
tracker: today's engine (a turn from the person whose floor it is moves one phase on; given the opening
answer "I'd like to go first" from the true first sender, which the tracker does not get), and the
tracker's own keyword evidence without the exercise order (every place equally likely next).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass, field

from common import machine, today, write_section
from dialogue_scripts import NOISE, OPENING, STYLES, Script, hear, split

from imago_voice.protocol import Engine, EngineSettings, MirrorScored, TurnEnded, TurnPlaced, load_prompts
from imago_voice.protocol.text import normalize
from imago_voice.protocol.tracker import StepTracker, TrackerSettings

METHODS = ("tracker", "engine following it", "keywords only", "today's engine")
SPLIT_NAMES = ("tune", "report", "fresh")
#: The report split's first measurement, while it was still held out (2026-12-02, before the fixes it prompted).
FIRST_LOOK = """
| tracker, clean | 3494 | 95.5 % | 95.5 % | 99.6 % | 45 % | 1.00 | 42 % | 87.4 % |
| tracker, asr | 3494 | 93.8 % | 93.4 % | 99.1 % | 36 % | 1.38 | 28 % | 80.5 % |
| tracker, asr+ | 3494 | 92.6 % | 91.8 % | 98.5 % | 28 % | 1.60 | 16 % | 78.8 % |
| keywords only, clean | 3494 | 71.6 % | 65.3 % | 76.3 % | 0 % | 6.33 | 0 % | 37.4 % |
| keywords only, asr | 3494 | 67.5 % | 61.0 % | 67.9 % | 0 % | 7.19 | 0 % | 30.7 % |
| keywords only, asr+ | 3494 | 65.3 % | 59.0 % | 55.8 % | 0 % | 7.74 | 0 % | 28.4 % |
| today's engine, clean | 3494 | 65.3 % | 59.6 % | 89.0 % | 23 % | 5.20 | 22 % | 54.0 % |
| today's engine, asr | 3494 | 61.0 % | 53.4 % | 85.7 % | 17 % | 6.17 | 15 % | 46.0 % |
| today's engine, asr+ | 3494 | 58.2 % | 49.8 % | 82.8 % | 12 % | 6.78 | 11 % | 42.3 % |
"""


@dataclass
class Tally:
    turns: int = 0
    step: int = 0
    phase: int = 0
    roles: int = 0
    scripts: int = 0
    order: int = 0
    perfect: int = 0
    edits: int = 0
    mirrors: int = 0
    chunks: int = 0
    losses: list = field(default_factory=list)

    def pct(self, what: str, of: str = "turns") -> float:
        return 100.0 * getattr(self, what) / max(1, getattr(self, of))


def _collapse(steps):
    out = []
    for s in steps:
        if not out or out[-1] != s:
            out.append(s)
    return out


def _edit(a, b) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def run_tracker(script: Script, settings: TrackerSettings, moves) -> list[tuple]:
    tracker = StepTracker("dialogue", script.names, moves, settings=settings)
    out = []
    for t in script.turns:
        a = tracker.observe(t.speaker, t.text)
        chunk = tracker.chunk_for_mirror() if (a.step, a.phase) == ("mirror", "speak") else None
        out.append((a.step, a.phase, a.sender, a.receiver, chunk))
    return out


def run_following(script: Script, prompts, guide: str = "full", settings: EngineSettings | None = None) -> list[tuple]:
    """The engine that follows the couple: per turn, the step its ledger keeps the turn under (the tracker's
    place when it followed it there or the tracker was sure, else its own), the roles then, and the words it
    scored a mirror against."""
    settings = settings or EngineSettings(silence_reminder=0, chunk_limit=0, guide=guide)
    engine = Engine("dialogue", list(script.names), prompts, settings)
    engine.start(at=0.0)
    clock = 1.0
    engine.handle(TurnEnded(script.first, clock, clock + 1, OPENING[script.language]))
    out = []
    for t in script.turns:
        clock += 5
        before = (engine.step, engine.phase, engine.sender, engine.receiver) if not engine.ended else ("(ended)", "", None, None)
        count = len(engine.ledger.entries)
        actions = engine.handle(TurnEnded(t.speaker, clock, clock + 4, t.text))
        # a turn the engine split into pieces (one person's moves run together) is judged by its longest piece
        pieces = engine.ledger.entries[count:]
        longest = max(pieces, key=lambda e: e.turn.end - e.turn.start) if pieces else None
        recorded = longest.step if longest is not None else None
        placed = next((a for a in actions if isinstance(a, TurnPlaced) and longest is not None
                       and a.start == longest.turn.start), None)
        if placed is not None and placed.step == recorded and (placed.followed or recorded != before[0]):
            where = (placed.step, placed.phase, placed.sender or engine.sender, placed.receiver or engine.receiver)
        else:
            where = before
        chunk = engine._sent_words() if any(isinstance(a, MirrorScored) for a in actions) else None
        out.append((*where, chunk))
    return out


def run_engine(script: Script, prompts) -> list[tuple]:
    engine = Engine("dialogue", list(script.names), prompts, EngineSettings(silence_reminder=0, chunk_limit=0, follow=False))
    engine.start(at=0.0)
    clock = 1.0
    engine.handle(TurnEnded(script.first, clock, clock + 1, OPENING[script.language]))
    out = []
    for t in script.turns:
        clock += 5
        step, phase = (engine.step, engine.phase) if not engine.ended else ("(ended)", "")
        # the words today's engine would score this turn against, if it takes it for a mirror (its own state)
        chunk = " ".join(engine._chunk) if (step, phase) == ("mirror", "speak") and t.speaker == engine.receiver else None
        out.append((step, phase, engine.sender, engine.receiver, chunk))
        engine.handle(TurnEnded(t.speaker, clock, clock + 4, t.text))
    return out


def score(script: Script, out: list[tuple], tally: Tally, keep_losses: bool) -> None:
    truth_chunks = script.chunks()
    tally.scripts += 1
    right = 0
    for i, (t, (step, phase, sender, receiver, chunk)) in enumerate(zip(script.turns, out)):
        tally.turns += 1
        ok = step == t.step
        right += ok
        tally.step += ok
        tally.phase += ok and phase == t.phase
        tally.roles += (sender, receiver) == (t.sender, t.receiver)
        if i in truth_chunks:
            tally.mirrors += 1
            tally.chunks += chunk is not None and normalize(chunk) == normalize(truth_chunks[i])
        if not ok and keep_losses:
            tally.losses.append((script.name, i, f"{t.step}/{t.phase}", f"{step}/{phase}", t.speaker, t.text))
    truth_order, got_order = _collapse(t.step for t in script.turns), _collapse(o[0] for o in out)
    tally.order += truth_order == got_order
    tally.edits += _edit(truth_order, got_order)
    tally.perfect += right == len(script.turns)


def evaluate(split_name: str, settings: TrackerSettings | None = None, methods=METHODS, levels=tuple(NOISE),
             keep_losses: bool = False, engine_settings: EngineSettings | None = None) -> dict[tuple[str, str], dict[str, Tally]]:
    """{(method, level): {"all" | "<lang>/<style>": Tally}} over the split."""
    settings = settings or TrackerSettings()
    keyword = TrackerSettings(order_prior=False, graph=settings.graph, model=settings.model)
    prompts = {lang: load_prompts(lang, "dialogue") for lang in ("en", "es")}
    results: dict = {}
    for script in split(split_name):
        for level in levels:
            heard = hear(script, level, seed=7)
            for method in methods:
                if method == "tracker":
                    out = run_tracker(heard, settings, prompts[script.language].moves)
                elif method == "engine following it":
                    out = run_following(heard, prompts[script.language], settings=engine_settings)
                elif method == "keywords only":
                    out = run_tracker(heard, keyword, prompts[script.language].moves)
                else:
                    out = run_engine(heard, prompts[script.language])
                groups = results.setdefault((method, level), {})
                for key in ("all", f"{script.language}/{script.style}"):
                    score(heard, out, groups.setdefault(key, Tally()), keep_losses and key == "all" and method in ("tracker", "engine following it"))
    return results


def _row(name: str, t: Tally) -> str:
    return (f"| {name} | {t.turns} | {t.pct('step'):.1f} % | {t.pct('phase'):.1f} % | {t.pct('roles'):.1f} % | "
            f"{t.pct('order', 'scripts'):.0f} % | {t.edits / max(1, t.scripts):.2f} | {t.pct('perfect', 'scripts'):.0f} % | "
            f"{t.pct('chunks', 'mirrors'):.1f} % |")


HEADER = ("| {first} | turns | step right | step and phase right | roles right | step order exact | order edits per "
          "script | every turn right | mirror scored against the right words |\n|---|---|---|---|---|---|---|---|---|")


def tables(results: dict, title: str) -> str:
    lines = [f"### {title}", "", HEADER.format(first="method, ASR level")]
    for method in METHODS:
        for level in NOISE:
            if (method, level) in results:
                lines.append(_row(f"{method}, {level}", results[(method, level)]["all"]))
    return "\n".join(lines)


def by_style(results: dict, level: str, name: str) -> str:
    lines = [f"### Tracker by language and style ({name} split, ASR level {level})", "",
             HEADER.format(first="language/style")]
    groups = results[("tracker", level)]
    for lang in ("en", "es"):
        for style in STYLES:
            lines.append(_row(f"{lang}/{style}", groups[f"{lang}/{style}"]))
    return "\n".join(lines)


def losses(results: dict, level: str, show: int, name: str, method: str = "tracker") -> str:
    lost = results[(method, level)]["all"].losses
    kinds = Counter((truth, got) for _, _, truth, got, _, _ in lost)
    who = "the tracker" if method == "tracker" else method
    lines = [f"### What {who} lost ({name} split, ASR level {level}: {len(lost)} turns)", "",
             "| true step/phase | put in | turns |", "|---|---|---|"]
    lines += [f"| {truth} | {got} | {n} |" for (truth, got), n in kinds.most_common(12)]
    lines += ["", f"Examples (script, turn, truth → {who}, speaker as heard, words as heard):", ""]
    lines += [f"- `{name}` #{i}: {truth} → {got} ({who}) “{text}”" for name, i, truth, got, who, text in lost[:show]]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=(*SPLIT_NAMES, "all"), default="all")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--losses", type=int, default=25)
    args = ap.parse_args()
    began = time.perf_counter()
    parts = {}
    for name in (SPLIT_NAMES if args.split == "all" else (args.split,)):
        parts[name] = evaluate(name, keep_losses=name != "tune")
        print(tables(parts[name], f"{name} split"), "\n")
    for name in ("fresh", "report"):
        if name in parts:
            print(by_style(parts[name], "asr", name), "\n")
            print(losses(parts[name], "asr", args.losses, name), "\n")
    seconds = time.perf_counter() - began
    print(f"{seconds:.0f} s")
    if args.no_write or set(parts) != set(SPLIT_NAMES):
        return
    n = {k: sum(1 for _ in split(k)) for k in parts}
    body = "\n\n".join([
        "## Step tracker (issue 9, \"Follow the couple\")",
        (f"Measured {today()} on {machine()} by `benchmarks/bench_tracker.py` ({seconds:.0f} s). Text level: "
        f"unpaced Intentional Dialogue scripts (both rounds, the role switch, the close; English and Spanish; "
        f"a self-facilitating couple, the same with fewer stems, a couple who waits for every prompt), each heard "
        f"clean, with simulated ASR trouble (`asr`: per turn a 35 % chance per listed confusion such as "
        f"\"that's all\" → \"that's oil\" or \"there's more\" → \"the small\", 3 % of words lost, 8 % of turns lose "
        f"their first words, 5 % their last, 3 % have no speaker, 1 % the wrong one) and more of it (`asr+`). "
        f"Fixed split: the weights were tuned on the tuning scripts only ({n['tune']} scripts: topics 0-3, "
        f"even-numbered wordings). The report scripts ({n['report']}: other topics, couples, odd-numbered wordings, "
        f"seeds) were held out until their first measurement (below, as recorded); it showed a matcher bug (a "
        f"longer stem heard in part beat an exact shorter one, so \"Let me see if I got that\" read as a summary), "
        f"which was fixed together with two structural changes, so the report split has been a development set "
        f"since. The fresh scripts ({n['fresh']}: two new topics per language, new couples, a wording bank of their "
        f"own, written before the tracker was run on them) are the held-out figures now. \"Engine following it\" "
        f"is the engine with the tracker wired in (full guidance): per turn, the step its ledger keeps the turn "
        f"under (the tracker's place when the engine followed it there or the tracker was sure, else the engine's "
        f"own); its rules (when to follow, when going back is allowed) were set from the tuning split's losses "
        f"only, and its report and fresh figures were measured once, after that. \"Today's engine\" is the same "
        f"engine with `follow=False` (the rules before issue 9: who spoke moves it on). Both engines are given "
        f"the opening answer (\"I'd like to go first\" from the true first sender); the tracker is not told who "
        f"sends. Target (issue 9): at least 95 % of turns in their true step, the step order and roles the "
        f"dialogue's. \"Step order exact\" counts a script right only if its whole sequence of steps (runs of one "
        f"step taken as one) is the true one: one misplaced turn anywhere makes it wrong."),
        tables(parts["fresh"], "Fresh split: held out (measured once, after the fixes)"),
        ("### Report split, first look (held out then; before the fixes it prompted)\n\n"
         + HEADER.format(first="method, ASR level") + FIRST_LOOK.rstrip()),
        tables(parts["report"], "Report split now (a development set since its first look)"),
        tables(parts["tune"], "Tuning split"),
        by_style(parts["fresh"], "asr", "fresh"),
        losses(parts["fresh"], "asr", args.losses, "fresh"),
        losses(parts["fresh"], "asr", 15, "fresh", "engine following it"),
        losses(parts["fresh"], "asr+", 10, "fresh"),
        losses(parts["report"], "asr", 10, "report"),
    ])
    write_section("tracker", body)


if __name__ == "__main__":
    main()
