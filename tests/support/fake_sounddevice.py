"""A stand-in for the ``sounddevice`` module: output streams that play, fail, or hang, on a thread.

Install it with ``monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(...))``.
``modes`` is a list of what each new output stream does, in order (the last repeats): ``"ok"`` plays the
clip (fast, or paced in real time with ``realtime=True``), ``"raise"`` fails when opened with a
non-PortAudio error, ``"portaudio"`` fails with a ``PortAudioError``, ``"hang"`` never finishes.
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

    def __init__(self, modes=("ok",), realtime: bool = False) -> None:
        self.modes = list(modes)
        self.realtime = realtime
        self.opened = 0
        self.played: list[np.ndarray] = []
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

            def __enter__(self):
                threading.Thread(target=self._run, daemon=True).start()
                return self

            def __exit__(self, *exc):
                self._stop.set()

            def abort(self):
                self._stop.set()

            def _run(self):
                if self.mode == "hang":
                    return
                out, got = np.zeros((160, 1), np.float32), []
                t_start, done = time.monotonic(), 0
                while not self._stop.is_set():
                    # like PortAudio's: the block reaches the DAC by the stream's sample clock, 20 ms ahead
                    now = time.monotonic()
                    info = types.SimpleNamespace(currentTime=now, outputBufferDacTime=t_start + 0.02 + done / self.rate)
                    done += 160
                    try:
                        self.callback(out, 160, info, None)
                        got.append(out[:, 0].copy())
                    except (CallbackStop, CallbackAbort):
                        got.append(out[:, 0].copy())
                        break
                    if sd.realtime:   # paced by the sample clock, as a device is
                        time.sleep(max(0.0, t_start + done / self.rate - time.monotonic()))
                sd.played.append(np.concatenate(got) if got else np.zeros(0, np.float32))
                self.finished()

        self.OutputStream = OutputStream

    @staticmethod
    def query_devices(device=None, kind=None):
        return {"name": "fake", "default_low_output_latency": 0.01, "max_input_channels": 2,
                "default_samplerate": 16000.0}
