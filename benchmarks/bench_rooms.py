"""Who is speaking, one microphone per person, in simulated rooms (issue 8); figures go to BENCHMARKS.md.

    .venv/bin/python benchmarks/bench_rooms.py            # the reported seeds; writes BENCHMARKS.md
    .venv/bin/python benchmarks/bench_rooms.py --tune     # the tuning seeds; prints only
    .venv/bin/python benchmarks/bench_rooms.py --tune --case 2-lapel-quiet --verbose

Scenes come from ``rooms.py`` (reverberant rooms, LibriSpeech voices, microphones on people). Each case
runs the project's voice loop (channel mode, no transcription) and, on the same audio, the loudest-channel
baseline through the same segmenter; both are scored with ``tests.support.scoring.diarization_scores``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass


from common import ROOT, machine, need_shared, run_loop, today, write_section  # noqa: F401

from benchmarks.rooms import REPORT_SEEDS, TUNE_SEEDS, make_scene
from imago_voice.audio.sources import FileSource
from imago_voice.loop import LoopSettings, VoiceLoop
from imago_voice.speakers.channels import ChannelMap
from tests.support.baselines import loudest_channel
from tests.support.scoring import diarization_scores


@dataclass(frozen=True)
class Case:
    name: str
    people: int
    placement: str
    quiet_db: float | None = None
    barely: bool = False
    what: str = ""


CASES = (
    Case("2-lapel-quiet", 2, "lapel", 9.0, what="2 people on a sofa, lapel microphones, one 9 dB quieter"),
    Case("2-lapel-barely", 2, "lapel", None, True, what="2 people, lapel, one says only a few seconds"),
    Case("2-headset", 2, "headset", None, what="2 people, headsets, levels within 6 dB"),
    Case("4-lapel-quiet", 4, "lapel", 12.0, what="4 people round a table, lapel, one 12 dB quieter"),
    Case("4-headset-quiet", 4, "headset", 15.0, True, what="4 people, headsets, one 15 dB quieter, one barely speaks"),
    Case("4-table-barely", 4, "table", None, True, what="4 people, a table microphone in front of each (0.4-0.6 m), one barely speaks"),
    Case("2-table-quiet", 2, "table", 9.0, what="2 people, a table microphone in front of each, one 9 dB quieter"),
)
PER_CASE = 4   # scenes per case, each ~60 s


def project(scene, settings: LoopSettings | None = None) -> tuple[list[tuple[str, float, float]], float]:
    names = scene.names
    loop = VoiceLoop(channels=ChannelMap(names, tuple(range(len(names)))), settings=settings)
    t = time.process_time()
    turns, _ = run_loop(loop, FileSource("scene.wav", data=scene.audio))
    cpu = time.process_time() - t
    return [(x.speaker, x.start, x.end) for x in turns], cpu


def pooled(results: list[dict]) -> dict:
    """Scores over several scenes, weighted by time (solo speech, overlap), share error: the worst scene."""
    solo = sum(r["solo"] for r in results)
    ov_t = sum(r["overlap_true"] for r in results)
    ov_f = sum(r["overlap_found"] for r in results)
    hit = sum((r["precision"] if r["overlap_found"] else 0) * r["overlap_found"] for r in results)
    return {
        "attribution": sum(r["attribution"] * r["solo"] for r in results) / max(solo, 1e-9),
        "worst_attribution": min(r["attribution"] for r in results),
        "share_error": max(r["share_error"] for r in results),
        "overlap_true": ov_t, "overlap_found": ov_f,
        "precision": hit / ov_f if ov_f else float("nan"),
        "recall": hit / ov_t if ov_t else float("nan"),
        "turns": sum(r["turns"] for r in results), "ref_turns": sum(r["ref_turns"] for r in results),
        "missed": sum(r["missed"] for r in results), "false": sum(r["false"] for r in results),
        "solo": solo,
    }


def ref_turns(scene) -> int:
    """Reference turns: a person's speech with less than 1 s between (the product's end-of-turn silence)."""
    n = 0
    for p in range(scene.people):
        spans = sorted((s.start, s.end) for s in scene.reference if s.person == p)
        last = -10.0
        for a, b in spans:
            n += int(a - last >= 1.0)
            last = max(last, b)
    return n


def run_case(case: Case, seeds, verbose: bool = False) -> tuple[dict, dict, list[str], float, float]:
    mine, base, lost = [], [], []
    cpu = audio = 0.0
    for seed in seeds:
        scene = make_scene(seed, people=case.people, placement=case.placement, quiet_db=case.quiet_db,
                           barely=case.barely)
        truth = [(scene.names[s.person], s.start, s.end) for s in scene.reference]
        found, c = project(scene)
        cpu += c
        audio += scene.duration
        b = loudest_channel(scene.audio, scene.names)
        for spans, out in ((found, mine), (b, base)):
            r = diarization_scores(truth, spans, scene.names, scene.duration)
            r["turns"], r["ref_turns"] = len(spans), ref_turns(scene)
            out.append(r)
        m, bb = mine[-1], base[-1]
        if m["attribution"] < bb["attribution"]:
            lost.append(f"seed {seed}: {m['attribution'] * 100:.1f} % against the baseline's {bb['attribution'] * 100:.1f} %")
        if verbose:
            print(f"  seed {seed} RT60 {scene.rt60} levels {scene.levels_db}: project attr {m['attribution'] * 100:.1f} "
                  f"share {m['share_error']:.1f} ov {m['overlap_found']:.1f}/{m['overlap_true']:.1f} s "
                  f"missed {m['missed']:.1f} false {m['false']:.1f} turns {m['turns']}/{m['ref_turns']} | "
                  f"baseline attr {bb['attribution'] * 100:.1f} share {bb['share_error']:.1f} "
                  f"ov {bb['overlap_found']:.1f} turns {bb['turns']}", flush=True)
    return pooled(mine), pooled(base), lost, cpu, audio


def fmt(x: float, pct: bool = True) -> str:
    if x != x:
        return "–"
    return f"{x * 100:.1f} %" if pct else f"{x:.1f}"


#: the method with one part taken away (or changed) at a time, run on the tuning seeds only
VARIANTS = (
    ("the method as shipped", {}),
    ("levels only: no arrival order", {"arrival": False}),
    ("no majority over frames (each frame decided alone)", {"dominance_frames": 1}),
    ("no spectral unlikeness (overlaps from levels only)", {"unlike_below": -1.0}),
    ("overlap margin 6 dB instead of 12", {"overlap_margin_db": 6.0}),
    ("crosstalk learned as the 25th percentile, not the median", {"leak_percentile": 25.0}),
    ("arrival order trusted whatever the levels (within 20 dB)", {"arrival_within_db": 20.0}),
    ("loudest channel alone (no overlaps at all)", {"arrival": False, "unlike_below": -1.0, "overlap_margin_db": 200.0,
                                                   "dominance_frames": 1}),
)


def variants(per_case: int) -> str:
    from imago_voice.speakers.channels import AttributorSettings

    scenes = {c.name: [make_scene(s, people=c.people, placement=c.placement, quiet_db=c.quiet_db, barely=c.barely)
                       for s in TUNE_SEEDS[:per_case]] for c in CASES}
    head = "| variant | " + " | ".join(scenes) + " |"
    lines = ["Each cell: attribution of solo speech / worst share error (points) / overlap found ÷ true, pooled over "
             f"{per_case} tuning scenes per case.", "", head, "|" + "---|" * (len(scenes) + 1)]
    for label, change in VARIANTS:
        settings = LoopSettings(attributor=AttributorSettings(**change))
        cells = []
        for name, ss in scenes.items():
            rs = []
            for sc in ss:
                truth = [(sc.names[x.person], x.start, x.end) for x in sc.reference]
                found, _ = project(sc, settings)
                r = diarization_scores(truth, found, sc.names, sc.duration)
                r["turns"], r["ref_turns"] = len(found), ref_turns(sc)
                rs.append(r)
            p = pooled(rs)
            cells.append(f"{p['attribution'] * 100:.1f} / {p['share_error']:.1f} / "
                         f"{p['overlap_found'] / max(p['overlap_true'], 1e-9):.1f}×")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tune", action="store_true", help="the tuning seeds (prints, writes nothing)")
    ap.add_argument("--case", action="append", help="only these cases")
    ap.add_argument("--per-case", type=int, default=PER_CASE)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--json", help="write the pooled figures here")
    ap.add_argument("--variants", action="store_true", help="also run the ablations (tuning seeds)")
    ap.add_argument("--before", help="a previous.py result: the earlier commit's figures as a row")
    a = ap.parse_args()
    need_shared()
    pool = TUNE_SEEDS if a.tune else REPORT_SEEDS
    cases = [c for c in CASES if not a.case or c.name in a.case]
    lines = [f"Measured {today()} on {machine()}; seeds {'tuning' if a.tune else 'reported'} "
             f"({pool[0]}–{pool[0] + a.per_case - 1} per case, ~60 s each).", "",
             "| case | method | attribution (solo speech) | worst scene | share error, worst (points) | "
             "overlap found / true | overlap precision | overlap recall | turns / reference |",
             "|---|---|---|---|---|---|---|---|---|"]
    before = json.loads(open(a.before).read()) if a.before else None
    summary, losses = {}, []
    total_cpu = total_audio = 0.0
    for case in cases:
        print(f"{case.name}: {case.what}", flush=True)
        m, b, lost, cpu, audio = run_case(case, pool[: a.per_case], a.verbose)
        total_cpu += cpu
        total_audio += audio
        summary[case.name] = {"project": m, "baseline": b}
        rows = [("imago-voice", m), ("loudest channel (baseline)", b)]
        if before and case.name in before["cases"]:
            rows.append((f"before (commit {before['rev']})", before["cases"][case.name]))
        for label, r in rows:
            lines.append(f"| {case.what} | {label} | {fmt(r['attribution'])} | {fmt(r['worst_attribution'])} | "
                         f"{r['share_error']:.1f} | {r['overlap_found']:.1f} / {r['overlap_true']:.1f} s | "
                         f"{fmt(r['precision'])} | {fmt(r['recall'])} | {r['turns']} / {r['ref_turns']} |")
            print(lines[-1], flush=True)
        losses += [f"{case.name}, {x}" for x in lost]
    lines += ["", f"Voice loop (channel mode, no transcription) CPU time: {total_cpu / max(total_audio, 1e-9) * 1000:.1f} ms "
              "per second of audio, all of the attribution and segmentation included."]
    lines += ["", "Scenes where the project fell below the baseline: " + ("; ".join(losses) if losses else "none.")]
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
    if a.variants:
        lines += ["", "#### What each part of the method is worth (tuning seeds)", "", variants(a.per_case)]
    if not a.tune:
        write_section("rooms", "### One microphone per person in simulated rooms (issue 8)\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
