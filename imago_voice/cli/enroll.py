"""``imago-voice enroll``: a person's voiceprint, from a recording or recorded now with spoken guidance."""

from __future__ import annotations

from imago_voice.cli.parser import device
from imago_voice.errors import UsageError

ENROLL_GUIDE = {
    "en": "Hello {name}. After the tone, please say your name and tell me about your day, for about {seconds} seconds.",
    "es": "Hola {name}. Después del tono, por favor di tu nombre y cuéntame de tu día, unos {seconds} segundos.",
}
ENROLL_DONE = {"en": "Thank you, {name}. I will know your voice now.", "es": "Gracias, {name}. Ya conozco tu voz."}


def cmd_enroll(args, out) -> int:
    from imago_voice.speakers.store import delete_stored, list_stored, store, voiceprint_dir
    from imago_voice.speakers.voiceprint import enroll

    if args.list:
        names = list_stored()
        print("\n".join(names) if names else f"No voiceprints stored yet (in {voiceprint_dir()}).", file=out)
        return 0
    if not args.name:
        raise UsageError("Say whose voice to enroll: imago-voice enroll NAME.")
    if args.delete:
        if not delete_stored(args.name):
            raise UsageError(f"No stored voiceprint for {args.name}.")
        print(f"Deleted {args.name}'s voiceprint.", file=out)
        return 0
    if args.input:
        from imago_voice.audio import load_audio, to_mono

        audio = to_mono(load_audio(args.input))
    else:
        audio = _record(args, out)
    path = store(enroll(args.name, audio))
    print(f"Stored {args.name}'s voiceprint in {path} (no audio is kept). Use it with --enroll {args.name}.", file=out)
    return 0


def _record(args, out):
    import time

    import numpy as np

    from imago_voice.audio.blocks import SAMPLE_RATE
    from imago_voice.audio.sources import MicrophoneSource
    from imago_voice.facilitator.player import SoundDevicePlayer
    from imago_voice.facilitator.render import make_renderer

    if args.seconds < 5:
        raise UsageError("--seconds must be at least 5: a voiceprint needs a few seconds of speech.")
    lang = args.language if args.language in ENROLL_GUIDE else "en"
    renderer = make_renderer(lang)
    player = SoundDevicePlayer(device(args.output_device))
    try:
        player.wait_idle(timeout=10.0)   # the warm-up, so the guidance and its tone are heard on time
        guide = ENROLL_GUIDE[lang].format(name=args.name, seconds=int(args.seconds))
        print(guide, file=out, flush=True)
        t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
        tone = (0.3 * np.sin(2 * np.pi * 880 * t)).astype(np.float32)
        player.play(np.concatenate([renderer.render(guide), np.zeros(SAMPLE_RATE // 4, np.float32), tone]))
        player.wait_idle()   # do not record the guidance: wait until it has really played out
        time.sleep(0.3)
        source = MicrophoneSource(device(args.device), channels=1, seconds=args.seconds)
        print("Recording...", file=out, flush=True)
        audio = np.concatenate([b.samples[:, 0] for b in source])
        player.play(renderer.render(ENROLL_DONE[lang].format(name=args.name)))
    finally:
        player.close()
    return audio
