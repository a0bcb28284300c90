"""The facilitator's voice, rendered: prompt text to 16 kHz mono float32 audio, so its length is known.

:class:`EspeakNgRenderer` calls the ``espeak-ng`` command, one call per prompt (no shared state, the
same output for the same text). :class:`Pyttsx3Renderer` is for machines without that command: pyttsx3
drives espeak-ng on Linux and the system's own voices elsewhere. :func:`make_renderer` picks the first
that is there. Each prompt is rendered to a WAV first so that the player knows exactly when it starts and
ends; pyttsx3's own playback (``say`` + ``runAndWait``) hides that timing and is not used.

Why the command comes first: pyttsx3 keeps one engine per process and queues property changes, so with
two renderers in one process (the scripted couple and the facilitator, in the tests) a prompt was now
and then rendered at its default 200 words per minute instead of the one asked for.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from imago_voice.audio.files import load_audio
from imago_voice.errors import ImagoError, SynthesisError

log = logging.getLogger(__name__)

#: espeak-ng voice per prompt language
VOICES = {"en": "en-us", "es": "es"}
INSTALL = "install espeak-ng (on Debian/Ubuntu: sudo apt-get install espeak-ng)"


class Renderer(Protocol):
    """Anything that turns a prompt into 16 kHz mono float32 audio; ``rate`` multiplies its speed."""

    rate: float

    def render(self, text: str) -> np.ndarray: ...


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


class EspeakNgRenderer:
    """Text to audio with the ``espeak-ng`` command.

    ``words_per_minute`` is the base speed (``rate`` multiplies it; "slower"/"faster" change it live);
    ``voice`` an espeak-ng voice (default: the language's); ``pitch`` 0-99 (espeak's default 50).
    """

    def __init__(self, language: str = "en", words_per_minute: int = 150, voice: str | None = None,
                 pitch: int = 50) -> None:
        self._command = shutil.which("espeak-ng")
        if self._command is None:
            raise SynthesisError(f"No speech synthesizer: {INSTALL}.")
        self.voice = voice or VOICES.get(language, language)
        self.base_wpm = words_per_minute
        self.pitch = pitch
        self.rate = 1.0

    def render(self, text: str) -> np.ndarray:
        wpm = int(round(self.base_wpm * self.rate))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "prompt.wav"
            try:
                subprocess.run([self._command, "-v", self.voice, "-s", str(wpm), "-p", str(self.pitch),
                                "-w", str(path), text], check=True, capture_output=True, timeout=60)
            except (OSError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", b"") or b""
                detail = detail.decode(errors="replace").strip().splitlines()[-1:] or [str(exc)]
                raise SynthesisError(f"espeak-ng could not render a prompt ({detail[0]}).") from exc
            return _read_render(path, "espeak-ng")


class Pyttsx3Renderer:
    """Text to audio through pyttsx3 (its espeak-ng driver on Linux); for machines without the command."""

    def __init__(self, language: str = "en", words_per_minute: int = 150, voice: str | None = None) -> None:
        self.voice = voice or VOICES.get(language, language)
        self.base_wpm = words_per_minute
        self.rate = 1.0
        self._lock = threading.Lock()
        self._finished = threading.Event()
        try:
            import pyttsx3

            with contextlib.redirect_stdout(io.StringIO()):
                engine = pyttsx3.init()
        except Exception as exc:  # noqa: BLE001 - pyttsx3 fails in many ways
            raise SynthesisError(f"No speech synthesizer: {INSTALL} ({exc}).") from exc
        driver = sys.modules.get("pyttsx3.drivers.espeak")
        if driver is not None:  # it prints "Audio saved to ..." from a callback, sometimes after runAndWait
            driver.print = lambda *args, **kwargs: None
        # the espeak driver writes the file, then says "finished-utterance": only then is the file whole
        engine.connect("finished-utterance", lambda *args, **kwargs: self._finished.set())
        self._engine = engine
        lang = self.voice.split("-")[0]
        for v in engine.getProperty("voices"):
            vid = str(v.id)
            if vid == self.voice or vid.endswith("/" + self.voice) or vid.endswith("/" + lang):
                engine.setProperty("voice", vid)
                break

    def render(self, text: str) -> np.ndarray:
        wpm = int(round(self.base_wpm * self.rate))
        with self._lock, tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "prompt.wav"
            self._engine.setProperty("rate", wpm)
            self._finished.clear()
            with contextlib.redirect_stdout(io.StringIO()):  # its espeak driver prints "Audio saved to"
                self._engine.save_to_file(text, str(path))
                self._engine.runAndWait()
                # runAndWait can return before the driver has written the file (the first time, often):
                # reading it then can catch it half written, so wait for the driver to say it is done
                finished = self._finished.wait(timeout=2.0 + 0.1 * len(text.split()))
            if not finished or not path.exists() or path.stat().st_size < 100:
                raise SynthesisError("The speech synthesizer (pyttsx3) made no audio for a prompt; "
                                     f"to avoid it, {INSTALL}.")
            return _read_render(path, "pyttsx3")


def _read_render(path: Path, who: str) -> np.ndarray:
    try:
        return load_audio(path)[:, 0]
    except ImagoError as exc:
        raise SynthesisError(f"{who} made no usable audio for a prompt ({exc}).") from exc


def make_renderer(language: str = "en", words_per_minute: int = 150, voice: str | None = None) -> Renderer:
    """The ``espeak-ng`` command where it is installed, else pyttsx3; :class:`SynthesisError` if neither."""
    if espeak_available():
        return EspeakNgRenderer(language, words_per_minute, voice)
    log.info("espeak-ng is not installed: rendering prompts through pyttsx3")
    return Pyttsx3Renderer(language, words_per_minute, voice)
