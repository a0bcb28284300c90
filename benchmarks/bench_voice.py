"""The facilitator's voice (issue 11): how well its prompts are understood, and how fast they are ready.

* **Intelligibility**, as a proxy for a listener: 26 of the dialogue's prompts (every fifth text the
  engine may say, names Sam and Alex), rendered at 150 words per minute by Piper (``en_US-joe-medium``,
  the default) and by espeak-ng (the baseline, the voice before), each peak-normalised, then heard
  (a) as rendered and (b) in a simulated living room (pyroomacoustics, RT60 0.5 s, the listener 1.6 m
  from the laptop's loudspeaker, a fan's brown noise 15 dB under the speech), transcribed by Whisper
  tiny.en (the bundled model, beam 5): word error rate with the package's normaliser, digits run
  together on both sides ("1, 8 0 0" and "1-800" are the same number said). Whisper is a
  machine, not a tired person; the figure ranks the voices, it does not say how many words a person hears.
* **Speed**: per prompt, the time to the first sentence's audio and to the whole prompt, rendering
  (one onnxruntime thread, as the session does) and from the cache; rendering everything the dialogue
  may say ahead (127 texts for two people): CPU time, wall time and the cache's size on disk.

PIPER_WPM (which sets Piper's length scale so that `--rate` gives it espeak-ng's pace) was measured on 23
other prompts.

    python benchmarks/bench_voice.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, peak_rss_mb, percentile, today, write_section  # noqa: E402
from imago_voice.facilitator.cache import CachedRenderer  # noqa: E402
from imago_voice.facilitator.render import EspeakNgRenderer, make_renderer  # noqa: E402
from imago_voice.protocol import Engine, load_prompts  # noqa: E402
from tests.support.scoring import word_errors  # noqa: E402


def digits(text: str) -> str:
    """A number however it is written: "1, 8 0 0" and "1-800" both "1800"."""
    import re

    return re.sub(r"(?<=\d)[\s,.\-]+(?=\d)", "", text)


def prompts(every: int = 5) -> tuple[list[tuple[str, bool]], list[str]]:
    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"))
    texts = engine.texts_ahead()
    return texts, [t for t, _ in texts][::every]


def in_living_room(audio: np.ndarray, seed: int) -> np.ndarray:
    import pyroomacoustics as pra
    from scipy.signal import fftconvolve

    dims = [5.0, 4.0, 2.6]
    absorption, order = pra.inverse_sabine(0.5, dims)
    room = pra.ShoeBox(dims, fs=16000, materials=pra.Material(absorption), max_order=order)
    room.add_source([1.5, 2.0, 0.9])                       # the laptop on a low table
    room.add_microphone_array(np.array([[3.1, 2.1, 1.15]]).T)   # a listener's ear, seated 1.6 m away
    room.compute_rir()
    wet = fftconvolve(audio, room.rir[0][0])[: len(audio) + 8000].astype(np.float32)
    rng = np.random.default_rng(seed)
    brown = np.cumsum(rng.normal(0, 1, len(wet))).astype(np.float32)
    brown -= np.convolve(brown, np.ones(801) / 801, mode="same")   # no drift, a fan's low rumble
    speech_rms = float(np.sqrt(np.mean(wet[np.abs(wet) > 0.02 * np.abs(wet).max()] ** 2)))
    noise = brown / (np.sqrt(np.mean(brown ** 2)) + 1e-12) * speech_rms * 10 ** (-15 / 20)
    out = wet + noise
    return (out / (np.abs(out).max() + 1e-9) * 0.5).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="6 prompts, no BENCHMARKS.md")
    args = ap.parse_args()
    from imago_voice.transcribe import WhisperTranscriber

    everything, sample = prompts()
    if args.quick:
        sample = sample[:6]
    whisper = WhisperTranscriber()
    voices = {"Piper en_US-joe-medium": make_renderer("en", 150), "espeak-ng en-us (baseline)": EspeakNgRenderer("en", 150)}
    rows, speed, losses = [], [], []
    for name, voice in voices.items():
        errors = {"as rendered": [0, 0], "living room": [0, 0]}
        firsts, totals, seconds, words = [], [], 0.0, 0
        for k, text in enumerate(sample):
            t0 = time.perf_counter()
            if hasattr(voice, "parts"):
                pieces = []
                for piece in voice.parts(text):
                    if not pieces:
                        firsts.append(time.perf_counter() - t0)
                    pieces.append(piece)
                audio = np.concatenate(pieces)
            else:
                audio = voice.render(text)
                firsts.append(time.perf_counter() - t0)
            totals.append(time.perf_counter() - t0)
            seconds += len(audio) / 16000
            words += len(text.split())
            audio = (audio / (np.abs(audio).max() + 1e-9) * 0.5).astype(np.float32)
            for cond, heard in (("as rendered", audio), ("living room", in_living_room(audio, k))):
                hyp = whisper.transcribe(heard)
                e, n = word_errors(digits(text), digits(hyp))
                errors[cond][0] += e
                errors[cond][1] += n
                if e and cond == "living room":
                    losses.append((name, e, n, text, hyp))
        rows.append((name, errors, words / seconds * 60))
        speed.append((name, firsts, totals, seconds))
        print(name, errors, flush=True)

    # the cache: a hit, and everything the dialogue may say rendered ahead
    with tempfile.TemporaryDirectory() as tmp:
        cache = CachedRenderer(make_renderer("en", 150), tmp)
        todo = everything[:12] if args.quick else everything
        cpu0, wall0 = time.process_time(), time.perf_counter()
        cache.ahead(todo).join()
        ahead_wall, ahead_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        audio_s = 0.0
        hits = []
        for text, slow in todo:
            cache.rate = 0.8 if slow else 1.0
            t0 = time.perf_counter()
            audio_s += len(cache.render(text)) / 16000
            hits.append(time.perf_counter() - t0)

    lines = [f"### The facilitator's voice (issue 11)\n\n{machine()}, {today()}; `python benchmarks/bench_voice.py`.\n\n"
             + __doc__.split("\n\n", 1)[1].split("\n    python")[0] + "\n",
             f"**Intelligibility** ({len(sample)} prompts, {rows[0][1]['as rendered'][1]} words; Whisper tiny.en):\n",
             "| voice | pace (words/min) | WER as rendered | WER in the living room |", "|---|---|---|---|"]
    for name, errors, wpm in rows:
        cells = " | ".join(f"{100 * e / max(n, 1):.1f} % ({e}/{n})" for e, n in errors.values())
        lines.append(f"| {name} | {wpm:.0f} | {cells} |")
    lines += ["", "**Speed** per prompt (rendering, no cache; one thread):\n",
              "| voice | first sentence ready, median / p95 | whole prompt, median / p95 | real-time factor |",
              "|---|---|---|---|"]
    for name, firsts, totals, seconds in speed:
        lines.append(f"| {name} | {percentile(firsts, 50):.2f} / {percentile(firsts, 95):.2f} s | "
                     f"{percentile(totals, 50):.2f} / {percentile(totals, 95):.2f} s | {sum(totals) / seconds:.3f} |")
    lines += ["", f"**Cache**: a cached prompt is ready in median {1000 * percentile(hits, 50):.1f} ms "
              f"(p95 {1000 * percentile(hits, 95):.1f} ms). Rendering ahead all {len(todo)} texts the dialogue may "
              f"say for two people ({audio_s / 60:.1f} min of speech): {ahead_wall:.0f} s wall, "
              f"{ahead_cpu:.0f} s CPU, {size / 1e6:.1f} MB on disk. Peak memory of this process with the Piper "
              f"voice and Whisper loaded: {peak_rss_mb():.0f} MB.",
              "", "**What was misheard in the living room** (voice: errors/words, prompt -> heard):\n"]
    for name, e, n, text, hyp in losses:
        lines.append(f"- {name.split()[0]}: {e}/{n}, \"{text}\" -> \"{hyp}\"")
    body = "\n".join(lines)
    print(body)
    if not args.quick:
        write_section("voice", body)


if __name__ == "__main__":
    main()
