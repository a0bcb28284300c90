"""Time at the source: each microphone block carries its capture time from PortAudio's own clock, the
queue is bounded, and a block dropped because the program fell behind is counted and skipped in time."""

import queue
import time
from types import SimpleNamespace

import numpy as np
import pytest

from imago_voice.audio.sources import MicrophoneSource, capture_time


def info(adc, current):
    return SimpleNamespace(inputBufferAdcTime=adc, currentTime=current)


def test_capture_time_comes_from_the_callback_not_from_when_the_block_is_read():
    now = 1000.0
    # PortAudio says the block's first sample was captured 0.040 s before the callback ran
    assert capture_time(now, info(50.000, 50.040), 0.03) == pytest.approx(999.96)
    # host APIs that give no times: the callback's moment, less the block's length
    assert capture_time(now, info(0.0, 0.0), 0.03) == pytest.approx(999.97)
    assert capture_time(now, object(), 0.03) == pytest.approx(999.97)
    assert capture_time(now, info(50.0, 40.0), 0.03) == pytest.approx(999.97)   # nonsense times
    # PulseAudio's ALSA plugin reports 0.75 s of latency that is not there: not believed
    assert capture_time(now, info(50.0, 50.75), 0.03) == pytest.approx(999.97)


class _Stream:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def fed_source(monkeypatch, blocks, queue_seconds):
    """A microphone whose PortAudio callback has already delivered ``blocks`` (no device needed)."""
    mic = MicrophoneSource(block=480, queue_seconds=queue_seconds)
    monkeypatch.setattr(mic, "_open", lambda: _Stream())
    ok = SimpleNamespace(input_overflow=False)
    for k, block in enumerate(blocks):
        mic._callback(block, len(block), info(10.0 + 0.03 * k, 10.0 + 0.03 * k + 0.01), ok)
    mic._queue.put(None) if not mic._queue.full() else None
    return mic


def test_a_full_queue_drops_and_counts_blocks_and_later_blocks_keep_their_true_time(monkeypatch):
    blocks = [np.full((480, 1), k, np.float32) for k in range(10)]
    fed = time.monotonic()
    mic = fed_source(monkeypatch, blocks, queue_seconds=4 * 480 / 16000)   # room for 4 blocks
    assert mic.dropped == 6
    time.sleep(0.3)                  # the program reads the blocks late
    got = []
    it = iter(mic)
    for _ in range(4):
        got.append(next(it))
    # the kept blocks are the first four; each block's start is its true sample index
    assert [int(b.samples[0, 0]) for b in got] == [0, 1, 2, 3]
    assert [b.start for b in got] == [0, 480, 960, 1440]
    # stamped when captured (at each callback, less the block's 30 ms), not when read 0.3 s later
    assert all(b.captured is not None and fed - 0.05 < b.captured < fed + 0.1 for b in got)


def test_after_a_drop_the_sample_count_skips_the_lost_time(monkeypatch):
    mic = MicrophoneSource(block=480, queue_seconds=10)
    monkeypatch.setattr(mic, "_open", lambda: _Stream())
    ok = SimpleNamespace(input_overflow=False)
    mic._callback(np.zeros((480, 1), np.float32), 480, info(1.0, 1.01), ok)
    mic._frames_seen += 960          # two blocks PortAudio delivered while the queue was full
    mic._callback(np.ones((480, 1), np.float32), 480, info(1.09, 1.10), ok)
    mic._queue.put(None)
    starts = [b.start for b in mic]
    assert starts == [0, 1440]


def test_the_callback_never_blocks_on_a_full_queue(monkeypatch):
    mic = MicrophoneSource(block=480, queue_seconds=2 * 480 / 16000)
    ok = SimpleNamespace(input_overflow=False)
    t = time.monotonic()
    for _ in range(50):
        mic._callback(np.zeros((480, 1), np.float32), 480, info(1.0, 1.0), ok)
    assert time.monotonic() - t < 0.5 and mic.dropped == 48
    with pytest.raises(queue.Full):
        mic._queue.put_nowait((0, 0.0, None))
