"""A simulated couple through the live path: partners and facilitator all play into a PulseAudio null sink.

Two espeak-ng voices answer when the facilitator hands them the floor; the microphone (the sink's
monitor, through PortAudio) hears both the partners and the facilitator. The facilitator's own prompts
must never come back as a turn, and the steps must be those of the replay of the same script.
"""

import json
import queue
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from imago_voice.audio import SAMPLE_RATE
from imago_voice.session import is_echo
from imago_voice.simulate import DIALOGUE_SCRIPT, DIALOGUE_VOICES, scripted_session
from imago_voice.speech_out import EspeakRenderer
from imago_voice.synth import speak
from tests.conftest import needs_espeak

pytestmark = [needs_espeak, pytest.mark.live, pytest.mark.model]

RATE = 170  # words per minute of the prompts: a little brisk, to keep the test short
TURN = re.compile(r"^\s*[\d.]+\s+(Sam|Alex|\(unknown\)):")
PROMPT = re.compile(r"^\s*[\d.]+\s+>> (.*)$")


def partner_wavs(tmp_path):
    names = list(DIALOGUE_VOICES)
    files = []
    for k, line in enumerate(DIALOGUE_SCRIPT):
        clip = speak(line.text, DIALOGUE_VOICES[line.speaker])
        stereo = np.zeros((len(clip), 2), np.float32)
        own = names.index(line.speaker)
        stereo[:, own] = clip
        stereo[:, 1 - own] = clip * 10 ** (-10 / 20)      # the other microphone hears it too
        path = tmp_path / f"line{k:02d}.wav"
        sf.write(path, stereo, SAMPLE_RATE)
        files.append(path)
    return files


def reader(stream, lines: queue.Queue):
    for line in stream:
        lines.put((time.monotonic(), line.rstrip("\n")))
    lines.put((time.monotonic(), None))


def test_a_simulated_couple_goes_through_a_whole_dialogue(pulse, tmp_path):
    files = partner_wavs(tmp_path)
    renderer = EspeakRenderer("en", RATE)
    log = tmp_path / "live.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "imago_voice.cli", "session", "--channel", "Sam=0", "--channel", "Alex=1",
         "--rate", str(RATE), "--log", str(log), "--seconds", "600"],
        env=pulse, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=reader, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    busy_until = 0.0      # when the prompts printed so far will have finished playing (estimate)
    turns_heard = 0
    next_line = 0
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            try:
                when, line = lines.get(timeout=0.2)
            except queue.Empty:
                when, line = time.monotonic(), ""
            if line is None:
                break
            if line:
                seen.append(line)
                m = PROMPT.match(line)
                if m:
                    busy_until = max(busy_until, when) + len(renderer.render(m.group(1))) / SAMPLE_RATE
                elif TURN.match(line):
                    turns_heard += 1
            # a partner answers once the facilitator has heard the last line and finished speaking
            if next_line < len(files) and turns_heard == next_line and time.monotonic() > busy_until + 1.2:
                subprocess.run(["paplay", str(files[next_line])], env=pulse, check=True, timeout=60)
                next_line += 1
                busy_until = time.monotonic() + 1.6   # give the facilitator time to hear and answer
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    transcript = "\n".join(seen)
    assert proc.returncode == 0, proc.stderr.read() + transcript
    doc = json.loads(log.read_text())
    prompts = [p["text"] for p in doc["prompts"]]
    # the facilitator's own voice never became a turn
    for turn in doc["turns"]:
        assert not is_echo(turn["text"], prompts), (turn, transcript)
    assert [t["speaker"] for t in doc["turns"]] == [line.speaker for line in DIALOGUE_SCRIPT], transcript
    # the same steps as the replay of the same script
    assert [s["step"] for s in doc["steps"]] == scripted_session().steps, transcript
    assert doc["ended"] == "done"
    assert doc["stats"]["input_overflows"] == 0
