"""The ``imago-voice`` command. Bad input gets one plain line and a non-zero exit, never a traceback.

    parser.py   the options
    common.py   what the commands share: the loop from the options, voiceprints, Ctrl-C, printing
    analyze.py  analyze (a recording) and listen (the microphone)
    session.py  session (live or replayed) and demo
    enroll.py   enroll (voiceprints)
    doctor.py   doctor and devices
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from imago_voice.cli.analyze import cmd_analyze, cmd_listen
from imago_voice.cli.doctor import cmd_devices, cmd_doctor
from imago_voice.cli.enroll import cmd_enroll
from imago_voice.cli.parser import build_parser
from imago_voice.cli.session import cmd_demo, cmd_session
from imago_voice.errors import ImagoError

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


__all__ = ["COMMANDS", "main"]
