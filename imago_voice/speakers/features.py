"""What the speaker encoder hears: Resemblyzer's preprocessing and its mel features, in numpy.

* loudness raised (never lowered) to -30 dBFS, then silences longer than ~0.2 s trimmed with WebRTC VAD
  (mode 3, 30 ms windows, moving average of 8, dilation of 7 windows);
* a 40-band Slaney mel *power* spectrogram (librosa's defaults: periodic Hann window of 25 ms, 10 ms
  hop, centred frames zero-padded at both ends, no log).
"""

from __future__ import annotations

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.audio.convert import resample, to_float, to_int16_bytes, to_mono
from imago_voice.errors import VoiceprintError

N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
AUDIO_NORM_TARGET_DBFS = -30.0
VAD_WINDOW_MS = 30
VAD_MOVING_AVERAGE_WIDTH = 8
VAD_MAX_SILENCE_LENGTH = 6


def to_mono_16k(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A float32 mono copy at 16 kHz (channels averaged, integer PCM scaled, resampled with soxr)."""
    wav = np.asarray(audio)
    if wav.ndim == 2:
        # (samples, channels) as soundfile gives, or (channels, samples)
        wav = to_mono(wav if wav.shape[0] >= wav.shape[1] else wav.T)
    elif wav.ndim != 1:
        raise VoiceprintError("Audio for speaker recognition must be a mono (1-D) or a 2-D array.")
    wav = to_float(wav)
    if int(sample_rate) != SAMPLE_RATE:
        if sample_rate <= 0:
            raise VoiceprintError(f"Invalid sample rate {sample_rate}.")
        wav = resample(wav, int(sample_rate))
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
    raw = to_int16_bytes(wav[: count * n])
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
