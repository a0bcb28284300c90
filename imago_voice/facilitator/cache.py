"""Rendered prompts kept on disk, and prompts rendered before they are needed.

A Piper voice renders at about a tenth of real time on these two cores, so a 10 s prompt takes about a
second: too long to wait for after somebody finished speaking. :class:`CachedRenderer` wraps a renderer:

* **A cache on disk** (FLAC, 16 kHz, one file per text, voice and rate, named by their SHA-256) in the
  data folder's ``voice-cache/`` (0700). A prompt said once is never rendered again, in this session or
  the next. The prompts hold the participants' names and nothing they said.
* **Rendering ahead**: :meth:`CachedRenderer.ahead` renders, on a thread of its own at a low priority and
  with its own copy of the voice, the texts the session may say (the engine's
  :meth:`~imago_voice.protocol.engine.Engine.texts_ahead`, the crisis stop first).
* **Sentence by sentence** on a miss: :meth:`CachedRenderer.parts` hands on each sentence as the voice
  renders it (the player starts on the first), and stores the whole prompt when it is done.

Files are written to a temporary name and renamed, so a crash never leaves half a prompt in the cache; a
file that cannot be read is rendered again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.facilitator.render import SLOW

log = logging.getLogger(__name__)

VERSION = 1                 # changes when what is stored changes


class CachedRenderer:
    """A renderer (``render``, ``parts`` and ``rate``) in front of ``inner``, with a disk cache in
    ``folder`` (None: no cache on disk, only this session's memory of what it rendered ahead).

    ``hits``/``misses`` count the prompts found and rendered; ``ahead_done`` how many texts the thread
    that renders ahead has finished (rendered or found)."""

    def __init__(self, inner, folder: str | os.PathLike | None) -> None:
        self.inner = inner
        self.folder = Path(folder) if folder is not None else None
        self.rate = getattr(inner, "rate", 1.0)
        self.hits = self.misses = self.ahead_done = 0
        self._memory: dict[str, np.ndarray] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.folder is not None:
            try:
                self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.chmod(self.folder, 0o700)
            except OSError as exc:
                log.warning("no cache of rendered prompts (%s)", exc)
                self.folder = None

    @property
    def voice_id(self) -> str:
        return getattr(self.inner, "voice_id", type(self.inner).__name__)

    # ----------------------------------------------------------------------------------------- lookup
    def key(self, text: str, rate: float | None = None) -> str:
        rate = self.rate if rate is None else rate
        wpm = getattr(self.inner, "base_wpm", 150) * rate
        return hashlib.sha256(f"{VERSION}|{self.voice_id}|{wpm:.1f}|{text}".encode()).hexdigest()

    def _path(self, key: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{key}.flac"

    def cached(self, text: str, rate: float | None = None) -> np.ndarray | None:
        """The stored audio of ``text`` at ``rate`` (default: the current one), or None."""
        key = self.key(text, rate)
        if key in self._memory:
            return self._memory[key]
        path = self._path(key)
        if path is None or not path.exists():
            return None
        try:
            import soundfile as sf

            audio, sr = sf.read(path, dtype="float32")
        except Exception as exc:  # noqa: BLE001 - a damaged file is rendered again
            log.warning("a cached prompt could not be read (%s): rendering it again", exc)
            return None
        return audio if sr == SAMPLE_RATE and audio.ndim == 1 else None

    def _store(self, key: str, audio: np.ndarray) -> None:
        path = self._path(key)
        if path is None:
            self._memory[key] = audio
            return
        try:
            import soundfile as sf

            fd, tmp = tempfile.mkstemp(suffix=".flac", dir=self.folder)
            os.close(fd)
            sf.write(tmp, np.clip(audio, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="FLAC")
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except Exception as exc:  # noqa: BLE001 - a full disk must not stop the session
            log.warning("a rendered prompt could not be cached (%s)", exc)
            self._memory[key] = audio
            try:
                os.unlink(tmp)
            except (OSError, UnboundLocalError):
                pass

    # ----------------------------------------------------------------------------------------- render
    def parts(self, text: str) -> Iterator[np.ndarray]:
        """The prompt's audio: all of it at once when it is cached, else sentence by sentence as the
        voice renders it (then it is stored)."""
        audio = self.cached(text)
        if audio is not None:
            self.hits += 1
            yield audio
            return
        self.misses += 1
        key = self.key(text)
        inner = self.inner
        inner.rate = self.rate
        pieces = []
        for piece in (inner.parts(text) if hasattr(inner, "parts") else [inner.render(text)]):
            pieces.append(piece)
            yield piece
        if pieces:
            self._store(key, np.concatenate(pieces))

    def render(self, text: str) -> np.ndarray:
        pieces = list(self.parts(text))
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

    # ----------------------------------------------------------------------------------------- ahead
    def ahead(self, texts: Iterable[tuple[str, bool]]) -> threading.Thread | None:
        """Render ``(text, slow)`` pairs that are not cached yet at the current rate, in order, on a thread
        of its own with a copy of the voice (a renderer without ``copy`` is fast enough not to need it:
        nothing is done). Called again (the rate changed), it stops the thread before and starts anew."""
        copy = getattr(self.inner, "copy", None)
        if copy is None:
            return None
        self.close(timeout=0.0)            # one thread at a time: a new rate replaces the old list
        stop = self._stop = threading.Event()
        texts = list(texts)
        rate = self.rate

        def run() -> None:
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)   # the live loop comes first
            except (AttributeError, OSError):
                pass
            try:
                voice = copy()
            except Exception as exc:  # noqa: BLE001 - rendering ahead is only a help
                log.warning("prompts are not rendered ahead (%s)", exc)
                return
            for text, slow in texts:
                if stop.is_set():
                    return
                r = rate * (SLOW if slow else 1.0)
                if self.cached(text, r) is None:
                    voice.rate = r
                    try:
                        self._store(self.key(text, r), voice.render(text))
                    except Exception as exc:  # noqa: BLE001
                        log.warning("a prompt could not be rendered ahead (%s)", exc)
                        return
                self.ahead_done += 1
            log.info("rendered ahead: %d prompts", len(texts))

        self._thread = threading.Thread(target=run, name="render-ahead", daemon=True)
        self._thread.start()
        return self._thread

    def close(self, timeout: float = 5.0) -> None:
        """Stop rendering ahead (after the prompt in hand)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
