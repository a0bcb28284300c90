"""Speaker identification benchmark (issue 3): numpy GE2E voiceprints vs an MFCC + GMM baseline.

Run from the project root::

    .venv/bin/python benchmarks/bench_speakers.py [--quick] [--out benchmarks/results_speakers.md]

Needs ``../shared`` (relative to the project root) for the recordings; without it the benchmark says so
and exits 0. What it measures:

1. LibriSpeech window protocol: 6 speakers x 10 utterances; enroll on utterances 0000-0001, classify
   every 1.5 s and 0.75 s window of utterances 0002-0009 between the two speakers of every pair.
   Windows are cut from the preprocessed utterance (loudness-normalised, long silences trimmed, as
   Resemblyzer's own protocol does) and, harder, from the raw utterance (pauses included).
   Side by side: this package, the exact Resemblyzer recipe re-run in numpy (zero-padded partials) and
   MFCC (19 + deltas, CMN) with a 16-component diagonal GMM per speaker (numpy EM).
2. Two-person conversations: for every pair, utterances 0002-0009 alternating A, B, A, ... with gaps of
   0-0.6 s, enrolled from 0000-0001; ``SpeakerIdentifier.spans`` over the whole conversation as one
   segment (so every turn change must be found inside it), the same with every utterance cut to its
   speech and the next voice starting 0-0.1 s after the last stops ("tight"), and over VAD segments
   (WebRTC VAD, pauses under 0.5 s bridged; scored on the speech inside those segments). Scored per 10 ms of
   speech (utterance extents): attribution accuracy and talk-share error (percentage points).
3. pyannote sample (30 s, two people): enrolled from the first 5 s of each person's solo speech; spans
   over the whole recording scored on the remaining solo speech.
4. Cost: real-time factor of ``identify`` and ``spans``, time per 1.6 s partial, weight loading, and the
   latency ``spans`` adds to a 5 s turn.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import os
import pathlib
import platform
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
LIBRI = SHARED / "eval" / "speakers" / "librispeech"
PYANNOTE = SHARED / "eval" / "diarization" / "pyannote_sample"


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def load_librispeech():
    import soundfile as sf

    speakers = sorted(p.name for p in LIBRI.iterdir() if p.is_dir() and p.name.isdigit())
    utts = {}
    for spk in speakers:
        files = sorted((LIBRI / spk).glob("*.flac"))
        utts[spk] = []
        for f in files:
            wav, sr = sf.read(f, dtype="float32")
            assert sr == 16000, f
            utts[spk].append(wav)
    return speakers, utts


def cut(wav, seconds):
    n = int(round(seconds * 16000))
    return [wav[i:i + n] for i in range(0, len(wav) - n + 1, n)]


# --------------------------------------------------------------------------------------------
# MFCC + GMM baseline (numpy)
# --------------------------------------------------------------------------------------------


def mfcc(wav, n_mels=40, n_ceps=19):
    from scipy.fft import dct

    from imago_voice.speakers import features

    spec = features.power_spectrogram(wav)
    fb = features.mel_filterbank(n_mels=n_mels)
    logmel = np.log(spec @ fb.T + 1e-8)
    ceps = dct(logmel, type=2, norm="ortho", axis=1)[:, 1:n_ceps + 1]
    # deltas over +-2 frames
    pad = np.pad(ceps, ((2, 2), (0, 0)), mode="edge")
    delta = sum(k * (pad[2 + k:len(pad) - 2 + k] - pad[2 - k:len(pad) - 2 - k]) for k in (1, 2)) / 10.0
    feats = np.concatenate([ceps, delta], axis=1)
    return feats - feats.mean(axis=0)  # CMN


class DiagGMM:
    def __init__(self, n_components=16, iters=40, seed=0):
        self.k, self.iters, self.rng = n_components, iters, np.random.default_rng(seed)

    def fit(self, x):
        n, d = x.shape
        # k-means++ initialisation, a few Lloyd steps
        centres = [x[self.rng.integers(n)]]
        for _ in range(1, self.k):
            dist = np.min(((x[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
            centres.append(x[self.rng.choice(n, p=dist / dist.sum())])
        mu = np.array(centres)
        for _ in range(5):
            assign = np.argmin(((x[:, None, :] - mu[None]) ** 2).sum(-1), axis=1)
            mu = np.array([x[assign == j].mean(0) if np.any(assign == j) else mu[j] for j in range(self.k)])
        var_floor = 1e-3 * x.var(axis=0)
        var = np.tile(x.var(axis=0), (self.k, 1))
        w = np.full(self.k, 1.0 / self.k)
        for _ in range(self.iters):
            logp = self._log_joint(x, w, mu, var)
            norm = np.logaddexp.reduce(logp, axis=1, keepdims=True)
            r = np.exp(logp - norm)
            nk = r.sum(0) + 1e-10
            w = nk / n
            mu = (r.T @ x) / nk[:, None]
            var = np.maximum((r.T @ (x * x)) / nk[:, None] - mu * mu, var_floor)
        self.w, self.mu, self.var = w, mu, var
        return self

    @staticmethod
    def _log_joint(x, w, mu, var):
        inv = 1.0 / var
        quad = (x * x) @ inv.T - 2 * x @ (mu * inv).T + (mu * mu * inv).sum(1)
        return np.log(w) - 0.5 * (np.log(2 * np.pi * var).sum(1) + quad)

    def score(self, x):
        return float(np.mean(np.logaddexp.reduce(self._log_joint(x, self.w, self.mu, self.var), axis=1)))


# --------------------------------------------------------------------------------------------
# 1. window protocol
# --------------------------------------------------------------------------------------------


def pair_accuracy(scores, labels, speakers):
    """scores (n_windows, n_speakers), labels: speaker index per window -> accuracy over every pair."""
    ok = total = 0
    for a, b in itertools.combinations(range(len(speakers)), 2):
        for i in np.flatnonzero((labels == a) | (labels == b)):
            pred = a if scores[i, a] > scores[i, b] else b
            ok += pred == labels[i]
            total += 1
    return ok / total, total


def window_protocol(speakers, utts, seconds_list=(1.5, 0.75), log=print):
    from imago_voice.speakers import encoder, voiceprint
    from tests.support.speakers import embed_utterance, preprocess

    enc = encoder.get_encoder()
    rows = []
    enroll_audio = {s: np.concatenate(utts[s][:2]) for s in speakers}
    t0 = time.perf_counter()
    vps = [voiceprint.enroll(s, enroll_audio[s]) for s in speakers]
    enroll_time = time.perf_counter() - t0
    ours_ref = np.stack([vp.vector for vp in vps])
    # Resemblyzer's recipe: embed_speaker over the two utterances, partials at 1.3/s, zero-padded
    resem_ref = np.stack([
        encoder.l2_normalise(np.mean([embed_utterance(enc, preprocess(u)) for u in utts[s][:2]], axis=0))
        for s in speakers])
    gmms = [DiagGMM().fit(np.concatenate([mfcc(preprocess(u)) for u in utts[s][:2]])) for s in speakers]
    for seconds in seconds_list:
        for source in ("preprocessed", "raw"):
            windows, labels = [], []
            for i, s in enumerate(speakers):
                for u in utts[s][2:]:
                    for w in cut(preprocess(u) if source == "preprocessed" else u, seconds):
                        windows.append(w)
                        labels.append(i)
            labels = np.array(labels)
            t = time.perf_counter()
            ours = np.stack([voiceprint.embed(w)[0] for w in windows]) @ ours_ref.T
            t_ours = (time.perf_counter() - t) / len(windows)
            resem = np.stack([embed_utterance(enc, preprocess(w) if source == "raw" else w)
                              for w in windows]) @ resem_ref.T
            t = time.perf_counter()
            gmm = np.array([[g.score(mfcc(w)) for g in gmms] for w in windows])
            t_gmm = (time.perf_counter() - t) / len(windows)
            for method, sc, cost in (("imago_voice (numpy GE2E)", ours, t_ours),
                                     ("Resemblyzer recipe in numpy (zero-padded)", resem, None),
                                     ("MFCC + 16-GMM baseline", gmm, t_gmm)):
                acc, n = pair_accuracy(sc, labels, speakers)
                rows.append((seconds, source, method, acc, n, len(windows), cost))
                log(f"  {seconds:>4} s {source:12s} {method:42s} {acc * 100:6.2f} %  ({n} decisions)")
    return rows, enroll_time


def open_set(speakers, utts, threshold=None):
    """Enroll each pair, present whole utterances of all six speakers: rejections and acceptances."""
    from imago_voice.speakers import voiceprint
    from imago_voice.speakers import identify as identify_mod

    vps = {s: voiceprint.enroll(s, np.concatenate(utts[s][:2])) for s in speakers}
    embs = {s: [voiceprint.embed(u)[0] for u in utts[s][2:]] for s in speakers}
    thr = identify_mod.DEFAULT_THRESHOLD if threshold is None else threshold
    false_reject = false_accept = n_own = n_other = 0
    for a, b in itertools.combinations(speakers, 2):
        m = np.stack([vps[a].vector, vps[b].vector])
        for s in speakers:
            for e in embs[s]:
                best = float(np.max(m @ e))
                if s in (a, b):
                    n_own += 1
                    false_reject += best < thr
                else:
                    n_other += 1
                    false_accept += best >= thr
    return false_reject / n_own, false_accept / n_other, n_own, n_other


# --------------------------------------------------------------------------------------------
# 2. conversations
# --------------------------------------------------------------------------------------------


def speech_extent(wav):
    """(first, last) second of detected speech in an utterance (its leading/trailing silence cut)."""
    from imago_voice.speakers import features

    flags = np.flatnonzero(features.vad_flags(features.normalize_volume(wav), mode=2))
    if len(flags) == 0:
        return 0.0, len(wav) / 16000
    return flags[0] * 0.03, min(len(wav) / 16000, (flags[-1] + 1) * 0.03)


def build_conversation(a_utts, b_utts, seed=0, max_gap=0.6, tight=False):
    """Alternating utterances; truth = (start, end, who) of each utterance's speech (edges trimmed).

    ``tight``: each utterance is first cut to its speech and the next starts 0-0.1 s after it ends
    ("one starts as the other stops").
    """
    rng = np.random.default_rng(seed)
    if tight:
        max_gap = 0.1
        trim = []
        for u in (a_utts, b_utts):
            trim.append([w[int(speech_extent(w)[0] * 16000):int(speech_extent(w)[1] * 16000)] for w in u])
        a_utts, b_utts = trim
    parts, truth, pos = [], [], 0
    order = []
    for i in range(max(len(a_utts), len(b_utts))):
        if i < len(a_utts):
            order.append((0, a_utts[i]))
        if i < len(b_utts):
            order.append((1, b_utts[i]))
    for k, (who, wav) in enumerate(order):
        if k:
            gap = int(rng.uniform(0.0, max_gap) * 16000)
            parts.append(np.zeros(gap, dtype=np.float32))
            pos += gap
        parts.append(wav.astype(np.float32))
        first, last = speech_extent(wav)
        truth.append((pos / 16000 + first, pos / 16000 + last, who))
        pos += len(wav)
    return np.concatenate(parts), truth


def vad_segments(wav, min_gap=0.5, pad=0.2):
    """Speech segments the way a pipeline would cut them: WebRTC VAD, pauses < min_gap bridged."""
    from imago_voice.speakers import features

    flags = features.vad_flags(features.normalize_volume(wav), mode=0)
    step = 0.03
    segs = []
    for i in np.flatnonzero(flags):
        t = i * step
        if segs and t - segs[-1][1] < min_gap:
            segs[-1][1] = t + step
        else:
            segs.append([t, t + step])
    total = len(wav) / 16000
    return [(max(0.0, a - pad), min(total, b + pad)) for a, b in segs]


def frame_truth(truth, total, n_people):
    n = int(round(total * 100))
    lab = np.full(n, -1)
    for a, b, who in truth:
        lab[int(round(a * 100)):int(round(b * 100))] = who
    return lab


def frame_pred(spans, total, names):
    n = int(round(total * 100))
    pred = np.full(n, -2)  # -2 = not covered, -1 = nobody
    for sp in spans:
        pred[int(round(sp.start * 100)):int(round(sp.end * 100))] = (
            names.index(sp.speaker) if sp.speaker is not None else -1)
    return pred


def score_frames(lab, pred, n_people):
    speech = lab >= 0
    acc = float(np.mean(pred[speech] == lab[speech]))
    true_share = np.array([np.mean(lab[speech] == k) for k in range(n_people)])
    pred_counts = np.array([np.sum(pred[speech] == k) for k in range(n_people)], dtype=float)
    pred_share = pred_counts / max(pred_counts.sum(), 1.0)
    return acc, float(np.max(np.abs(true_share - pred_share)) * 100)


def conversations(speakers, utts, log=print, modes=("whole", "vad"), **ident_kw):
    from imago_voice.speakers import voiceprint
    from imago_voice.speakers import identify as identify_mod

    vps = {s: voiceprint.enroll(s, np.concatenate(utts[s][:2])) for s in speakers}
    results = {m: [] for m in modes}
    audio_seconds = 0.0
    spent = 0.0
    for k, (a, b) in enumerate(itertools.combinations(speakers, 2)):
        for mode in modes:
            wav, truth = build_conversation(utts[a][2:], utts[b][2:], seed=k, tight=mode == "tight")
            total = len(wav) / 16000
            lab = frame_truth(truth, total, 2)
            ident = identify_mod.SpeakerIdentifier([vps[a], vps[b]], **ident_kw)
            t = time.perf_counter()
            if mode in ("whole", "tight"):
                spans = ident.spans(wav, start=0.0)
            else:
                spans = []
                for s0, s1 in vad_segments(wav):
                    spans += ident.spans(wav[int(s0 * 16000):int(s1 * 16000)], start=s0)
            spent += time.perf_counter() - t
            audio_seconds += total
            pred = frame_pred(spans, total, [a, b])
            covered = float(np.mean(pred[lab >= 0] != -2))  # speech inside the segments given to spans
            if mode == "vad":  # what the VAD left out (mostly long pauses inside a reading) is not scored
                lab = np.where(pred == -2, -1, lab)
            acc, share_err = score_frames(lab, pred, 2)
            turns = sum(1 for i in range(1, len(truth)))
            found = sum(1 for i in range(1, len(spans)) if spans[i].speaker != spans[i - 1].speaker)
            results[mode].append((a, b, total, acc, share_err, turns, found, covered))
            log(f"  {a}-{b} {mode:5s} {total:6.1f} s  attribution {acc * 100:6.2f} %  "
                f"talk-share error {share_err:4.2f} pt  changes {found}/{turns}"
                + (f"  (scored on the {covered * 100:.1f} % of utterance time inside VAD segments)"
                   if mode == "vad" else ""))
    return results, spent / max(audio_seconds, 1e-9)


# --------------------------------------------------------------------------------------------
# 3. pyannote sample
# --------------------------------------------------------------------------------------------


def pyannote_sample(log=print, **ident_kw):
    import soundfile as sf

    from imago_voice.speakers import voiceprint
    from imago_voice.speakers import identify as identify_mod
    from tests.support.speakers import identify

    wav, sr = sf.read(PYANNOTE / "sample.wav", dtype="float32")
    assert sr == 16000
    turns = []
    for line in (PYANNOTE / "sample.rttm").read_text().splitlines():
        p = line.split()
        if p and p[0] == "SPEAKER":
            turns.append((float(p[3]), float(p[3]) + float(p[4]), p[7]))
    people = sorted({t[2] for t in turns})
    n = int(round(len(wav) / sr * 100))
    active = np.zeros((len(people), n), dtype=bool)
    for a, b, who in turns:
        active[people.index(who), int(round(a * 100)):int(round(b * 100))] = True
    solo = [active[i] & ~np.delete(active, i, axis=0).any(axis=0) for i in range(len(people))]
    vps, rest = [], np.full(n, -1)
    for i, who in enumerate(people):
        frames = np.flatnonzero(solo[i])
        enroll_frames, later = frames[:500], frames[500:]
        clip = np.concatenate([wav[f * 160:(f + 1) * 160] for f in enroll_frames])
        vps.append(voiceprint.enroll(who, clip))
        rest[later] = i
    ident = identify_mod.SpeakerIdentifier(vps, **ident_kw)
    spans = ident.spans(wav)
    pred = frame_pred(spans, len(wav) / sr, people)
    mask = rest >= 0
    acc = float(np.mean(pred[mask] == rest[mask]))
    # per solo turn, as a turn-level classifier would see it (closed set)
    ok_t = tot_t = 0.0
    closed = identify_mod.SpeakerIdentifier(vps, threshold=-1.0)
    for i in range(len(people)):
        frames = np.flatnonzero(rest == i)
        for run in np.split(frames, np.flatnonzero(np.diff(frames) > 1) + 1):
            if len(run) == 0:
                continue
            name, _ = identify(closed, wav[run[0] * 160:(run[-1] + 1) * 160])
            ok_t += len(run) * (name == people[i])
            tot_t += len(run)
    # as the product runs: the voice loop's own segments (VAD, turns), each split with spans()
    from imago_voice.audio.sources import FileSource
    from imago_voice.loop import VoiceLoop

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import run_loop

    loop = VoiceLoop(identifier=identify_mod.SpeakerIdentifier(vps, **ident_kw))
    loop_turns, _ = run_loop(loop, FileSource("sample.wav", data=wav[:, None]))
    pred_loop = frame_pred([s for s in loop_turns], len(wav) / sr, people)
    acc_loop = float(np.mean(pred_loop[mask] == rest[mask]))
    log(f"  spans over the whole 30 s: {acc * 100:.1f} % of the remaining solo speech "
        f"({mask.sum() / 100:.1f} s); each solo turn identified alone: {ok_t / tot_t * 100:.1f} %; "
        f"through the voice loop (its VAD turns, each split by spans): {acc_loop * 100:.1f} %")
    log("  spans: " + ", ".join(f"{s.start:.2f}-{s.end:.2f} {s.speaker}" for s in spans))
    return acc, ok_t / tot_t, float(mask.sum() / 100), spans


# --------------------------------------------------------------------------------------------
# 4. cost
# --------------------------------------------------------------------------------------------


def cost(speakers, utts, log=print):
    from imago_voice.speakers import encoder, voiceprint
    from imago_voice.speakers import identify as identify_mod
    from tests.support.speakers import identify

    t = time.perf_counter()
    encoder.SpeakerEncoder()
    load = time.perf_counter() - t
    enc = encoder.get_encoder()
    mels = np.random.default_rng(0).random((32, 160, 40), dtype=np.float32)
    enc.embed_mels(mels[:1])
    t = time.perf_counter()
    for _ in range(5):
        enc.embed_mels(mels[:1])
    single = (time.perf_counter() - t) / 5
    t = time.perf_counter()
    enc.embed_mels(mels)
    batched = (time.perf_counter() - t) / 32
    vps = [voiceprint.enroll(s, np.concatenate(utts[s][:2])) for s in speakers[:2]]
    ident = identify_mod.SpeakerIdentifier(vps)
    clip = np.concatenate(utts[speakers[0]][2:6])
    secs = len(clip) / 16000
    t = time.perf_counter()
    identify(ident, clip)
    rtf_identify = (time.perf_counter() - t) / secs
    t = time.perf_counter()
    ident.spans(clip)
    rtf_spans = (time.perf_counter() - t) / secs
    turn = clip[:5 * 16000]
    t = time.perf_counter()
    for _ in range(3):
        ident.spans(turn)
    turn_latency = (time.perf_counter() - t) / 3
    t = time.perf_counter()
    for _ in range(3):
        identify(ident, turn)
    turn_identify = (time.perf_counter() - t) / 3
    out = dict(load=load, single=single, batched=batched, rtf_identify=rtf_identify, rtf_spans=rtf_spans,
               turn_latency=turn_latency, turn_identify=turn_identify)
    log(f"  weights load {load * 1000:.0f} ms; one 1.6 s partial {single * 1000:.1f} ms "
        f"(batched: {batched * 1000:.1f} ms each)")
    log(f"  identify: {rtf_identify * 1000:.1f} ms per second of audio; spans: {rtf_spans * 1000:.1f} ms per "
        f"second; a 5 s turn: spans {turn_latency * 1000:.0f} ms, identify {turn_identify * 1000:.0f} ms")
    return out


# --------------------------------------------------------------------------------------------


def machine():
    model = platform.processor() or "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(os.cpu_count())
    return nproc, model


def identify_mod_threshold() -> float:
    from imago_voice.speakers.identify import DEFAULT_THRESHOLD

    return DEFAULT_THRESHOLD


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="also write the report to this file")
    ap.add_argument("--quick", action="store_true", help="1.5 s windows and whole-conversation mode only")
    args = ap.parse_args(argv)

    if not LIBRI.is_dir() or not PYANNOTE.is_dir():
        print(f"SKIP: the evaluation recordings are not there ({SHARED} is absent or incomplete); "
              f"this benchmark needs ../shared beside the project root.")
        return 0
    try:
        from imago_voice.speakers import encoder

        encoder.get_encoder()
    except Exception as exc:  # noqa: BLE001 - report and skip
        print(f"SKIP: {exc}")
        return 0

    nproc, model = machine()
    date = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = []

    def log(msg=""):
        print(msg, flush=True)
        lines.append(msg)

    log(f"# Speaker identification benchmark ({date})")
    log()
    log(f"Machine: {nproc} cores (nproc), {model}; numpy {np.__version__}; Python {platform.python_version()}.")
    log()
    speakers, utts = load_librispeech()

    log("## 1. LibriSpeech window protocol (enroll 0000-0001, every pair, windows of 0002-0009)")
    log("```")
    rows, _ = window_protocol(speakers, utts, (1.5,) if args.quick else (1.5, 0.75), log=log)
    fr, fa, n_own, n_other = open_set(speakers, utts)
    log(f"  open set at threshold {identify_mod_threshold()}: whole "
        f"utterances of an enrolled speaker rejected {fr * 100:.1f} % ({n_own}); of a non-enrolled speaker "
        f"accepted {fa * 100:.1f} % ({n_other})")
    log("```")

    log("## 2. Two-person conversations (every pair; utterances 0002-0009 alternating, gaps 0-0.6 s)")
    log("```")
    modes = ("whole",) if args.quick else ("whole", "tight", "vad")
    conv, rtf = conversations(speakers, utts, log=log, modes=modes)
    summary = {}
    for mode, res in conv.items():
        accs = np.array([r[3] for r in res])
        errs = np.array([r[4] for r in res])
        total = sum(r[2] for r in res)
        weighted = sum(r[3] * r[2] for r in res) / total
        summary[mode] = (weighted, accs.min(), errs.mean(), errs.max())
        log(f"  {mode}: attribution {weighted * 100:.2f} % of speech time (worst pair {accs.min() * 100:.2f} %), "
            f"talk-share error mean {errs.mean():.2f} pt, worst {errs.max():.2f} pt")
    log(f"  spans cost {rtf * 1000:.1f} ms per second of audio")
    log("```")

    log("## 3. pyannote sample (enrolled from the first 5 s of each person's solo speech)")
    log("```")
    p_acc, p_turn, p_secs, _ = pyannote_sample(log=log)
    log("```")

    log("## 4. Cost")
    log("```")
    c = cost(speakers, utts, log=log)
    log("```")

    # summary table
    table = ["", "## Summary", "",
             "| measure | imago_voice (numpy GE2E) | Resemblyzer recipe (numpy) | MFCC + 16-GMM |",
             "|---|---|---|---|"]
    for seconds in sorted({r[0] for r in rows}, reverse=True):
        for source in ("preprocessed", "raw"):
            cells = {r[2]: r[3] for r in rows if r[0] == seconds and r[1] == source}
            if cells:
                table.append(f"| {seconds} s windows ({source}) | " + " | ".join(
                    f"{cells[m] * 100:.2f} %" for m in ("imago_voice (numpy GE2E)",
                                                        "Resemblyzer recipe in numpy (zero-padded)",
                                                        "MFCC + 16-GMM baseline")) + " |")
    for mode, (acc, worst, err, err_max) in summary.items():
        table.append(f"| conversation, spans ({mode}) | {acc * 100:.2f} % of speech time (worst pair "
                     f"{worst * 100:.2f} %); talk-share error {err:.2f} pt (worst {err_max:.2f}) | | |")
    table.append(f"| pyannote sample, remaining solo speech ({p_secs:.1f} s) | spans {p_acc * 100:.1f} %; "
                 f"per solo turn {p_turn * 100:.1f} % | | |")
    table.append(f"| cost | identify {c['rtf_identify'] * 1000:.1f} ms/s, spans {c['rtf_spans'] * 1000:.1f} ms/s "
                 f"of audio; +{c['turn_latency'] * 1000:.0f} ms per 5 s turn | | |")
    for line in table:
        log(line)
    report = "\n".join(lines) + "\n"
    if args.out:
        pathlib.Path(args.out).write_text(report, encoding="utf-8")
    if not args.quick:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from common import write_section

        body = report.replace("\n# ", "\n## ", 1)
        body = body[2:] if body.startswith("# ") else body
        write_section("speakers", "## " + body.replace("\n## ", "\n### "))
        print("\nwritten to BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
