"""``imago-voice analyze`` (a recording) and ``imago-voice listen`` (the microphone): turns and the balance."""

from __future__ import annotations

from imago_voice.cli.common import announced, build_loop, channel_map, finish, identifier, interruptible, names_of, run_loop
from imago_voice.cli.parser import device
from imago_voice.errors import UsageError
from imago_voice.ledger import Ledger


def cmd_analyze(args, out) -> int:
    from imago_voice.audio.sources import FileSource

    channels = channel_map(args)
    source = FileSource(args.audio, realtime=args.realtime)
    if channels is not None:
        channels.check(source.channels, args.audio)
    ident = identifier(args)
    loop = build_loop(args, channels, ident)
    ledger = Ledger(names_of(channels, ident))
    run_loop(loop, source, ledger, out)
    finish(args, str(args.audio), source.duration, ledger, out)
    return 0


def cmd_listen(args, out) -> int:
    from imago_voice.audio.sources import MicrophoneSource

    channels = channel_map(args)
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be positive.")
    ident = identifier(args)
    loop = build_loop(args, channels, ident)
    ledger = Ledger(names_of(channels, ident))
    source = MicrophoneSource(device(args.device), channels=channels.width if channels else 1, seconds=args.seconds)
    with interruptible(source):
        run_loop(loop, announced(source, "Listening. Press Ctrl-C to stop."), ledger, out)
    stats = {"input_overflows": source.overflows, "input_dropped": source.dropped,
             "transcript_latency": [round(t.latency, 3) for t in loop.timings]}
    finish(args, f"device:{args.device or 'default'}", loop.now, ledger, out, {"stats": stats})
    if source.overflows:
        print(f"input overflows: {source.overflows}", file=out)
    if source.dropped:
        print(f"input blocks dropped (the program fell behind): {source.dropped}", file=out)
    return 0
