"""Spanish speech heard as Spanish (issue 11): word error rate of the multilingual model told the language,
against the English-only model a Spanish session used before.

Speech: the 20 lines of the Spanish demo dialogue (:data:`imago_voice.demo.DIALOGO_ES`) and 20 Spanish
facilitator sentences (every sixth text a Spanish dialogue session may say), each spoken by one of four
espeak-ng Spanish voices (es, es-419, es+f2, es+m3, in turn), heard as rendered and in a simulated living
room (the same room as the voice benchmark: RT60 0.5 s, 1.6 m, a fan 15 dB under the speech). This is
synthetic speech only: no recording of a real Spanish speaker was at hand, and espeak-ng's Spanish is
harder to hear than a person's, so the figures rank the models and are not what a couple will see.

Models: Whisper tiny.en (the bundled English model: what a Spanish session heard with before; English
only, it cannot be told another language), Whisper base told ``es`` (the session's way), and Whisper base
left to detect the language of each clip (the way this project does not use it). Nothing was tuned here.

    python benchmarks/bench_spanish.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_voice import in_living_room  # noqa: E402
from benchmarks.common import machine, peak_rss_mb, today, write_section  # noqa: E402
from imago_voice.demo import DIALOGO_ES, speak  # noqa: E402
from imago_voice.protocol import Engine, load_prompts  # noqa: E402
from tests.support.scoring import word_errors  # noqa: E402

VOICES = ("es", "es-419", "es+f2", "es+m3")


def sentences() -> list[str]:
    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("es", "dialogue"))
    prompts = [t for t, _ in engine.texts_ahead()][::6][:20]
    return [line.text for line in DIALOGO_ES] + prompts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="8 sentences, no BENCHMARKS.md")
    args = ap.parse_args()
    import numpy as np

    from imago_voice.transcribe import WhisperTranscriber

    texts = sentences()[:8] if args.quick else sentences()
    clips = []
    for k, text in enumerate(texts):
        audio = speak(text, VOICES[k % len(VOICES)])
        audio = (audio / (np.abs(audio).max() + 1e-9) * 0.5).astype(np.float32)
        clips.append((text, {"as spoken": audio, "living room": in_living_room(audio, 100 + k)}))
    seconds = sum(len(c["as spoken"]) for _, c in clips) / 16000
    models = {"tiny.en (before; English only)": WhisperTranscriber(language="en"),
              "base, told es (the session)": WhisperTranscriber(language="es")}
    auto = WhisperTranscriber(language="es")
    auto.language = None          # detect per clip
    models["base, language detected per clip"] = auto
    rows, worst = [], []
    for name, model in models.items():
        errors = {c: [0, 0] for c in ("as spoken", "living room")}
        t0 = time.process_time()
        for text, versions in clips:
            for cond, audio in versions.items():
                hyp = model.transcribe(audio)
                e, n = word_errors(text, hyp)
                errors[cond][0] += e
                errors[cond][1] += n
                if "told es" in name and cond == "living room" and e / max(n, 1) > 0.3:
                    worst.append((e, n, text, hyp))
        cpu = time.process_time() - t0
        rows.append((name, errors, cpu / (2 * seconds)))
        print(name, errors, flush=True)
    lines = [f"### Spanish speech (issue 11)\n\n{machine()}, {today()}; `python benchmarks/bench_spanish.py`. "
             + __doc__.split("\n\n", 1)[1].split("\n    python")[0].replace("\n", " ") + "\n",
             f"{len(texts)} sentences, {seconds:.0f} s of speech, {rows[0][1]['as spoken'][1]} words.\n",
             "| model | WER as spoken | WER in the living room | CPU per second of speech |", "|---|---|---|---|"]
    for name, errors, rtf in rows:
        cells = " | ".join(f"{100 * e / max(n, 1):.1f} % ({e}/{n})" for e, n in errors.values())
        lines.append(f"| {name} | {cells} | {rtf:.2f} s |")
    lines += ["", f"Peak memory with the three models loaded: {peak_rss_mb():.0f} MB.", "",
              "Sentences base (told es) got more than 30 % wrong in the living room:\n"]
    lines += [f"- {e}/{n}: \"{t}\" -> \"{h}\"" for e, n, t, h in worst] or ["- none"]
    body = "\n".join(lines)
    print(body)
    if not args.quick:
        write_section("spanish", body)


if __name__ == "__main__":
    main()
