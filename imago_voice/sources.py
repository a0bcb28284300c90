"""Sources of audio: a file and a microphone, yielding the same :class:`AudioBlock` stream.

Both time their blocks by sample count. A file can be replayed as fast as possible (the default) or paced
in real time. The microphone's PortAudio callback does nothing but copy the block into a queue and count
``input_overflow``; everything else happens in the consumer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from imago_voice.audio import SAMPLE_RATE, AudioBlock, load_audio
from imago_voice.errors import DeviceError

log = logging.getLogger(__name__)

DEFAULT_BLOCK = 480  # 30 ms at 16 kHz


class FileSource:
    """Replays a file as 16 kHz blocks. ``realtime=True`` paces blocks to the wall clock."""

    def __init__(self, path: str | Path, *, block: int = DEFAULT_BLOCK, realtime: bool = False,
                 data: np.ndarray | None = None) -> None:
        self.path = Path(path)
        self.data = load_audio(self.path) if data is None else np.asarray(data, np.float32).reshape(len(data), -1)
        self.block = block
        self.realtime = realtime
        self.overflows = 0

    @property
    def channels(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration(self) -> float:
        return self.data.shape[0] / SAMPLE_RATE

    def __iter__(self) -> Iterator[AudioBlock]:
        began = time.monotonic()
        for start in range(0, self.data.shape[0], self.block):
            blk = AudioBlock(start, self.data[start:start + self.block])
            if self.realtime:
                delay = began + blk.t1 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield blk


class MicrophoneSource:
    """Live input through PortAudio (sounddevice).

    ``device`` is an index or a name fragment (None: the default input). ``channels`` is how many input
    channels to open. Iteration ends after ``seconds`` of audio (counted in samples) or after
    :meth:`stop`. ``overflows`` counts blocks PortAudio reported as overflowed.
    """

    def __init__(self, device: int | str | None = None, *, channels: int = 1, block: int = DEFAULT_BLOCK,
                 seconds: float | None = None) -> None:
        self.device = device
        self.channels = channels
        self.block = block
        self.seconds = seconds
        self.overflows = 0
        self.opened_at: float | None = None  # time.monotonic() when the stream started
        self.first_block_at: float | None = None
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue()
        self._stop = threading.Event()
        self.rate = SAMPLE_RATE

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio thread: copy and count only
        if status.input_overflow:
            self.overflows += 1
        self._queue.put(indata.copy())

    def _open(self):
        try:
            import sounddevice as sd
        except OSError as exc:
            raise DeviceError("PortAudio is not installed (on Debian/Ubuntu: apt-get install libportaudio2).") from exc
        try:
            info = sd.query_devices(self.device, "input")
        except (ValueError, sd.PortAudioError) as exc:
            raise DeviceError(f"No input device {self.device!r}: {exc}. 'imago-voice devices' lists them.") from exc
        if info["max_input_channels"] < self.channels:
            raise DeviceError(f"Input device {info['name']!r} has {info['max_input_channels']} channel(s); "
                              f"{self.channels} were asked for.")
        for rate in (SAMPLE_RATE, int(info["default_samplerate"])):
            try:
                stream = sd.InputStream(device=self.device, channels=self.channels, samplerate=rate,
                                        dtype="float32", blocksize=self.block * rate // SAMPLE_RATE,
                                        callback=self._callback)
            except sd.PortAudioError as exc:
                log.info("input device refused %d Hz: %s", rate, exc)
                continue
            self.rate = rate
            return stream
        raise DeviceError(f"Could not open input device {info['name']!r} at 16000 Hz or its default rate.")

    def __iter__(self) -> Iterator[AudioBlock]:
        stream = self._open()
        resampler = None
        if self.rate != SAMPLE_RATE:
            import soxr

            resampler = soxr.ResampleStream(self.rate, SAMPLE_RATE, self.channels, dtype="float32")
        limit = None if self.seconds is None else int(round(self.seconds * SAMPLE_RATE))
        count = 0
        with stream:
            self.opened_at = time.monotonic()
            while not self._stop.is_set():
                try:
                    data = self._queue.get(timeout=5.0)
                except queue.Empty:
                    raise DeviceError("The input device stopped sending audio.") from None
                if data is None:
                    break
                if self.first_block_at is None:
                    self.first_block_at = time.monotonic()
                if resampler is not None:
                    data = resampler.resample_chunk(data).reshape(-1, self.channels)
                if limit is not None and count + data.shape[0] >= limit:
                    data = data[: limit - count]
                    if data.shape[0]:
                        yield AudioBlock(count, data)
                    break
                yield AudioBlock(count, data)
                count += data.shape[0]
