"""The facilitator's voice, played: prompts one after another on an output device, with known timing.

Each clip gets its own output stream; the moment its first block is asked for and the moment the stream
reports it has finished come from the stream's own callbacks, so ``busy_until`` follows what was really
played, not what was planned. Two things seen through PulseAudio's ALSA plugin are handled here: the
first stream a process opens is heard about 1.5 s late (a short silent clip played first absorbs that),
and the last tens of milliseconds of a clip can be cut (clips get a silent tail).

A clip that cannot be played (any error from the device or the library) is logged and counted, its
:class:`Playback` says so, and the player goes on with the next: a failing device never leaves the
session waiting for a prompt that will not come, nor the microphone muted.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.audio.echo_cancel import JUMP
from imago_voice.errors import DeviceError

log = logging.getLogger(__name__)


@dataclass
class Playback:
    """One clip handed to a player: its planned ``start`` and ``end`` (wall clock, ``time.monotonic``)
    and, once it is over, whether it was ``played`` (``None`` while queued or playing)."""

    start: float
    end: float
    played: bool | None = None
    error: str | None = None
    heard: float | None = None   # when its first sample was really heard (from the device), once it started
    done: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def finish(self, played: bool, error: str | None = None) -> None:
        self.played, self.error = played, error
        self.done.set()


def heard_at(now: float, time_info) -> float:
    """When the first sample of an output callback's block is heard, on the monotonic clock: ``now`` plus
    how far ahead of the stream's current time PortAudio says the block reaches the device."""
    try:
        ahead = float(time_info.outputBufferDacTime) - float(time_info.currentTime)
    except (AttributeError, TypeError, ValueError):
        return now
    return now + ahead if 0.0 <= ahead < 2.0 else now


class Player(Protocol):
    def play(self, audio: np.ndarray) -> Playback:
        """Queue ``audio`` (16 kHz mono); the returned handle says when it should start and end."""
        ...

    def busy_until(self) -> float: ...

    def close(self, timeout: float = ...) -> bool: ...


class SoundDevicePlayer:
    """Plays prompts one after another on an output device (sounddevice), from a thread of its own.

    ``failures`` counts clips that could not be played.
    """

    TAIL = 0.15       # seconds of silence after each clip, so the end of the last word is never cut
    WARM_UP = 0.5     # seconds of silence played when the player opens

    def __init__(self, device: int | str | None = None, *, warm_up: bool = True, reference=None) -> None:
        try:
            import sounddevice as sd
        except OSError as exc:
            raise DeviceError("PortAudio is not installed (on Debian/Ubuntu: apt-get install libportaudio2).") from exc
        self._sd = sd
        self.device = device
        try:
            info = sd.query_devices(device, "output")
        except (ValueError, sd.PortAudioError) as exc:
            raise DeviceError(f"No output device {device!r}: {exc}. 'imago-voice devices' lists them.") from exc
        self.latency = float(info["default_low_output_latency"])
        self.reference = reference   # a PlayedAudio (audio/echo_cancel.py): each block played, and when it is heard
        self._gain = 1.0             # applied to what plays, ramped towards _target (ducking, stopping)
        self._target = 1.0
        self._generation = 0         # stop() moves it on: clips queued before are not played
        self.stamp_jumps = 0         # times the device's clock jumped against the samples played (underruns)
        self.stamp_error: collections.deque[float] = collections.deque(maxlen=2000)   # s, for diagnosis
        self.failures = 0
        self._busy_until = 0.0
        self._pending = 0          # clips queued or playing
        self._waiting: collections.deque[tuple[float, float]] = collections.deque()  # queued: (seconds, when asked)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._abort = threading.Event()
        self._queue: queue.Queue[tuple[np.ndarray, Playback] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="prompt-player", daemon=True)
        self._thread.start()
        if warm_up:
            self.play(np.zeros(int(self.WARM_UP * SAMPLE_RATE), np.float32))

    def play(self, audio: np.ndarray) -> Playback:
        audio = np.concatenate([np.asarray(audio, np.float32).reshape(-1),
                                np.zeros(int(self.TAIL * SAMPLE_RATE), np.float32)])
        with self._lock:
            now = time.monotonic()
            start = max(now + self.latency, self._busy_until)
            self._busy_until = start + len(audio) / SAMPLE_RATE
            playback = Playback(start, self._busy_until)
            if self._abort.is_set():   # closed: nothing more is played
                playback.finish(False, "the player is closed")
                self._busy_until = now
                return playback
            self._pending += 1
            self._waiting.append((len(audio) / SAMPLE_RATE, now))
            self._queue.put((audio, playback, self._generation))
            return playback

    RAMP = 0.05       # seconds a change of volume takes (no click)
    DUCK_DB = -15.0   # how much quieter a prompt plays while someone talks over it

    def duck(self, db: float | None = None) -> None:
        """Play on more quietly (someone has started to talk over the prompt)."""
        self._target = 10 ** ((self.DUCK_DB if db is None else db) / 20)

    def unduck(self) -> None:
        self._target = 1.0

    def stop(self) -> bool:
        """Stop the prompt now (a short fade) and drop what is queued; True if anything was playing."""
        with self._lock:
            busy = self._pending > 0
            self._generation += 1
            self._target = 0.0
        return busy

    def busy_until(self) -> float:
        """When everything queued will have played (wall clock), corrected as clips really start and end.

        While a clip is still playing its end is not certain, so until its stream says it has finished
        this is never earlier than a moment from now.
        """
        with self._lock:
            if self._pending:
                return max(self._busy_until, time.monotonic() + 0.1)
            return self._busy_until

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """Block until everything queued has played; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            audio, playback, generation = item
            with self._lock:
                self._waiting.popleft()
                stopped = generation != self._generation
                if not stopped and self._target == 0.0:   # a new prompt after a stop plays at full volume
                    self._target = self._gain = 1.0
            try:
                if self._abort.is_set():
                    playback.finish(False, "the player was closed before it played")
                elif stopped:
                    playback.finish(False, "stopped")
                else:
                    whole = self._play_one(audio, generation, playback)
                    if self._abort.is_set():
                        playback.finish(False, "cut short")
                    else:
                        playback.finish(whole, None if whole else "stopped")
            except Exception as exc:  # noqa: BLE001 - any failure: say so, count it, go on with the next
                self.failures += 1
                log.error("could not play a prompt: %s", exc)
                playback.finish(False, str(exc) or type(exc).__name__)
            finally:
                with self._idle:
                    self._pending -= 1
                    # the clip is over now: what is still queued follows from here
                    t = time.monotonic()
                    for seconds, asked in self._waiting:
                        t = max(t, asked + self.latency) + seconds
                    self._busy_until = t
                    self._idle.notify_all()

    def _play_one(self, audio: np.ndarray, generation: int = 0, playback: Playback | None = None) -> bool:
        """Play one clip; False if it was stopped before its end."""
        sd = self._sd
        pos = 0
        finished = threading.Event()
        abort = self._abort
        reference = self.reference
        step = 1.0 / (self.RAMP * SAMPLE_RATE)
        cut = False
        anchor, done = None, 0   # when the clip's first sample is heard; samples handed over so far

        def callback(outdata, frames, time_info, status):
            nonlocal pos, cut, anchor, done
            if abort.is_set():
                raise sd.CallbackAbort
            n = min(frames, len(audio) - pos)
            outdata[:n, 0] = audio[pos:pos + n]
            outdata[n:] = 0
            pos += n
            gain, target = self._gain, self._target
            if gain != target or gain != 1.0:
                ramp = np.clip(gain + np.sign(target - gain) * step * np.arange(1, frames + 1),
                               min(gain, target), max(gain, target))
                outdata[:, 0] *= ramp
                self._gain = float(ramp[-1])
            if playback is not None and playback.heard is None:
                playback.heard = heard_at(time.monotonic(), time_info)
            if reference is not None:
                # timed by sample count from the clip's first block; PortAudio's own stamp jitters by
                # milliseconds, which would smear the echo canceller's reference. A real jump (an underrun)
                # moves the anchor.
                measured = heard_at(time.monotonic(), time_info)
                if anchor is None or abs(measured - (anchor + done / SAMPLE_RATE)) > JUMP:
                    if anchor is not None:
                        self.stamp_jumps += 1
                    anchor = measured - done / SAMPLE_RATE
                self.stamp_error.append(measured - (anchor + done / SAMPLE_RATE))
                reference.add(anchor + done / SAMPLE_RATE, outdata[:, 0])
            done += frames
            if self._generation != generation and self._gain == 0.0:   # stopped, and faded out
                cut = True
                raise sd.CallbackStop
            if pos >= len(audio):
                raise sd.CallbackStop

        stream = sd.OutputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32", device=self.device,
                                 callback=callback, finished_callback=finished.set)
        t0 = time.monotonic()
        deadline = t0 + len(audio) / SAMPLE_RATE + 30.0
        with stream:  # the stream says it has finished when its last sample has been played
            while not finished.wait(timeout=0.05):
                if abort.is_set():         # closing: stop this clip now, whatever the device is doing
                    stream.abort()
                    return
                if time.monotonic() > deadline:
                    raise DeviceError("the output device stopped playing")
        log.debug("played a %.2f s clip in %.2f s%s", len(audio) / SAMPLE_RATE, time.monotonic() - t0,
                  " (stopped)" if cut else "")
        return not cut

    def close(self, timeout: float = 30.0) -> bool:
        """Let what is queued play out for at most ``timeout`` seconds, then stop (cutting the rest).

        Returns True if everything queued was played before the timeout.
        """
        deadline = time.monotonic() + timeout
        played_out = self.wait_idle(timeout)
        if not played_out:
            self._abort.set()
        else:
            with self._lock:
                self._abort.set()   # nothing more is queued after a close
        self._queue.put(None)
        self._thread.join(timeout=max(0.5, deadline - time.monotonic()))
        return played_out
