"""A private PulseAudio daemon with a null sink: a real, real-time-paced sound device without hardware.

Audio played into the sink (``paplay file.wav`` with the returned environment) is what a program reading
the default source hears, through PortAudio, at the pace of a real microphone. Used by the live tests and
benchmarks, and handy for trying ``listen`` on a machine with no sound card.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from imago_voice.errors import DeviceError


def pulse_available() -> bool:
    return all(shutil.which(tool) for tool in ("pulseaudio", "pactl", "paplay"))


@contextmanager
def null_sink(sink: str = "virt"):
    """Start the daemon; yield an environment (``PULSE_SERVER`` etc.) for the processes that should use it."""
    if not pulse_available():
        raise DeviceError("PulseAudio is not installed (on Debian/Ubuntu: apt-get install pulseaudio pulseaudio-utils).")
    runtime = Path(tempfile.mkdtemp(prefix="imago-pulse-"))
    socket = runtime / "native"
    env = dict(os.environ, PULSE_RUNTIME_PATH=str(runtime), PULSE_SERVER=f"unix:{socket}")
    for var in ("PULSE_SINK", "PULSE_SOURCE"):
        env.pop(var, None)
    logpath = runtime / "log"
    with open(logpath, "w") as log:
        proc = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "--use-pid-file=no", "--disallow-exit",
             f"--load=module-null-sink sink_name={sink}",
             f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if proc.poll() is not None:
                raise DeviceError("PulseAudio could not start: " + logpath.read_text()[-300:].strip())
            if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise DeviceError("PulseAudio did not answer within 10 s.")
        subprocess.run(["pactl", "set-default-sink", sink], env=env, check=True, capture_output=True)
        subprocess.run(["pactl", "set-default-source", f"{sink}.monitor"], env=env, check=True, capture_output=True)
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(runtime, ignore_errors=True)
