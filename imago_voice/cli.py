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


def _device(value: str | None) -> int | str | None:
    """A device given as an index ("3") or a name fragment ("USB")."""
    return int(value) if value is not None and value.isdigit() else value


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="PATH", help="write turns and balance as JSON")
    p.add_argument("--no-transcript", action="store_true", help="find turns and balance only, without speech to text")
    _add_loop_options(p)


def _add_loop_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel", action="append", default=[], metavar="NAME=INDEX",
                   help="whose microphone a channel is (repeat for each person), e.g. --channel Sam=0")
    p.add_argument("--enroll", action="append", default=[], metavar="NAME[=AUDIO]",
                   help="tell people apart by voice: a recording of NAME, or NAME alone for a stored voiceprint")
    p.add_argument("--model", metavar="PATH", help="Whisper model folder (CTranslate2); default: models/, then bundled tiny.en")
    p.add_argument("--end-silence", type=float, default=1.0, metavar="S",
                   help="seconds of silence that end a turn (default 1.0)")
    p.add_argument("--aggressiveness", type=int, default=2, choices=(0, 1, 2, 3),
                   help="speech detector aggressiveness, 0 keeps most, 3 drops most (default 2)")
    p.add_argument("--frame-ms", type=int, default=30, choices=(10, 20, 30), help="speech detector frame (ms)")
    p.add_argument("--no-overlaps", action="store_true",
                   help="one shared microphone: do not look for two people speaking at once")
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
    se = sub.add_parser("session", help="facilitate an exercise by voice, live or from a recording")
    se.add_argument("--exercise", default="dialogue",
                    help="dialogue, appreciation, behavior-change, caring-behaviors, parent-child, exits")
    se.add_argument("--language", default="en", help="prompt language (a folder under prompts/; default en)")
    se.add_argument("--names", help="who is taking part, e.g. --names Sam,Alex (else from --channel)")
    se.add_argument("--silent", action="store_true", help="speak nothing; show step, turn, timer and balance, keys to steer")
    se.add_argument("--log", metavar="PATH",
                    help="write the session log as JSON; live, the facilitator first asks each person whether "
                         "their words may be kept, and without everyone's yes the log has the times only")
    se.add_argument("--input", metavar="AUDIO", help="replay a recording instead of listening live")
    se.add_argument("--realtime", action="store_true", help="with --input: replay at the recording's own pace")
    se.add_argument("--prompts-wav", metavar="PATH", help="with --input: write the recording with the prompts mixed in")
    se.add_argument("--device", help="input device (live)")
    se.add_argument("--output-device", help="output device for the prompts (live)")
    se.add_argument("--seconds", type=float, help="live: stop after this many seconds")
    se.add_argument("--rate", type=int, default=150, help="speaking rate of the prompts, words per minute")
    se.add_argument("--chunk-limit", type=float, default=45.0, help="seconds a sender may talk before a gentle pause")
    se.add_argument("--timeout-minutes", type=float, default=20.0, help="length of a time-out before checking back")
    se.add_argument("--intention", action="store_true", help="dialogue: add the optional intention step")
    se.add_argument("--remirror", type=float, metavar="BELOW",
                    help="ask for a second mirror when a mirror kept less than this share of the words (e.g. 0.3)")
    _add_loop_options(se)
    d = sub.add_parser("demo", help="a whole facilitated dialogue on a generated two-voice recording")
    d.add_argument("--out", default="out", help="folder for the demo recording, its log and the mix with prompts")
    _add_loop_options(d)
    en = sub.add_parser("enroll", help="record a person's voice (guided by voice) and store their voiceprint")
    en.add_argument("name", nargs="?", help="the person's name")
    en.add_argument("--input", metavar="AUDIO", help="make the voiceprint from this recording instead of the microphone")
    en.add_argument("--seconds", type=float, default=15.0, help="how long to record (default 15; 5 is the least)")
    en.add_argument("--device", help="input device")
    en.add_argument("--output-device", help="output device for the spoken guidance")
    en.add_argument("--language", default="en")
    en.add_argument("--list", action="store_true", help="list the stored voiceprints")
    en.add_argument("--delete", action="store_true", help="delete NAME's stored voiceprint")
    en.add_argument("-v", "--verbose", action="count", default=0)
    sub.add_parser("devices", help="list sound devices")
    sub.add_parser("doctor", help="check that everything needed is installed, and say how to fix what is not")
    return parser


def _settings(args, tick: float = 0.0, wait_for_text: bool = False):
    from imago_voice.pipeline import LoopSettings
    from imago_voice.vad import VadSettings

    if args.end_silence <= 0.35:
        raise UsageError("--end-silence must be more than 0.35 seconds.")
    return LoopSettings(vad=VadSettings(frame_ms=args.frame_ms, aggressiveness=args.aggressiveness,
                                        end_silence=args.end_silence), tick=tick, wait_for_text=wait_for_text)


def _identifier(args):
    """Voiceprints from --enroll NAME=AUDIO (made now) or --enroll NAME (stored), or None."""
    if not args.enroll:
        return None
    from imago_voice.voiceprint import SpeakerIdentifier, enroll, load_stored

    prints = []
    for spec in args.enroll:
        name, sep, path = spec.partition("=")
        name = name.strip()
        if not name or (sep and not path.strip()):
            raise UsageError(f"--enroll wants NAME=AUDIO or NAME, like --enroll Sam=sam.wav; got {spec!r}.")
        if sep:
            from imago_voice.audio import load_audio

            prints.append(enroll(name, load_audio(path.strip()).mean(axis=1)))
        else:
            prints.append(load_stored(name))
    return SpeakerIdentifier(prints)


def _names(channels, identifier) -> list[str]:
    names = list(channels.names) if channels is not None else []
    if identifier is not None:
        names += [n for n in identifier.names if n not in names]
    return names


def _loop(args, channels, tick: float = 0.0, identifier=None, wait_for_text: bool = False):
    from imago_voice.pipeline import VoiceLoop
    from imago_voice.transcribe import WhisperTranscriber

    settings = _settings(args, tick, wait_for_text)
    if identifier is None:
        identifier = _identifier(args)
    transcriber = None if getattr(args, "no_transcript", False) else WhisperTranscriber(args.model)
    return VoiceLoop(channels=channels, transcriber=transcriber, settings=settings, identifier=identifier,
                     overlap_detector=_overlap_detector(args, channels, identifier))


def _overlap_detector(args, channels, identifier):
    """One shared microphone with voiceprints: flag overlapping speech, when the model is installed."""
    if channels is not None or identifier is None or getattr(args, "no_overlaps", False):
        return None
    from imago_voice.segmentation import OverlapDetector

    try:
        return OverlapDetector()
    except ImagoError as exc:
        log.warning("overlapping speech will not be flagged: %s", exc)
        return None


def _run_loop(loop, source, out) -> list:
    from imago_voice.ledger import Turn
    from imago_voice.report import format_turn

    turns = []
    for event in loop.run(source):
        if not isinstance(event, Turn):
            continue
        turns.append(event)
        print(format_turn(event), file=out, flush=True)
    return turns


def _finish(args, label: str, duration: float, participants, turns, out, extra: dict | None = None,
            flagged=()) -> None:
    from imago_voice.ledger import balance, overlaps
    from imago_voice.report import format_balance, session_dict, write_json

    print("", file=out)
    print(format_balance(balance(turns, participants, flagged=flagged), overlaps(turns, flagged)), file=out)
    if args.json:
        write_json(args.json, {**session_dict(label, duration, participants, turns, flagged), **(extra or {})})


def cmd_analyze(args, out) -> int:
    from imago_voice.channels import ChannelMap
    from imago_voice.sources import FileSource

    channels = ChannelMap.parse(args.channel) if args.channel else None
    source = FileSource(args.audio, realtime=args.realtime)
    if channels is not None:
        channels.check(source.channels, args.audio)
    identifier = _identifier(args)
    loop = _loop(args, channels, identifier=identifier)
    turns = _run_loop(loop, source, out)
    _finish(args, str(args.audio), source.duration, _names(channels, identifier), turns, out, flagged=loop.flagged)
    return 0


def cmd_listen(args, out) -> int:
    from imago_voice.channels import ChannelMap
    from imago_voice.sources import MicrophoneSource

    channels = ChannelMap.parse(args.channel) if args.channel else None
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be positive.")
    device = _device(args.device)
    identifier = _identifier(args)
    loop = _loop(args, channels, identifier=identifier)
    source = MicrophoneSource(device, channels=channels.width if channels else 1, seconds=args.seconds)
    previous = signal.signal(signal.SIGINT, lambda *_: source.stop())
    try:
        turns = _run_loop(loop, _announced(source, "Listening. Press Ctrl-C to stop."), out)
    finally:
        signal.signal(signal.SIGINT, previous)
    stats = {"input_overflows": source.overflows,
             "transcript_latency": [round(t.latency, 3) for t in loop.timings]}
    _finish(args, f"device:{args.device or 'default'}", loop.now, _names(channels, identifier), turns, out,
            {"stats": stats}, flagged=loop.flagged)
    if source.overflows:
        print(f"input overflows: {source.overflows}", file=out)
    return 0


def cmd_session(args, out) -> int:
    from imago_voice.channels import ChannelMap
    from imago_voice.protocol import Engine, EngineSettings, load_prompts

    channels = ChannelMap.parse(args.channel) if args.channel else None
    args.identifier = _identifier(args)
    known = _names(channels, args.identifier)
    if args.names:
        names = [n.strip() for n in args.names.split(",") if n.strip()]
    elif known:
        names = known
    else:
        raise UsageError("Say who is taking part: --names Sam,Alex, --channel NAME=INDEX or --enroll NAME for each person.")
    if set(known) - set(names):
        raise UsageError("--names, --channel and --enroll name different people.")
    if not args.input and (args.realtime or args.prompts_wav):
        raise UsageError("--realtime and --prompts-wav go with --input.")
    engine = Engine(args.exercise, names, load_prompts(args.language, args.exercise),
                    EngineSettings(chunk_limit=args.chunk_limit, timeout_minutes=args.timeout_minutes,
                                   intention=args.intention, remirror_below=args.remirror,
                                   # live, the words go into a log only if everybody says yes out loud
                                   ask_consent=bool(args.log) and not args.input))
    if args.input:
        return _session_replay(args, out, engine, channels)
    return _session_live(args, out, engine, channels)


def _announced(source, message: str):
    """The source's blocks, saying ``message`` once the first one has arrived (the device is really open)."""
    for i, block in enumerate(source):
        if i == 0:
            print(message, file=sys.stderr, flush=True)
        yield block


def _line_printer(out):
    return lambda line: print(line, file=out, flush=True)


def _session_replay(args, out, engine, channels) -> int:
    from imago_voice.session import Session, mix_prompts
    from imago_voice.sources import FileSource

    source = FileSource(args.input, realtime=args.realtime)
    if channels is not None:
        channels.check(source.channels, args.input)
    renderer = None
    if args.prompts_wav:
        from imago_voice.speech_out import EspeakRenderer

        renderer = EspeakRenderer(args.language, args.rate)
    # as fast as possible, each turn reaches the engine at the audio time it ended, however long its
    # transcription took: the same recording always gives the same session
    loop = _loop(args, channels, tick=0.5, identifier=args.identifier, wait_for_text=not args.realtime)
    session = Session(engine, loop, renderer=renderer,
                      on_line=_line_printer(out),
                      keep_prompt_audio=bool(args.prompts_wav))
    session.run(source)
    print("\n" + session.summary(), file=out)
    if args.log:
        from imago_voice.report import write_json

        write_json(args.log, session.log_dict(str(args.input), source.duration, args.exercise))
    if args.prompts_wav:
        import soundfile as sf

        sf.write(args.prompts_wav, mix_prompts(source.data, session.prompt_audio), 16000)
    return 0


def _session_live(args, out, engine, channels) -> int:
    from imago_voice.session import Session
    from imago_voice.sources import MicrophoneSource

    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be positive.")
    device = _device(args.device)
    renderer = player = keys = on_tick = None
    if not args.silent:
        from imago_voice.speech_out import EspeakRenderer, SoundDevicePlayer

        # opened first: its warm-up clip plays while the model loads, so the opening is spoken on time
        renderer = EspeakRenderer(args.language, args.rate)
        player = SoundDevicePlayer(_device(args.output_device))
    loop = _loop(args, channels, tick=0.5, identifier=args.identifier)
    if player is not None:
        player.wait_idle(timeout=10.0)
    if args.silent:
        from imago_voice.console import HELP, KeyReader, status_line

        keys = KeyReader()
        print(HELP, file=sys.stderr, flush=True)
        on_tick = lambda snap, at: print("\r\x1b[2K" + status_line(snap, at), end="", file=sys.stderr, flush=True)
    source = MicrophoneSource(device, channels=channels.width if channels else 1, seconds=args.seconds)

    session = Session(engine, loop, renderer=renderer, player=player, live=not args.silent,
                      on_line=_line_printer(out), keys=keys.commands if keys else None, on_tick=on_tick)
    previous = signal.signal(signal.SIGINT, lambda *_: source.stop())
    try:
        session.run(_announced(source, "Listening. Say 'stop' or press Ctrl-C to end."))
    finally:
        signal.signal(signal.SIGINT, previous)
        if keys is not None:
            keys.close()
            print("", file=sys.stderr)
    print("\n" + session.summary(), file=out)
    if args.log:
        from imago_voice.report import write_json

        doc = session.log_dict(f"device:{args.device or 'default'}", loop.now, args.exercise)
        doc["stats"] = {"input_overflows": source.overflows}
        write_json(args.log, doc)
    return 0


def cmd_demo(args, out) -> int:
    from pathlib import Path

    import soundfile as sf

    from imago_voice.simulate import DIALOGUE_VOICES, scripted_session

    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    made = scripted_session()
    wav = folder / "demo_session.wav"
    sf.write(str(wav), made.audio, 16000)
    names = list(DIALOGUE_VOICES)
    print(f"Demo: a scripted couple, {', '.join(names)}, one microphone each ({wav}, "
          f"{made.audio.shape[0] / 16000:.0f} s). The facilitator replays it and speaks each step:\n", file=out)
    args.input, args.realtime, args.names, args.enroll = str(wav), False, None, []
    args.channel = args.channel or [f"{n}={i}" for i, n in enumerate(names)]
    args.exercise, args.language, args.rate = "dialogue", "en", 150
    args.chunk_limit, args.timeout_minutes, args.intention, args.remirror = 45.0, 20.0, False, None
    args.log, args.prompts_wav = str(folder / "demo_session.json"), str(folder / "demo_session_with_prompts.wav")
    code = cmd_session(args, out)
    print(f"\nLog: {args.log}\nListen to it with the prompts mixed in: {args.prompts_wav}", file=out)
    return code


ENROLL_GUIDE = {
    "en": "Hello {name}. After the tone, please say your name and tell me about your day, for about {seconds} seconds.",
    "es": "Hola {name}. Después del tono, por favor di tu nombre y cuéntame de tu día, unos {seconds} segundos.",
}
ENROLL_DONE = {"en": "Thank you, {name}. I will know your voice now.", "es": "Gracias, {name}. Ya conozco tu voz."}


def cmd_enroll(args, out) -> int:
    from imago_voice.voiceprint import delete_stored, enroll, list_stored, store, voiceprint_dir

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
        from imago_voice.audio import load_audio

        audio = load_audio(args.input).mean(axis=1)
    else:
        audio = _record_for_enrollment(args, out)
    path = store(enroll(args.name, audio))
    print(f"Stored {args.name}'s voiceprint in {path} (no audio is kept). Use it with --enroll {args.name}.", file=out)
    return 0


def _record_for_enrollment(args, out):
    import time

    import numpy as np

    from imago_voice.audio import SAMPLE_RATE
    from imago_voice.sources import MicrophoneSource
    from imago_voice.speech_out import EspeakRenderer, SoundDevicePlayer

    if args.seconds < 5:
        raise UsageError("--seconds must be at least 5: a voiceprint needs a few seconds of speech.")
    lang = args.language if args.language in ENROLL_GUIDE else "en"
    renderer = EspeakRenderer(lang)
    player = SoundDevicePlayer(_device(args.output_device))
    player.wait_idle(timeout=10.0)   # the warm-up clip, so the guidance and its tone are heard on time
    guide = ENROLL_GUIDE[lang].format(name=args.name, seconds=int(args.seconds))
    print(guide, file=out, flush=True)
    t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 880 * t)).astype(np.float32)
    player.play(np.concatenate([renderer.render(guide), np.zeros(SAMPLE_RATE // 4, np.float32), tone]))
    player.wait_idle()   # do not record the guidance: wait until it has really played out
    time.sleep(0.3)
    device = _device(args.device)
    source = MicrophoneSource(device, channels=1, seconds=args.seconds)
    print("Recording...", file=out, flush=True)
    audio = np.concatenate([b.samples[:, 0] for b in source])
    player.play(renderer.render(ENROLL_DONE[lang].format(name=args.name)))
    player.close()
    return audio


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


COMMANDS = {"analyze": cmd_analyze, "listen": cmd_listen, "session": cmd_session, "demo": cmd_demo,
            "enroll": cmd_enroll, "devices": cmd_devices, "doctor": cmd_doctor}


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
