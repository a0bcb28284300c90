"""Raised voices (issue 10): how often an ordinary turn is taken for a raised voice, and how many raised
turns are found, on simulated rooms and on real recordings.

The method is the engine's own rule (:class:`imago_voice.protocol.levels.OwnLevels`: a turn ``margin``
dB above the median of the same person's earlier turns) on the levels the voice loop measures
(``Turn.level``). The baseline is the same rule with one shared history for everybody (the session's
median): what a program that does not know people differ would do.

Data:
* **Rooms** (`benchmarks/rooms.py`: reverberant rooms, LibriSpeech voices, one person 9-12 dB quieter,
  leaning, a +-2 dB drift over each turn; lapel, table microphones and one shared laptop). Each scene is
  run plain (150 s) and again with about a third of each person's utterances (not their first three, not
  the backchannels) said 6 or 12 dB louder; the rest of the scene is the same. Raising the level is all that
  is simulated: real shouting also changes the voice (pitch, spectral tilt, clipping), which this does not
  model. On the shared laptop, turns get their speaker from the reference (as perfect voiceprints would).
* **Real recordings**, nothing raised in them: the pyannote sample (2 people, one microphone, 30 s, the
  reference's turns) and 60 LibriSpeech utterances (6 readers, 10 each, each utterance a turn).

Split: tuning seeds 0-3 (the margin was chosen there), reported seeds 1000-1003.

    python benchmarks/bench_loudness.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import EVAL, machine, need_shared, run_loop, today, write_section  # noqa: E402
from benchmarks.rooms import REPORT_SEEDS, TUNE_SEEDS, make_scene  # noqa: E402
from imago_voice.audio.loudness import speech_level  # noqa: E402
from imago_voice.audio.sources import FileSource  # noqa: E402
from imago_voice.loop import VoiceLoop  # noqa: E402
from imago_voice.protocol.levels import OwnLevels  # noqa: E402
from imago_voice.protocol.settings import EngineSettings  # noqa: E402
from imago_voice.speakers.channels import ChannelMap  # noqa: E402

CASES = (("2-lapel-quiet", 2, "lapel", 9.0), ("4-lapel-quiet", 4, "lapel", 12.0),
         ("2-table-quiet", 2, "table", 9.0), ("2-laptop-quiet", 2, "laptop", 9.0))
GAINS = (6.0, 12.0)
MARGINS = (6.0, 8.0, 10.0, 12.0)
SECONDS = 150.0   # each scene: long enough for each person to have a baseline and then raised turns


def chosen(scene, seed: int) -> set[int]:
    """About a third of each person's utterances, past their first three, never a backchannel (under 1.5 s)."""
    rng = np.random.default_rng(seed + 4242)
    seen: dict[int, int] = {}
    out = set()
    for i, (who, start, end, _) in enumerate(scene.texts):
        seen[who] = seen.get(who, 0) + 1
        if end - start >= 1.5 and seen[who] > 3 and rng.random() < 0.35:
            out.add(i)
    return out


def loop_turns(scene) -> list[tuple[str, float, float, float | None]]:
    """The voice loop's turns (speaker, start, end, level); on a laptop the speaker from the reference."""
    if scene.placement == "laptop":
        turns, _ = run_loop(VoiceLoop(), FileSource("scene.wav", data=scene.audio))
    else:
        names = scene.names
        turns, _ = run_loop(VoiceLoop(channels=ChannelMap(names, tuple(range(len(names))))),
                            FileSource("scene.wav", data=scene.audio))
    out = []
    for t in turns:
        speaker = t.speaker
        if scene.placement == "laptop":
            best = max(scene.texts, key=lambda u: min(t.end, u[2]) - max(t.start, u[1]))
            speaker = f"P{best[0]}" if min(t.end, best[2]) - max(t.start, best[1]) > 0 else None
        out.append((speaker, t.start, t.end, t.level))
    return out


def label(turn, scene, raised: set[int]) -> bool:
    """Whether a found turn is mostly one of its speaker's raised utterances."""
    speaker, t0, t1, _ = turn
    if speaker is None:
        return False
    person = int(speaker[1:])
    best, overlap = None, 0.0
    for i, (who, a, b, _) in enumerate(scene.texts):
        o = min(t1, b) - max(t0, a)
        if who == person and o > overlap:
            best, overlap = i, o
    return best in raised and overlap >= 0.5 * (t1 - t0)


def decide(turns, margin: float, shared: bool) -> list[bool]:
    s = EngineSettings()
    rule = OwnLevels(margin, s.raised_after, s.raised_history)
    return [t[3] is not None and t[0] is not None and rule.raised("all" if shared else t[0], t[3]) for t in turns]


def rooms(seeds, margins, verbose: bool) -> tuple[dict, float]:
    """Per case, margin and method: false cues per hour and per 100 turns (plain scenes); found share of
    raised turns per gain; false cues in the raised scenes."""
    stats: dict = {}
    cpu = 0.0
    for name, people, placement, quiet in CASES:
        for seed in seeds:
            t = time.process_time()
            plain = make_scene(seed, people=people, placement=placement, quiet_db=quiet, seconds=SECONDS)
            raise_ = chosen(plain, seed)
            versions = [(0.0, plain, loop_turns(plain))]
            for g in GAINS:
                sc = make_scene(seed, people=people, placement=placement, quiet_db=quiet, seconds=SECONDS, louder={i: g for i in raise_})
                versions.append((g, sc, loop_turns(sc)))
            cpu += time.process_time() - t
            for g, sc, turns in versions:
                truth = [label(x, sc, raise_) if g else False for x in turns]
                for margin in margins:
                    for method in ("own", "shared"):
                        flags = decide(turns, margin, method == "shared")
                        row = stats.setdefault((name, margin, method), {"hours": 0.0, "turns": 0, "false": 0,
                                                                         **{f"hit{g:g}": 0 for g in GAINS},
                                                                         **{f"n{g:g}": 0 for g in GAINS},
                                                                         **{f"false{g:g}": 0 for g in GAINS}})
                        if not g:
                            row["hours"] += sc.duration / 3600
                            row["turns"] += len(turns)
                            row["false"] += sum(flags)
                        else:
                            row[f"n{g:g}"] += sum(truth)
                            row[f"hit{g:g}"] += sum(f and y for f, y in zip(flags, truth))
                            row[f"false{g:g}"] += sum(f and not y for f, y in zip(flags, truth))
            if verbose:
                print(f"  {name} seed {seed}: {len(versions[0][2])} turns, {len(raise_)} utterances raised", flush=True)
    return stats, cpu


def real(margins) -> dict:
    """False cues on real recordings where nobody raised their voice."""
    import soundfile as sf

    out = {}
    # the pyannote sample: the reference's turns (merged per speaker over gaps < 0.5 s), levels on one mic
    folder = EVAL / "diarization" / "pyannote_sample"
    audio, sr = sf.read(folder / "sample.wav", dtype="float32")
    audio = audio if audio.ndim == 1 else audio.mean(axis=1)
    assert sr == 16000
    segs = []
    for line in (folder / "sample.rttm").read_text().split("\n"):
        f = line.split()
        if f and f[0] == "SPEAKER":
            segs.append((f[7], float(f[3]), float(f[3]) + float(f[4])))
    turns = [(who, a, b, speech_level(audio[int(a * sr):int(b * sr)])) for who, a, b in sorted(segs, key=lambda s: s[1])]
    out["pyannote sample (2 people, 30 s)"] = (turns, len(audio) / sr)
    # LibriSpeech: each reader's 10 utterances, in order, each a turn
    lib = []
    total = 0.0
    base = EVAL / "speakers" / "librispeech"
    for reader in sorted(p.name for p in base.iterdir() if p.is_dir()):
        for f in sorted((base / reader).glob("*.flac")):
            x, _ = sf.read(f, dtype="float32")
            lib.append((reader, total, total + len(x) / 16000, speech_level(x)))
            total += len(x) / 16000
    out["LibriSpeech (6 readers, 60 utterances)"] = (lib, total)
    return {name: {m: {method: sum(decide(turns, m, method == "shared")) for method in ("own", "shared")}
                   for m in margins} | {"turns": len(turns), "seconds": secs}
            for name, (turns, secs) in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two seeds per split, no BENCHMARKS.md")
    ap.add_argument("--tune", action="store_true", help="the tuning seeds only (to choose the margin)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    need_shared()
    n = 2 if args.quick else 4
    margin = EngineSettings().raised_voice_db
    splits = [("tuning", TUNE_SEEDS[:n])] + ([] if args.tune else [("reported", REPORT_SEEDS[:n])])
    lines = []
    cpu_all = 0.0
    for split, seeds in splits:
        stats, cpu = rooms(seeds, MARGINS, args.verbose)
        cpu_all += cpu
        lines.append(f"\n**Rooms, {split} seeds {seeds[0]}-{seeds[-1]}**: own = each person against their own "
                     f"median (the engine), shared = one median for everybody (baseline); margin {margin:g} dB "
                     "unless the row says. False: ordinary turns called raised (plain scenes). Found: raised "
                     "turns called raised.\n")
        lines.append("| case | margin | method | turns | false / hour | false / 100 turns | "
                     + " | ".join(f"found at +{g:g} dB" for g in GAINS) + " |")
        lines.append("|---|---|---|---|---|---|" + "---|" * len(GAINS))
        for (name, m, method), r in stats.items():
            if split == "reported" and m != margin:
                continue
            found = " | ".join(f"{r[f'hit{g:g}']}/{r[f'n{g:g}']} ({100 * r[f'hit{g:g}'] / max(r[f'n{g:g}'], 1):.0f} %)"
                               for g in GAINS)
            lines.append(f"| {name} | {m:g} | {method} | {r['turns']} | {r['false'] / r['hours']:.1f} | "
                         f"{100 * r['false'] / max(r['turns'], 1):.1f} | {found} |")
    rec = real(MARGINS)
    lines.append("\n**Real recordings, nobody raised their voice**: turns called raised (own / shared median)\n")
    lines.append("| recording | turns | " + " | ".join(f"margin {m:g} dB" for m in MARGINS) + " |")
    lines.append("|---|---|" + "---|" * len(MARGINS))
    for name, r in rec.items():
        lines.append(f"| {name} | {r['turns']} | " + " | ".join(f"{r[m]['own']} / {r[m]['shared']}" for m in MARGINS) + " |")
    body = "\n".join(lines)
    print(body)
    if not args.quick and not args.tune:
        head = (f"### Raised voices (issue 10)\n\n{machine()}, {today()}; `python benchmarks/bench_loudness.py` "
                f"(voice loop CPU {cpu_all:.0f} s).\n\n" + __doc__.split("\n\n", 1)[1].split("\n    python")[0])
        write_section("loudness", head + "\n" + body)


if __name__ == "__main__":
    main()
