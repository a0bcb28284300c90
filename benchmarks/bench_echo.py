"""Barge-in on a laptop (issue 11, groundwork): can a voice command said over a prompt be heard, once
the prompt's own echo is cancelled? Measured before anything is wired into the live path.

Simulated laptops (pyroomacoustics, RT60 0.3-0.6 s): the loudspeaker 15-25 cm from the microphone, a
person 0.6-1.5 m away. The facilitator says one of four Piper prompts; LEAD s into it, the person says a
command ("Stop.", "Time out, please.", "Pause.", "Repeat that.", two espeak-ng voices). The person's level at
the microphone is set against the echo's: -12, -6, 0 and +6 dB (talker minus echo, over the command).

Methods, on the same audio:
* **muted** (what the session does today): the microphone is not listened to while a prompt plays, so
  no command is ever heard (and no echo is either).
* **raw**: listen anyway, without echo cancellation.
* **no prompt**: the same command in the same room with nothing playing: what the recogniser can do at
  all (the ceiling).
* **linear**: imago-voice's own canceller (``audio/echo_cancel.py``: a two-path partitioned-block
  frequency-domain adaptive filter, no non-linear suppression), without and with its gate (blocks no louder
  than the echo it leaves behind are lowered 60 dB; a voice 14 dB above that passes whole). Its step size, length
  and gate were chosen on laptops 0-2; the figures are from laptops 10-15.
* **AEC**: WebRTC's audio processing module (``livekit`` ``rtc.AudioProcessingModule``, echo cancellation
  and the high-pass filter, 10 ms frames), with the exact played signal as its reference (the best case:
  live, the reference must be lined up with the microphone by the capture and playback clocks).

Each test prompt follows another prompt (and 0.5 s of silence) in the same room, as in a session where
the facilitator has spoken before: the cancellers have heard the room for a few seconds.

Scored: echo return loss enhancement (dB, from 1 s into the prompt to the command); whether the command's
clip (from 0.3 s before the command to 0.8 s after it, as the voice loop would cut it) is recognised as
that command by the engine's vocabulary (Whisper tiny.en); and, on the prompt alone, how many prompts
produced a command that nobody said (the prompts contain "stop" and "repeat" in their own words), and how
many turns the voice loop made of the echo left over two prompts (the session's own loop, Whisper tiny.en),
counting only those the session's echo filters would let through (it drops a turn that reads like the prompt,
and, listening while it talks, speech that lies wholly over a prompt and its 0.6 s tail unless it is a voice
command): each of them is a turn nobody took, which the engine would answer.
Laptops 10-15.

    python benchmarks/bench_echo.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, today, write_section  # noqa: E402

FS = 16000
PROMPTS = ("Sam, please share what is on your mind. Say a little at a time, then stop, so Alex can mirror.",
           "Alex, please say back what you heard. Use your own words, or Sam's words.",
           "I will tell you each step, one at a time. You can say pause, repeat, or stop at any time.",
           "Sam, did Alex get it? If there is more, say: there is more. If not, say: that's all.")
# commands the English vocabulary has ("wait" is not one today: it answers "is there more?")
COMMANDS = (("Stop.", "stop"), ("Time out, please.", "pause"), ("Pause.", "pause"), ("Repeat that.", "repeat"))
RATIOS = (-12.0, -6.0, 0.0, 6.0)
TAIL = 0.6   # the session's echo tail (Session.echo_tail)


def laptop(seed: int):
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    dims = [float(rng.uniform(3.5, 5.5)), float(rng.uniform(3.0, 4.5)), 2.6]
    absorption, order = pra.inverse_sabine(float(rng.uniform(0.3, 0.6)), dims)
    room = pra.ShoeBox(dims, fs=FS, materials=pra.Material(absorption), max_order=min(order, 40))
    mic = np.array([dims[0] / 2, dims[1] / 2, 0.85])
    angle = rng.uniform(0, 2 * np.pi)
    speaker = mic + np.array([0.2 * np.cos(angle), 0.2 * np.sin(angle), -0.05]) * rng.uniform(0.75, 1.25)
    d = rng.uniform(0.6, 1.5)
    a2 = angle + np.pi + rng.uniform(-0.8, 0.8)
    talker = np.array([mic[0] + d * np.cos(a2), mic[1] + d * np.sin(a2), 1.15])
    room.add_source(list(speaker))
    room.add_source(list(talker))
    room.add_microphone_array(mic[:, None])
    room.compute_rir()
    return room.rir[0][0], room.rir[0][1]


def linear(mic: np.ndarray, ref: np.ndarray, gate: bool = True) -> np.ndarray:
    from imago_voice.audio.echo_cancel import CancellerSettings, EchoCanceller

    settings = CancellerSettings() if gate else CancellerSettings(gate_depth=0.0)
    lead = int(settings.lead * FS)
    n = len(mic) - len(mic) % settings.block
    x = np.concatenate([ref[lead:], np.zeros(lead, np.float32)])[:n]
    out = np.zeros(len(mic), np.float32)
    out[:n] = EchoCanceller(settings).process(mic[:n], x)
    return out


METHODS = {"linear": lambda m, r: linear(m, r, gate=False), "linear+gate": linear}


def cancel(mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
    from livekit import rtc

    apm = rtc.AudioProcessingModule(echo_cancellation=True, noise_suppression=False, high_pass_filter=True,
                                    auto_gain_control=False)
    apm.set_stream_delay_ms(0)
    out = np.zeros(len(mic), np.float32)

    def frame(x):
        return rtc.AudioFrame((np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes(), FS, 1, 160)

    for i in range(0, len(mic) - 159, 160):
        apm.process_reverse_stream(frame(ref[i:i + 160]))
        m = frame(mic[i:i + 160])
        apm.process_stream(m)
        out[i:i + 160] = np.frombuffer(bytes(m.data), np.int16) / 32767
    return out


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-12))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one laptop, no BENCHMARKS.md")
    ap.add_argument("--tune", action="store_true", help="the tuning laptops 0-2, no BENCHMARKS.md")
    ap.add_argument("--lead", type=float, default=3.0, help="seconds into the prompt the command is said (default 3)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print what was heard")
    args = ap.parse_args()
    verbose = args.verbose
    lead = args.lead
    try:
        import livekit.rtc  # noqa: F401
    except ImportError:
        sys.exit("bench_echo: needs the livekit package (pip install livekit), which imago-voice does not use yet")
    from scipy.signal import fftconvolve

    from benchmarks.common import run_loop
    from imago_voice.audio.sources import FileSource
    from imago_voice.demo import speak
    from imago_voice.facilitator.echo import is_echo, within_prompts
    from imago_voice.loop.voice_loop import VoiceLoop
    from imago_voice.facilitator.render import make_renderer
    from imago_voice.protocol.intents import load_vocabulary, recognize_command
    from imago_voice.transcribe import WhisperTranscriber

    vocab = load_vocabulary("en")
    whisper = WhisperTranscriber()
    voice = make_renderer("en", 150)
    prompts = [voice.render(p) * 0.5 for p in PROMPTS]
    seeds = range(0, 3) if args.tune else range(10, 11) if args.quick else range(10, 16)
    names = ("raw", "linear", "linear+gate", "AEC", "no prompt")
    cancellers = {"AEC": cancel, **METHODS}
    heard = {(m, r): [0, 0] for m in names for r in RATIOS}
    false = {m: 0 for m in ("raw", *cancellers)}
    ghosts = {m: 0 for m in ("raw", *cancellers)}
    ghost_text = {m: [] for m in ("raw", *cancellers)}
    erle = {m: [] for m in cancellers}
    kept = {(m, r): [] for m in cancellers for r in RATIOS}
    cpu = {m: 0.0 for m in cancellers}
    n_prompt_alone = 0
    gap = int(0.5 * FS)
    for seed in seeds:
        echo_rir, talk_rir = laptop(seed)
        for k, prompt in enumerate(prompts):
            before = prompts[(k + 1) % len(prompts)]     # the facilitator spoke before, in the same room
            lead_in = len(before) + gap
            n = lead_in + len(prompt) + FS
            ref = np.zeros(n, np.float32)
            ref[: len(before)] = before
            ref[lead_in: lead_in + len(prompt)] = prompt
            echo = fftconvolve(ref, echo_rir)[:n].astype(np.float32)
            noise = np.random.default_rng(seed * 10 + k).normal(0, 3e-4, n).astype(np.float32)
            # the prompt alone: does listening to it produce a command nobody said?
            alone = echo + noise
            s = 0.5 / (np.abs(alone).max() + 1e-9)
            window = slice(lead_in + FS, lead_in + int(lead * FS))
            prompt_part = slice(lead_in, n)
            outs = {}
            for m, fn in cancellers.items():
                t0 = time.process_time()
                outs[m] = fn(alone * s, ref)
                cpu[m] += time.process_time() - t0
                erle[m].append(db(alone[window] * s) - db(outs[m][window]))
            n_prompt_alone += 1
            for method, audio in (("raw", alone * s), *outs.items()):
                if recognize_command(whisper.transcribe(audio[prompt_part].astype(np.float32)), vocab) is not None:
                    false[method] += 1
                turns, _ = run_loop(VoiceLoop(transcriber=whisper), FileSource("echo.wav", data=audio[:, None]))
                windows = [(0.0, len(before) / FS), (lead_in / FS, (lead_in + len(prompt)) / FS)]
                for t in turns:
                    if not (t.text and t.text.strip()) or is_echo(t.text, (PROMPTS[(k + 1) % len(PROMPTS)], PROMPTS[k])):
                        continue
                    if within_prompts(t.start, t.end, windows, TAIL) and recognize_command(t.text, vocab) is None:
                        continue
                    ghosts[method] += 1
                    ghost_text[method].append(t.text.strip())
            text, want = COMMANDS[(seed + k) % len(COMMANDS)]
            said = speak(text, ("en-us+f2", "en-us+m3")[(seed + k) % 2])
            at = lead_in + int(lead * FS)
            dry = np.zeros(n, np.float32)
            dry[at: at + len(said)] = said[: n - at]
            wet = fftconvolve(dry, talk_rir)[:n].astype(np.float32)
            span = slice(at, min(n, at + len(said)))
            for ratio in RATIOS:
                g = 10 ** ((ratio + db(echo[span]) - db(wet[span])) / 20)
                mic = echo + g * wet + noise
                s = 0.5 / (np.abs(mic).max() + 1e-9)
                clip = slice(max(0, at - int(0.3 * FS)), min(n, at + len(said) + int(0.8 * FS)))
                alone_mic = (g * wet + noise) * s
                audios = {"raw": mic * s, "no prompt": alone_mic}
                for m, fn in cancellers.items():
                    audios[m] = fn(mic * s, ref)
                    kept[(m, ratio)].append(db(audios[m][span]) - db(g * wet[span] * s))
                for method in names:
                    words = whisper.transcribe(np.asarray(audios[method][clip], np.float32))
                    got = recognize_command(words, vocab)
                    heard[(method, ratio)][0] += got == want
                    heard[(method, ratio)][1] += 1
                    if verbose:
                        print(f"  seed {seed} prompt {k} {ratio:+.0f} dB {method}: {text!r} -> {words!r} ({got})")
        print(f"seed {seed} done", flush=True)
    total = heard[("AEC", RATIOS[0])][1]
    lines = [f"### Barge-in: echo cancellation on a laptop (issue 11)\n\n{machine()}, {today()}; "
             f"`python benchmarks/bench_echo.py --lead {lead:g}`.\n\n"
             + __doc__.split("\n\n", 1)[1].split("\n    python")[0].replace("LEAD", f"{lead:g}") + "\n",
             f"**Commands said over a prompt** ({total} per level; muted, the session before barge-in: 0 heard):\n",
             "| talker vs echo at the microphone | raw | linear | linear+gate | WebRTC AEC3 | no prompt playing (the ceiling) "
             "| talker level after linear+gate / AEC3 (median) |",
             "|---|---|---|---|---|---|---|"]
    for r in RATIOS:
        cells = " | ".join(f"{heard[(m, r)][0]}/{heard[(m, r)][1]}" for m in names)
        lines.append(f"| {r:+.0f} dB | {cells} | {np.median(kept[('linear+gate', r)]):+.1f} / "
                     f"{np.median(kept[('AEC', r)]):+.1f} dB |")
    lines += ["", f"**The prompt alone** ({n_prompt_alone} prompts, from 1 s into the prompt to where the command "
              "would be):\n", "| method | echo removed (median, range) | a command nobody said heard "
              "| turns made of echo (past the echo filter) | CPU per prompt |",
              "|---|---|---|---|---|", f"| raw | - | {false['raw']} | {ghosts['raw']} | - |"]
    for m in cancellers:
        lines.append(f"| {m} | {np.median(erle[m]):.1f} dB ({min(erle[m]):.1f} to {max(erle[m]):.1f}) | {false[m]} | "
                     f"{ghosts[m]} | {1000 * cpu[m] / n_prompt_alone:.0f} ms |")
    for m in ("raw", *cancellers):
        if ghost_text[m]:
            lines.append(f"\nTurns made of echo, {m}: " + "; ".join(repr(t) for t in ghost_text[m][:8])
                         + (" ..." if len(ghost_text[m]) > 8 else ""))
    body = "\n".join(lines)
    print(body)
    if not (args.quick or args.tune):
        write_section("echo", body)


if __name__ == "__main__":
    main()
