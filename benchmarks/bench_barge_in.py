"""Barge-in, live (issue 11): a command said over the opening prompt, through a PulseAudio null sink that
carries both the facilitator's voice and the microphone (a laptop's speakers and built-in microphone).

Run from the project root::

    .venv/bin/python benchmarks/bench_barge_in.py [--quick]

Each case starts ``imago-voice session --names Sam,Alex --barge-in --log`` and plays one espeak-ng command
(two voices, two levels) 4 s into the opening; from the session's log: whether the command was acted on
over the prompt, its reaction (from the end of the words, as the speech detector put it, to the moment
the player was told to stop; the 50 ms fade and the device's latency come on top), and how many
leftovers of the facilitator's echo were taken as turns. Baseline: the same case with ``--no-barge-in``
(the microphone is deaf while a prompt plays, as before this issue). Needs PulseAudio (``scripts/setup.sh``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = [(w, v, g) for w in ("Stop.", "Pause.", "Wait.", "Hold on.") for v in ("en-us+m3", "en-us+f2") for g in (1.0,)]
CASES += [("Pause.", "en-us+m3", 0.5), ("Wait.", "en-us+f2", 0.5)]


def one(env, folder: pathlib.Path, word: str, voice: str, gain: float, barge_in: bool) -> dict:
    import soundfile as sf

    from imago_voice.demo import speak

    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "first-session-notice-given").write_text("bench\n")
    sf.write(folder / "said.wav", speak(word, voice) * gain, 16000)
    log = folder / "log.json"
    log.unlink(missing_ok=True)
    run_env = dict(env, IMAGO_VOICE_DATA=str(data))
    proc = subprocess.Popen([sys.executable, "-m", "imago_voice.cli", "session", "--names", "Sam,Alex", "--log",
                             str(log), "--seconds", "25", "--no-learn-voices", "--barge-in" if barge_in else "--no-barge-in"],
                            env=run_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    first = threading.Event()

    def read():
        for _ in proc.stdout:
            first.set()

    threading.Thread(target=read, daemon=True).start()
    first.wait(120)
    time.sleep(4.0)
    subprocess.run(["paplay", str(folder / "said.wav")], env=run_env, check=True)
    proc.wait(timeout=120)
    doc = json.loads(log.read_text())
    barge = doc.get("barge_ins") or []
    return {"heard": bool(barge), "command": barge[0]["command"] if barge else None,
            "reaction": barge[0]["stopped_at"] - barge[0]["said_until"] if barge else None,
            # the command is the one turn expected ("wait" is not one: the engine is not told of it)
            "echo_turns": len(doc["turns"]) - (1 if barge and barge[0]["command"] != "wait" else 0),
            "turns": doc["turns"], "prompts_cut": [p for p in doc.get("prompts", []) if p.get("cut")]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="four cases, no baseline")
    args = ap.parse_args(argv)
    from tests.support.virtual_audio import null_sink, pulse_available

    if not pulse_available():
        print("SKIP: PulseAudio is not installed (scripts/setup.sh installs it as root).")
        return 0
    from imago_voice.paths import models_dir

    cases = CASES[:4] if args.quick else CASES
    print(f"# Barge-in, live ({_dt.datetime.now():%Y-%m-%d %H:%M}); {os.cpu_count()} cores, Python "
          f"{platform.python_version()}\n")
    rows = []
    with null_sink() as env, tempfile.TemporaryDirectory() as tmp:
        env = dict(env, IMAGO_VOICE_MODELS=str(models_dir()))
        for k, (word, voice, gain) in enumerate(cases):
            r = one(env, pathlib.Path(tmp) / f"c{k}", word, voice, gain, True)
            base = one(env, pathlib.Path(tmp) / f"b{k}", word, voice, gain, False) if not args.quick and k % 3 == 0 \
                else None
            rows.append((word, voice, gain, r, base))
            reaction = "-" if r["reaction"] is None else f"{r['reaction']:.2f} s"
            print(f"  {word:9s} {voice:9s} x{gain:<4g} heard {r['heard']!s:5s} as {r['command']!s:6s} reaction "
                  f"{reaction}  echo turns {r['echo_turns']}"
                  + (f"  | baseline: heard {base['heard']}, echo turns {base['echo_turns']}" if base else ""),
                  flush=True)
    reactions = np.array([r["reaction"] for *_, r, _ in rows if r["reaction"] is not None])
    heard = sum(r["heard"] for *_, r, _ in rows)
    bases = [b for *_, b in rows if b is not None]
    print(f"\ncommands acted on over the prompt: {heard} of {len(rows)} (baseline, deaf while it talks: "
          f"{sum(b['heard'] for b in bases)} of {len(bases)})")
    if len(reactions):
        print(f"reaction from the end of the words: median {np.median(reactions):.2f} s, "
              f"p90 {np.percentile(reactions, 90):.2f} s, worst {reactions.max():.2f} s")
    print(f"echo leftovers taken as turns: {sum(r['echo_turns'] for *_, r, _ in rows)} in {len(rows)} sessions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
