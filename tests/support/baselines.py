"""Simple baselines that every method is reported beside (and must not fall below)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from imago_voice.audio.voice_activity import VadSettings
from imago_voice.loop.segmenter import Segmenter


def loudest_channel_flags(audio: np.ndarray, channels: list[int], frame: int = 480, margin_db: float = 12.0,
                          floor_percentile: float = 10.0, smooth: int = 7) -> np.ndarray:
    """The loudest-channel rule, offline: (frames, people) speech flags.

    30 ms frames; each channel's level in dB; its noise floor is the 10th percentile of its levels over
    the whole recording; the speaker of a frame is the channel with the highest level above its own floor
    when that is more than ``margin_db``; each person's flags are then median-filtered over 7 frames.
    """
    x = audio[: len(audio) // frame * frame, channels]
    level = 10 * np.log10(np.mean(x.reshape(-1, frame, len(channels)) ** 2, axis=1) + 1e-12)
    above = level - np.percentile(level, floor_percentile, axis=0)
    who = np.argmax(above, axis=1)
    flags = np.zeros_like(above, bool)
    speaking = above[np.arange(len(who)), who] > margin_db
    flags[np.flatnonzero(speaking), who[speaking]] = True
    return median_filter(flags.astype(np.uint8), size=(smooth, 1), mode="nearest").astype(bool)


def flags_to_spans(flags: np.ndarray, names, vad: VadSettings | None = None) -> list[tuple[str, float, float]]:
    """Per-person frame flags through the loop's own segmenter: (speaker, start, end) per segment."""
    vad = vad or VadSettings()
    spans = []
    for k, name in enumerate(names):
        seg = Segmenter(vad)
        events = []
        for i, f in enumerate(flags[:, k]):
            events += seg.push(i * vad.frame_seconds, bool(f))
        events += seg.flush(len(flags) * vad.frame_seconds)
        spans += [(name, e.start, e.end) for e in events if e.kind == "end"]
    return sorted(spans, key=lambda s: s[1])


def loudest_channel(audio: np.ndarray, names, channels: list[int] | None = None) -> list[tuple[str, float, float]]:
    """The baseline's turns: the loudest-channel flags, segmented as the loop segments its own."""
    channels = list(range(len(names))) if channels is None else channels
    return flags_to_spans(loudest_channel_flags(audio, channels), names)
