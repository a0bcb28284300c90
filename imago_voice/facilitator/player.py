"""The facilitator's voice, played: prompts one after another on an output device, with known timing.

The player keeps one output stream open from its start to its close and writes silence between prompts.
A stream opened for each prompt loses the prompt's first tens of milliseconds (through PulseAudio's ALSA
plugin, 30 ms on an idle machine, 70 ms under load and 200 ms with a long server latency, measured: the
server drops what was written before it started playing), and the first stream a process opens is heard
about 1.5 s late (a short silent clip played first absorbs that). One stream also keeps the device's
latency steady, which the echo canceller's reference needs.

When a prompt's first and last samples are heard comes from the stream's own callbacks (the time PortAudio
gives for each block reaching the device), so ``busy_until`` follows what was really played, not what was
planned; each clip gets a short silent tail so that the end of its last word is never cut.

A clip that cannot be played (any error from the device or the library) is logged and counted, its
:class:`Playback` says so, and the player goes on with the next, opening the stream again: a failing
device never leaves the session waiting for a prompt that will not come, nor the microphone muted.
"""

from __future__ import annotations

import collections
import logging
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


@dataclass
class _Clip:
    audio: np.ndarray
    playback: Playback
    generation: int     # stop() moves the player's on: a clip of an older one is not played (or fades out)
    pos: int = 0        # samples handed to the device so far


class SoundDevicePlayer:
    """Plays prompts one after another on an output device (sounddevice), through one stream kept open.

    ``failures`` counts clips that could not be played.
    """

    TAIL = 0.15       # seconds of silence after each clip, so the end of the last word is never cut
    WARM_UP = 0.5     # seconds of silence played on a first, throwaway stream when the player opens
    LEAD = 1.2        # seconds of silence a new stream starts with (the server may drop its first blocks)
    RAMP = 0.05       # seconds a change of volume takes (no click)
    DUCK_DB = -15.0   # how much quieter a prompt plays while someone talks over it
    STALL = 1.0       # seconds without a callback, while something is to be played: the device has stopped

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
        self.latency = float(info["default_low_output_latency"])   # until the stream has measured its own
        self.reference = reference   # a PlayedAudio (audio/echo_cancel.py): each block played, and when it is heard
        self._gain = 1.0             # applied to what plays, ramped towards _target (ducking, stopping)
        self._target = 1.0
        self._generation = 0
        self.stamp_jumps = 0         # times the device's clock jumped against the samples played (underruns)
        self.stamp_error: collections.deque[float] = collections.deque(maxlen=2000)   # s, for diagnosis
        self.failures = 0
        self._busy_until = 0.0
        self._pending = 0            # clips queued, playing, or handed over and not yet heard to their end
        self._clips: collections.deque[_Clip] = collections.deque()       # queued and playing, in order
        self._ending: list[tuple[float, Playback, bool]] = []  # handed over whole: (heard to its end at, ., whole)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._abort = threading.Event()
        self._wake = threading.Event()
        self._stream = None
        self._stream_failed: str | None = None   # set by the device's thread when the stream died
        self._last_callback = 0.0
        self._anchor: float | None = None        # when the stream's sample 0 is heard, by sample count
        self._done = 0                           # samples the stream has asked for
        self._lead = 0                           # samples of silence still to come before any clip
        self._ready_at: float | None = None      # ... and no clip before this (wall clock; from the first callback)
        self._warm_up = warm_up
        if warm_up:
            self._pending += 1                   # wait_idle() waits for the warm-up too
        self._thread = threading.Thread(target=self._run, name="prompt-player", daemon=True)
        self._thread.start()

    def play(self, audio: np.ndarray) -> Playback:
        audio = np.concatenate([np.asarray(audio, np.float32).reshape(-1),
                                np.zeros(int(self.TAIL * SAMPLE_RATE), np.float32)])
        with self._lock:
            now = time.monotonic()
            wait = self.LEAD if self._ready_at is None else max(0.0, self._ready_at - now)
            start = max(now + self.latency + max(self._lead / SAMPLE_RATE, wait), self._busy_until)
            self._busy_until = start + len(audio) / SAMPLE_RATE
            playback = Playback(start, self._busy_until)
            if self._abort.is_set():   # closed: nothing more is played
                playback.finish(False, "the player is closed")
                self._busy_until = now
                return playback
            if not self._pending:   # the device had nothing to do: its silence until now is no stall
                self._last_callback = max(self._last_callback, now)
            self._pending += 1
            self._clips.append(_Clip(audio, playback, self._generation))
        self._wake.set()
        return playback

    def duck(self, db: float | None = None) -> None:
        """Play on more quietly (someone has started to talk over the prompt)."""
        self._target = 10 ** ((self.DUCK_DB if db is None else db) / 20)

    def unduck(self) -> None:
        self._target = 1.0

    def stop(self) -> bool:
        """Stop the prompt now (a short fade) and drop what is queued; True if anything was playing."""
        with self._lock:
            busy = bool(self._clips)
            self._generation += 1
            self._target = 0.0
        return busy

    def busy_until(self) -> float:
        """When everything queued will have played (wall clock), corrected as clips really start and end.

        While a clip is still playing its end is not certain, so until the device has played it this is
        never earlier than a moment from now.
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

    # -- on the device's thread -------------------------------------------------------------------------

    def _callback(self, outdata, frames, time_info, status) -> None:
        sd = self._sd
        if self._abort.is_set():
            raise sd.CallbackAbort
        try:
            self._fill(outdata[:, 0], frames, time_info)
        except Exception as exc:  # noqa: BLE001 - said on the player's thread, which opens the stream again
            self._stream_failed = f"{type(exc).__name__}: {exc}"
            raise sd.CallbackAbort from exc

    def _fill(self, out: np.ndarray, frames: int, time_info) -> None:
        now = time.monotonic()
        heard = heard_at(now, time_info)
        out[:] = 0.0
        with self._lock:
            self._last_callback = now
            if self._ready_at is None:
                # the server may drop what a new stream writes before it starts playing, however many
                # samples that is (measured: up to 0.4 s past 0.6 s of silence, with a 200 ms latency):
                # silence for a while of real time, too
                self._ready_at = now + self.LEAD
            filled = frames if now < self._ready_at else min(frames, self._lead)
            self._lead -= min(filled, self._lead)
            sounding = False
            while filled < frames and self._clips:
                clip = self._clips[0]
                if clip.generation != self._generation:
                    # stopped: what is playing fades out; once silent, it and what was queued before the stop go
                    if clip.pos == 0 or self._gain == 0.0:
                        self._clips.popleft()
                        self._finish(clip.playback, False, "stopped")
                        continue
                elif self._target == 0.0:   # the first clip after a stop plays at full volume
                    self._target = self._gain = 1.0
                if clip.pos == 0:
                    clip.playback.heard = heard + filled / SAMPLE_RATE
                n = min(frames - filled, len(clip.audio) - clip.pos)
                out[filled:filled + n] = clip.audio[clip.pos:clip.pos + n]
                sounding = True
                clip.pos += n
                filled += n
                if clip.pos >= len(clip.audio):
                    self._clips.popleft()
                    self._ending.append((heard + filled / SAMPLE_RATE, clip.playback,
                                         clip.generation == self._generation))
            gain, target = self._gain, self._target
            if sounding and (gain != target or gain != 1.0):
                step = 1.0 / (self.RAMP * SAMPLE_RATE)
                ramp = np.clip(gain + np.sign(target - gain) * step * np.arange(1, frames + 1),
                               min(gain, target), max(gain, target))
                out *= ramp
                self._gain = float(ramp[-1])
            elif not sounding and target != 0.0:
                self._gain = target
            for item in [e for e in self._ending if e[0] <= now]:
                self._ending.remove(item)
                self._finish(item[1], item[2], None if item[2] else "stopped")
            if self._clips:
                left = self._lead + sum(len(c.audio) - c.pos for c in self._clips)
                self._busy_until = heard + (frames + left) / SAMPLE_RATE
            elif self._ending:
                self._busy_until = max(t for t, _, _ in self._ending)
            # timed by sample count from the stream's first block; PortAudio's own stamp jitters by
            # milliseconds, which would smear the echo canceller's reference. A real jump (an underrun) moves
            # the anchor.
            if self._anchor is None or abs(heard - (self._anchor + self._done / SAMPLE_RATE)) > JUMP:
                if self._anchor is not None:
                    self.stamp_jumps += 1
                self._anchor = heard - self._done / SAMPLE_RATE
            at = self._anchor + self._done / SAMPLE_RATE
            self.stamp_error.append(heard - at)
            self.latency = max(0.0, heard - now)
            self._done += frames
        if sounding and self.reference is not None:
            self.reference.add(at, out)

    def _finish(self, playback: Playback, played: bool, error: str | None) -> None:
        """Say a clip is over (the lock is held)."""
        playback.finish(played, error)
        self._pending -= 1
        if not self._pending:
            self._busy_until = time.monotonic()
        self._idle.notify_all()

    # -- on the player's thread -------------------------------------------------------------------------

    def _run(self) -> None:
        if self._warm_up:
            self._warm()
        while not self._abort.is_set():
            self._wake.wait(0.05)
            self._wake.clear()
            if self._abort.is_set():
                break
            with self._lock:
                wanted = bool(self._clips or self._ending)
                stalled = (self._stream is not None and wanted
                           and time.monotonic() - self._last_callback > self.STALL)
            problem = self._stream_failed or ("the output device stopped playing" if stalled else None)
            if problem:
                self._drop_stream()
                self._fail_head(problem)
            elif self._stream is None and wanted:
                try:
                    self._open()
                except Exception as exc:  # noqa: BLE001 - any failure: say so, count it, go on with the next
                    self._drop_stream()
                    self._fail_head(str(exc) or type(exc).__name__)
        self._drop_stream()
        with self._lock:
            for clip in list(self._clips):
                self._finish(clip.playback, False,
                             "cut short" if clip.pos else "the player was closed before it played")
            for _, playback, _ in self._ending:
                self._finish(playback, False, "cut short")
            self._clips.clear()
            self._ending.clear()

    def _warm(self) -> None:
        """Play silence on a throwaway stream (the first stream a process opens through PulseAudio is
        heard late, by up to 1.5 s, and loses its start), then open the stream the prompts will play on."""
        try:
            stream = self._sd.OutputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32",
                                           device=self.device, callback=lambda out, *_: out.fill(0))
            stream.start()
            self._abort.wait(self.WARM_UP)
            stream.abort()
            stream.close()
            self._open()
            deadline = time.monotonic() + self.LEAD + 2.0
            while (self._lead or self._ready_at is None or time.monotonic() < self._ready_at) \
                    and time.monotonic() < deadline and not self._abort.wait(0.01):
                pass   # ready once the new stream's leading silence has played
        except Exception as exc:  # noqa: BLE001 - the first prompt will try again, and say what failed
            log.debug("warming up the output device: %s", exc)
            self._drop_stream()
        with self._lock:
            self._pending -= 1
            if not self._pending:
                self._busy_until = time.monotonic()
            self._idle.notify_all()

    def _open(self) -> None:
        sd = self._sd

        def finished():
            if not self._abort.is_set() and self._stream_failed is None:
                self._stream_failed = "the output stream ended"

        with self._lock:
            self._anchor, self._done, self._stream_failed = None, 0, None
            self._lead = int(self.LEAD * SAMPLE_RATE)
            self._ready_at = None
            self._last_callback = time.monotonic()
        self._stream = sd.OutputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32", device=self.device,
                                       callback=self._callback, finished_callback=finished)
        self._stream.start()
        with self._lock:
            self._last_callback = time.monotonic()
        log.debug("opened the output stream")

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:  # noqa: BLE001 - it is being dropped anyway
                log.debug("closing the output stream: %s", exc)
        self._stream_failed = None

    def _fail_head(self, error: str) -> None:
        """The clip that was playing (or next) could not be played: count it, say so, go on with the next."""
        self.failures += 1
        log.error("could not play a prompt: %s", error)
        with self._lock:
            if self._ending:
                _, playback, _ = self._ending.pop(0)
                self._finish(playback, False, error)
            elif self._clips:
                self._finish(self._clips.popleft().playback, False, error)

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
        self._wake.set()
        self._thread.join(timeout=max(0.5, deadline - time.monotonic()))
        return played_out
