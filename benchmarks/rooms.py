"""Room-simulated conversations for the benchmarks: reverberant rooms, real voices, microphones on people.

The world here is built *unlike* the attribution code assumes it: each voice reaches every microphone
through its own room impulse response (pyroomacoustics' image-source method, RT60 0.2-0.7 s), so the
crosstalk on a neighbour's microphone is smeared in time and its level depends on distance and on how
the talker leans; speakers differ in level by up to 15 dB; one person may say only a few seconds; turns
overlap a little at turn changes, and now and then someone says "mm" over the other. Each channel has
its own preamp gain and self-noise, and a fan hums in a corner.

Voices are the LibriSpeech speakers in ``../shared/eval/speakers``. **The split is fixed**: scenes with a
seed in :data:`TUNE_SEEDS` use utterances 0000-0004 of each speaker, scenes in :data:`REPORT_SEEDS` use
0005-0009 and other rooms and seats. Tune on the first, report the second, never the other way round.

``python benchmarks/rooms.py SEED [--people N] [--placement lapel|headset|laptop] --out x.wav`` writes
one scene (and its reference as ``x.rttm``) to listen to.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import EVAL  # noqa: E402

FS = 16000
VOICES = ("1688", "1998", "2033", "2414", "3080", "3331")   # LibriSpeech test-other speakers (M F M M F F)
TUNE_SEEDS = tuple(range(0, 12))
REPORT_SEEDS = tuple(range(1000, 1012))
CACHE = Path(__file__).resolve().parent / ".cache"
C = 343.0


@dataclass(frozen=True)
class Span:
    person: int
    start: float
    end: float


@dataclass(frozen=True)
class Scene:
    """One simulated conversation: ``audio`` (samples, channels) float32 at 16 kHz and who spoke when."""

    seed: int
    people: int
    placement: str            # 'lapel', 'headset', 'table' (one microphone each) or 'laptop' (one shared)
    rt60: float
    levels_db: tuple[float, ...]   # each talker's level, relative to the loudest
    audio: np.ndarray
    reference: tuple[Span, ...]
    texts: tuple[tuple[int, float, float, str], ...] = field(default=())   # (person, start, end, words) per utterance
    quiet: int | None = None       # the person set quieter than the rest, if any
    barely: int | None = None      # the person who says only a few seconds, if any

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"P{k}" for k in range(self.people))

    @property
    def duration(self) -> float:
        return len(self.audio) / FS


def _utterances(voice: str, tune: bool) -> list[tuple[np.ndarray, str]]:
    import soundfile as sf

    folder = EVAL / "speakers" / "librispeech" / voice
    files = sorted(folder.glob("*.flac"))
    files = files[:5] if tune else files[5:]
    texts = _transcripts(folder)
    out = []
    for f in files:
        x, sr = sf.read(f, dtype="float32")
        assert sr == FS
        out.append((x, texts.get(f.stem, "")))
    return out


def _transcripts(folder: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for t in folder.glob("*.txt"):
        for line in t.read_text().splitlines():
            if " " in line:
                key, words = line.split(" ", 1)
                texts[key] = words.lower()
    return texts


def _active(x: np.ndarray, drop_db: float = 40.0) -> tuple[int, int]:
    """First and last sample of speech in a dry utterance (frames within ``drop_db`` of its loudest)."""
    n = 480
    frames = len(x) // n
    p = 10 * np.log10(np.mean(x[: frames * n].reshape(frames, n) ** 2, axis=1) + 1e-12)
    on = np.flatnonzero(p > p.max() - drop_db)
    return int(on[0] * n), int((on[-1] + 1) * n)


def _voiced(x: np.ndarray, bridge: float = 1.0, drop_db: float = 40.0) -> list[tuple[float, float]]:
    """Where a dry piece has speech (seconds): 10 ms frames within ``drop_db`` of its peak, gaps under
    ``bridge`` joined. A reader's pause of a second or more ends a turn in the product, so here too."""
    n = 160
    p = 10 * np.log10(np.mean(x[: len(x) // n * n].reshape(-1, n) ** 2, axis=1) + 1e-12)
    on = np.flatnonzero(p > p.max() - drop_db)
    spans, start, last = [], on[0], on[0]
    for k in on[1:]:
        if (k - last - 1) * n / FS >= bridge:
            spans.append((start * n / FS, (last + 1) * n / FS))
            start = k
        last = k
    spans.append((start * n / FS, (last + 1) * n / FS))
    return spans


def _piece(x: np.ndarray, rng: np.random.Generator, longest: float) -> np.ndarray:
    """A stretch of an utterance no longer than ``longest`` seconds, cut at a quiet frame."""
    a, b = _active(x)
    x = x[a:b]
    if len(x) <= longest * FS:
        return x
    n = 480
    frames = len(x) // n
    p = np.mean(x[: frames * n].reshape(frames, n) ** 2, axis=1)
    start = int(rng.integers(0, max(1, frames - int(longest * FS / n))))
    end = start + int(longest * FS / n)
    lo = max(start + int(1.0 * FS / n), end - int(1.5 * FS / n))
    cut = lo + int(np.argmin(p[lo:end])) if end > lo else end
    y = x[start * n: cut * n]
    a, b = _active(y)
    return y[a:b]


def _rirs(room_dims, rt60, sources, mics, key: str) -> list[list[np.ndarray]]:
    """Impulse responses ``[mic][source]`` (cached on disk: they take seconds to compute)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"rir-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        data = np.load(path)
        return [[data[f"m{m}s{s}"] for s in range(len(sources))] for m in range(len(mics))]
    import pyroomacoustics as pra

    absorption, order = pra.inverse_sabine(rt60, room_dims)
    room = pra.ShoeBox(room_dims, fs=FS, materials=pra.Material(absorption), max_order=order)
    for s in sources:
        room.add_source(s)
    room.add_microphone_array(np.asarray(mics, float).T)
    room.compute_rir()
    rirs = [[np.asarray(room.rir[m][s], np.float32) for s in range(len(sources))] for m in range(len(mics))]
    np.savez_compressed(path, **{f"m{m}s{s}": rirs[m][s] for m in range(len(mics)) for s in range(len(sources))})
    return rirs


def _brown(n: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import lfilter

    x = lfilter([1.0], [1.0, -0.98], rng.standard_normal(n))
    return (x / (np.std(x) + 1e-12)).astype(np.float32)


def _envelope(n: int, rng: np.random.Generator, depth_db: float) -> np.ndarray:
    """A slow gain drift over a turn (leaning in and out): up to ``depth_db`` either way."""
    knots = rng.uniform(-depth_db, depth_db, size=max(2, n // (2 * FS) + 2))
    curve = np.interp(np.linspace(0, len(knots) - 1, n), np.arange(len(knots)), knots)
    return (10 ** (curve / 20)).astype(np.float32)


def make_scene(seed: int, *, people: int = 2, placement: str = "lapel", rt60: float | None = None,
               quiet_db: float | None = None, barely: bool = False, seconds: float = 60.0,
               laptop_distance: float | None = None, louder: dict[int, float] | None = None) -> Scene:
    """One conversation in one room. ``seed`` decides everything; its split decides the utterances.
    ``louder``: utterances (by their index in ``Scene.texts``) said that many dB louder, a raised voice;
    the scene is otherwise the same (the same draws, room, noise)."""
    if seed not in TUNE_SEEDS and seed not in REPORT_SEEDS:
        raise ValueError(f"seed {seed} is in neither split")
    tune = seed in TUNE_SEEDS
    rng = np.random.default_rng(seed * 7919 + people * 31 + {"lapel": 1, "headset": 2, "laptop": 3, "table": 4}[placement])
    rt60 = float(rng.uniform(0.2, 0.7)) if rt60 is None else rt60
    dims = [float(rng.uniform(3.5, 6.5)), float(rng.uniform(3.0, 5.0)), float(rng.uniform(2.4, 2.9))]
    voices = [VOICES[i] for i in rng.permutation(len(VOICES))[:people]]

    # seats: round a table / on a sofa, 0.7-2.5 m apart, mouths at 1.1-1.3 m (seated)
    centre = np.array([dims[0] / 2 + rng.uniform(-0.4, 0.4), dims[1] / 2 + rng.uniform(-0.4, 0.4)])
    radius = rng.uniform(0.5, 1.1) if people > 2 else rng.uniform(0.35, 0.9)
    angles = rng.uniform(0, 2 * np.pi) + np.arange(people) * 2 * np.pi / people + rng.uniform(-0.3, 0.3, people)
    mouths = [np.array([*(centre + radius * np.array([np.cos(a), np.sin(a)])), rng.uniform(1.1, 1.3)]) for a in angles]
    # each person leans: two mouth positions per person, one per turn drawn at random
    variants = [[m, m + np.array([*rng.uniform(-0.12, 0.12, 2), rng.uniform(-0.05, 0.05)])] for m in mouths]
    if placement == "laptop":
        d = laptop_distance if laptop_distance is not None else rng.uniform(0.5, 1.5)
        # the laptop is d from the nearest talker: on the line from the centre to person 0
        toward = mouths[0][:2] - centre
        toward /= np.linalg.norm(toward) + 1e-9
        mics = [np.array([*(mouths[0][:2] - toward * d), 0.8])]
    elif placement == "table":
        # a microphone on the table in front of each person, 0.35-0.6 m from their mouth: the others are
        # only a little farther, so each channel carries the others at levels close to its own person's
        mics = []
        for m in mouths:
            toward = centre - m[:2]
            toward /= np.linalg.norm(toward) + 1e-9
            reach = rng.uniform(0.25, 0.45)
            mics.append(np.array([*(m[:2] + toward * reach), 0.75]))
    else:
        mics = []
        for m in mouths:
            dist = rng.uniform(0.12, 0.25) if placement == "lapel" else rng.uniform(0.04, 0.08)
            down = np.array([*rng.uniform(-0.05, 0.05, 2), -dist])
            mics.append(m + down * (dist / (np.linalg.norm(down) + 1e-9)))
    fan = np.array([rng.uniform(0.2, dims[0] - 0.2), rng.uniform(0.2, dims[1] - 0.2), rng.uniform(0.3, 2.0)])
    sources = [p for v in variants for p in v] + [fan]
    clip = lambda p: np.clip(p, 0.1, np.array(dims) - 0.1)  # noqa: E731
    sources = [clip(p) for p in sources]
    mics = [clip(p) for p in mics]
    key = f"{seed}|{people}|{placement}|{rt60:.4f}|{dims}|{[list(np.round(s, 4)) for s in sources]}|{[list(np.round(m, 4)) for m in mics]}"
    rirs = _rirs(dims, rt60, sources, mics, key)

    # levels: everyone within 6 dB, unless one person is set quieter (up to 15 dB)
    levels = rng.uniform(-6.0, 0.0, people)
    levels -= levels.max()
    quiet = None
    if quiet_db is not None:
        quiet = int(rng.integers(people))
        levels[quiet] = -abs(quiet_db)
    barely_p = None
    if barely:
        barely_p = int(rng.integers(people))
        if barely_p == quiet:
            barely_p = (barely_p + 1) % people

    # the conversation: turns of 1-7 s, gaps of -0.6 (overlap at a turn change) to 1.5 s, backchannels
    pools = [_utterances(v, tune) for v in voices]
    turns: list[tuple[int, float, np.ndarray, str]] = []
    t, last, barely_said = 0.5, -1, 0.0
    while t < seconds - 2.0:
        choices = [p for p in range(people) if p != last and p != barely_p]
        if barely_p is not None and barely_said < 3.0 and rng.random() < 0.12 and barely_p != last:
            who = barely_p
        else:
            # two people, one of whom barely speaks: the other goes on after a pause
            choices = choices or [p for p in range(people) if p != barely_p]
            who = int(rng.choice(choices))
        utt, text = pools[who][int(rng.integers(len(pools[who])))]
        piece = _piece(utt, rng, 2.0 if who == barely_p else rng.uniform(2.0, 7.0))
        if who == barely_p:
            barely_said += len(piece) / FS
        turns.append((who, t, piece, text))
        if rng.random() < 0.15 and people > 1:   # someone says "mm" / a few words over the speaker
            other = int(rng.choice([p for p in range(people) if p != who and p != barely_p] or [who]))
            if other != who:
                utt2, _ = pools[other][int(rng.integers(len(pools[other])))]
                bc = _piece(utt2, rng, rng.uniform(0.4, 0.9))
                at = t + rng.uniform(0.3, max(0.4, len(piece) / FS - 1.0))
                turns.append((other, at, bc, ""))
        gap = rng.uniform(-0.6, 0.0) if rng.random() < 0.2 else rng.uniform(0.2, 1.5)
        t = t + len(piece) / FS + gap
        last = who
    end = max(start + len(p) / FS for _, start, p, _ in turns) + 1.0
    total = int(end * FS) + max(len(r) for row in rirs for r in row)
    out = np.zeros((total, len(mics)), np.float32)
    ref, texts = [], []
    order = sorted(range(len(turns)), key=lambda k: turns[k][1])   # the index each utterance has in texts
    index = {k: i for i, k in enumerate(order)}
    for k, (who, start, piece, text) in enumerate(turns):
        variant = int(rng.integers(2))
        extra = (louder or {}).get(index[k], 0.0)
        gain = 10 ** ((levels[who] + extra) / 20) * _envelope(len(piece), rng, 2.0)
        dry = piece * gain
        s0 = int(start * FS)
        for m in range(len(mics)):
            wet = np.convolve(dry, rirs[m][2 * who + variant]) if len(dry) < 2000 else _fftconv(dry, rirs[m][2 * who + variant])
            out[s0: s0 + len(wet), m] += wet
        ref.extend(Span(who, round(start + a, 3), round(start + b, 3)) for a, b in _voiced(piece))
        texts.append((who, round(start, 3), round(start + len(piece) / FS, 3), text))
    out = out[: int(end * FS)]
    # scale so that the loudest talker's own microphone (or the laptop) sees speech near -26 dBFS RMS
    spoke = sorted({s.person for s in ref})
    loud = max(spoke, key=lambda p: levels[p])
    ch = 0 if placement == "laptop" else loud
    own = np.concatenate([out[int(s.start * FS): int(s.end * FS), ch] for s in ref if s.person == loud])
    out *= 10 ** (-26 / 20) / (np.sqrt(np.mean(own ** 2)) + 1e-12)
    # a fan through the room, each microphone's own self-noise, each preamp's own gain
    hum = _brown(len(out), rng)
    hums = [_fftconv(hum, rirs[m][-1])[: len(out)] for m in range(len(mics))]
    hum_gain = 10 ** (rng.uniform(-64, -54) / 20) / (np.sqrt(np.mean(hums[0] ** 2)) + 1e-12)  # -64..-54 dBFS
    for m in range(len(mics)):
        out[:, m] += hums[m] * hum_gain
        out[:, m] += rng.standard_normal(len(out)).astype(np.float32) * 10 ** (rng.uniform(-72, -64) / 20)
        out[:, m] *= 10 ** (rng.uniform(-4, 4) / 20) if placement != "laptop" else 1.0
    ref.sort(key=lambda s: s.start)
    texts.sort(key=lambda s: s[1])
    return Scene(seed, people, placement, round(rt60, 3), tuple(float(v) for v in np.round(levels, 1)), np.clip(out, -1, 1).astype(np.float32),
                 tuple(ref), tuple(texts), quiet, barely_p)


def _fftconv(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    from scipy.signal import fftconvolve

    return fftconvolve(x, h).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("--people", type=int, default=2)
    ap.add_argument("--placement", default="lapel", choices=["lapel", "headset", "laptop", "table"])
    ap.add_argument("--quiet-db", type=float)
    ap.add_argument("--barely", action="store_true")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    import soundfile as sf

    scene = make_scene(a.seed, people=a.people, placement=a.placement, quiet_db=a.quiet_db, barely=a.barely)
    sf.write(a.out, scene.audio, FS)
    with open(a.out.with_suffix(".rttm"), "w") as f:
        for s in scene.reference:
            f.write(f"SPEAKER scene 1 {s.start:.3f} {s.end - s.start:.3f} <NA> <NA> P{s.person} <NA> <NA>\n")
    print(f"{a.out}: {scene.duration:.1f} s, RT60 {scene.rt60} s, levels {scene.levels_db} dB, "
          f"{len(scene.reference)} utterances")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
