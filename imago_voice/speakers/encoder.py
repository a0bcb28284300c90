"""A GE2E speaker encoder (Resemblyzer's trained weights) run with numpy alone, without torch.

The weights are Resemblyzer 0.1.4's ``pretrained.pt`` (Apache-2.0, by Corentin Jemine), which ships inside
its PyPI wheel. The install step (``scripts/get_models.py``) reads that file without torch and writes the
tensors to ``speaker-encoder-ge2e.npz`` in the models folder (:func:`imago_voice.paths.models_dir`); this
module reads only that ``.npz`` (``allow_pickle=False``), so nothing in a weights file is ever executed.

The network (Resemblyzer's ``voice_encoder.py``): a 3-layer LSTM (hidden 256) -> final hidden state of the
last layer -> Linear(256, 256) -> ReLU -> L2 normalisation, over 160-frame (1.6 s) partials of the mel
features of :mod:`imago_voice.speakers.features`.
"""

from __future__ import annotations

import pathlib
import threading

import numpy as np

from imago_voice.errors import VoiceprintError
from imago_voice.paths import SPEAKER_ENCODER_FILE, models_dir
from imago_voice.speakers.features import N_MELS
from imago_voice.speakers.weights import load_npz

PARTIAL_FRAMES = 160  # 1.6 s
EMBEDDING_SIZE = 256
HIDDEN = 256
N_LAYERS = 3
MODEL_ID = "resemblyzer-0.1.4-ge2e"


def weights_path() -> pathlib.Path:
    """Where the install step puts the encoder's weights."""
    return models_dir() / SPEAKER_ENCODER_FILE


def expected_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {"linear.weight": (EMBEDDING_SIZE, HIDDEN), "linear.bias": (EMBEDDING_SIZE,)}
    for layer in range(N_LAYERS):
        shapes[f"lstm.weight_ih_l{layer}"] = (4 * HIDDEN, N_MELS if layer == 0 else HIDDEN)
        shapes[f"lstm.weight_hh_l{layer}"] = (4 * HIDDEN, HIDDEN)
        shapes[f"lstm.bias_ih_l{layer}"] = (4 * HIDDEN,)
        shapes[f"lstm.bias_hh_l{layer}"] = (4 * HIDDEN,)
    return shapes


def load_weights(path: str | pathlib.Path | None = None) -> dict[str, np.ndarray]:
    """The encoder's state dict as float32 arrays; :class:`VoiceprintError` if missing or not the file."""
    path = pathlib.Path(path) if path is not None else weights_path()
    return load_npz(path, expected_shapes(), "speaker-recognition weights", VoiceprintError)


def _sigmoid_inplace(x: np.ndarray) -> np.ndarray:
    # sigmoid(x) = 0.5 * (1 + tanh(x / 2)): one vectorised transcendental, no overflow warnings
    x *= 0.5
    np.tanh(x, out=x)
    x += 1.0
    x *= 0.5
    return x


class SpeakerEncoder:
    """The GE2E encoder: L2-normalised 256-number embeddings of batches of mel partials."""

    def __init__(self, weights: dict[str, np.ndarray] | None = None,
                 weights_path: str | pathlib.Path | None = None):
        weights = weights if weights is not None else load_weights(weights_path)
        H = HIDDEN
        # Reorder PyTorch's gate blocks (i, f, g, o) to (i, f, o, g): one sigmoid over 3H, one tanh.
        order = np.concatenate([np.arange(0, 2 * H), np.arange(3 * H, 4 * H), np.arange(2 * H, 3 * H)])
        self._w_ih, self._w_hh_t, self._bias = [], [], []
        for layer in range(N_LAYERS):
            w_ih = weights[f"lstm.weight_ih_l{layer}"][order]
            w_hh = weights[f"lstm.weight_hh_l{layer}"][order]
            bias = (weights[f"lstm.bias_ih_l{layer}"] + weights[f"lstm.bias_hh_l{layer}"])[order]
            self._w_ih.append(np.ascontiguousarray(w_ih.T, dtype=np.float32))  # (in, 4H)
            self._w_hh_t.append(np.ascontiguousarray(w_hh.T, dtype=np.float32))  # (H, 4H)
            self._bias.append(bias.astype(np.float32))
        self._lin_w_t = np.ascontiguousarray(weights["linear.weight"].T, dtype=np.float32)
        self._lin_b = weights["linear.bias"].astype(np.float32)

    # -- core ---------------------------------------------------------------------------------

    def final_hidden(self, mels: np.ndarray) -> np.ndarray:
        """Final hidden state of the last LSTM layer for a batch (B, T, 40) of mel frames."""
        x = np.ascontiguousarray(mels, dtype=np.float32)
        if x.ndim != 3 or x.shape[2] != N_MELS:
            raise VoiceprintError(f"The speaker encoder needs mel frames of shape (batch, frames, {N_MELS}).")
        batch, steps, _ = x.shape
        H = HIDDEN
        h = np.zeros((batch, H), dtype=np.float32)
        for layer in range(N_LAYERS):
            last = layer == N_LAYERS - 1
            # Input projections of every time step at once: (T, B, 4H), time-major for the loop.
            gates_in = np.matmul(x.transpose(1, 0, 2), self._w_ih[layer])
            gates_in += self._bias[layer]
            w_hh_t = self._w_hh_t[layer]
            h = np.zeros((batch, H), dtype=np.float32)
            c = np.zeros((batch, H), dtype=np.float32)
            out = None if last else np.empty((steps, batch, H), dtype=np.float32)
            gates = np.empty((batch, 4 * H), dtype=np.float32)
            tmp = np.empty((batch, H), dtype=np.float32)
            for t in range(steps):
                np.matmul(h, w_hh_t, out=gates)
                gates += gates_in[t]
                _sigmoid_inplace(gates[:, : 3 * H])
                g = gates[:, 3 * H:]
                np.tanh(g, out=g)
                c *= gates[:, H:2 * H]  # forget gate
                np.multiply(gates[:, :H], g, out=tmp)  # input gate * candidate
                c += tmp
                np.tanh(c, out=tmp)
                np.multiply(gates[:, 2 * H:3 * H], tmp, out=h)  # output gate * tanh(c)
                if out is not None:
                    out[t] = h
            if out is not None:
                x = out.transpose(1, 0, 2)
        return h

    def embed_mels(self, mels: np.ndarray) -> np.ndarray:
        """L2-normalised embeddings (B, 256) for a batch of mel partials (B, T, 40)."""
        h = self.final_hidden(mels)
        raw = np.maximum(h @ self._lin_w_t + self._lin_b, 0.0)
        norm = np.linalg.norm(raw, axis=1, keepdims=True)
        return (raw / np.maximum(norm, 1e-12)).astype(np.float32)

    def embed_mels_batched(self, mels: np.ndarray, batch_size: int = 64) -> np.ndarray:
        if len(mels) == 0:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        return np.concatenate([self.embed_mels(mels[i:i + batch_size])
                               for i in range(0, len(mels), batch_size)])


def l2_normalise(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector


_ENCODER: SpeakerEncoder | None = None
_ENCODER_LOCK = threading.Lock()


def get_encoder() -> SpeakerEncoder:
    """The shared encoder, loaded once per process (about 0.1 s)."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            _ENCODER = SpeakerEncoder()
        return _ENCODER
