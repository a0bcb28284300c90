"""A simulated couple for the live tests and the session benchmark: partners who answer the facilitator.

:class:`LiveCouple` plays a script's lines into a PulseAudio sink when the facilitator hands a partner the
floor; :func:`long_dialogue` writes a long Intentional Dialogue for long runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.demo import Line, speak

#: What the couple answers when a live session with a log first asks whether their words may be kept.
CONSENT_LINES: tuple[Line, ...] = (Line("Sam", "Yes, you may keep it."), Line("Alex", "Yes, that is fine with me."))



class LiveCouple:
    """Plays a script's lines into a PulseAudio sink when the facilitator hands a partner the floor.

    It reads the session's running transcript (``imago-voice session`` stdout, line by line): once the
    previous line has come back as a turn and the prompts printed since have had time to play (their
    length is known by rendering them the same way), the next partner says their line with ``paplay``.
    Each line is a stereo file: the speaker's own microphone channel, and the other's at ``crosstalk_db``.
    ``answered`` records, for each line, when it finished playing and when the next prompt was printed.
    Like a person, a partner whose line was not heard (the facilitator asks again and no turn came back),
    or was heard but not understood (the facilitator says "Sorry, I did not catch that"), says it once
    more; ``repeated`` counts those, and ``unclear`` lists the turns (0-based) that were asked again.
    """

    REPEAT_AFTER = 4.0   # a prompt this long after a line that never became a turn is the facilitator asking again
    ASKED_AGAIN = re.compile(r"^Sorry, I did not catch that")
    TURN = re.compile(r"^\s*[\d.]+\s+([^\s(]\S*|\(unknown\)):\s")   # not "(consent: Sam: yes...)"
    PROMPT = re.compile(r"^\s*[\d.]+\s+>> (.*)$")

    def __init__(self, script: Sequence[Line], voices: dict[str, str], folder, env: dict, *,
                 renderer=None, crosstalk_db: float = -10.0, wait: float = 1.2, repeats: int = 1) -> None:
        import soundfile as sf

        names = list(voices)
        self.env, self.wait = env, wait
        self.renderer = renderer or session_voice(env)
        self.files = []
        for k, line in enumerate(script):
            clip = speak(line.text, voices[line.speaker])
            stereo = np.repeat(clip[:, None] * 10 ** (crosstalk_db / 20), len(names), axis=1)
            stereo[:, names.index(line.speaker)] = clip
            path = f"{folder}/line{k:03d}.wav"
            sf.write(path, stereo.astype(np.float32), SAMPLE_RATE)
            self.files.append(path)
        self.files *= repeats
        self.seen: list[str] = []
        self.answered: list[tuple[float, float | None]] = []   # (line played until, next prompt printed)
        self.repeated = 0
        self.unclear: list[int] = []

    def run(self, stdout, deadline: float) -> None:
        """Drive the session whose stdout is given until it ends (or ``deadline``, monotonic)."""
        import queue
        import subprocess
        import threading
        import time

        lines: queue.Queue = queue.Queue()

        def reader():
            for text in stdout:
                lines.put((time.monotonic(), text.rstrip("\n")))
            lines.put((time.monotonic(), None))

        threading.Thread(target=reader, daemon=True).start()
        busy_until, turns, next_line = 0.0, 0, 0
        while time.monotonic() < deadline:
            try:
                when, text = lines.get(timeout=0.1)
            except queue.Empty:
                when, text = time.monotonic(), ""
            if text is None:
                return
            if text:
                self.seen.append(text)
                m = self.PROMPT.match(text)
                if m:
                    busy_until = max(busy_until, when) + len(self.renderer.render(m.group(1))) / SAMPLE_RATE
                    if self.answered and self.answered[-1][1] is None:
                        self.answered[-1] = (self.answered[-1][0], when)
                    heard = turns - len(self.unclear)   # turns that stand for a line of the script
                    if 0 < next_line <= len(self.files) and heard < next_line and self.answered \
                            and when - self.answered[-1][0] > self.REPEAT_AFTER:
                        next_line -= 1          # asked again, and the line never came back as a turn
                        self.repeated += 1
                        self.answered.pop()     # not an answer to that line: it was never heard
                    elif 0 < next_line <= len(self.files) and heard == next_line and self.ASKED_AGAIN.match(m.group(1)):
                        next_line -= 1          # heard, but not understood: say it again
                        self.repeated += 1
                        self.unclear.append(turns - 1)
                elif self.TURN.match(text):
                    turns += 1
            if busy_until and next_line < len(self.files) and turns - len(self.unclear) >= next_line \
                    and time.monotonic() > busy_until + self.wait:
                subprocess.run(["paplay", self.files[next_line]], env=self.env, check=True, timeout=120)
                self.answered.append((time.monotonic(), None))
                next_line += 1
                busy_until = time.monotonic() + 1.6   # the facilitator needs a moment to hear and answer


def session_voice(env: dict, rate: int = 150, voice: str | None = None):
    """The voice a session started with ``env`` speaks with, reading the same cache of rendered prompts:
    the couple knows how long each prompt lasts (the session stores a prompt before it prints it)."""
    from pathlib import Path

    from imago_voice.facilitator.cache import CachedRenderer
    from imago_voice.facilitator.render import make_renderer
    from imago_voice.paths import DATA_ENV, data_dir

    folder = Path(env[DATA_ENV]) if env.get(DATA_ENV) else data_dir()
    return CachedRenderer(make_renderer("en", rate, voice), folder / "voice-cache")


_CHUNKS = {
    "Sam": [("When you work on Saturdays, I feel lonely in the house.", "when I work on Saturdays, you feel lonely in the house"),
            ("I miss our long walks in the park together.", "you miss our long walks in the park together"),
            ("I feel sad when dinner goes cold on the table.", "you feel sad when dinner goes cold on the table"),
            ("I would like us to plan one free day each month.", "you would like us to plan one free day each month"),
            ("When you look at your phone, I feel far away from you.", "when I look at my phone, you feel far away from me")],
    "Alex": [("I feel worried about money when I do not work on Saturdays.", "you feel worried about money when you do not work on Saturdays"),
             ("My boss asks a lot of me this year.", "your boss asks a lot of you this year"),
             ("I feel tired when I come home late at night.", "you feel tired when you come home late at night"),
             ("I want to rest with you on Sunday mornings.", "you want to rest with me on Sunday mornings"),
             ("I feel proud when we pay the bills together.", "you feel proud when we pay the bills together")],
}


def long_dialogue(chunks_per_round: int) -> tuple[Line, ...]:
    """An Intentional Dialogue where each sender sends ``chunks_per_round`` chunks (for long runs)."""
    lines = [Line("Sam", "I would like to go first."),
             Line("Sam", "Alex, I would like to talk about our weekends. Is now a good time?"),
             Line("Alex", "Yes, now is a good time.")]
    for sender, receiver in (("Sam", "Alex"), ("Alex", "Sam")):
        for k in range(chunks_per_round):
            said, mirrored = _CHUNKS[sender][k % len(_CHUNKS[sender])]
            lines += [Line(sender, said), Line(receiver, f"If I got it, {mirrored}. Is there more?"),
                      Line(sender, "There is more." if k < chunks_per_round - 1 else "That's all.")]
        lines += [Line(receiver, "Let me see if I got all of that. You told me how you feel about our weekends."),
                  Line(receiver, "You make sense, because we both work very hard."),
                  Line(receiver, "I imagine you might feel lonely and tired.")]
    lines += [Line("Sam", "I appreciate that you listened to me today."),
              Line("Alex", "I appreciate your kindness and your patience.")]
    return tuple(lines)
