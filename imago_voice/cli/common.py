"""What the commands share: the voice loop built from the options, voiceprints, Ctrl-C, printing turns."""

from __future__ import annotations

import logging
import signal
import sys
from contextlib import contextmanager

from imago_voice.errors import ImagoError, UsageError
from imago_voice.ledger import Ledger, Overlap, Turn

log = logging.getLogger("imago_voice")


def loop_settings(args, tick: float = 0.0, wait_for_text: bool = False):
    from imago_voice.audio.voice_activity import VadSettings
    from imago_voice.loop import LoopSettings

    if args.end_silence <= 0.35:
        raise UsageError("--end-silence must be more than 0.35 seconds.")
    return LoopSettings(vad=VadSettings(frame_ms=args.frame_ms, aggressiveness=args.aggressiveness,
                                        end_silence=args.end_silence), tick=tick, wait_for_text=wait_for_text)


def channel_map(args):
    from imago_voice.speakers.channels import ChannelMap

    return ChannelMap.parse(args.channel) if args.channel else None


def identifier(args):
    """Voiceprints from --enroll NAME=AUDIO (made now) or --enroll NAME (stored), or None."""
    if not args.enroll:
        return None
    from imago_voice.speakers.identify import SpeakerIdentifier
    from imago_voice.speakers.store import load_stored
    from imago_voice.speakers.voiceprint import enroll

    prints = []
    for spec in args.enroll:
        name, sep, path = spec.partition("=")
        name = name.strip()
        if not name or (sep and not path.strip()):
            raise UsageError(f"--enroll wants NAME=AUDIO or NAME, like --enroll Sam=sam.wav; got {spec!r}.")
        if sep:
            from imago_voice.audio import load_audio, to_mono

            prints.append(enroll(name, to_mono(load_audio(path.strip()))))
        else:
            prints.append(load_stored(name))
    return SpeakerIdentifier(prints)


def names_of(channels, ident) -> list[str]:
    names = list(channels.names) if channels is not None else []
    if ident is not None:
        names += [n for n in ident.names if n not in names]
    return names


def build_loop(args, channels, ident, tick: float = 0.0, wait_for_text: bool = False):
    from imago_voice.loop import VoiceLoop
    from imago_voice.transcribe import WhisperTranscriber

    settings = loop_settings(args, tick, wait_for_text)
    transcriber = None if getattr(args, "no_transcript", False) else \
        WhisperTranscriber(args.model, language=getattr(args, "language", "en") or "en")
    return VoiceLoop(channels=channels, transcriber=transcriber, settings=settings, identifier=ident,
                     overlap_detector=overlap_detector(args, channels, ident))


def overlap_detector(args, channels, ident):
    """One shared microphone with voiceprints: flag overlapping speech, when the model is installed."""
    if channels is not None or ident is None or getattr(args, "no_overlaps", False):
        return None
    from imago_voice.speakers.overlap import OverlapDetector

    try:
        return OverlapDetector()
    except ImagoError as exc:
        log.warning("overlapping speech will not be flagged: %s", exc)
        return None


def run_loop(loop, source, ledger: Ledger, out) -> None:
    """Run the loop to its end, recording turns and overlaps in ``ledger`` and printing each turn."""
    from imago_voice.output import format_turn

    for event in loop.run(source):
        if isinstance(event, Turn):
            ledger.add(event)
            print(format_turn(event), file=out, flush=True)
        elif isinstance(event, Overlap):
            ledger.add_overlap(event)


def finish(args, label: str, duration: float, ledger: Ledger, out, extra: dict | None = None) -> None:
    from imago_voice.output import format_ledger, session_dict, write_json

    print("", file=out)
    print(format_ledger(ledger), file=out)
    if args.json:
        write_json(args.json, {**session_dict(label, duration, ledger), **(extra or {})})


def announced(source, message: str):
    """The source's blocks, saying ``message`` once the first one has arrived (the device is really open)."""
    for i, block in enumerate(source):
        if i == 0:
            print(message, file=sys.stderr, flush=True)
        yield block


def line_printer(out):
    return lambda line: print(line, file=out, flush=True)


class Interrupts:
    """Ctrl-C while listening: the first press stops the source (what was heard is still finished and
    shown); a second press stops at once, without waiting for the last transcripts."""

    def __init__(self, source) -> None:
        self.source = source
        self.presses = 0

    def __call__(self, signum=None, frame=None) -> None:
        self.presses += 1
        if self.presses > 1:
            raise KeyboardInterrupt
        print("\nStopping: finishing the last turn (Ctrl-C again to stop at once).", file=sys.stderr, flush=True)
        self.source.stop()


@contextmanager
def interruptible(source):
    """Install :class:`Interrupts` for SIGINT while the block runs; the old handler comes back after."""
    handler = Interrupts(source)
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield handler
    finally:
        signal.signal(signal.SIGINT, previous)
