"""A stand-in for the ``sounddevice`` module: output streams that play, fail, or hang, on a thread.

Install it with ``monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(...))``.
``modes`` is a list of what each new output stream does, in order (the last repeats): ``"ok"`` plays,
paced in real time by its sample clock as a device is, until it is stopped; ``"raise"`` fails when opened
with a non-PortAudio error, ``"portaudio"`` fails with a ``PortAudioError``, ``"hang"`` never asks for a
block. ``heard()`` is everything the streams have played so far, one after another.
"""

from __future__ import annotations

import threading
import types
import time

import numpy as np


class PortAudioError(Exception):
    pass


class CallbackStop(Exception):
    pass


class CallbackAbort(Exception):
    pass


class FakeSoundDevice:
    PortAudioError = PortAudioError
    CallbackStop = CallbackStop
    CallbackAbort = CallbackAbort

    def __init__(self, modes=("ok",)) -> None:
        self.modes = list(modes)
        self.opened = 0
        self.blocks: list[np.ndarray] = []
        self._lock = threading.Lock()
        sd = self

        class OutputStream:
            def __init__(self, samplerate, channels, dtype, device, callback, finished_callback):
                mode = sd.modes[min(sd.opened, len(sd.modes) - 1)]
                sd.opened += 1
                if mode == "raise":
                    raise RuntimeError("the sound server went away")
                if mode == "portaudio":
                    raise PortAudioError("Device unavailable")
                self.mode, self.rate, self.callback, self.finished = mode, samplerate, callback, finished_callback
                self._stop = threading.Event()

            def start(self):
                threading.Thread(target=self._run, daemon=True).start()

            def abort(self):
                self._stop.set()

            stop = close = abort

            def _run(self):
                if self.mode == "hang":
                    return
                out = np.zeros((160, 1), np.float32)
                t_start, done = time.monotonic(), 0
                while not self._stop.is_set():
                    # like PortAudio's: the block reaches the DAC by the stream's sample clock, 20 ms ahead
                    now = time.monotonic()
                    info = types.SimpleNamespace(currentTime=now, outputBufferDacTime=t_start + 0.02 + done / self.rate)
                    done += 160
                    try:
                        self.callback(out, 160, info, None)
                    except (CallbackStop, CallbackAbort):
                        break
                    finally:
                        with sd._lock:
                            sd.blocks.append(out[:, 0].copy())
                    time.sleep(max(0.0, t_start + done / self.rate - time.monotonic()))
                self.finished()

        self.OutputStream = OutputStream

    def heard(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)

    @staticmethod
    def query_devices(device=None, kind=None):
        return {"name": "fake", "default_low_output_latency": 0.01, "max_input_channels": 2,
                "default_samplerate": 16000.0}
