"""Voice activity: whether one frame of one channel holds speech.

* :class:`VadSettings` holds the speech-detection settings, the frame-level ones and those the
  :class:`~imago_voice.loop.segmenter.Segmenter` uses to turn frames into segments.
* :class:`NoiseFloor` tracks a channel's background level (a low percentile of recent frame power).
* :class:`VoiceDetector` says whether one frame is speech: WebRTC's VAD, confirmed by an energy gate above
  the tracked noise floor (WebRTC alone flags steady noise as speech).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.audio.convert import to_int16_bytes
from imago_voice.errors import SettingsError

POWER_FLOOR = 1e-10  # -100 dBFS: digital silence


@dataclass(frozen=True)
class VadSettings:
    """Tunable speech-detection settings (all times in seconds)."""

    frame_ms: int = 30             # 10, 20 or 30 (WebRTC's frame sizes)
    aggressiveness: int = 2        # 0 (keeps most) .. 3 (drops most)
    snr_gate_db: float = 6.0       # a speech frame must be this far above the noise floor
    min_level_db: float = -70.0    # and above this absolute level (dBFS)
    preroll: float = 0.3           # audio kept before the detected start
    min_speech: float = 0.3        # segments with less voiced time are dropped
    end_silence: float = 1.0       # silence that ends a turn (Imago senders pause to think: err long)
    pause: float = 0.35            # silence that counts as a pause inside a turn
    start_window: float = 0.3      # a segment starts when this window is ...
    start_ratio: float = 0.5       # ... at least this voiced
    keep_ratio: float = 0.3        # voiced frames in sparser stretches do not extend a segment
    hangover: float = 0.2          # a segment ends this long after its last speech frame (soft word endings)

    def __post_init__(self) -> None:
        if self.frame_ms not in (10, 20, 30):
            raise SettingsError(f"The speech frame must be 10, 20 or 30 ms, not {self.frame_ms}.")
        if self.aggressiveness not in (0, 1, 2, 3):
            raise SettingsError(f"VAD aggressiveness must be 0, 1, 2 or 3, not {self.aggressiveness}.")
        if self.end_silence <= 0 or self.pause <= 0 or self.pause > self.end_silence:
            raise SettingsError("The end-of-turn silence must be positive and at least as long as a pause.")

    @property
    def frame_samples(self) -> int:
        return SAMPLE_RATE * self.frame_ms // 1000

    @property
    def frame_seconds(self) -> float:
        return self.frame_ms / 1000.0


def frame_power(x: np.ndarray) -> float:
    """Mean square of a frame, floored so its log is finite."""
    return max(float(np.dot(x, x)) / max(len(x), 1), POWER_FLOOR)


class NoiseFloor:
    """Background level of one channel: a low percentile of frame power over a sliding window.

    Recomputed every ``every`` frames, so the cost per frame is a deque append.
    """

    def __init__(self, window_frames: int = 2000, percentile: float = 5.0, every: int = 20) -> None:
        self._hist: deque[float] = deque(maxlen=window_frames)
        self._percentile = percentile
        self._every = every
        self._seen = 0
        self.level = POWER_FLOOR

    def update(self, power: float) -> float:
        self._hist.append(power)
        self._seen += 1
        if self._seen <= 5 or self._seen % self._every == 0:
            self.level = max(float(np.percentile(np.fromiter(self._hist, float), self._percentile)), POWER_FLOOR)
        return self.level


class VoiceDetector:
    """Speech / not speech for successive frames of one channel."""

    def __init__(self, settings: VadSettings) -> None:
        import webrtcvad  # from the webrtcvad-wheels package

        self.settings = settings
        self._vad = webrtcvad.Vad(settings.aggressiveness)
        self.noise = NoiseFloor()
        self._gate = 10 ** (settings.snr_gate_db / 10)
        self._min_level = 10 ** (settings.min_level_db / 10)

    def is_speech(self, frame: np.ndarray, power: float | None = None) -> bool:
        """``frame`` is one mono float32 frame of ``settings.frame_samples`` samples."""
        p = frame_power(frame) if power is None else power
        floor = self.noise.update(p)
        if p < self._min_level or p < floor * self._gate:
            return False
        return bool(self._vad.is_speech(to_int16_bytes(frame), SAMPLE_RATE))
