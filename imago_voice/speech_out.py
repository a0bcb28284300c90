"""The facilitator's voice: prompts rendered to audio (espeak-ng, or pyttsx3) and played with known timing.

Each prompt is rendered to a WAV first and played through sounddevice, so the moment it starts and ends
is known exactly; the live loop stops listening for that window (plus a short tail) so it never takes its
own voice for a turn. pyttsx3's own playback (``say`` + ``runAndWait``) hides that timing, may return
before speaking the first time, and is not used.
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from imago_voice.audio import SAMPLE_RATE, load_audio
from imago_voice.errors import DeviceError, ImagoError

log = logging.getLogger(__name__)

# espeak-ng voice per prompt language
VOICES = {"en": "en-us", "es": "es"}


class Renderer(Protocol):
    rate: float

    def render(self, text: str) -> np.ndarray: ...


class EspeakRenderer:
    """Text to 16 kHz mono float32 with espeak-ng: the ``espeak-ng`` command when it is installed, else
    pyttsx3 (which drives espeak-ng on Linux, and the system's own voices elsewhere).

    The command comes first because pyttsx3 keeps one engine per process and queues property changes:
    with two renderers in one process (the scripted couple and the facilitator, in the tests) a prompt
    was now and then rendered at pyttsx3's default 200 words per minute instead of the one asked for,
    which moved every later prompt. One ``espeak-ng -w`` call per prompt has no shared state.

    ``rate`` multiplies the base speed (words per minute); "slower"/"faster" change it live.
    """

    def __init__(self, language: str = "en", words_per_minute: int = 150, voice: str | None = None) -> None:
        self.voice = voice or VOICES.get(language, language)
        self.base_wpm = words_per_minute
        self.rate = 1.0
        self._engine = None
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._command = shutil.which("espeak-ng")
        if self._command is None:
            self._engine = self._open_pyttsx3()
            if self._engine is None:
                raise ImagoError("No speech synthesizer: install espeak-ng "
                                 "(on Debian/Ubuntu: sudo apt-get install espeak-ng).")

    def _open_pyttsx3(self):
        try:
            import pyttsx3

            with contextlib.redirect_stdout(io.StringIO()):
                engine = pyttsx3.init()
            driver = sys.modules.get("pyttsx3.drivers.espeak")
            if driver is not None:  # it prints "Audio saved to ..." from a callback, sometimes after runAndWait
                driver.print = lambda *args, **kwargs: None
            # the espeak driver writes the file, then says "finished-utterance": only then is the file whole
            engine.connect("finished-utterance", lambda *args, **kwargs: self._finished.set())
            self._engine = engine
            self._select_voice()
            return engine
        except Exception as exc:  # noqa: BLE001 - pyttsx3 fails in many ways
            log.info("pyttsx3 unavailable: %s", exc)
            return None

    def _select_voice(self) -> None:
        lang = self.voice.split("-")[0]
        for v in self._engine.getProperty("voices"):
            vid = str(v.id)
            if vid == self.voice or vid.endswith("/" + self.voice) or vid.endswith("/" + lang):
                self._engine.setProperty("voice", vid)
                return

    def render(self, text: str) -> np.ndarray:
        wpm = int(round(self.base_wpm * self.rate))
        with self._lock, tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "prompt.wav"
            if self._engine is not None:
                self._engine.setProperty("rate", wpm)
                self._finished.clear()
                with contextlib.redirect_stdout(io.StringIO()):  # its espeak driver prints "Audio saved to"
                    self._engine.save_to_file(text, str(path))
                    self._engine.runAndWait()
                    # runAndWait can return before the driver has written the file (the first time, often):
                    # reading it then can catch it half written, so wait for the driver to say it is done
                    finished = self._finished.wait(timeout=2.0 + 0.1 * len(text.split()))
                if not finished or not path.exists() or path.stat().st_size < 100:
                    raise ImagoError("The speech synthesizer (pyttsx3) made no audio for a prompt; "
                                     "installing espeak-ng (apt-get install espeak-ng) avoids it.")
            else:
                subprocess.run([self._command, "-v", self.voice, "-s", str(wpm), "-w", str(path), text],
                               check=True, capture_output=True)
            audio = load_audio(path)[:, 0]
        return audio


class Player(Protocol):
    def play(self, audio: np.ndarray) -> tuple[float, float]:
        """Queue ``audio`` (16 kHz mono); return its (start, end) on the wall clock (``time.monotonic``)."""
        ...

    def close(self) -> None: ...


class SoundDevicePlayer:
    """Plays prompts one after another on an output device, from a thread of its own.

    Each clip gets its own output stream; the moment its first block is asked for and the moment the
    stream reports it has finished come from the stream's own callbacks, so ``busy_until`` follows what
    was really played, not what was planned. Two things seen through PulseAudio's ALSA plugin are handled
    here: the first stream a process opens is heard about 1.5 s late (a short silent clip played first
    absorbs that), and the last tens of milliseconds of a clip can be cut (clips get a silent tail).
    """

    TAIL = 0.15       # seconds of silence after each clip, so the end of the last word is never cut
    WARM_UP = 0.5     # seconds of silence played when the player opens

    def __init__(self, device: int | str | None = None, *, warm_up: bool = True) -> None:
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
        self._busy_until = 0.0
        self._pending = 0          # clips queued or playing
        self._waiting: collections.deque[tuple[float, float]] = collections.deque()  # queued: (seconds, when asked)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="prompt-player", daemon=True)
        self._thread.start()
        if warm_up:
            self.play(np.zeros(int(self.WARM_UP * SAMPLE_RATE), np.float32))

    def play(self, audio: np.ndarray) -> tuple[float, float]:
        audio = np.concatenate([np.asarray(audio, np.float32).reshape(-1),
                                np.zeros(int(self.TAIL * SAMPLE_RATE), np.float32)])
        with self._lock:
            now = time.monotonic()
            start = max(now + self.latency, self._busy_until)
            self._busy_until = start + len(audio) / SAMPLE_RATE
            self._pending += 1
            self._waiting.append((len(audio) / SAMPLE_RATE, now))
            self._queue.put(audio)
            return start, self._busy_until

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
        while (audio := self._queue.get()) is not None:
            with self._lock:
                self._waiting.popleft()
            try:
                self._play_one(audio)
            except self._sd.PortAudioError as exc:
                log.error("could not play a prompt: %s", exc)
            finally:
                with self._idle:
                    self._pending -= 1
                    # the clip has really played out now: what is still queued follows from here
                    t = time.monotonic()
                    for seconds, asked in self._waiting:
                        t = max(t, asked + self.latency) + seconds
                    self._busy_until = t
                    self._idle.notify_all()

    def _play_one(self, audio: np.ndarray) -> None:
        sd = self._sd
        pos = 0
        finished = threading.Event()

        def callback(outdata, frames, time_info, status):
            nonlocal pos
            n = min(frames, len(audio) - pos)
            outdata[:n, 0] = audio[pos:pos + n]
            outdata[n:] = 0
            pos += n
            if pos >= len(audio):
                raise sd.CallbackStop

        stream = sd.OutputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32", device=self.device,
                                 callback=callback, finished_callback=finished.set)
        t0 = time.monotonic()
        with stream:  # the stream says it has finished when its last sample has been played
            finished.wait(timeout=len(audio) / SAMPLE_RATE + 30.0)
        log.debug("played a %.2f s clip in %.2f s", len(audio) / SAMPLE_RATE, time.monotonic() - t0)

    def close(self) -> None:
        """Play what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=120)
