"""A GE2E speaker encoder (Resemblyzer's trained weights) run with numpy alone, without torch.

The weights are the file ``resemblyzer/pretrained.pt`` that the ``resemblyzer==0.1.4`` wheel on PyPI
ships (Apache-2.0, by Corentin Jemine). Install it with
``pip install --no-deps resemblyzer==0.1.4``: only the file is used. The ``resemblyzer`` module itself is
never imported (it imports torch), and the file is read by a restricted unpickler that builds nothing
but plain containers and numpy arrays, so nothing in it is ever executed.

What this module reproduces from Resemblyzer (``hparams.py``, ``audio.py``, ``voice_encoder.py``):

* preprocessing: loudness raised (never lowered) to -30 dBFS, then silences longer than ~0.2 s trimmed
  with WebRTC VAD (mode 3, 30 ms windows, moving average of 8, dilation of 7 windows);
* features: 40-band Slaney mel *power* spectrogram (librosa defaults: periodic Hann window of 25 ms,
  10 ms hop, centred frames zero-padded at both ends, no log);
* network: 3-layer LSTM (hidden 256) -> final hidden state of the last layer -> Linear(256, 256) -> ReLU
  -> L2 normalisation; an utterance is cut into 160-frame (1.6 s) partials whose embeddings are
  averaged and L2-normalised again.
"""

from __future__ import annotations

import collections
import importlib.util
import io
import pathlib
import pickle
import struct
import threading
from dataclasses import dataclass

import numpy as np

from imago_voice.errors import VoiceprintError

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
EMBEDDING_SIZE = 256
HIDDEN = 256
N_LAYERS = 3

AUDIO_NORM_TARGET_DBFS = -30.0
VAD_WINDOW_MS = 30
VAD_MOVING_AVERAGE_WIDTH = 8
VAD_MAX_SILENCE_LENGTH = 6

WEIGHTS_PACKAGE = "resemblyzer"
WEIGHTS_FILE = "pretrained.pt"
INSTALL_HINT = "pip install --no-deps resemblyzer==0.1.4"
MODEL_ID = "resemblyzer-0.1.4-ge2e"

_INT16_MAX = 2**15 - 1
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_REQUIRED_KEYS = tuple(
    [f"lstm.{kind}_l{layer}" for layer in range(N_LAYERS)
     for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    + ["linear.weight", "linear.bias"]
)


# --------------------------------------------------------------------------------------------
# Weights: torch's legacy (non-zip) serialisation read without torch
# --------------------------------------------------------------------------------------------


def find_weights() -> pathlib.Path:
    """Where the installed ``resemblyzer`` wheel keeps ``pretrained.pt``, without importing it."""
    try:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        candidate = pathlib.Path(folder) / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    if not locations:
        raise VoiceprintError(
            "The speaker-recognition weights are not installed. "
            f"Install them (no torch needed) with: {INSTALL_HINT}"
        )
    raise VoiceprintError(
        f"The speaker-recognition weights file {WEIGHTS_FILE} is missing from {locations[0]}. "
        f"Reinstall it with: pip install --force-reinstall --no-deps resemblyzer==0.1.4"
    )


class _StorageType:
    """Stands for ``torch.FloatStorage`` (the only storage type allowed) while unpickling."""

    dtype = np.dtype("<f4")


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                    *_extra):
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError("a tensor refers to something that is not a storage")
    size = tuple(int(v) for v in size)
    stride = tuple(int(v) for v in stride)
    return _TensorRef(storage, int(storage_offset), size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Allows exactly three globals; every other class or function in the file is refused."""

    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch", "FloatStorage"): _StorageType,
    }

    def find_class(self, module, name):  # noqa: D401 - pickle API
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent id")
        storage_type, key, _location, numel = pid[1], pid[2], pid[3], pid[4]
        if storage_type is not _StorageType:
            raise pickle.UnpicklingError("unexpected storage type")
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        return _StorageRef(str(key), _StorageType.dtype, int(numel))


def _read_legacy_torch(data: bytes) -> tuple[object, dict[str, np.ndarray]]:
    stream = io.BytesIO(data)

    def unpickle():
        return _RestrictedUnpickler(stream).load()

    if unpickle() != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("not a legacy torch file (bad magic number)")
    if unpickle() != _LEGACY_PROTOCOL:
        raise pickle.UnpicklingError("unsupported legacy torch protocol version")
    sys_info = unpickle()
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise pickle.UnpicklingError("unsupported byte order")
    obj = unpickle()
    keys = unpickle()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise pickle.UnpicklingError("bad storage key list")
    storages: dict[str, np.ndarray] = {}
    view = memoryview(data)
    pos = stream.tell()
    for key in keys:
        if pos + 8 > len(data):
            raise pickle.UnpicklingError("truncated storage data")
        (numel,) = struct.unpack_from("<q", data, pos)
        pos += 8
        nbytes = numel * 4
        if numel < 0 or pos + nbytes > len(data):
            raise pickle.UnpicklingError("truncated storage data")
        storages[key] = np.frombuffer(view[pos:pos + nbytes], dtype="<f4")
        pos += nbytes
    return obj, storages


def _materialise(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    flat = storages.get(ref.storage.key)
    if flat is None:
        raise pickle.UnpicklingError("a tensor refers to a missing storage")
    if any(s < 0 for s in ref.stride) or any(n < 0 for n in ref.size) or ref.offset < 0:
        raise pickle.UnpicklingError("bad tensor geometry")
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride)) if all(ref.size) else 0
    if last >= len(flat) and all(ref.size):
        raise pickle.UnpicklingError("tensor reaches past its storage")
    item = flat.itemsize
    out = np.lib.stride_tricks.as_strided(
        flat[ref.offset:], shape=ref.size, strides=tuple(s * item for s in ref.stride), writeable=False
    )
    return np.array(out, dtype=np.float32, copy=True)


def load_weights(path: str | pathlib.Path | None = None) -> dict[str, np.ndarray]:
    """The encoder's state dict as float32 numpy arrays (``lstm.*`` and ``linear.*``)."""
    path = pathlib.Path(path) if path is not None else find_weights()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VoiceprintError(f"Cannot read the speaker-recognition weights {path}: {exc.strerror}.") from exc
    try:
        obj, storages = _read_legacy_torch(data)
        state = obj["model_state"] if isinstance(obj, dict) else None
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("no model_state")
        weights = {}
        for key in _REQUIRED_KEYS:
            ref = state.get(key)
            if not isinstance(ref, _TensorRef):
                raise pickle.UnpicklingError(f"missing tensor {key}")
            weights[key] = _materialise(ref, storages)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError,
            IndexError, struct.error) as exc:
        raise VoiceprintError(
            f"The speaker-recognition weights {path} are damaged or not the expected file ({exc}). "
            f"Reinstall them with: pip install --force-reinstall --no-deps resemblyzer==0.1.4"
        ) from exc
    _check_shapes(weights, path)
    return weights


def _check_shapes(weights: dict[str, np.ndarray], path) -> None:
    expected = {"linear.weight": (EMBEDDING_SIZE, HIDDEN), "linear.bias": (EMBEDDING_SIZE,)}
    for layer in range(N_LAYERS):
        expected[f"lstm.weight_ih_l{layer}"] = (4 * HIDDEN, N_MELS if layer == 0 else HIDDEN)
        expected[f"lstm.weight_hh_l{layer}"] = (4 * HIDDEN, HIDDEN)
        expected[f"lstm.bias_ih_l{layer}"] = (4 * HIDDEN,)
        expected[f"lstm.bias_hh_l{layer}"] = (4 * HIDDEN,)
    for key, shape in expected.items():
        if weights[key].shape != shape or not np.all(np.isfinite(weights[key])):
            raise VoiceprintError(
                f"The speaker-recognition weights {path} do not have the expected shape ({key}). "
                f"Reinstall them with: pip install --force-reinstall --no-deps resemblyzer==0.1.4"
            )


# --------------------------------------------------------------------------------------------
# Audio preprocessing and features
# --------------------------------------------------------------------------------------------


def to_mono_16k(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A float32 mono copy at 16 kHz (averaging channels, polyphase resampling)."""
    wav = np.asarray(audio)
    if wav.ndim == 2:
        # (samples, channels) as soundfile gives, or (channels, samples)
        wav = wav.mean(axis=1) if wav.shape[0] >= wav.shape[1] else wav.mean(axis=0)
    elif wav.ndim != 1:
        raise VoiceprintError("Audio for speaker recognition must be a mono (1-D) or a 2-D array.")
    if np.issubdtype(wav.dtype, np.integer):
        wav = wav.astype(np.float32) / float(np.iinfo(wav.dtype).max)
    wav = np.asarray(wav, dtype=np.float32)
    if int(sample_rate) != SAMPLE_RATE:
        if sample_rate <= 0:
            raise VoiceprintError(f"Invalid sample rate {sample_rate}.")
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(sample_rate), SAMPLE_RATE)
        wav = resample_poly(wav, SAMPLE_RATE // g, int(sample_rate) // g).astype(np.float32)
    if not np.all(np.isfinite(wav)):
        wav = np.nan_to_num(wav, nan=0.0, posinf=0.0, neginf=0.0)
    return wav


def normalize_volume(wav: np.ndarray, target_dbfs: float = AUDIO_NORM_TARGET_DBFS,
                     increase_only: bool = True) -> np.ndarray:
    """Scale to ``target_dbfs`` RMS (by default only ever louder, as Resemblyzer does)."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    if rms <= 1e-10:
        return wav
    change_db = target_dbfs - 20.0 * np.log10(rms)
    if change_db < 0 and increase_only:
        return wav
    return (wav * np.float32(10.0 ** (change_db / 20.0))).astype(np.float32)


def vad_flags(wav: np.ndarray, mode: int = 3) -> np.ndarray:
    """WebRTC VAD decision per 30 ms window (the trailing partial window is dropped)."""
    import webrtcvad

    n = (VAD_WINDOW_MS * SAMPLE_RATE) // 1000
    count = len(wav) // n
    if count == 0:
        return np.zeros(0, dtype=bool)
    pcm = np.clip(np.round(wav[: count * n] * _INT16_MAX), -_INT16_MAX - 1, _INT16_MAX).astype("<i2")
    raw = pcm.tobytes()
    vad = webrtcvad.Vad(mode)
    step = n * 2
    return np.fromiter((vad.is_speech(raw[i * step:(i + 1) * step], SAMPLE_RATE) for i in range(count)),
                       dtype=bool, count=count)


def speech_mask(wav: np.ndarray) -> np.ndarray:
    """Resemblyzer's smoothed, dilated VAD mask, one value per 30 ms window."""
    from scipy.ndimage import binary_dilation

    flags = vad_flags(wav).astype(np.float64)
    if len(flags) == 0:
        return flags.astype(bool)
    width = VAD_MOVING_AVERAGE_WIDTH
    padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
    csum = np.cumsum(padded)
    csum[width:] = csum[width:] - csum[:-width]
    smoothed = csum[width - 1:] / width
    mask = np.round(smoothed).astype(bool)
    return binary_dilation(mask, np.ones(VAD_MAX_SILENCE_LENGTH + 1))


def trim_long_silences(wav: np.ndarray) -> np.ndarray:
    """Keep speech and short pauses only (Resemblyzer's ``trim_long_silences``)."""
    n = (VAD_WINDOW_MS * SAMPLE_RATE) // 1000
    mask = speech_mask(wav)
    wav = wav[: len(mask) * n]
    return wav[np.repeat(mask, n)]


def preprocess(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resemblyzer's ``preprocess_wav``: 16 kHz mono, loudness to -30 dBFS, long silences trimmed."""
    wav = to_mono_16k(audio, sample_rate)
    wav = normalize_volume(wav, AUDIO_NORM_TARGET_DBFS, increase_only=True)
    return trim_long_silences(wav)


def _hz_to_mel(freqs: np.ndarray) -> np.ndarray:
    freqs = np.asarray(freqs, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = freqs / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_t = freqs >= min_log_hz
    mels[log_t] = min_log_mel + np.log(freqs[log_t] / min_log_hz) / logstep
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    freqs[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    return freqs


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """``librosa.filters.mel`` with its defaults (Slaney scale, Slaney area normalisation)."""
    fmax = sr / 2.0 if fmax is None else fmax
    fftfreqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(np.array([fmin]))[0], _hz_to_mel(np.array([fmax]))[0],
                                   n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


_MEL_BASIS = None
_WINDOW = None


def power_spectrogram(wav: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT|^2 with centred frames (zero padding), periodic Hann; shape (frames, n_fft//2+1)."""
    global _WINDOW
    if _WINDOW is None or len(_WINDOW) != n_fft:
        _WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    wav = np.asarray(wav, dtype=np.float32)
    padded = np.pad(wav, (n_fft // 2, n_fft // 2))
    n_frames = 1 + (len(padded) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n_frames]
    spec = np.fft.rfft(frames * _WINDOW, n=n_fft, axis=1)
    return (spec.real ** 2 + spec.imag ** 2).astype(np.float32)


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """The encoder's input: 40-band mel power spectrogram, shape (frames, 40), float32."""
    global _MEL_BASIS
    if _MEL_BASIS is None:
        _MEL_BASIS = mel_filterbank()
    return power_spectrogram(wav) @ _MEL_BASIS.T


def partial_starts(n_frames: int, step: int, min_coverage: float = 0.75,
                   length: int = PARTIAL_FRAMES) -> list[int]:
    """First frames of the 160-frame partials covering ``n_frames`` (Resemblyzer's slicing rule)."""
    starts = list(range(0, max(1, n_frames - length + step + 1), step))
    if len(starts) > 1 and (n_frames - starts[-1]) / length < min_coverage:
        starts.pop()
    return starts


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


def _sigmoid_inplace(x: np.ndarray) -> np.ndarray:
    # sigmoid(x) = 0.5 * (1 + tanh(x / 2)): one vectorised transcendental, no overflow warnings
    x *= 0.5
    np.tanh(x, out=x)
    x += 1.0
    x *= 0.5
    return x


class SpeakerEncoder:
    """The GE2E encoder: ``embed_mels`` (batched partials) and ``embed_utterance`` (any length)."""

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
            raise ValueError("mels must have shape (batch, frames, 40)")
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

    # -- utterances ---------------------------------------------------------------------------

    def embed_partials(self, wav: np.ndarray, rate: float = 1.3, min_coverage: float = 0.75
                       ) -> np.ndarray:
        """Embeddings of the 1.6 s partials of an already preprocessed 16 kHz waveform.

        Clips shorter than one partial are zero-padded to 1.6 s, exactly as Resemblyzer does.
        """
        wav = np.asarray(wav, dtype=np.float32)
        n_frames = int(np.ceil((len(wav) + 1) / HOP))
        step = max(1, int(round(SAMPLE_RATE / rate / HOP)))
        starts = partial_starts(n_frames, step, min_coverage)
        need = (starts[-1] + PARTIAL_FRAMES) * HOP
        if need >= len(wav):
            wav = np.pad(wav, (0, need - len(wav)))
        mel = mel_spectrogram(wav)
        mels = np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts])
        return self.embed_mels_batched(mels)

    def embed_utterance(self, wav: np.ndarray, rate: float = 1.3, min_coverage: float = 0.75
                        ) -> np.ndarray:
        """Resemblyzer's ``embed_utterance`` on an already preprocessed 16 kHz waveform."""
        partials = self.embed_partials(wav, rate, min_coverage)
        return l2_normalise(partials.mean(axis=0))


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
