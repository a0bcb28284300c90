"""Speaker-recognition helpers the tests and benchmarks use and the program does not.

* :func:`identify`: the closest voiceprint for a whole clip, or nobody below the threshold (the program
  itself only ever splits segments into spans, :meth:`SpeakerIdentifier.spans`).
* :func:`preprocess` and :func:`embed_utterance`: Resemblyzer's own recipe (loudness, silence trimming,
  zero-padded 1.6 s partials every 1/1.3 s), kept as a reference to compare the program's embedding with.
"""

from __future__ import annotations

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.speakers import features
from imago_voice.speakers.encoder import PARTIAL_FRAMES, SpeakerEncoder, l2_normalise
from imago_voice.speakers.identify import SpeakerIdentifier
from imago_voice.speakers.voiceprint import embed


def identify(ident: SpeakerIdentifier, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[str | None, float]:
    """(name, similarity) of the closest voiceprint, or (None, similarity) below the threshold."""
    embedding, seconds = embed(audio, sample_rate)
    scores = np.stack([vp.vector for vp in ident.enrolled]) @ embedding
    index = int(np.argmax(scores))
    score = float(scores[index])
    return (ident.names[index] if score >= ident.threshold_for(seconds) else None), score


def preprocess(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resemblyzer's ``preprocess_wav``: 16 kHz mono, loudness to -30 dBFS, long silences trimmed."""
    wav = features.to_mono_16k(audio, sample_rate)
    wav = features.normalize_volume(wav, features.AUDIO_NORM_TARGET_DBFS, increase_only=True)
    return features.trim_long_silences(wav)


def partial_starts(n_frames: int, step: int, min_coverage: float = 0.75, length: int = PARTIAL_FRAMES) -> list[int]:
    """First frames of the 160-frame partials covering ``n_frames`` (Resemblyzer's slicing rule)."""
    starts = list(range(0, max(1, n_frames - length + step + 1), step))
    if len(starts) > 1 and (n_frames - starts[-1]) / length < min_coverage:
        starts.pop()
    return starts


def embed_utterance(encoder: SpeakerEncoder, wav: np.ndarray, rate: float = 1.3, min_coverage: float = 0.75) -> np.ndarray:
    """Resemblyzer's ``embed_utterance`` on an already preprocessed 16 kHz waveform (clips shorter than
    one partial zero-padded to 1.6 s, as Resemblyzer does)."""
    wav = np.asarray(wav, dtype=np.float32)
    n_frames = int(np.ceil((len(wav) + 1) / features.HOP))
    step = max(1, int(round(SAMPLE_RATE / rate / features.HOP)))
    starts = partial_starts(n_frames, step, min_coverage)
    need = (starts[-1] + PARTIAL_FRAMES) * features.HOP
    if need >= len(wav):
        wav = np.pad(wav, (0, need - len(wav)))
    mel = features.mel_spectrogram(wav)
    partials = encoder.embed_mels_batched(np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts]))
    return l2_normalise(partials.mean(axis=0))


def random_encoder_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A state dict of the encoder's shapes, filled with small random numbers (no trained weights needed)."""
    weights = {}
    for layer in range(3):
        n_in = 40 if layer == 0 else 256
        weights[f"lstm.weight_ih_l{layer}"] = rng.normal(0, 0.1, (1024, n_in)).astype(np.float32)
        weights[f"lstm.weight_hh_l{layer}"] = rng.normal(0, 0.1, (1024, 256)).astype(np.float32)
        weights[f"lstm.bias_ih_l{layer}"] = rng.normal(0, 0.1, 1024).astype(np.float32)
        weights[f"lstm.bias_hh_l{layer}"] = rng.normal(0, 0.1, 1024).astype(np.float32)
    weights["linear.weight"] = rng.normal(0, 0.1, (256, 256)).astype(np.float32)
    weights["linear.bias"] = rng.normal(0, 0.1, 256).astype(np.float32)
    return weights
