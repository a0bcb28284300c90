"""``imago-voice session`` (live or replayed) and ``imago-voice demo`` (a scripted couple, replayed)."""

from __future__ import annotations

import sys

from imago_voice.cli.common import announced, build_loop, channel_map, identifier, interruptible, line_printer, names_of
from imago_voice.cli.parser import device
from imago_voice.errors import UsageError


def cmd_session(args, out) -> int:
    from imago_voice.ledger import Ledger
    from imago_voice.protocol import Engine, EngineSettings, load_prompts

    channels = channel_map(args)
    args.identifier = identifier(args)
    known = names_of(channels, args.identifier)
    if args.names:
        names = [n.strip() for n in args.names.split(",") if n.strip()]
    elif known:
        names = known
    else:
        raise UsageError("Say who is taking part: --names Sam,Alex, --channel NAME=INDEX or --enroll NAME for each person.")
    if set(known) - set(names):
        raise UsageError("--names, --channel and --enroll name different people.")
    to_learn = _voices_to_learn(args, channels, names)
    if not args.input and (args.realtime or args.prompts_wav):
        raise UsageError("--realtime and --prompts-wav go with --input.")
    if getattr(args, "silent", False):
        args.guide = "silent"
    args.guide = getattr(args, "guide", "full")
    prompts = load_prompts(args.language, args.exercise, locale=getattr(args, "locale", None))
    if prompts.resources is not None and prompts.resources.language != args.language:
        raise UsageError(f"The crisis resources of {prompts.resources.locale} are in another language than "
                         f"--language {args.language}: choose a locale of that language.")
    live = not args.input
    notice = _first_session_notice() if live else None
    engine = Engine(args.exercise, names, prompts,
                    EngineSettings(chunk_limit=args.chunk_limit, timeout_minutes=args.timeout_minutes,
                                   intention=args.intention, remirror_below=args.remirror, guide=args.guide,
                                   # live, the words go into a log only if everybody says yes out loud
                                   ask_consent=bool(args.log) and live,
                                   # before a data folder's first live session: what this is, where help is
                                   disclose=notice is not None, learn_voices=to_learn),
                    ledger=Ledger(names), time_of_day=_time_of_day(args.language) if live else None)
    if notice is not None:
        _mark(notice)
    if args.input:
        return _session_replay(args, out, engine, channels)
    return _session_live(args, out, engine, channels)


def _voices_to_learn(args, channels, names) -> tuple[str, ...]:
    """One shared microphone and no --enroll: the stored voiceprints of the people named are used, and the
    others' voices are learned by voice at the start (live, unless --no-learn-voices)."""
    if channels is not None or args.enroll or len(names) < 2:
        return ()
    from imago_voice.speakers.identify import SpeakerIdentifier
    from imago_voice.speakers.store import list_stored, load_stored

    stored = set(list_stored())
    prints = [load_stored(n) for n in names if n in stored]
    if prints:
        args.identifier = SpeakerIdentifier(prints)
    learn = args.learn_voices if getattr(args, "learn_voices", None) is not None else not args.input
    if getattr(args, "guide", "full") == "silent" or getattr(args, "silent", False):
        learn = False   # silent guidance says nothing: it cannot ask anyone for a sample
    return tuple(n for n in names if n not in stored) if learn else ()


def _first_session_notice():
    """The marker file of the first-session notice, when this data folder has not had it yet (else None)."""
    from imago_voice.paths import data_dir

    marker = data_dir() / "first-session-notice-given"
    return None if marker.exists() else marker


def _mark(marker) -> None:
    import logging

    try:
        marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        marker.write_text("The first-session notice was said (what this is and is not, and where help is).\n")
    except OSError as exc:   # the notice is said again next time: better than never
        logging.getLogger(__name__).warning("could not note that the first-session notice was said: %s", exc)


def _voice(args, engine=None):
    """The facilitator's voice (:func:`~imago_voice.facilitator.render.make_renderer`) behind the cache of
    rendered prompts; with ``engine``, what the session may say starts rendering ahead."""
    from imago_voice.facilitator.cache import CachedRenderer
    from imago_voice.facilitator.render import make_renderer
    from imago_voice.paths import voice_cache_dir

    renderer = CachedRenderer(make_renderer(args.language, args.rate, getattr(args, "voice", None)), voice_cache_dir())
    if engine is not None:
        renderer.ahead(engine.texts_ahead())
    return renderer


def _screen(args):
    """The crisis screen for the session's language (None where there is none: the rules alone decide)."""
    from imago_voice.screen import load_screen

    return load_screen(args.language)


def _time_of_day(language: str):
    """seconds from now -> the time of day to say ("8:40 PM" in English, "20:40" in Spanish)."""
    import time

    fmt = "%I:%M %p" if language == "en" else "%H:%M"
    return lambda delay: time.strftime(fmt, time.localtime(time.time() + delay)).lstrip("0")


def _session_replay(args, out, engine, channels) -> int:
    from imago_voice.audio.files import write_audio
    from imago_voice.audio.sources import FileSource
    from imago_voice.facilitator.record import mix_prompts
    from imago_voice.facilitator.session import Session

    source = FileSource(args.input, realtime=args.realtime)
    if channels is not None:
        channels.check(source.channels, args.input)
    renderer = _voice(args) if args.prompts_wav else None
    # as fast as possible, each turn reaches the engine at the audio time it ended, however long its
    # transcription took: the same recording always gives the same session
    loop = build_loop(args, channels, args.identifier, tick=0.5, wait_for_text=not args.realtime)
    session = Session(engine, loop, renderer=renderer, on_line=line_printer(out),
                      keep_prompt_audio=bool(args.prompts_wav), screen=_screen(args))
    session.run(source)
    print("\n" + session.summary(), file=out)
    if args.log:
        from imago_voice.output import write_json

        write_json(args.log, session.log_dict(str(args.input), source.duration))
    if args.prompts_wav:
        write_audio(args.prompts_wav, mix_prompts(source.data, session.prompt_audio))
    return 0


def _session_live(args, out, engine, channels) -> int:
    from contextlib import ExitStack

    from imago_voice.audio.sources import MicrophoneSource
    from imago_voice.facilitator.session import Session

    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be positive.")
    from imago_voice.errors import ImagoError
    from imago_voice.facilitator.player import SoundDevicePlayer

    # opened first: its warm-up plays while the model loads, so the opening is spoken on time. Silent
    # guidance speaks nothing but a crisis stop, so it needs the voice too (and goes on without, if it must)
    renderer = _voice(args, engine)
    try:
        # barge-in: the player keeps what it played, the echo canceller takes it out of the microphone
        from imago_voice.audio.echo_cancel import PlayedAudio

        player = SoundDevicePlayer(device(args.output_device),
                                   reference=PlayedAudio() if getattr(args, "barge_in", False) else None)
    except ImagoError:
        if args.guide != "silent":
            raise
        print("No sound output: a crisis stop will be shown here but cannot be spoken.", file=sys.stderr)
        renderer.close()
        renderer = player = None
    try:
        loop = build_loop(args, channels, args.identifier, tick=0.5)
        if player is not None:
            player.wait_idle(timeout=10.0)
        source = MicrophoneSource(device(args.device), channels=channels.width if channels else 1, seconds=args.seconds)
        with ExitStack() as stack:
            keys = on_tick = None
            if args.guide == "silent":
                from imago_voice.facilitator.console import HELP, KeyReader, status_line

                keys = stack.enter_context(KeyReader())
                stack.callback(lambda: print("", file=sys.stderr))
                print(HELP, file=sys.stderr, flush=True)
                on_tick = lambda snap, at: print("\r\x1b[2K" + status_line(snap, at), end="",  # noqa: E731
                                                 file=sys.stderr, flush=True)
            session = Session(engine, loop, renderer=renderer, player=player, live=player is not None,
                              on_line=line_printer(out), keys=keys.commands if keys else None, on_tick=on_tick,
                              screen=_screen(args))
            stack.enter_context(interruptible(source))
            session.run(announced(source, "Listening. Say 'stop' or press Ctrl-C to end."))
    finally:
        if player is not None:
            player.close()
        if renderer is not None:
            renderer.close()
    print("\n" + session.summary(), file=out)
    if args.log:
        from imago_voice.output import write_json

        doc = session.log_dict(f"device:{args.device or 'default'}", loop.now)
        doc["stats"] = {"input_overflows": source.overflows, "input_dropped": source.dropped}
        write_json(args.log, doc)
    return 0


def cmd_demo(args, out) -> int:
    from pathlib import Path

    from imago_voice.audio.blocks import SAMPLE_RATE
    from imago_voice.audio.files import write_audio
    from imago_voice.demo import DIALOGUE_VOICES, scripted_session
    from imago_voice.errors import OutputError

    folder = Path(args.out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Could not make the folder {folder}: {exc.strerror or exc}.") from exc
    made = scripted_session()
    wav = folder / "demo_session.wav"
    write_audio(wav, made.audio)
    names = list(DIALOGUE_VOICES)
    print(f"Demo: a scripted couple, {', '.join(names)}, one microphone each ({wav}, "
          f"{made.audio.shape[0] / SAMPLE_RATE:.0f} s). The facilitator replays it and speaks each step:\n", file=out)
    args.input, args.realtime, args.names, args.enroll = str(wav), False, None, []
    args.channel = args.channel or [f"{n}={i}" for i, n in enumerate(names)]
    args.exercise, args.language, args.rate = "dialogue", "en", 150
    args.guide = "full"   # the demo shows every step's prompt
    args.chunk_limit, args.timeout_minutes, args.intention, args.remirror = 45.0, 20.0, False, None
    args.log, args.prompts_wav = str(folder / "demo_session.json"), str(folder / "demo_session_with_prompts.wav")
    code = cmd_session(args, out)
    print(f"\nLog: {args.log}\nListen to it with the prompts mixed in: {args.prompts_wav}", file=out)
    return code
