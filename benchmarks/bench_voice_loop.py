"""Voice-loop benchmarks (issue 2) on ../shared/eval; figures go to BENCHMARKS.md.

    .venv/bin/python benchmarks/bench_voice_loop.py                 # everything, live run of 10 minutes
    .venv/bin/python benchmarks/bench_voice_loop.py --live-minutes 0  # without the live run

Parts: WER of the loop vs faster-whisper called per utterance; channel attribution on
channels/stereo_diarization.wav and on crosstalk mixes built from LibriSpeech speakers; latency from the
end-of-turn decision to the transcript (real-time paced replay), real-time factor, peak RSS; input
overflows, latency and memory in a live run through a PulseAudio null sink.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import EVAL, ROOT, machine, need_shared, peak_rss_mb, percentile, run_loop, today, write_section

from imago_voice.audio import SAMPLE_RATE, load_audio
from imago_voice.speakers.channels import ChannelMap
from imago_voice.ledger import balance
from imago_voice.loop import VoiceLoop
from tests.support.scoring import attribution, share_error, wer
from imago_voice.audio.sources import FileSource
from imago_voice.transcribe import WhisperTranscriber


def trim(x: np.ndarray, below_peak_db: float = 40.0) -> tuple[int, int]:
    """First and last sample of a clip's speech (frames within ``below_peak_db`` of its loudest)."""
    n = 160
    frames = x[: len(x) // n * n].reshape(-1, n)
    p = 10 * np.log10((frames ** 2).mean(axis=1) + 1e-12)
    on = np.flatnonzero(p > p.max() - below_peak_db)
    return int(on[0] * n), int((on[-1] + 1) * n)


def librispeech() -> dict[str, list[np.ndarray]]:
    root = EVAL / "speakers" / "librispeech"
    out = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        clips = []
        for f in sorted(d.glob("*.flac")):
            x = load_audio(f)[:, 0]
            a, b = trim(x)
            clips.append(x[a:b])
        out[d.name] = clips
    return out


def voiced_spans(x: np.ndarray, offset: float, bridge: float = 1.0, below_peak_db: float = 40.0):
    """Where a dry clip has speech: 10 ms frames within 40 dB of its peak, gaps shorter than ``bridge`` joined.

    LibriSpeech readers pause for breath and effect, sometimes over a second; a pause that long ends a turn
    in the product, so the reference does the same.
    """
    n = 160
    frames = x[: len(x) // n * n].reshape(-1, n)
    p = 10 * np.log10((frames ** 2).mean(axis=1) + 1e-12)
    on = np.flatnonzero(p > p.max() - below_peak_db)
    spans, start, last = [], on[0], on[0]
    for k in on[1:]:
        if (k - last - 1) * n / SAMPLE_RATE >= bridge:
            spans.append((offset + start * n / SAMPLE_RATE, offset + (last + 1) * n / SAMPLE_RATE))
            start = k
        last = k
    spans.append((offset + start * n / SAMPLE_RATE, offset + (last + 1) * n / SAMPLE_RATE))
    return spans


def mix(turns: list[tuple[int, np.ndarray]], people: int, rng, *, crosstalk=(-12.0, -6.0), noise_db=-55.0,
        boost: int | None = 0, boost_db=10.0, gap=(0.8, 1.5), lead=1.0):
    """Channel k = person k's voice + the others' at a random −6..−12 dB per pair + noise; one channel +10 dB."""
    t = lead
    spans = []
    for who, clip in turns:
        spans.append((who, t, t + len(clip) / SAMPLE_RATE))
        t += len(clip) / SAMPLE_RATE + rng.uniform(*gap)
    n = int((t + 1.0) * SAMPLE_RATE)
    dry = np.zeros((n, people), np.float32)
    for (who, s, _), (_, clip) in zip(spans, turns):
        a = int(s * SAMPLE_RATE)
        dry[a:a + len(clip), who] += clip
    coupling = 10 ** (rng.uniform(*crosstalk, size=(people, people)) / 20)
    np.fill_diagonal(coupling, 1.0)
    wet = dry @ coupling  # wet[:, j] = sum_i dry[:, i] * coupling[i, j]
    wet += rng.normal(0, 10 ** (noise_db / 20), wet.shape)
    if boost is not None:
        wet[:, boost] *= 10 ** (boost_db / 20)
    # reference: who speaks when, from each dry clip (pauses of 1 s or more inside an utterance excluded)
    truth = [(who, a, b) for (who, s, _), (_, clip) in zip(spans, turns) for a, b in voiced_spans(clip, s)]
    return np.clip(wet, -1, 1).astype(np.float32), truth


def part_wer(model: WhisperTranscriber) -> str:
    rows = []
    sets = {"LibriVox (1 reader, 5 utterances)": sorted((EVAL / "wer" / "librivox").glob("*.wav"))}
    misc = EVAL / "wer" / "misc"
    refs_misc = {}
    for line in (misc / "REFERENCE_TRANSCRIPTS.txt").read_text().splitlines():
        if line and not line.startswith("#") and "\t" in line:
            name, text = line.split("\t", 1)
            refs_misc[name] = text
    sets["misc (3 speakers, 3 utterances)"] = [misc / n for n in ("LDC93S1.wav", "arctic_a0024.wav", "61-70968-0002.wav")]
    for label, files in sets.items():
        refs = [(f.with_suffix(".txt").read_text().strip() if f.with_suffix(".txt").exists() else refs_misc[f.name])
                for f in files]
        clips = [load_audio(f).mean(axis=1) for f in files]
        t = time.monotonic()
        direct = [model.transcribe(c) for c in clips]
        t_direct = time.monotonic() - t
        pause = np.zeros(int(1.5 * SAMPLE_RATE), np.float32)
        joined = np.concatenate([pause] + [x for c in clips for x in (c, pause)])
        loop = VoiceLoop(transcriber=model)
        t = time.monotonic()
        turns = [e for e in loop.run(FileSource("joined.wav", data=joined[:, None])) if hasattr(e, "text")]
        t_loop = time.monotonic() - t
        w_direct, w_loop = wer(refs, direct), wer([" ".join(refs)], [" ".join(x.text or "" for x in turns)])
        dur = len(joined) / SAMPLE_RATE
        rows.append(f"| {label} | {len(turns)} / {len(files)} | {w_loop * 100:.1f} % | {w_direct * 100:.1f} % | "
                    f"{(w_loop / w_direct if w_direct else float('nan')):.2f}× | {t_loop / dur:.3f} | "
                    f"{t_direct / (dur - len(pause) * (len(files) + 1) / SAMPLE_RATE):.3f} |")
        print(rows[-1], flush=True)
    return ("### Word error rate: the loop vs faster-whisper per utterance\n\n"
            "Utterances joined with 1.5 s pauses and run through the loop (VAD, turns, chunked transcription), "
            "against the same model called directly on each utterance (target: ≤ 1.1× that).\n\n"
            "| recording | turns found | WER loop | WER direct | ratio | RTF loop | RTF direct |\n|---|---|---|---|---|---|---|\n"
            + "\n".join(rows))


def part_channels(lib: dict[str, list[np.ndarray]], model: WhisperTranscriber) -> str:
    lines = ["### Channel mode: who is speaking, one microphone per person", ""]
    # the real stereo file: one person per channel, talking over each other
    path = EVAL / "channels" / "stereo_diarization.wav"
    refs = {}
    for line in (EVAL / "channels" / "REFERENCE_TRANSCRIPTS.txt").read_text().splitlines():
        if line.startswith("stereo_diarization.wav"):
            _, side, text = line.split("\t")
            refs["L" if side.startswith("LEFT") else "R"] = text
    loop = VoiceLoop(channels=ChannelMap(("L", "R"), (0, 1)), transcriber=model)
    turns = [e for e in loop.run(FileSource(path)) if hasattr(e, "text")]
    said = {n: " ".join(t.text or "" for t in turns if t.speaker == n) for n in ("L", "R")}
    lines.append(f"`channels/stereo_diarization.wav` (real, 5 s, both talking at once for 2 s): "
                 f"{len(turns)} turns; WER of each person's text against their channel's reference: "
                 f"L {wer([refs['L']], [said['L']]) * 100:.1f} %, R {wer([refs['R']], [said['R']]) * 100:.1f} %; "
                 f"overlap found: {sum(1 for _ in [0] if any(a.speaker != b.speaker and a.start < b.end and b.start < a.end for a in turns for b in turns))} "
                 "(the two readings overlap from 0.3 s to 2.5 s).")
    print(lines[-1], flush=True)
    lines += ["", "Crosstalk mixes from LibriSpeech speakers (utterances alternating with 0.8–1.5 s gaps; each "
              "channel = own voice + every other voice at a random −6 to −12 dB per pair + noise at −55 dBFS; "
              "one channel with 10 dB more gain). Reference speech: each clip's voiced stretches, with pauses of 1 s "
              "or more (which end a turn) left out. Targets: attribution ≥ 97 % of speech time, share error ≤ 3 points.",
              "", "| people | speakers | speech | attribution | share error (points) | turns found / reference |",
              "|---|---|---|---|---|---|"]
    rng = np.random.default_rng(7)
    spk = list(lib)
    configs = [[spk[0], spk[1]], [spk[2], spk[4]], [spk[3], spk[5]], [spk[1], spk[4]],
               spk[:4], spk[2:]]
    worst_attr, worst_share = 1.0, 0.0
    for people in configs:
        order = []
        for rnd in range(10 if len(people) == 2 else 5):
            for p_i, name in enumerate(people):
                order.append((p_i, lib[name][(rnd + p_i) % len(lib[name])]))
        audio, spans = mix(order, len(people), rng, boost=int(rng.integers(len(people))))
        names = tuple(people)
        loop = VoiceLoop(channels=ChannelMap(names, tuple(range(len(names)))))
        loop_turns, _ = run_loop(loop, FileSource("mix.wav", data=audio))
        truth = [(names[w], s, e) for w, s, e in spans]
        acc = attribution(truth, loop_turns)
        rows = balance(loop_turns, names)
        err = share_error(truth, {n: r.share for n, r in rows.items()})
        worst_attr, worst_share = min(worst_attr, acc), max(worst_share, err)
        speech = sum(e - s for _, s, e in truth)
        lines.append(f"| {len(people)} | {', '.join(people)} | {speech:.0f} s | {acc * 100:.1f} % | {err * 100:.2f} | "
                     f"{len(loop_turns)} / {len(truth)} |")
        print(lines[-1], flush=True)
    lines.append(f"\nWorst case: attribution {worst_attr * 100:.1f} %, share error {worst_share * 100:.2f} points.")
    return "\n".join(lines)


def conversation_2_15(lib, rng, n_turns=24):
    a, b = list(lib)[0], list(lib)[4]
    pool = [(0, c) for c in lib[a] if 2 <= len(c) / SAMPLE_RATE <= 15] + \
           [(1, c) for c in lib[b] if 2 <= len(c) / SAMPLE_RATE <= 15]
    zero = [p for p in pool if p[0] == 0]
    one = [p for p in pool if p[1] is not None and p[0] == 1]
    order = [x for pair in zip(zero, one) for x in pair][:n_turns]
    return mix(order, 2, rng, boost=None, gap=(1.2, 1.8)), (a, b)


def part_latency(lib, model: WhisperTranscriber) -> str:
    rng = np.random.default_rng(11)
    (audio, spans), names = conversation_2_15(lib, rng)
    dur = len(audio) / SAMPLE_RATE
    loop = VoiceLoop(channels=ChannelMap(("A", "B"), (0, 1)), transcriber=model)
    t = time.monotonic()
    list(loop.run(FileSource("conv.wav", data=audio)))
    rtf = (time.monotonic() - t) / dur
    loop_rt = VoiceLoop(channels=ChannelMap(("A", "B"), (0, 1)), transcriber=model)
    list(loop_rt.run(FileSource("conv.wav", data=audio, realtime=True)))
    lat = [tm.latency for tm in loop_rt.timings if 2.0 <= tm.turn.end - tm.turn.start <= 15.5]
    lens = [tm.turn.end - tm.turn.start for tm in loop_rt.timings]
    line = (f"Real-time paced replay of a {dur:.0f} s two-person conversation ({len(loop_rt.timings)} turns of "
            f"{min(lens):.1f}–{max(lens):.1f} s, LibriSpeech speakers {names[0]} and {names[1]}, model tiny.en int8, "
            f"beam 5): latency from the end-of-turn decision (1.0 s of silence) to the turn's transcript, over "
            f"{len(lat)} turns of 2–15 s: **p50 {percentile(lat, 50):.3f} s, p95 {percentile(lat, 95):.3f} s, "
            f"max {max(lat):.3f} s** (target p95 ≤ 0.5 s). Real-time factor of the whole loop replayed as fast "
            f"as possible: **{rtf:.3f}**. Peak RSS of this benchmark process, which also holds every evaluation "
            f"recording and several loops at once: {peak_rss_mb():.0f} MB; the program's own peak (target ≤ 400 MB) "
            f"is measured on the `listen` process in the live run below.")
    print(line, flush=True)
    return "### Latency, real-time factor, memory\n\n" + line


def proc_stats(pid: int) -> tuple[float, float]:
    """(peak RSS MB, CPU seconds) of a running process, from /proc."""
    hwm = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = float(line.split()[1]) / 1024
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        import os

        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return hwm, float("nan")
    return hwm, cpu


def part_live(lib, minutes: float) -> str:
    import soundfile as sf

    from tests.support.virtual_audio import null_sink, pulse_available

    if not pulse_available():
        return "### Live run\n\nskipped: PulseAudio is not installed."
    rng = np.random.default_rng(5)
    (one, spans_one), names = conversation_2_15(lib, rng, n_turns=40)
    reps = max(1, int(np.ceil(minutes * 60 / (len(one) / SAMPLE_RATE))))
    audio = np.concatenate([one] * reps)[: int(minutes * 60 * SAMPLE_RATE)]
    with tempfile.TemporaryDirectory() as tmp, null_sink() as env:
        wav, out = Path(tmp) / "live.wav", Path(tmp) / "live.json"
        sf.write(wav, audio, SAMPLE_RATE)
        cmd = [sys.executable, "-m", "imago_voice.cli", "listen", "--channel", "A=0", "--channel", "B=1",
               "--seconds", f"{minutes * 60 + 4:.0f}", "--json", str(out)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        while "Listening" not in (proc.stderr.readline() or "Listening"):
            pass
        player = subprocess.Popen(["paplay", str(wav)], env=env)
        peak = cpu = 0.0
        while proc.poll() is None:
            h, c = proc_stats(proc.pid)
            peak, cpu = max(peak, h), (c if c == c else cpu)
            time.sleep(2)
        player.wait()
        if proc.returncode != 0:
            raise SystemExit(f"the live run failed: {proc.stderr.read()[-2000:]}")
        doc = json.loads(out.read_text())
    st = doc["stats"]
    lat = st["transcript_latency"]
    line = (f"{minutes:g}-minute live run: `imago-voice listen` (two channels, transcription on) reading the "
            f"monitor of a PulseAudio null sink through PortAudio while `paplay` played a two-person LibriSpeech "
            f"conversation into it: **input overflows {st['input_overflows']}** (target 0); {len(doc['turns'])} turns; "
            f"transcript latency p50 {percentile(lat, 50):.3f} s, p95 {percentile(lat, 95):.3f} s; peak RSS of the "
            f"listen process **{peak:.0f} MB**; CPU {cpu:.0f} s over {minutes * 60:.0f} s of audio "
            f"({cpu / (minutes * 60) * 100:.0f} % of one core).")
    print(line, flush=True)
    return "### Live run through a PulseAudio null sink\n\n" + line


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--live-minutes", type=float, default=10.0)
    ap.add_argument("--parts", default="wer,channels,latency,live")
    args = ap.parse_args()
    need_shared()
    parts = args.parts.split(",")
    model = WhisperTranscriber()
    lib = librispeech()
    sections = [f"## Voice loop (issue 2)\n\nMeasured {today()} on {machine()}; faster-whisper with the bundled "
                f"tiny.en (int8, beam 5), webrtcvad aggressiveness 2, 30 ms frames, 1.0 s end-of-turn silence."]
    if "wer" in parts:
        sections.append(part_wer(model))
    if "channels" in parts:
        sections.append(part_channels(lib, model))
    if "latency" in parts:
        sections.append(part_latency(lib, model))
    if "live" in parts and args.live_minutes > 0:
        sections.append(part_live(lib, args.live_minutes))
    if set(parts) >= {"wer", "channels", "latency", "live"} and args.live_minutes > 0:
        write_section("voice-loop", "\n\n".join(sections))
    elif parts == ["live"] and args.live_minutes > 0:
        replace_live(sections[-1] + f"\n\n(Live run re-measured {today()}.)")
    else:
        print("(a partial run: BENCHMARKS.md is left as it was)")


def replace_live(text: str) -> None:
    """Put a new live-run subsection into the voice-loop section of BENCHMARKS.md."""
    import re

    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text()
    new = re.sub(r"### Live run.*?(?=<!-- voice-loop:end -->)", lambda _: text.strip() + "\n", doc, flags=re.S)
    if new == doc:
        raise SystemExit("BENCHMARKS.md has no voice-loop live-run subsection to replace: run every part")
    path.write_text(new)


if __name__ == "__main__":
    main()
