"""Channel mode on the real stereo sample and the fixed-crosstalk mixes only (the voice-loop benchmark's
channel part), for a quick re-check after a change to channel attribution; figures go to BENCHMARKS.md.

    .venv/bin/python benchmarks/bench_channels.py
"""

from __future__ import annotations

from common import machine, need_shared, today, write_section

from bench_voice_loop import librispeech, part_channels
from imago_voice.transcribe import WhisperTranscriber


def main() -> None:
    need_shared()
    body = part_channels(librispeech(), WhisperTranscriber())
    write_section("channels-recheck", f"## Channel mode re-checked after issue 8\n\nMeasured {today()} on {machine()} "
                  "(the same audio and scoring as the voice-loop section's channel part, which was measured before "
                  "issue 8's attribution):\n\n" + body.split("\n", 2)[2])


if __name__ == "__main__":
    main()
