"""Voices learned in the session (issue 11): how well one short sample, said when asked, tells a couple apart.

Run from the project root::

    .venv/bin/python benchmarks/bench_learn_voices.py

Real read speech (LibriSpeech, ``../shared/eval/speakers``; skipped with a message without it). For every
pair of the 6 speakers, a conversation of their utterances 0002-0009 alternating (gaps 0-0.6 s), cut into
VAD segments as the loop does, attributed with ``SpeakerIdentifier.spans`` and scored per 10 ms of speech:

* **in-session sample**: each voiceprint from the first ``--sample`` seconds (default 5) of utterance 0000
  only, what "tell me your name and one thing about your day" gives;
* **a shorter sample** (4 s; 3.5 s of some LibriSpeech openings holds under the 2 s of speech a voiceprint needs): a person who says little;
* **enrolled before** (``imago-voice enroll``): utterances 0000 and 0001 whole (about 25 s);
* **baseline**: MFCC + a 16-component GMM per person trained on the same in-session sample;
* **nothing learned** (the session before this issue): no one is named, 0 %.

Nothing here was tuned: the identifier's settings are those of issue 3.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import pathlib
import platform
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_speakers import (  # noqa: E402
    DiagGMM,
    LIBRI,
    build_conversation,
    frame_pred,
    frame_truth,
    load_librispeech,
    machine,
    mfcc,
    score_frames,
    vad_segments,
)


def _gmm_spans(models, wav, segments, names, window=1.0, hop=0.5):
    """The baseline: each 1 s window of a segment to the GMM that scores it best (spans like the identifier's)."""
    from imago_voice.speakers.identify import SpeakerSpan as Span

    spans = []
    for s0, s1 in segments:
        t = s0
        while t < s1:
            t1 = min(s1, t + window)
            clip = wav[int(t * 16000):int(t1 * 16000)]
            if len(clip) >= 4000:
                feats = mfcc(clip)
                best = int(np.argmax([m.score(feats) for m in models]))
                spans.append(Span(t, min(s1, t + hop) if t1 < s1 else t1, names[best], 0.0))
            t += hop
    return spans


def run(speakers, utts, sample: float, log=print) -> dict[str, list[float]]:
    from imago_voice.speakers import voiceprint
    from imago_voice.speakers.identify import SpeakerIdentifier

    n = int(sample * 16000)
    methods = {f"in-session sample {sample:g} s": {s: voiceprint.enroll(s, utts[s][0][:n]) for s in speakers}}
    for short in (4.0,):
        methods[f"in-session sample {short:g} s"] = {
            s: voiceprint.enroll(s, utts[s][0][:int(short * 16000)]) for s in speakers}
    methods["enrolled before (0000+0001)"] = {s: voiceprint.enroll(s, np.concatenate(utts[s][:2])) for s in speakers}
    gmms = {}
    for s in speakers:
        gmms[s] = DiagGMM().fit(mfcc(utts[s][0][:n]))
    out: dict[str, list[float]] = {m: [] for m in [*methods, f"baseline MFCC+GMM, {sample:g} s sample"]}
    weights = []
    for k, (a, b) in enumerate(itertools.combinations(speakers, 2)):
        wav, truth = build_conversation(utts[a][2:], utts[b][2:], seed=k)
        total = len(wav) / 16000
        segments = vad_segments(wav)
        weights.append(total)
        row = []
        for name, vps in methods.items():
            ident = SpeakerIdentifier([vps[a], vps[b]])
            spans = [sp for s0, s1 in segments for sp in ident.spans(wav[int(s0 * 16000):int(s1 * 16000)], start=s0)]
            lab, pred = frame_truth(truth, total, 2), frame_pred(spans, total, [a, b])
            acc, err = score_frames(np.where(pred == -2, -1, lab), pred, 2)
            out[name].append((acc, err))
            row.append(f"{acc * 100:6.2f}")
        spans = _gmm_spans([gmms[a], gmms[b]], wav, segments, [a, b])
        lab, pred = frame_truth(truth, total, 2), frame_pred(spans, total, [a, b])
        acc, err = score_frames(np.where(pred == -2, -1, lab), pred, 2)
        out[f"baseline MFCC+GMM, {sample:g} s sample"].append((acc, err))
        log(f"  {a}-{b} {total:6.1f} s  " + "  ".join(row) + f"  baseline {acc * 100:6.2f}")
    return out, weights


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=float, default=5.0, help="seconds of the in-session sample (default 5)")
    args = ap.parse_args(argv)
    if not LIBRI.is_dir():
        print(f"SKIP: the LibriSpeech recordings are not there ({LIBRI}); this benchmark needs ../shared.")
        return 0
    nproc, model = machine()
    print(f"# Voices learned in the session ({_dt.datetime.now():%Y-%m-%d %H:%M})\n")
    print(f"Machine: {nproc} cores, {model}; Python {platform.python_version()}.\n")
    speakers, utts = load_librispeech()
    print("per pair: attribution % for each method in the table's order, then the baseline")
    results, weights = run(speakers, utts, args.sample)
    w = np.array(weights)
    print("\n| method | attribution (speech time) | worst pair | talk-share error mean / worst |")
    print("|---|---|---|---|")
    print("| nothing learned (before) | 0.0 % (no one named) | 0.0 % | – |")
    for name, rows in results.items():
        acc = np.array([r[0] for r in rows])
        err = np.array([r[1] for r in rows])
        print(f"| {name} | {float(np.sum(acc * w) / w.sum()) * 100:.1f} % | {acc.min() * 100:.1f} % | "
              f"{err.mean():.1f} / {err.max():.1f} pt |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
