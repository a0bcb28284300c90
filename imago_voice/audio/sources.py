"""Sources of audio: a file and a microphone, yielding the same :class:`AudioBlock` stream.

Both time their blocks by sample count. A file can be replayed as fast as possible (the default) or paced
in real time. The microphone's PortAudio callback does nothing but stamp the block with its capture time
(from PortAudio's own ``time_info``), and put it in a bounded queue; when the consumer falls so far behind
that the queue is full, the block is dropped and counted (``dropped``), and the sample count skips over
it, so later blocks keep their true times.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE, AudioBlock
from imago_voice.audio.convert import StreamResampler
from imago_voice.audio.files import load_audio
from imago_voice.errors import DeviceError

log = logging.getLogger(__name__)

DEFAULT_BLOCK = 480  # 30 ms at 16 kHz
QUEUE_SECONDS = 20.0  # how far the consumer may fall behind before blocks are dropped


class FileSource:
    """Replays a file as 16 kHz blocks. ``realtime=True`` paces blocks to the wall clock."""

    def __init__(self, path: str | Path, *, block: int = DEFAULT_BLOCK, realtime: bool = False,
                 data: np.ndarray | None = None) -> None:
        self.path = Path(path)
        self.data = load_audio(self.path) if data is None else np.asarray(data, np.float32).reshape(len(data), -1)
        self.block = block
        self.realtime = realtime
        self.overflows = 0
        self.dropped = 0

    @property
    def channels(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration(self) -> float:
        return self.data.shape[0] / SAMPLE_RATE

    def __iter__(self) -> Iterator[AudioBlock]:
        began = time.monotonic()
        for start in range(0, self.data.shape[0], self.block):
            blk = AudioBlock(start, self.data[start:start + self.block],
                             captured=began + start / SAMPLE_RATE if self.realtime else None)
            if self.realtime:
                delay = began + blk.t1 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield blk


#: The most input latency PortAudio may report before its capture time is not believed (seconds).
PLAUSIBLE_LATENCY = 0.25


def capture_time(now: float, time_info, seconds: float) -> float:
    """When the first sample of a callback's block of ``seconds`` was captured, on the monotonic clock.

    The callback runs once the block is complete, so its last sample was captured about ``now`` and its
    first ``seconds`` earlier. Where PortAudio also reports the block's capture time
    (``inputBufferAdcTime``, on the stream's clock, against the callback's own ``currentTime``) and that
    latency is plausible, it is used instead. PulseAudio's ALSA plugin reports 0.3-0.75 s that is not
    there (measured through a null sink), so larger figures, zeros and nonsense fall back to ``now``.
    """
    fallback = now - seconds
    try:
        adc, current = float(time_info.inputBufferAdcTime), float(time_info.currentTime)
    except (AttributeError, TypeError, ValueError):
        return fallback
    if adc <= 0.0 or current <= 0.0 or not 0.0 <= current - adc <= PLAUSIBLE_LATENCY:
        return fallback
    return min(now - (current - adc), fallback)


class MicrophoneSource:
    """Live input through PortAudio (sounddevice).

    ``device`` is an index or a name fragment (None: the default input). ``channels`` is how many input
    channels to open. Iteration ends after ``seconds`` of audio (counted in samples) or after
    :meth:`stop`. ``overflows`` counts blocks PortAudio reported as overflowed; ``dropped`` counts blocks
    dropped because the consumer fell ``QUEUE_SECONDS`` behind.
    """

    def __init__(self, device: int | str | None = None, *, channels: int = 1, block: int = DEFAULT_BLOCK,
                 seconds: float | None = None, queue_seconds: float = QUEUE_SECONDS) -> None:
        self.device = device
        self.channels = channels
        self.block = block
        self.seconds = seconds
        self.overflows = 0
        self.dropped = 0
        self._queue: queue.Queue[tuple[int, float, np.ndarray] | None] = \
            queue.Queue(maxsize=max(2, int(queue_seconds * SAMPLE_RATE / block)))
        self._stop = threading.Event()
        self._frames_seen = 0   # input frames at the device's rate, counted in the callback
        self.rate = SAMPLE_RATE

    def stop(self) -> None:
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass   # the consumer sees the stop flag at its next block

    def _callback(self, indata, frames, time_info, status) -> None:
        """PortAudio's thread: stamp, copy, queue; never block."""
        captured = capture_time(time.monotonic(), time_info, frames / self.rate)
        if status.input_overflow:
            self.overflows += 1
        index = self._frames_seen
        self._frames_seen += frames
        try:
            self._queue.put_nowait((index, captured, indata.copy()))
        except queue.Full:
            self.dropped += 1

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
        raise DeviceError(f"Could not open input device {info['name']!r} at {SAMPLE_RATE} Hz or its default rate.")

    def __iter__(self) -> Iterator[AudioBlock]:
        stream = self._open()
        resample = StreamResampler(self.rate, self.channels) if self.rate != SAMPLE_RATE else None
        limit = None if self.seconds is None else int(round(self.seconds * SAMPLE_RATE))
        count = 0          # samples at 16 kHz given out (or skipped over) so far
        expected = 0       # the device frame index the next block should start at
        with stream:
            while not self._stop.is_set():
                try:
                    item = self._queue.get(timeout=5.0)
                except queue.Empty:
                    raise DeviceError("The input device stopped sending audio.") from None
                if item is None:
                    break
                index, captured, data = item
                if index > expected:   # blocks were dropped: keep the clock true by skipping their time
                    count += int(round((index - expected) * SAMPLE_RATE / self.rate))
                expected = index + data.shape[0]
                if resample is not None:
                    data = resample(data)
                if limit is not None and count + data.shape[0] >= limit:
                    data = data[: max(0, limit - count)]
                    if data.shape[0]:
                        yield AudioBlock(count, data, captured)
                    break
                yield AudioBlock(count, data, captured)
                count += data.shape[0]
        if self.dropped:
            log.warning("%d input blocks were dropped: the program fell %.0f s behind the microphone",
                        self.dropped, QUEUE_SECONDS)
