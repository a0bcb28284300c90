"""Facilitator benchmark (issue 4): a simulated couple through the live path, for about 20 minutes.

    .venv/bin/python benchmarks/bench_session.py [--chunks 14]

Two espeak-ng voices answer when the facilitator hands them the floor; the partners and the facilitator
all play into a PulseAudio null sink whose monitor is the microphone. Measured: time from the end of a
partner's line to the start of the next prompt (median, p95), and the session process's CPU and memory.
Needs no ../shared data (the voices are synthesized), so it always runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, machine, percentile, today, write_section

from imago_voice.demo import DIALOGUE_VOICES
from tests.support.couple import CONSENT_LINES, LiveCouple, long_dialogue, session_voice
from tests.support.virtual_audio import null_sink


def watch(pid: int, samples: list, stop: threading.Event) -> None:
    import os

    tck = os.sysconf("SC_CLK_TCK")
    while not stop.is_set():
        try:
            rss = hwm = 0.0
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = float(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm = float(line.split()[1]) / 1024
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            samples.append((time.monotonic(), rss, hwm, (int(f[11]) + int(f[12])) / tck))
        except (OSError, IndexError, ValueError):
            return
        stop.wait(1.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=14, help="chunks each partner sends (14: about 20 minutes)")
    ap.add_argument("--rate", type=int, default=150)
    ap.add_argument("--voice", help="the facilitator's voice (default: the session's default, Piper for English)")
    ap.add_argument("--barge-in", action="store_true",
                    help="the session listens while it talks (its own section of BENCHMARKS.md)")
    args = ap.parse_args()
    script = CONSENT_LINES + long_dialogue(args.chunks)   # a log is kept, so the session first asks for consent
    with tempfile.TemporaryDirectory() as tmp, null_sink() as env:
        voice = session_voice(env, args.rate, args.voice)   # the session's own voice, read from its cache
        voice_name = f"{type(voice.inner).__name__.replace('Renderer', '')} {getattr(voice.inner, 'voice', '')}"
        couple = LiveCouple(script, DIALOGUE_VOICES, tmp, env, renderer=voice)
        log = Path(tmp) / "session.json"
        began = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "imago_voice.cli", "session", "--channel", "Sam=0",
                                 "--channel", "Alex=1", "--rate", str(args.rate), "--log", str(log),
                                 "--seconds", str(60 * 60), *(["--voice", args.voice] if args.voice else []),
                                 "--barge-in" if args.barge_in else "--no-barge-in"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        samples: list = []
        stop = threading.Event()
        threading.Thread(target=watch, args=(proc.pid, samples, stop), daemon=True).start()
        couple.run(proc.stdout, deadline=time.monotonic() + 3 * 3600)
        proc.wait(timeout=300)
        stop.set()
        elapsed = time.monotonic() - began
        doc = json.loads(log.read_text())
    waits = [b - a for a, b in couple.answered if b is not None]
    t0, t1 = samples[0], samples[-1]
    cpu = (t1[3] - t0[3]) / max(t1[0] - t0[0], 1e-9)
    rss = [s[1] for s in samples]
    steps = [s["step"] for s in doc["steps"]]
    # turns that began while a prompt was playing: the couple answers after the prompts, so these are the
    # facilitator's own voice taken for a turn (listening while it talks) or a line said over a prompt
    during = sum(any(p["at"] <= t["start"] < (p.get("end") or p["at"]) for p in doc["prompts"]) for t in doc["turns"])
    title = "Facilitator, live, listening while it talks (`--barge-in`, issue 11)" if args.barge_in \
        else "Facilitator, live (issue 4)"
    body = (f"## {title}\n\nMeasured {today()} on {machine()}. A simulated couple (espeak-ng voices "
            f"`{DIALOGUE_VOICES['Sam']}` and `{DIALOGUE_VOICES['Alex']}`, one microphone channel each with the other "
            f"at −10 dB) answered the facilitator through a PulseAudio null sink, which also carried the "
            f"facilitator's own prompts ({voice_name} at {args.rate} wpm, rendered ahead and cached); `imago-voice session` listened to its "
            f"monitor through PortAudio with tiny.en transcription and 1.0 s of silence ending a turn (pauses "
            f"under 1 s never end a turn).\n\n"
            f"- Session: {elapsed / 60:.1f} minutes, {len(script)} partner lines, {len(doc['turns'])} turns heard, "
            f"{len(steps)} steps ({steps.count('send')} sends, {steps.count('mirror')} mirrors, ended: {doc['ended']}), "
            f"{len(doc['prompts'])} prompts, {doc['echoes_discarded']} echoes of prompts discarded, "
            f"{doc['stats']['input_overflows']} input overflows, {couple.repeated} partner lines said again because "
            f"the facilitator asked again; {during} turns began while a prompt was playing; "
            f"{len(doc.get('barge_ins') or [])} prompts stopped by a voice command heard over them (nobody says "
            f"one: any is the facilitator's own voice taken for a command).\n"
            f"- End of a partner's line to the start of the next prompt, over {len(waits)} answers: "
            f"**median {percentile(waits, 50):.2f} s, p95 {percentile(waits, 95):.2f} s** (target: median ≤ 1.2 s).\n"
            f"- The session process: CPU {cpu * 100:.0f} % of one core on average; RSS median "
            f"{percentile(rss, 50):.0f} MB, peak {max(s[2] for s in samples):.0f} MB.")
    print(body)
    write_section("session-barge-in" if args.barge_in else "session", body)


if __name__ == "__main__":
    main()
