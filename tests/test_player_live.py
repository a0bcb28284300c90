"""The prompt player through a real (virtual) sound device: its idea of when a prompt has played out must
match what a microphone in the room hears, or the live loop would take its own voice for a turn."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.live

# Runs in a child process that uses the private PulseAudio: plays three tones with SoundDevicePlayer while
# a microphone stream on the sink's monitor records; prints, for each tone, when it was heard to start and
# end (wall clock, from the input stream's sample count) and what the player said (planned start, and
# busy_until as soon as the player is idle).
CHILD = r"""
import json, queue, threading, time
import numpy as np
import sounddevice as sd
from imago_voice.facilitator.player import SoundDevicePlayer

SR = 16000
blocks = queue.Queue()
arrivals = []
def callback(indata, frames, t, status):
    arrivals.append((time.monotonic(), frames))
    blocks.put(indata[:, 0].copy())
mic = sd.InputStream(samplerate=SR, channels=1, dtype="float32", callback=callback, blocksize=160)
mic.start()
time.sleep(0.5)
player = SoundDevicePlayer()
player.wait_idle()                    # its warm-up absorbs the late start of a first stream
tone = (0.4 * np.sin(2 * np.pi * 700 * np.arange(int(0.6 * SR)) / SR)).astype(np.float32)
said = []
for k in range(3):
    playback = player.play(tone)
    player.wait_idle()
    said.append({"planned_start": playback.start, "planned_end": playback.end, "busy_until": player.busy_until(),
                 "played": playback.played})
    time.sleep(0.8)
time.sleep(0.3)
mic.stop()
player.close()
x = np.concatenate([blocks.get() for _ in range(blocks.qsize())])
mono = np.array([a for a, _ in arrivals]); count = np.cumsum([n for _, n in arrivals])
t0 = float(np.median(mono - count / SR))       # wall-clock time of the input's sample 0
loud = np.flatnonzero(np.abs(x) > 0.05)
groups = np.split(loud, np.flatnonzero(np.diff(loud) > SR // 4) + 1)
heard = [{"start": t0 + g[0] / SR, "end": t0 + g[-1] / SR} for g in groups if len(g)]
print(json.dumps({"said": said, "heard": heard}))
"""


@pytest.mark.parametrize("server_latency_ms", [None, "200"])
def test_the_player_knows_when_a_prompt_has_really_played(pulse, server_latency_ms):
    # with a long server latency, a stream opened for each prompt used to lose the prompt's first 200 ms
    env = dict(pulse, **({"PULSE_LATENCY_MSEC": server_latency_ms} if server_latency_ms else {}))
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    said, heard = doc["said"], doc["heard"]
    assert len(heard) == 3, doc
    for s, h in zip(said, heard):
        # nothing of the prompt is heard after the player says it is done (the loop unmutes then)
        assert h["end"] <= s["busy_until"] + 0.1, doc
        # and it does not keep the room deaf for long after the prompt ended
        assert s["busy_until"] - h["end"] < 0.5, doc
        # the whole tone was heard, not cut at either end
        assert h["end"] - h["start"] == pytest.approx(0.6, abs=0.02), doc
        # it started about when the player planned it (the first stream used to be 1.5 s late)
        assert abs(h["start"] - s["planned_start"]) < 0.1, doc
        assert s["played"] is True, doc
