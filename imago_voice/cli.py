"""The ``imago-voice`` command. Bad input gets one plain line and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from imago_voice.errors import ImagoError, UsageError

log = logging.getLogger("imago_voice")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one plain line instead of usage + traceback-like noise
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel", action="append", default=[], metavar="NAME=INDEX",
                   help="whose microphone a channel is (repeat for each person), e.g. --channel Sam=0")
    p.add_argument("--json", metavar="PATH", help="write turns and balance as JSON")
    p.add_argument("--model", metavar="PATH", help="Whisper model folder (CTranslate2); default: models/, then bundled tiny.en")
    p.add_argument("--no-transcript", action="store_true", help="find turns and balance only, without speech to text")
    p.add_argument("--end-silence", type=float, default=1.0, metavar="S",
                   help="seconds of silence that end a turn (default 1.0)")
    p.add_argument("--aggressiveness", type=int, default=2, choices=(0, 1, 2, 3),
                   help="speech detector aggressiveness, 0 keeps most, 3 drops most (default 2)")
    p.add_argument("--frame-ms", type=int, default=30, choices=(10, 20, 30), help="speech detector frame (ms)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log more (repeat for debug)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="imago-voice", description="A local, offline voice facilitator for Imago dialogues.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    a = sub.add_parser("analyze", help="find, attribute and transcribe the turns of a recording")
    a.add_argument("audio", help="audio file (WAV, FLAC, MP3, ...; any rate and channel count)")
    a.add_argument("--realtime", action="store_true", help="replay at the recording's own pace")
    _add_common(a)
    li = sub.add_parser("listen", help="the same, live from a microphone until Ctrl-C or --seconds")
    li.add_argument("--device", help="input device index or name (see 'imago-voice devices')")
    li.add_argument("--seconds", type=float, help="stop after this many seconds")
    _add_common(li)
    d = sub.add_parser("demo", help="make a two-voice recording with espeak-ng and analyze it")
    d.add_argument("--out", default="out/demo.wav", help="where to write the demo recording")
    _add_common(d)
    sub.add_parser("devices", help="list sound devices")
    sub.add_parser("doctor", help="check that everything needed is installed, and say how to fix what is not")
    return parser


def _settings(args):
    from imago_voice.pipeline import LoopSettings
    from imago_voice.vad import VadSettings

    if args.end_silence <= 0.35:
        raise UsageError("--end-silence must be more than 0.35 seconds.")
    return LoopSettings(vad=VadSettings(frame_ms=args.frame_ms, aggressiveness=args.aggressiveness,
                                        end_silence=args.end_silence))


def _loop(args, channels):
    from imago_voice.pipeline import VoiceLoop
    from imago_voice.transcribe import WhisperTranscriber

    settings = _settings(args)
    transcriber = None if args.no_transcript else WhisperTranscriber(args.model)
    return VoiceLoop(channels=channels, transcriber=transcriber, settings=settings)


def _run_loop(loop, source, out) -> list:
    from imago_voice.pipeline import SpeechStarted
    from imago_voice.report import format_turn

    turns = []
    for event in loop.run(source):
        if isinstance(event, SpeechStarted):
            continue
        turns.append(event)
        print(format_turn(event), file=out, flush=True)
    return turns


def _finish(args, label: str, duration: float, participants, turns, out, extra: dict | None = None) -> None:
    from imago_voice.ledger import balance, overlaps
    from imago_voice.report import format_balance, session_dict, write_json

    print("", file=out)
    print(format_balance(balance(turns, participants), overlaps(turns)), file=out)
    if args.json:
        write_json(args.json, {**session_dict(label, duration, participants, turns), **(extra or {})})


def cmd_analyze(args, out) -> int:
    from imago_voice.channels import ChannelMap
    from imago_voice.sources import FileSource

    channels = ChannelMap.parse(args.channel) if args.channel else None
    source = FileSource(args.audio, realtime=args.realtime)
    if channels is not None:
        channels.check(source.channels, args.audio)
    loop = _loop(args, channels)
    turns = _run_loop(loop, source, out)
    _finish(args, str(args.audio), source.duration, channels.names if channels else (), turns, out)
    return 0


def cmd_listen(args, out) -> int:
    from imago_voice.channels import ChannelMap
    from imago_voice.sources import MicrophoneSource

    channels = ChannelMap.parse(args.channel) if args.channel else None
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be positive.")
    device = int(args.device) if args.device is not None and args.device.isdigit() else args.device
    loop = _loop(args, channels)
    source = MicrophoneSource(device, channels=channels.width if channels else 1, seconds=args.seconds)
    def announced():
        for i, block in enumerate(source):
            if i == 0:
                print("Listening. Press Ctrl-C to stop.", file=sys.stderr, flush=True)
            yield block

    previous = signal.signal(signal.SIGINT, lambda *_: source.stop())
    try:
        turns = _run_loop(loop, announced(), out)
    finally:
        signal.signal(signal.SIGINT, previous)
    stats = {"input_overflows": source.overflows,
             "transcript_latency": [round(t.latency, 3) for t in loop.timings]}
    _finish(args, f"device:{args.device or 'default'}", loop.now, channels.names if channels else (), turns, out,
            {"stats": stats})
    if source.overflows:
        print(f"input overflows: {source.overflows}", file=out)
    return 0


def cmd_demo(args, out) -> int:
    from pathlib import Path

    import soundfile as sf

    from imago_voice.synth import DEMO_LINES, DEMO_VOICES, conversation

    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    audio, truth = conversation(DEMO_LINES, DEMO_VOICES)
    sf.write(str(path), audio, 16000)
    names = list(DEMO_VOICES)
    print(f"Demo recording: {path} ({audio.shape[0] / 16000:.1f} s, one microphone per person: "
          + ", ".join(f"{n} on channel {i}" for i, n in enumerate(names)) + ")\n", file=out)
    args.audio, args.realtime = str(path), False
    args.channel = args.channel or [f"{n}={i}" for i, n in enumerate(names)]
    return cmd_analyze(args, out)


def cmd_devices(args, out) -> int:
    from imago_voice.doctor import list_devices

    print(list_devices(), file=out)
    return 0


def cmd_doctor(args, out) -> int:
    from imago_voice.doctor import run_checks

    ok = True
    for check in run_checks():
        ok &= check.ok or not check.required
        print(check.line(), file=out)
    print("\nAll set." if ok else "\nSomething needed is missing: see the lines marked 'missing' above.", file=out)
    return 0 if ok else 1


COMMANDS = {"analyze": cmd_analyze, "listen": cmd_listen, "demo": cmd_demo, "devices": cmd_devices, "doctor": cmd_doctor}


def main(argv: Sequence[str] | None = None) -> int:
    out = sys.stdout
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
                            if hasattr(args, "verbose") else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        return COMMANDS[args.command](args, out)
    except ImagoError as err:
        print(f"imago-voice: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("imago-voice: stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
