"""Follow benchmark (issue 9, "Follow the couple"): unpaced Intentional Dialogue *audio* through the real
pipeline, with the command line, for two guidance modes.

    .venv/bin/python benchmarks/bench_follow.py [--split report|fresh|both] [--limit N] [--modes full,light]
                                                [--jobs 2] [--threads 1] [--reuse-logs] [--no-write]
                                                [--show SCRIPT] [--losses 10]

1. The scripts of ``split("report")`` and ``split("fresh")`` (dialogue_scripts.py; English only, since
   the bundled Whisper model is tiny.en) are said by two espeak-ng voices on two lapel microphones
   (follow_audio.py): the couple does not wait for the facilitator (gaps 0.4-2.5 s, now and then a 0.3 s
   overlap at a change of speaker), the partner at -10 to -16 dB on the other channel, noise at -60 dBFS,
   a quarter of the scripts in a reverberant room. The words are the true ones; Whisper makes its own
   mistakes. Cached in benchmarks/.cache/follow/.
2. Each recording is replayed with ``imago-voice session --input WAV --channel A=0 --channel B=1
   --exercise dialogue --guide MODE --log LOG`` (logs in benchmarks/.cache/follow/logs/). Without a
   ``--guide`` option in the command line the recording is replayed once, with the engine's default.
3. Scored from the log: each script turn is matched to the logged placement (and turn) that overlaps it
   most in time; a script turn is right when that placement has its true step (and phase). Roles where
   the placement names them. The order of steps (runs of one step taken as one) of the placements and of
   the engine's own "steps" records (the opening left out) against the
   truth's. Mirrors: each logged fidelity recomputed against the true chunk (Script.chunks(): the
   sender's true words since the last mirror) and against the words Whisper heard of those same sends;
   right when within 0.05. Prompts spoken per session; prompts that repeat what the couple just did.
   Beside them, today's engine without the tracker (``EngineSettings(follow=False)``), fed the same
   logged turns in-process (a Tick every 0.5 s), its step taken just before each turn.

``--limit N`` takes N scripts per split, seed by seed (each seed covers every topic and style), so a
limited run still has all three couple styles.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path

from common import ROOT, machine, today, write_section
from bench_tracker import _collapse, _edit
from dialogue_scripts import OPENING, Script, split
from follow_audio import CACHE, Rendered, cache_key, render

from imago_voice.facilitator.render import espeak_available

SPLITS = ("report", "fresh")
MODES = ("full", "light")
BASELINE = "baseline"
TOLD = "baseline, told who goes first"
IMAGO = ROOT / ".venv" / "bin" / "imago-voice"
LOGS = CACHE / "logs"
#: (prompt step, key) -> the place it asks the couple for: (step, phase) or (step, None) for any phase
ASKS = {}
for _k in ("enter", "stems", "reminder", "reprompt"):
    ASKS[("mirror", _k)] = ("mirror", "speak")
ASKS[("mirror", "check")] = ("mirror", "check")
ASKS[("mirror", "more_question")] = ("mirror", "more")
for _k in ("enter", "stems", "again", "missed"):
    ASKS[("send", _k)] = ("send", None)
for _s in ("summarize", "validate", "empathize"):
    for _k in ("enter", "stems"):
        ASKS[(_s, _k)] = (_s, None)
for _k in ("enter", "stems"):
    ASKS[("appointment", _k)] = ("appointment", "ask")
    ASKS[("close", _k)] = ("close", None)
ASKS[("switch", "enter")] = ("switch", None)


# ----------------------------------------------------------------------------------------------- replay

def guide_supported() -> bool:
    try:
        out = subprocess.run([str(IMAGO), "session", "--help"], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--guide" in out.stdout


def select(split_name: str, limit: int | None) -> tuple[list[Script], int]:
    """The split's English scripts, seed by seed (every topic and style of a seed before the next seed)."""
    scripts = split(split_name, languages=("en",))
    def seed(s):
        return int(re.search(r"/s(\d+)$", s.name).group(1))
    ordered = [s for _, s in sorted(enumerate(scripts), key=lambda p: (seed(p[1]), p[0]))]
    return ordered[:limit] if limit else ordered, len(scripts)


def replay(r: Rendered, mode: str, with_guide: bool, threads: int, reuse: bool) -> tuple[Path, float, str | None]:
    """Run the CLI on one recording; (log path, seconds, error or None)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{cache_key(r.name, r.seed)}__{mode if with_guide else 'default'}.json"
    timing = log.with_suffix(".seconds")
    if reuse and log.exists() and log.stat().st_mtime >= r.wav.stat().st_mtime:
        return log, float(timing.read_text()) if timing.exists() else 0.0, None
    a, b = r.names
    cmd = [str(IMAGO), "session", "--input", str(r.wav), "--channel", f"{a}=0", "--channel", f"{b}=1",
           "--exercise", "dialogue", "--log", str(log)]
    if with_guide:
        cmd += ["--guide", mode]
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    began = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, check=False)
    except subprocess.TimeoutExpired:
        return log, time.perf_counter() - began, "timed out after 900 s"
    seconds = time.perf_counter() - began
    if done.returncode != 0 or not log.exists():
        tail = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["(no output)"])[-1]
        return log, seconds, f"exit {done.returncode}: {tail}"
    timing.write_text(f"{seconds:.2f}\n")
    return log, seconds, None


# ----------------------------------------------------------------------------------------------- scoring

@dataclass
class Unit:
    """Something a system put somewhere: a placement, or a logged turn where the baseline engine was."""

    start: float
    end: float
    step: str
    phase: str
    sender: str | None
    receiver: str | None
    confidence: float | None = None
    text: str = ""
    speaker: str | None = None


@dataclass
class Tally:
    scripts: int = 0
    turns: int = 0
    heard: int = 0          # script turns some unit overlaps
    alone: int = 0          # ... the only script turn its unit overlaps most (not merged with another)
    alone_step: int = 0
    early: int = 0          # sessions that ended before the couple finished
    after_end: int = 0      # script turns after such an end
    step: int = 0
    phase: int = 0
    named: int = 0          # script turns whose unit names the roles
    roles: int = 0
    order: int = 0
    edits: int = 0
    engine_scripts: int = 0
    engine_order: int = 0
    engine_edits: int = 0
    mirrors: int = 0        # mirrors logged
    true_mirrors: int = 0   # mirror turns in the truth
    mirror_true_words: int = 0
    mirror_heard_words: int = 0
    mirror_on_mirror: int = 0   # logged mirrors whose turn is a true mirror
    sessions: int = 0
    prompts: int = 0
    asks: int = 0           # prompts that ask for a place
    repeats: int = 0
    keyed: int = 0          # sessions whose prompts carry keys
    failed: int = 0
    losses: list = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def pct(self, what: str, of: str) -> str:
        d = getattr(self, of)
        return f"{100.0 * getattr(self, what) / d:.1f} %" if d else "n/a"


# the step order is compared as bench_tracker.py does
collapse, edit_distance = _collapse, _edit


def overlap(a0, a1, b0, b1) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def best(span: tuple[float, float], units, speaker: str | None = None) -> int | None:
    """Index of the unit overlapping ``span`` most (None if none does); with ``speaker``, a unit of that
    speaker first (a short "your turn" said over the end of the partner's turn is that person's own turn,
    even where the partner's longer turn covers it as much)."""
    top, which = (False, 0.0), None
    for k, u in enumerate(units):
        o = overlap(span[0], span[1], u.start, u.end)
        if o <= 0:
            continue
        key = (speaker is not None and u.speaker == speaker, o)
        if key > top:
            top, which = key, k
    return which


def chunk_indices(script: Script) -> dict[int, list[int]]:
    """For each true mirror turn: the indices of the send turns it answers (as Script.chunks())."""
    out, open_, last = {}, [], []
    for i, t in enumerate(script.turns):
        if t.step == "mirror" and t.phase == "speak":
            if open_:
                last, open_ = open_, []
            out[i] = list(last)
        elif t.sent:
            open_.append(i)
        if t.step == "switch":
            open_, last = [], []
    return out


def log_turns(doc: dict) -> list[Unit]:
    return [Unit(t["start"], t["end"], "", "", None, None, text=t.get("text") or "", speaker=t.get("speaker"))
            for t in doc.get("turns", [])]


def placements(doc: dict, turns: list[Unit]) -> list[Unit] | None:
    if "placements" not in doc:
        return None
    out = []
    for p in doc["placements"]:
        k = best((p["start"], p["end"] + 1e-3), turns, p.get("speaker"))
        out.append(Unit(p["start"], p["end"], p["step"], p["phase"], p.get("sender"), p.get("receiver"),
                        p.get("confidence"), turns[k].text if k is not None else "", p.get("speaker")))
    return out


def baseline_units(doc: dict, names, prompts, first: str | None = None) -> list[Unit]:
    """Today's engine without the tracker, fed the logged turns: where it was when each turn came.
    ``first``: tell it who goes first ("I'd like to go first" from them, before the first turn)."""
    from imago_voice.protocol import Engine, EngineSettings, Tick, TurnEnded

    wanted: dict = {"chunk_limit": 45.0, "timeout_minutes": 20.0}
    if "follow" in {f.name for f in fields(EngineSettings)}:
        wanted["follow"] = False
    engine = Engine("dialogue", list(names), prompts, EngineSettings(**wanted))
    engine.start(at=0.0)
    clock, out = 0.0, []
    if first is not None:
        engine.handle(TurnEnded(first, 0.0, 0.0, OPENING["en"]))
    for t in sorted(log_turns(doc), key=lambda u: u.end):
        while clock + 0.5 <= t.end and not engine.ended:
            clock += 0.5
            engine.handle(Tick(clock))
        if engine.ended:
            step, phase, sender, receiver = "(ended)", "", None, None
        else:
            step, phase, sender, receiver = engine.step, engine.phase, engine.sender, engine.receiver
            engine.handle(TurnEnded(t.speaker, t.start, t.end, t.text))
        out.append(Unit(t.start, t.end, step, phase, sender, receiver, None, t.text, t.speaker))
    return out


def engine_order(doc: dict) -> list[str]:
    """The engine's "steps" records, collapsed, without the opening (and consent), which the truth lacks.
    Visits of no length are kept: a following engine enters the step of a turn at the turn's end and moves
    on at once (a merged "yes, and..." send is a send visit of length zero)."""
    return collapse(s["step"] for s in doc.get("steps", []) if s["step"] not in ("opening", "consent"))


def place_of(t) -> tuple[str, str]:
    return t.step, t.phase


def asks_for(want: tuple[str, str | None], place: tuple[str, str]) -> bool:
    return want[0] == place[0] and (want[1] is None or want[1] == place[1])


def session_end(doc: dict) -> float | None:
    """When the session ended, if it ended before the recording did (the replay then hears no more)."""
    if doc.get("ended") in (None, "end of audio"):
        return None
    times = [t["end"] for t in doc.get("turns", [])] + [p["at"] for p in doc.get("prompts", [])]
    return max(times, default=0.0)


def score_turns(script: Script, r: Rendered, units: list[Unit], tally: Tally, tag: str,
                logged: list[Unit] | None = None, ended_at: float | None = None) -> list[tuple]:
    """Per script turn: (index, unit or None, right). Adds to ``tally``; losses kept with ``tag``.
    ``logged``: the log's turns (to tell a turn nobody logged from one logged but not placed);
    ``ended_at``: when the session ended early (script turns after it were never heard)."""
    rows = []
    tally.scripts += 1
    matched = [best((said.start, said.end), units, said.speaker) for said in r.said]
    shared = Counter(k for k in matched if k is not None)
    late = 0
    for said, t, k in zip(r.said, script.turns, matched):
        u = units[k] if k is not None else None
        tally.turns += 1
        right = u is not None and u.step == t.step
        if u is not None:
            tally.heard += 1
            tally.step += right
            tally.phase += right and u.phase == t.phase
            if shared[k] == 1:
                tally.alone += 1
                tally.alone_step += right
            if u.sender is not None:
                tally.named += 1
                tally.roles += (u.sender, u.receiver) == (t.sender, t.receiver)
            got = f"{u.step}/{u.phase}"
        elif ended_at is not None and said.start >= ended_at - 0.05:
            late += 1
            got = "(after the session ended)"
        elif logged is not None and best((said.start, said.end), logged, said.speaker) is not None:
            got = "(logged, not placed)"
        else:
            got = "(no turn logged)"
        if not right:
            merged = u is not None and shared[k] > 1
            if merged:
                got += f" (one logged turn with {shared[k] - 1} other script turn{'s' if shared[k] > 2 else ''})"
            rank = (0 if u is not None and not merged else 1 if merged else 2, -(u.confidence or 0.0) if u else 0.0)
            tally.losses.append((rank, script.name, said.index, f"{t.step}/{t.phase}", got,
                                 u.confidence if u else None, t.said_by, u.text if u else "", t.text, tag))
        rows.append((said.index, u, right))
    tally.after_end += late
    tally.early += late > 0
    truth, got_order = collapse(t.step for t in script.turns), collapse(u.step for u in units)
    tally.order += truth == got_order
    tally.edits += edit_distance(truth, got_order)
    return rows


def score_log(script: Script, r: Rendered, doc: dict, tally: Tally, rules, tag: str) -> dict:
    """Score one replay's log (placements, engine steps, mirrors, prompts); returns the detail for --show."""
    from imago_voice.protocol import mirror_fidelity

    turns = log_turns(doc)
    placed = placements(doc, turns)
    detail = {"turns": turns, "placed": placed, "rows": None}
    if placed is not None:
        detail["rows"] = score_turns(script, r, placed, tally, tag, turns, session_end(doc))
    else:
        tally.scripts += 1
    truth = collapse(t.step for t in script.turns)
    got = engine_order(doc)
    detail["engine_order"], detail["truth_order"] = got, truth
    tally.engine_scripts += 1
    tally.engine_order += got == truth
    tally.engine_edits += edit_distance(truth, got)
    # mirrors: against the right words?
    chunks, idx = script.chunks(), chunk_indices(script)
    tally.true_mirrors += len(chunks)
    said_turn = [best((s.start, s.end), turns, s.speaker) for s in r.said]   # the logged turn that heard each script turn
    detail["mirrors"] = []
    for m in doc.get("mirrors", []):
        tally.mirrors += 1
        k = min(range(len(turns)), key=lambda j: abs(turns[j].end - m["at"])) if turns else None
        if k is None or abs(turns[k].end - m["at"]) > 0.05:
            detail["mirrors"].append((m, None, None, None))
            continue
        i = best((turns[k].start, turns[k].end), [Unit(s.start, s.end, "", "", None, None, speaker=s.speaker) for s in r.said],
                 turns[k].speaker)
        if i is None or i not in chunks:
            detail["mirrors"].append((m, turns[k].text, None, None))
            continue
        tally.mirror_on_mirror += 1
        true_f = mirror_fidelity(chunks[i], turns[k].text, rules)
        heard = []
        for j in idx[i]:
            if said_turn[j] is not None and said_turn[j] not in heard:
                heard.append(said_turn[j])
        heard_f = mirror_fidelity(" ".join(turns[j].text for j in heard), turns[k].text, rules) if heard else None
        tally.mirror_true_words += abs(true_f - m["fidelity"]) <= 0.05
        tally.mirror_heard_words += heard_f is not None and abs(heard_f - m["fidelity"]) <= 0.05
        detail["mirrors"].append((m, turns[k].text, true_f, heard_f))
    # prompts, and the ones that repeat what the couple just did
    prompts = doc.get("prompts", [])
    tally.sessions += 1
    tally.prompts += len(prompts)
    detail["repeats"] = []
    if prompts and all("key" in p for p in prompts):
        tally.keyed += 1
        for p in prompts:
            want = ASKS.get((p["step"], p["key"]))
            if want is None:
                continue
            tally.asks += 1
            before = [t for s, t in zip(r.said, script.turns) if s.end <= p["at"]]
            after = [t for s, t in zip(r.said, script.turns) if s.end > p["at"]]
            if before and asks_for(want, place_of(before[-1])) and not (after and asks_for(want, place_of(after[0]))):
                tally.repeats += 1
                detail["repeats"].append((p, f"{before[-1].step}/{before[-1].phase}",
                                          f"{after[0].step}/{after[0].phase}" if after else "(end)"))
    return detail


# ----------------------------------------------------------------------------------------------- output

def style_of(script: Script) -> str:
    return script.style


HEADER = ("| {first} | scripts | script turns | heard | step right | step and phase right | heard alone | step right, "
          "heard alone | roles right (named) | step order exact | order edits per script | sessions ended early "
          "(script turns lost) |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


def turn_row(label: str, t: Tally, placements_known: bool = True) -> str:
    if not placements_known:
        return f"| {label} | {t.scripts} | {t.turns} | n/a (no placements in the log) |" + " n/a |" * 8
    edits = f"{t.edits / t.scripts:.2f}" if t.scripts else "n/a"
    return (f"| {label} | {t.scripts} | {t.turns} | {t.pct('heard', 'turns')} | {t.pct('step', 'turns')} | "
            f"{t.pct('phase', 'turns')} | {t.pct('alone', 'turns')} | {t.pct('alone_step', 'alone')} | "
            f"{t.pct('roles', 'named')} ({t.named}) | {t.pct('order', 'scripts')} | {edits} | {t.early} ({t.after_end}) |")


ENGINE_HEADER = ("| {first} | sessions | engine step order exact | engine order edits per script | mirrors logged "
                 "(true mirrors) | logged on a true mirror | mirror fidelity right vs true words | vs words heard of "
                 "the right sends | prompts per session | prompts asking for a place | of them repeating what the "
                 "couple just did |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


def engine_row(label: str, t: Tally) -> str:
    def per(x):
        return f"{x / t.sessions:.1f}" if t.sessions else "n/a"
    edits = f"{t.engine_edits / t.engine_scripts:.2f}" if t.engine_scripts else "n/a"
    repeats = (f"{t.repeats} ({per(t.repeats)} per session, {t.pct('repeats', 'asks')})" if t.keyed == t.sessions and t.sessions
               else "n/a (no prompt keys in the log)")
    asks = per(t.asks) if t.keyed == t.sessions and t.sessions else "n/a"
    return (f"| {label} | {t.sessions} | {t.pct('engine_order', 'engine_scripts')} | {edits} | {t.mirrors} ({t.true_mirrors}) | "
            f"{t.pct('mirror_on_mirror', 'mirrors')} | {t.pct('mirror_true_words', 'mirrors')} | "
            f"{t.pct('mirror_heard_words', 'mirrors')} | {per(t.prompts)} | {asks} | {repeats} |")


def losses_text(t: Tally, label: str, show: int) -> str:
    lost = sorted(t.losses, key=lambda x: (x[0], x[1], x[2]))
    kinds = Counter((x[3], x[4].split(" (one logged turn")[0] + (" (merged)" if "(one logged turn" in x[4] else ""))
                    for x in lost)
    lines = [f"#### {label}: {len(lost)} script turns not in their true step", "",
             "| true step/phase | put in | turns |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {n} |" for (a, b), n in kinds.most_common(10)]
    lines += ["", (f"The {min(show, len(lost))} worst (turns heard on their own first, the most confident wrong placement "
                   f"first; then turns merged with another in one logged turn; then turns not heard. Script, turn, truth → "
                   f"put in (confidence), who said it, heard as / said):"), ""]
    for _, name, i, truth, got, conf, who, heard, said, _tag in lost[:show]:
        c = f" ({conf:.2f})" if conf is not None else ""
        heard = heard if len(heard) <= 160 else heard[:157] + "…"
        lines.append(f"- `{name}` #{i}: {truth} → {got}{c} ({who}) heard “{heard}” / said “{said}”")
    return "\n".join(lines)


def show_detail(script: Script, r: Rendered, details: dict) -> None:
    print(f"\n=== {script.name} (seed {r.seed}, {r.duration:.0f} s, voices {r.voices}, room {r.room}, crosstalk {r.crosstalk_db})")
    print("truth:")
    for s, t in zip(r.said, script.turns):
        print(f"  #{s.index:2d} {s.start:7.2f}-{s.end:7.2f} {t.said_by:7s} {t.step}/{t.phase} [{t.sender}->{t.receiver}] {t.text}")
    for mode, d in details.items():
        print(f"--- {mode}: logged turns")
        for u in d["turns"]:
            print(f"  {u.start:7.2f}-{u.end:7.2f} {u.speaker}: {u.text}")
        if d.get("placed") is not None:
            print(f"--- {mode}: placements")
            for u in d["placed"]:
                print(f"  {u.start:7.2f}-{u.end:7.2f} {u.step}/{u.phase} ({u.confidence}) [{u.sender}->{u.receiver}]")
        if d.get("rows") is not None:
            print(f"--- {mode}: each script turn, the unit matched to it")
            for i, u, ok in d["rows"]:
                t = script.turns[i]
                got = f"{u.step}/{u.phase} [{u.sender}->{u.receiver}] {u.start:.2f}-{u.end:.2f}" if u else "(not heard)"
                print(f"  #{i:2d} {'ok ' if ok else 'BAD'} {t.step}/{t.phase} -> {got}")
        if "engine_order" in d:
            print(f"--- {mode}: engine steps {d['engine_order']}\n    truth        {d['truth_order']}")
        for m, text, tf, hf in d.get("mirrors", []):
            print(f"  mirror at {m['at']}: logged {m['fidelity']}, vs true words {tf}, vs heard sends {hf}: {text}")
        for p, before, after in d.get("repeats", []):
            print(f"  repeat: {p['at']} {p['step']}/{p['key']} after {before}, before {after}: {p['text']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=(*SPLITS, "both"), default="both")
    ap.add_argument("--limit", type=int, default=30, help="scripts per split (0: all 60); default 30")
    ap.add_argument("--modes", default="full,light")
    ap.add_argument("--jobs", type=int, default=2, help="replays at once (default 2)")
    ap.add_argument("--threads", type=int, default=1,
                    help="OMP_NUM_THREADS for each replay (default 1: measured faster on 2 cores; 0 leaves it unset)")
    ap.add_argument("--seed", type=int, default=0, help="audio seed (voices, gaps, levels, rooms)")
    ap.add_argument("--reuse-logs", action="store_true", help="score logs already in the cache instead of replaying")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--show", help="print one script's truth, turns and placements (a name, or an index into the run)")
    ap.add_argument("--losses", type=int, default=10)
    args = ap.parse_args()
    if not IMAGO.exists() and shutil.which("imago-voice") is None:
        print(f"skipped: {IMAGO} is missing (run scripts/setup.sh)")
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    with_guide = guide_supported()
    runs = modes if with_guide else ["default"]
    began = time.perf_counter()
    from imago_voice.protocol import load_prompts

    prompts = load_prompts("en", "dialogue")
    rules = prompts.fidelity
    chosen, totals = {}, {}
    for name in (SPLITS if args.split == "both" else (args.split,)):
        chosen[name], totals[name] = select(name, args.limit or None)
    todo = [(name, s) for name in chosen for s in chosen[name]]
    print(f"{len(todo)} scripts ({', '.join(f'{n}: {len(chosen[n])} of {totals[n]}' for n in chosen)}), "
          f"replays: {', '.join(runs)}{'' if with_guide else ' (this command line has no --guide: one replay each)'}",
          flush=True)
    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:   # espeak-ng runs as a command: two at once
            rendered = dict(zip([s.name for _, s in todo], pool.map(lambda s: render(s, args.seed), [s for _, s in todo])))
    except RuntimeError as exc:   # only when a recording is not in the cache yet
        if espeak_available():
            raise
        print(f"skipped: {exc} (on Debian/Ubuntu: apt-get install espeak-ng); the follow benchmark renders its "
              f"dialogues with it, and {CACHE} does not hold them all yet")
        return
    render_s = time.perf_counter() - t0
    print(f"rendered (or read from the cache) in {render_s:.0f} s; audio {sum(r.duration for r in rendered.values()) / 60:.0f} min",
          flush=True)
    jobs = [(s, mode) for _, s in todo for mode in runs]
    logs, times, errors = {}, [], []
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = {pool.submit(replay, rendered[s.name], mode, with_guide, args.threads, args.reuse_logs): (s, mode)
                   for s, mode in jobs}
        for n, fut in enumerate(futures, 1):
            s, mode = futures[fut]
            log, seconds, error = fut.result()
            if error:
                errors.append(f"{s.name} {mode}: {error}")
            else:
                logs[(s.name, mode)] = json.loads(log.read_text())
                if seconds:
                    times.append((seconds, rendered[s.name].duration))
            if n % 10 == 0 or n == len(jobs):
                print(f"  {n}/{len(jobs)} replays ({time.perf_counter() - t0:.0f} s)", flush=True)
    replay_s = time.perf_counter() - t0
    # scoring
    tallies: dict = defaultdict(Tally)        # (split, run) -> Tally
    by_style: dict = defaultdict(Tally)       # (run, style) -> Tally
    placements_known = {run: True for run in runs}
    shown = None
    if args.show is not None:
        shown = args.show if not args.show.isdigit() else todo[int(args.show)][1].name
    for split_name, s in todo:
        r = rendered[s.name]
        details = {}
        have = [run for run in runs if (s.name, run) in logs]
        for run in runs:
            if (s.name, run) not in logs:
                tallies[(split_name, run)].failed += 1
                continue
            t = Tally()
            details[run] = score_log(s, r, logs[(s.name, run)], t, rules, run)
            if details[run]["placed"] is None:
                placements_known[run] = False
            tallies[(split_name, run)].add(t)
            by_style[(run, s.style)].add(t)
        if have:
            # the baseline: the log that heard the most of the recording (a replay stops when the session ends)
            doc = max((logs[(s.name, run)] for run in have), key=lambda d: len(d.get("turns", [])))
            for base, first in ((BASELINE, None), (TOLD, s.first)):
                units = baseline_units(doc, s.names, prompts, first)
                t = Tally()
                rows = score_turns(s, r, units, t, base, None, session_end(doc))
                tallies[(split_name, base)].add(t)
                by_style[(base, s.style)].add(t)
                details[base] = {"turns": [], "placed": units, "rows": rows}
        if shown == s.name:
            show_detail(s, r, details)
    seconds = time.perf_counter() - began
    label = {run: (f"--guide {run}" if with_guide else "no --guide (engine default)") for run in runs}
    label[BASELINE] = "today's engine without the tracker (follow=False), same turns"
    label[TOLD] = "the same, told who goes first"
    bases = [BASELINE, TOLD]
    parts = []
    per_replay = sum(t for t, _ in times) / len(times) if times else float("nan")
    rtf = sum(t for t, _ in times) / sum(d for _, d in times) if times else float("nan")
    if args.reuse_logs:
        took = (f"scored from the logs in the cache in {seconds:.0f} s (the replays, when they were made, about "
                f"{sum(t for t, _ in times) / max(1, args.jobs) / 60:.0f} min of wall time)")
    else:
        took = f"the whole run {seconds / 60:.1f} min (rendering {render_s:.0f} s, replays {replay_s:.0f} s)"
    parts.append(f"Scripts: {', '.join(f'{n} {len(chosen[n])} of {totals[n]}' for n in chosen)} (English only: the bundled "
                 f"Whisper model is tiny.en), audio seed {args.seed}; {len(jobs)} replays, {len(errors)} failed. "
                 f"One replay took {per_replay:.1f} s on average (real-time factor {rtf:.2f} per process, "
                 f"{args.jobs} at once, OMP_NUM_THREADS={args.threads or 'unset'}); {took}. 'Heard alone': the script turn is the only one "
                 f"its logged turn (placement) covers most; a turn merged with another can be right only if both are one step. "
                 f"The baseline rows are fed the turns of the replay that heard the most, so a session that ended early "
                 f"shortens theirs too.")
    for name in list(chosen) + (["overall"] if len(chosen) > 1 else []):
        def group(run, name=name):
            return tallies[(name, run)] if name != "overall" else _sum(tallies[(n, run)] for n in chosen)
        lines = [f"### {name}" + (" (both splits)" if name == "overall" else " split"), "",
                 HEADER.format(first="per script turn")]
        for run in runs:
            lines.append(turn_row(f"placements, {label[run]}", group(run), placements_known[run]))
        lines += [turn_row(label[b], group(b)) for b in bases]
        lines += ["", ENGINE_HEADER.format(first="per session")]
        for run in runs:
            lines.append(engine_row(label[run], group(run)))
        parts.append("\n".join(lines))
    lines = ["### By couple style (both splits)", "", "| method | style | script turns | step right | step and phase right |",
             "|---|---|---|---|---|"]
    for run in runs + bases:
        for style in ("self", "mixed", "waiting"):
            t = by_style[(run, style)]
            if t.turns and (run in bases or placements_known[run]):
                lines.append(f"| {label[run]} | {style} | {t.turns} | {t.pct('step', 'turns')} | {t.pct('phase', 'turns')} |")
    parts.append("\n".join(lines))
    lost = ["### Losses"]
    for run in runs + [BASELINE]:
        if run in bases or placements_known[run]:
            lost.append(losses_text(_sum(tallies[(n, run)] for n in chosen), label[run], args.losses))
    parts.append("\n\n".join(lost))
    if errors:
        parts.append("Failed replays:\n\n" + "\n".join(f"- {e}" for e in errors[:20]))
    print("\n\n".join(parts))
    if args.no_write or args.show is not None:
        return
    if errors:
        print(f"\nnot written to BENCHMARKS.md: {len(errors)} of {len(jobs)} replays failed")
        return
    intro = (f"## Following the couple, from audio (issue 9)\n\nMeasured {today()} on {machine()} by "
             f"`benchmarks/bench_follow.py`. Unpaced Intentional Dialogue scripts (dialogue_scripts.py, report and fresh "
             f"splits) said by two espeak-ng voices on two lapel microphones (follow_audio.py: the couple does not wait for "
             f"the facilitator, gaps 0.4-2.5 s, sometimes a 0.3 s overlap at a change of speaker; the partner at -10 to "
             f"-16 dB on the other microphone, noise at -60 dBFS, a quarter of the scripts in a reverberant room), replayed "
             f"through the whole pipeline with `imago-voice session --input ... --log ...`, as fast as possible. Each script "
             f"turn is scored by the logged placement that overlaps it most in time (a logged turn may merge or split script "
             f"turns: two turns of one person with a short pause between are one logged turn, and only one of them can be "
             f"right); 'heard' is the share of script turns any placement overlaps. Step order: runs of one step taken as "
             f"one, the whole sequence exact, or its edit distance; the engine's own records leave out the opening (visits "
             f"of no length are kept: a following engine enters a turn's step at the turn's end). A mirror's logged fidelity "
             f"is right when within 0.05 of the fidelity recomputed against the true chunk's words (the sender's words since "
             f"the last mirror, as written) or against what Whisper heard of those same sends (the fairer of the two: the "
             f"engine only ever has the heard words). A prompt 'repeats what the couple just did' when the place it asks for "
             f"is the true place of the last script turn before it and not of the next. The baseline is today's engine "
             f"without the tracker (`EngineSettings(follow=False)`), fed the same logged turns in-process with a tick every "
             f"0.5 s, its step taken just before each turn; nobody tells it who goes first (it takes the first turn as the "
             f"answer to \"who would like to speak first?\", and a name said in it as the first sender), and a second row "
             f"gives it \"I'd like to go first\" from the true first sender, as bench_tracker.py does.")
    write_section("follow", intro + "\n\n" + "\n\n".join(parts))


def _sum(tallies) -> Tally:
    out = Tally()
    for t in tallies:
        out.add(t)
    return out


if __name__ == "__main__":
    main()
