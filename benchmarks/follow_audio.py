"""Unpaced Intentional Dialogue *audio* for the follow benchmark (bench_follow.py): a script of
dialogue_scripts.py said by two espeak-ng voices on two lapel microphones, with the true time of every turn.

The couple does not wait for the facilitator: the gap before each turn is drawn from 0.4-2.5 s (seeded),
and at a change of speaker now and then (``OVERLAP_P``) the next person starts 0.3 s before the last one
finished. Each person wears a microphone (one channel each): their own voice on it, the partner's at
-10 to -16 dB (drawn per person and script), white noise at about -60 dBFS. A quarter of the scripts
(``ROOM_SHARE``, drawn per script and seed) are instead put in a small reverberant room (RT60 0.2-0.35 s;
tests/support/room.py, pyroomacoustics) with lapel microphones 0.2 m below each mouth and the two 2 m
apart, where the crosstalk (about -11 to -14 dB) is smeared in time.

The words are each turn's clean text (the script before ``hear()``): the recogniser makes its own
mistakes. English only: the bundled Whisper model is tiny.en.

Rendered audio is cached in ``benchmarks/.cache/follow/`` as ``<script name>__<seed>.wav`` with a
``.json`` beside it (voices, levels, the true turn times); a changed renderer version (:data:`VERSION`)
renders anew.

    .venv/bin/python benchmarks/follow_audio.py [--split report] [--index 0] [--seed 0]   # render one, print its truth
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialogue_scripts import Script

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.audio.files import load_audio, write_audio
from imago_voice.demo import speak
from imago_voice.facilitator.render import espeak_available

CACHE = Path(__file__).resolve().parent / ".cache" / "follow"
VERSION = 3
GAP = (0.4, 2.5)
OVERLAP_P = 0.12          # at a change of speaker: the next starts 0.3 s early
OVERLAP = 0.3
CROSSTALK_DB = (-16.0, -10.0)
NOISE_DB = -60.0
ROOM_SHARE = 0.25         # of the scripts (drawn per script and seed): a reverberant room instead of fixed-gain crosstalk
LEAD, TAIL = 1.0, 3.0
#: (espeak-ng voice, pitch range, words per minute range): the first of a couple draws from A, the second from B
VOICES_A = (("en-us+m3", (35, 55), (150, 175)), ("en-gb-x-rp+m1", (40, 55), (150, 170)),
            ("en-us+m7", (40, 60), (155, 175)), ("en-gb+m4", (35, 50), (145, 170)))
VOICES_B = (("en-gb-x-rp+f3", (50, 70), (150, 175)), ("en-us+f2", (50, 70), (150, 170)),
            ("en-us+f4", (45, 65), (155, 180)), ("en-gb+f5", (50, 65), (145, 170)))


@dataclass(frozen=True)
class Said:
    """One script turn as it is in the recording: its index in the script, who said it, when."""

    index: int
    speaker: str
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Rendered:
    name: str
    seed: int
    wav: Path
    names: tuple[str, str]
    voices: dict           # name -> {"voice", "pitch", "speed"}
    crosstalk_db: dict     # name -> dB of the partner on this person's microphone (fixed-gain scenes)
    room: dict | None      # {"rt60": ...} for room scenes
    duration: float
    said: tuple[Said, ...]


def cache_key(name: str, seed: int) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + f"__{seed}"


def _plan(script: Script, seed: int):
    rng = random.Random(f"follow-audio-{script.name}-{seed}")
    a, b = script.names
    va, vb = rng.choice(VOICES_A), rng.choice(VOICES_B)
    voices = {}
    for who, (voice, pitch, speed) in ((a, va), (b, vb)):
        voices[who] = {"voice": voice, "pitch": rng.randint(*pitch), "speed": rng.randint(*speed)}
    cross = {who: round(rng.uniform(*CROSSTALK_DB), 1) for who in (a, b)}
    gaps = []
    for i, t in enumerate(script.turns):
        change = i > 0 and script.turns[i - 1].said_by != t.said_by
        gaps.append(-OVERLAP if change and rng.random() < OVERLAP_P else round(rng.uniform(*GAP), 2))
    roomy = rng.random() < ROOM_SHARE
    room = {"rt60": round(rng.uniform(0.2, 0.35), 2), "seed": rng.randrange(1 << 30)} if roomy else None
    return voices, cross, gaps, room


def render(script: Script, seed: int, cache: Path = CACHE) -> Rendered:
    """The script said aloud (cached); raises RuntimeError when espeak-ng is missing."""
    cache.mkdir(parents=True, exist_ok=True)
    key = cache_key(script.name, seed)
    wav, meta_path = cache / f"{key}.wav", cache / f"{key}.json"
    if wav.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("version") == VERSION:
            return _from_meta(meta, wav)
    if not espeak_available():
        raise RuntimeError("espeak-ng is not installed")
    voices, cross, gaps, room = _plan(script, seed)
    clips = [speak(t.text, voices[t.said_by]["voice"], speed=voices[t.said_by]["speed"],
                   pitch=voices[t.said_by]["pitch"]) for t in script.turns]
    said, t = [], LEAD
    for i, (turn, clip, gap) in enumerate(zip(script.turns, clips, gaps)):
        if said:
            t = max(0.0, said[-1].end + gap)
        said.append(Said(i, turn.said_by, round(t, 3), round(t + len(clip) / SAMPLE_RATE, 3), turn.text))
    duration = said[-1].end + TAIL
    names = list(script.names)
    dry = np.zeros((int(duration * SAMPLE_RATE), 2), np.float32)   # each person's own voice, alone
    for s, clip in zip(said, clips):
        a = round(s.start * SAMPLE_RATE)
        dry[a:a + len(clip), names.index(s.speaker)] += clip[: max(0, dry.shape[0] - a)]
    if room is None:
        # each microphone: its wearer, the partner at that microphone's crosstalk level, noise
        gain = np.array([10 ** (cross[who] / 20) for who in names], np.float32)
        audio = dry + dry[:, ::-1] * gain
        audio += np.random.default_rng(seed + 17).normal(0, 10 ** (NOISE_DB / 20), audio.shape).astype(np.float32)
        audio = np.clip(audio, -1, 1).astype(np.float32)
    else:
        from tests.support.room import in_room, lapel, seated

        mouths = seated(2, radius=1.0)   # 2 m apart: the partner at about -11 to -14 dB on a lapel
        audio = in_room(dry, mouths, lapel(mouths), rt60=room["rt60"], noise_db=NOISE_DB, seed=room["seed"])
        cross = {}
    write_audio(wav, audio)
    meta = {"version": VERSION, "name": script.name, "seed": seed, "names": names, "voices": voices,
            "crosstalk_db": cross, "room": room, "duration": round(duration, 3), "said": [asdict(s) for s in said]}
    meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    return _from_meta(meta, wav)


def _from_meta(meta: dict, wav: Path) -> Rendered:
    return Rendered(meta["name"], meta["seed"], wav, tuple(meta["names"]), meta["voices"], meta["crosstalk_db"],
                    meta["room"], meta["duration"], tuple(Said(**s) for s in meta["said"]))


def levels(rendered: Rendered) -> dict:
    """Measured level (dB) of the partner on each person's microphone, relative to the partner's own
    microphone, over the partner's turns."""
    audio = load_audio(rendered.wav)
    out = {}
    for k, who in enumerate(rendered.names):
        here, there = [], []
        for s in rendered.said:
            if s.speaker != who:
                seg = audio[int(s.start * SAMPLE_RATE):int(s.end * SAMPLE_RATE)]
                here.append(float(np.mean(seg[:, k] ** 2)))
                there.append(float(np.mean(seg[:, 1 - k] ** 2)))
        out[who] = round(float(10 * np.log10(np.mean(here) / np.mean(there))), 1)
    return out


def main() -> None:
    from dialogue_scripts import split

    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="report")
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    script = split(args.split, languages=("en",))[args.index]
    r = render(script, args.seed)
    print(r.wav, f"{r.duration:.1f} s", r.voices, "crosstalk", r.crosstalk_db, "room", r.room)
    print("partner level on each microphone (measured):", levels(r))
    for s, t in zip(r.said, script.turns):
        print(f"{s.start:7.2f}-{s.end:7.2f} {s.speaker:7s} {t.step}/{t.phase:10s} {s.text}")


if __name__ == "__main__":
    main()
