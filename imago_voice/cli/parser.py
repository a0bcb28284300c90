"""The command line's options: one parser, one sub-command per job."""

from __future__ import annotations

import argparse

from imago_voice.errors import UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one plain line instead of usage + traceback-like noise
        raise UsageError(f"{message} (see '{self.prog} --help')")


VOICE_HELP = ("the facilitator's voice: a Piper .onnx voice file, joe (the English Piper voice, the default for "
              "English), espeak (espeak-ng's voice for the language, the default where there is no Piper voice), "
              "or an espeak-ng voice name")


def device(value: str | None) -> int | str | None:
    """A device given as an index ("3") or a name fragment ("USB")."""
    return int(value) if value is not None and value.isdigit() else value


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="PATH", help="write turns and balance as JSON")
    p.add_argument("--no-transcript", action="store_true", help="find turns and balance only, without speech to text")
    p.add_argument("--language", default="en",
                   help="what the people speak (en or es; another language needs the multilingual model)")
    _add_loop_options(p)


def _add_loop_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel", action="append", default=[], metavar="NAME=INDEX",
                   help="whose microphone a channel is (repeat for each person), e.g. --channel Sam=0")
    p.add_argument("--enroll", action="append", default=[], metavar="NAME[=AUDIO]",
                   help="tell people apart by voice: a recording of NAME, or NAME alone for a stored voiceprint")
    p.add_argument("--model", metavar="PATH",
                   help="Whisper model folder (CTranslate2), or its name in the models folder; default: the first "
                        "model folder there, then the bundled tiny.en (for Spanish: models/multilingual/)")
    p.add_argument("--end-silence", type=float, default=1.0, metavar="S",
                   help="seconds of silence that end a turn (default 1.0)")
    p.add_argument("--aggressiveness", type=int, default=2, choices=(0, 1, 2, 3),
                   help="speech detector aggressiveness, 0 keeps most, 3 drops most (default 2)")
    p.add_argument("--frame-ms", type=int, default=30, choices=(10, 20, 30), help="speech detector frame (ms)")
    p.add_argument("--no-overlaps", action="store_true",
                   help="one shared microphone: do not look for two people speaking at once")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log more (repeat for debug)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="imago-voice", description="A local, offline voice facilitator for Imago dialogues.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
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
    se.add_argument("--language", default="en", help="prompt language (en or es; default en)")
    se.add_argument("--names", help="who is taking part, e.g. --names Sam,Alex (else from --channel)")
    se.add_argument("--guide", choices=("full", "light", "silent"), default="full",
                    help="full (default): follow the couple and say every step's prompt; light: lead only when "
                         "they wait or go wrong (live, a held prompt can still start as somebody begins to speak: "
                         "until the facilitator hears while it talks, full is the default); silent: say nothing, "
                         "only follow, time and log (show step, turn, timer and balance, keys to steer)")
    se.add_argument("--silent", action="store_true", help="the same as --guide silent")
    se.add_argument("--locale", help="where the crisis resources are for: en-US (default for English), es-US "
                                     "(default for Spanish), es-ES")
    se.add_argument("--log", metavar="PATH",
                    help="write the session log as JSON; live, the facilitator first asks each person whether "
                         "their words may be kept, and without everyone's yes the log has the times only")
    se.add_argument("--input", metavar="AUDIO", help="replay a recording instead of listening live")
    se.add_argument("--realtime", action="store_true", help="with --input: replay at the recording's own pace")
    se.add_argument("--prompts-wav", metavar="PATH", help="with --input: write the recording with the prompts mixed in")
    se.add_argument("--device", help="input device (live)")
    se.add_argument("--output-device", help="output device for the prompts (live)")
    se.add_argument("--seconds", type=float, help="live: stop after this many seconds")
    se.add_argument("--barge-in", action=argparse.BooleanOptionalAction, default=True,
                    help="live: listen while a prompt plays (on by default: echo cancellation with the played audio "
                         "as reference; 'stop', 'pause', 'repeat' or 'wait' said over a prompt stops it as soon as "
                         "the words end; other speech wholly over a prompt is dropped as echo). --no-barge-in: the "
                         "microphone is deaf while a prompt plays")
    se.add_argument("--learn-voices", action=argparse.BooleanOptionalAction, default=None,
                    help="one shared microphone: learn the voices of the people not enrolled yet, by voice, at "
                         "the start (each says a sentence when asked; stored for next time only after their yes "
                         "to the record). Default: on live, off for --input; people with a stored voiceprint are "
                         "recognised without it")
    se.add_argument("--rate", type=int, default=150, help="speaking rate of the prompts, words per minute")
    se.add_argument("--voice", help=VOICE_HELP)
    se.add_argument("--chunk-limit", type=float, default=45.0, help="seconds a sender may talk before a gentle pause")
    se.add_argument("--timeout-minutes", type=float, default=20.0, help="length of a time-out before checking back")
    se.add_argument("--intention", action="store_true", help="dialogue: add the optional intention step")
    se.add_argument("--remirror", type=float, metavar="BELOW",
                    help="ask for a second mirror when a mirror kept less than this share of the words (e.g. 0.3)")
    _add_loop_options(se)
    d = sub.add_parser("demo", help="a whole facilitated dialogue on a generated two-voice recording")
    d.add_argument("--voice", help=VOICE_HELP)
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
