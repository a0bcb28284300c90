"""Voice activity: which frames hold speech, and where speech segments start, pause and end.

Three small pieces, each with one job:

* :class:`NoiseFloor` tracks a channel's background level (a low percentile of recent frame power).
* :class:`VoiceDetector` says whether one frame of one channel is speech: WebRTC's VAD, confirmed by an
  energy gate above the tracked noise floor (WebRTC alone flags steady noise as speech).
* :class:`Segmenter` turns per-frame flags into segment events: start (with pre-roll so first syllables
  are kept), pause (a short gap, used to start transcribing early), resume, and end after a tunable
  end-of-turn silence. Segments with too little speech are dropped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from imago_voice.audio import SAMPLE_RATE, to_int16_bytes
from imago_voice.errors import UsageError

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
            raise UsageError(f"The speech frame must be 10, 20 or 30 ms, not {self.frame_ms}.")
        if self.aggressiveness not in (0, 1, 2, 3):
            raise UsageError(f"VAD aggressiveness must be 0, 1, 2 or 3, not {self.aggressiveness}.")
        if self.end_silence <= 0 or self.pause <= 0 or self.pause > self.end_silence:
            raise UsageError("The end-of-turn silence must be positive and at least as long as a pause.")

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
        self._n = 0
        self.level = POWER_FLOOR

    def update(self, power: float) -> float:
        self._hist.append(power)
        self._n += 1
        if self._n <= 5 or self._n % self._every == 0:
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


@dataclass(frozen=True)
class SegmentEvent:
    """What a :class:`Segmenter` reports. ``kind`` is 'start', 'pause', 'resume', 'end' or 'drop'.

    ``at`` is when it was decided (audio clock); ``start``/``end`` bound the speech (``end`` is the end of
    the last speech frame plus a short hangover, without the silence that closed the segment).
    """

    kind: str
    at: float
    start: float
    end: float


class Segmenter:
    """Per-frame speech flags of one stream in, segment events out. Times come from the caller."""

    def __init__(self, settings: VadSettings) -> None:
        self.s = settings
        fs = settings.frame_seconds
        self._window: deque[tuple[float, bool]] = deque(maxlen=max(1, round(settings.start_window / fs)))
        self._voiced_in_window = 0
        self.active = False
        self.paused = False
        self.start = 0.0
        self.last_speech = 0.0
        self.voiced_time = 0.0
        self._last_end = 0.0  # a new segment's pre-roll never reaches back into the previous one

    def push(self, t: float, voiced: bool) -> list[SegmentEvent]:
        """Feed the flag of the frame starting at ``t``; returns the events it causes."""
        fs = self.s.frame_seconds
        if len(self._window) == self._window.maxlen and self._window[0][1]:
            self._voiced_in_window -= 1
        self._window.append((t, voiced))
        self._voiced_in_window += voiced
        ratio = self._voiced_in_window / self._window.maxlen
        t_end = t + fs
        events: list[SegmentEvent] = []
        if not self.active:
            if ratio >= self.s.start_ratio:
                first = next(ts for ts, v in self._window if v)
                self.start = max(first - self.s.preroll, self._last_end, 0.0)
                self.active, self.paused = True, False
                self.last_speech = t_end
                self.voiced_time = self._voiced_in_window * fs
                events.append(SegmentEvent("start", t_end, self.start, t_end))
            return events
        if voiced and ratio >= self.s.keep_ratio:
            self.last_speech = t_end
            self.voiced_time += fs
            if self.paused:
                self.paused = False
                events.append(SegmentEvent("resume", t_end, self.start, t_end))
            return events
        silence = t_end - self.last_speech
        if not self.paused and silence >= self.s.pause - 1e-9:
            self.paused = True
            events.append(SegmentEvent("pause", t_end, self.start, self._speech_end(t_end)))
        if silence >= self.s.end_silence - 1e-9:
            events.append(self._close(t_end))
        return events

    def _close(self, at: float) -> SegmentEvent:
        kind = "end" if self.voiced_time >= self.s.min_speech - 1e-9 else "drop"
        self.active = self.paused = False
        self._last_end = self._speech_end(at)
        return SegmentEvent(kind, at, self.start, self._last_end)

    def _speech_end(self, at: float) -> float:
        return min(self.last_speech + self.s.hangover, at)

    def flush(self, at: float) -> list[SegmentEvent]:
        """End of the stream: close an open segment."""
        return [self._close(at)] if self.active else []
