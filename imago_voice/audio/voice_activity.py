"""Voice activity: whether one frame of one channel holds speech.

* :class:`VadSettings` holds the speech-detection settings, the frame-level ones and those the
  :class:`~imago_voice.loop.segmenter.Segmenter` uses to turn frames into segments.
* :class:`NoiseFloor` tracks a channel's background level (a low percentile of recent frame power).
* :class:`VoiceDetector` says whether one frame is speech: WebRTC's VAD, confirmed by an energy gate above
  the tracked noise floor (WebRTC alone flags steady noise as speech).

Soft voices (issue 8). WebRTC's VAD works on 16-bit samples and has level thresholds of its own: a voice
with -45 dBFS peaks on a laptop microphone is mostly "not speech" to it, however clearly it stands above
the room's noise. So it hears each frame *boosted*: by the gain that puts the noise floor at
``boost_floor_db`` (slow: it follows the floor), at most ``boost_max_db``, and never so much that the frame
is louder than ``boost_ceiling_db``. The ceiling matters when a new noise starts (a fan switched on) while
the floor still remembers the quiet room: that noise is never shown to WebRTC louder than the ceiling,
where it still rejects steady noise. No frame is attenuated, and a frame already above the ceiling is
heard as it is, so the loud parts of ordinary speech are judged exactly as before. Each frame also says whether it stood above the floor at all (``energetic``): the
segmenter's onset rule reaches back over such frames to a segment's true start.
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
    min_level_db: float = -85.0    # and above this absolute level (dBFS; 16-bit silence is -101)
    boost_floor_db: float | None = -40.0  # WebRTC hears each frame boosted so the noise floor sits here (dBFS);
    #                                       None: unboosted (as before issue 8)
    boost_ceiling_db: float = -35.0  # ... but never boosted above this level (dBFS) ...
    boost_max_db: float = 40.0     # ... nor by more than this
    preroll: float = 0.3           # audio kept before the detected start
    onset_gate_db: float = 3.0     # a frame this far above the noise floor may be the soft start of speech ...
    onset_lookback: float = 0.5    # ... so a segment's start reaches back over such frames this far (0: off)
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
        if self.boost_max_db < 0 or self.onset_lookback < 0:
            raise SettingsError("The speech detector's boost and onset look-back cannot be negative.")

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
    """Speech / not speech for successive frames of one channel.

    After each :meth:`is_speech`, ``energetic`` says whether that frame stood ``onset_gate_db`` above the
    noise floor (speech or not) and ``gain`` is the boost WebRTC heard it with (1.0 when it was not asked).
    """

    def __init__(self, settings: VadSettings) -> None:
        import webrtcvad  # from the webrtcvad-wheels package

        self.settings = settings
        self._vad = webrtcvad.Vad(settings.aggressiveness)
        self.noise = NoiseFloor()
        self._gate = 10 ** (settings.snr_gate_db / 10)
        self._onset_gate = 10 ** (settings.onset_gate_db / 10)
        self._min_level = 10 ** (settings.min_level_db / 10)
        self._boost_floor = None if settings.boost_floor_db is None else 10 ** (settings.boost_floor_db / 10)
        self._boost_ceiling = 10 ** (settings.boost_ceiling_db / 10)
        self._boost_max = 10 ** (settings.boost_max_db / 20)
        self.energetic = False
        self.gain = 1.0

    def is_speech(self, frame: np.ndarray, power: float | None = None) -> bool:
        """``frame`` is one mono float32 frame of ``settings.frame_samples`` samples."""
        p = frame_power(frame) if power is None else power
        floor = self.noise.update(p)
        self.energetic = p >= self._min_level and p >= floor * self._onset_gate
        self.gain = 1.0
        if p < self._min_level or p < floor * self._gate:
            return False
        if self._boost_floor is not None:
            self.gain = g = boost(p, floor, self._boost_floor, self._boost_ceiling, self._boost_max)
            if g > 1.0:
                frame = frame * np.float32(g)
        return bool(self._vad.is_speech(to_int16_bytes(frame), SAMPLE_RATE))


def boost(power: float, floor: float, floor_to: float, ceiling: float, most: float) -> float:
    """The amplitude gain WebRTC hears a frame of ``power`` with: the one that lifts the noise ``floor`` to
    ``floor_to`` (powers), at most ``most`` (amplitude), never lifting the frame above ``ceiling``, never below 1."""
    return max(1.0, min(float(np.sqrt(floor_to / floor)), most, float(np.sqrt(ceiling / power))))
