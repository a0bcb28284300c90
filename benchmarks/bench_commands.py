"""Voice commands said over a prompt, transcribed the quick way (issue 11): how many are heard, how many
other words are taken for a command, and how long each takes, beside the full pass the loop uses for
every turn (the baseline: the way commands were heard before).

Run from the project root::

    .venv/bin/python benchmarks/bench_commands.py

Clips: commands ("Stop.", "Hold on.", "Say that again." ...) and other short things people say over a
prompt ("Yes.", "That's all.", "I'm ready."), each in several voices, dry (with faint noise) and in a
living room (pyroomacoustics, RT60 0.5 s, a laptop microphone 1.5 m away, a fan 40 dB under the voice);
and the first 1.6 s of read LibriSpeech sentences (real voices, never a command). **Fixed split**: the
quick pass was tuned (its encoder input, 10 s; the loop guard) on the *tuning* voices (espeak-ng
en-us+m3, en-us+f2, en+m1, en-us+f4; LibriSpeech utterances 0000-0003, dry only); the *report* voices
(espeak-ng en-gb+m2, en-us+f3, en-gb-scotland+m4, en-029+f1, and the Piper voice en_US-joe-medium as a
natural-sounding speaker; LibriSpeech utterances 0004-0007) were run once, after the choice. Each clip
has 0.2 s of silence before it and 0.1 s after, as the loop sends it.
"""

from __future__ import annotations

import glob
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, need_shared, percentile, today, write_section  # noqa: E402

COMMANDS = ["Stop.", "Pause.", "Wait.", "Hold on.", "Repeat.", "Say that again.", "Time out.", "Slower.",
            "Stop, please.", "Wait a second."]
OTHERS = ["Yes.", "Okay.", "I think so.", "That's all.", "Sam goes first.", "I'm ready.", "Go ahead.", "Right.",
          "No.", "I would like to go first."]
TUNING = {"voices": ["en-us+m3", "en-us+f2", "en+m1", "en-us+f4"], "libri": "000[0-3]"}
REPORT = {"voices": ["en-gb+m2", "en-us+f3", "en-gb-scotland+m4", "en-029+f1", "piper"], "libri": "000[4-7]"}


def _room(audio: np.ndarray, seed: int) -> np.ndarray:
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    dims = [5.0, 4.0, 2.6]
    absorption, order = pra.inverse_sabine(0.5, dims)
    room = pra.ShoeBox(dims, fs=16000, materials=pra.Material(absorption), max_order=order)
    talker = [1.5 + rng.uniform(-0.3, 0.3), 2.0 + rng.uniform(-0.3, 0.3), 1.2]
    room.add_source(talker)
    room.add_microphone_array(np.array([[talker[0] + 1.5, talker[1], 0.8]]).T)
    room.compute_rir()
    wet = np.convolve(audio, room.rir[0][0])[: len(audio) + 8000].astype(np.float32)
    wet *= 0.3 / max(1e-6, np.abs(wet).max())
    level = np.sqrt(np.mean(wet[np.abs(wet) > 0.01] ** 2))
    fan = np.cumsum(rng.normal(0, 1, len(wet))).astype(np.float32)
    fan -= np.convolve(fan, np.ones(400) / 400, mode="same")
    fan *= level * 10 ** (-40 / 20) / max(1e-9, fan.std())
    return (wet + fan).astype(np.float32)


def clips(split: dict, eval_dir: Path, rooms: bool) -> list[tuple[str, str, str, np.ndarray]]:
    """(text or "(libri)", voice, condition, audio)."""
    import soundfile as sf

    from imago_voice.demo import speak

    piper = None
    out = []
    rng = np.random.default_rng(0)
    for voice in split["voices"]:
        for k, text in enumerate(COMMANDS + OTHERS):
            if voice == "piper":
                if piper is None:
                    from imago_voice.facilitator.render import make_renderer

                    piper = make_renderer("en", 160, "joe")
                audio = piper.render(text)
                loud = np.flatnonzero(np.abs(audio) > 1e-3)
                audio = audio[loud[0]:loud[-1] + 1]
            else:
                audio = speak(text, voice)
            out.append((text, voice, "dry", audio + rng.normal(0, 1e-3, audio.shape).astype(np.float32)))
            if rooms:
                out.append((text, voice, "room", _room(audio, k)))
    for k, f in enumerate(sorted(glob.glob(str(eval_dir / "speakers/librispeech/*" / f"*-{split['libri']}.flac")))):
        audio, sr = sf.read(f, dtype="float32")
        audio = audio[: int(1.6 * sr)]
        out.append(("(libri)", Path(f).stem, "dry", audio))
        if rooms:
            out.append(("(libri)", Path(f).stem, "room", _room(audio, 100 + k)))
    return out


def score(name: str, fn, data, vocab) -> dict:
    from imago_voice.protocol.intents import recognize_command

    lead, tail = np.zeros(3200, np.float32), np.zeros(1600, np.float32)
    fn(np.concatenate([lead, data[0][3], tail]))     # warm
    times, right, said, false, others, misses, wrong = [], 0, 0, 0, 0, [], []
    for text, voice, cond, audio in data:
        t0 = time.perf_counter()
        heard = fn(np.concatenate([lead, audio, tail]))
        times.append(time.perf_counter() - t0)
        want = None if text == "(libri)" else recognize_command(text, vocab, over_prompt=True)
        got = recognize_command(heard, vocab, over_prompt=True)
        if want is not None:
            said += 1
            if got == want:
                right += 1
            else:
                misses.append(f"{text} ({voice}, {cond}) heard as \"{heard}\"")
        else:
            others += 1
            if got is not None:
                false += 1
                wrong.append(f"{text} ({voice}, {cond}) heard as \"{heard}\": {got}")
    return {"name": name, "right": right, "said": said, "false": false, "others": others,
            "median": float(np.median(times)), "p90": percentile(times, 90), "misses": misses, "wrong": wrong}


def main() -> int:
    eval_dir = need_shared()
    from imago_voice.protocol.intents import load_vocabulary
    from imago_voice.transcribe import WhisperTranscriber

    vocab = load_vocabulary("en")
    whisper = WhisperTranscriber()
    methods = [("full pass (baseline: beam 5, 30 s input)", whisper.transcribe),
               ("quick pass (greedy, 10 s input, loop guard)", whisper.transcribe_short)]
    lines = ["## Voice commands over a prompt, the quick way (issue 11)", "",
             f"Measured {today()} on {machine()}; `benchmarks/bench_commands.py`, Whisper tiny.en (int8). "
             + next(p for p in __doc__.split("\n\n") if p.startswith("Clips")).replace("\n", " "), ""]
    for label, split, rooms in (("report voices", REPORT, True), ("tuning voices", TUNING, False)):
        data = clips(split, eval_dir, rooms)
        lines += [f"### {label} ({', '.join(split['voices'])}; {'dry and living room' if rooms else 'dry'})", "",
                  "| method | commands heard | other speech taken for a command | time per clip, median / p90 |",
                  "|---|---|---|---|"]
        results = [score(name, fn, data, vocab) for name, fn in methods]
        for r in results:
            lines.append(f"| {r['name']} | {r['right']} / {r['said']} ({100 * r['right'] / r['said']:.0f} %) | "
                         f"{r['false']} / {r['others']} | {1000 * r['median']:.0f} / {1000 * r['p90']:.0f} ms |")
        lines.append("")
        for r in results:
            if r["misses"] or r["wrong"]:
                lines.append(f"What the {r['name'].split(' (')[0]} lost: " + "; ".join(r["misses"] + r["wrong"]) + ".")
                lines.append("")
        print("\n".join(lines[-(len(results) + 6):]), flush=True)
    write_section("commands", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
