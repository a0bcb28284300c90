"""Per-frame speech flags of one stream in, segment events out: where speech starts, pauses and ends.

A segment starts when a short window is mostly voiced, with pre-roll so first syllables are kept. The
onset rule comes first: the start reaches back over the unbroken run of frames just before the first
voiced one that stood above the noise floor (``energetic``, when the caller knows it), at most
``onset_lookback``: the soft start of a quiet sentence ("h", a breathy vowel) that the VAD only confirms
a syllable later. A short gap is a *pause* (used to start transcribing early), speech after it a
*resume*, and a long enough silence (the end-of-turn silence) ends it. Asked for, a *lull* comes
earlier than a pause, as soon as the hangover has passed (the words may have ended: a voice command said
over a prompt is transcribed from there). A segment with too little voiced
time is *dropped*. Times come from the caller (the audio clock); nothing here reads a clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from imago_voice.audio.voice_activity import VadSettings


@dataclass(frozen=True)
class SegmentEvent:
    """What a :class:`Segmenter` reports. ``kind`` is 'start', 'lull', 'pause', 'resume', 'end' or 'drop'.

    ``at`` is when it was decided (audio clock); ``start``/``end`` bound the speech (``end`` is the end of
    the last speech frame plus a short hangover, without the silence that closed the segment).
    """

    kind: str
    at: float
    start: float
    end: float


class Segmenter:
    """Per-frame speech flags of one stream in, segment events out. Times come from the caller.

    ``lull``: also report a 'lull' after this much silence (shorter than the pause; None: never)."""

    def __init__(self, settings: VadSettings, lull: float | None = None) -> None:
        self.settings = settings
        if lull is not None and not 0 < lull < settings.pause:
            raise ValueError(f"a lull ({lull} s) must be shorter than a pause ({settings.pause} s)")
        self.lull = lull
        self.lulled = False
        fs = settings.frame_seconds
        self._window: deque[tuple[float, bool]] = deque(maxlen=max(1, round(settings.start_window / fs)))
        # (start, above the floor) of the last frames, for the onset rule
        self._lead: deque[tuple[float, bool]] = deque(
            maxlen=self._window.maxlen + round(settings.onset_lookback / fs) + 1)
        self._voiced_in_window = 0
        self.active = False
        self.paused = False
        self.start = 0.0
        self.last_speech = 0.0
        self.voiced_time = 0.0
        self._last_end = 0.0  # a new segment's pre-roll never reaches back into the previous one

    def push(self, t: float, voiced: bool, energetic: bool | None = None) -> list[SegmentEvent]:
        """Feed the flag of the frame starting at ``t``; returns the events it causes.

        ``energetic``: the frame stood above the noise floor (None: not known; then only ``voiced``
        frames count for the onset rule)."""
        fs = self.settings.frame_seconds
        self._lead.append((t, voiced or bool(energetic)))
        if len(self._window) == self._window.maxlen and self._window[0][1]:
            self._voiced_in_window -= 1
        self._window.append((t, voiced))
        self._voiced_in_window += voiced
        ratio = self._voiced_in_window / self._window.maxlen
        t_end = t + fs
        events: list[SegmentEvent] = []
        if not self.active:
            if ratio >= self.settings.start_ratio:
                first = self._onset(next(ts for ts, v in self._window if v))
                self.start = max(first - self.settings.preroll, self._last_end, 0.0)
                self.active, self.paused, self.lulled = True, False, False
                self.last_speech = t_end
                self.voiced_time = self._voiced_in_window * fs
                events.append(SegmentEvent("start", t_end, self.start, t_end))
            return events
        if voiced and ratio >= self.settings.keep_ratio:
            self.last_speech = t_end
            self.voiced_time += fs
            if self.paused or self.lulled:
                self.paused = self.lulled = False
                events.append(SegmentEvent("resume", t_end, self.start, t_end))
            return events
        silence = t_end - self.last_speech
        if self.lull is not None and not self.lulled and not self.paused and silence >= self.lull - 1e-9:
            self.lulled = True
            events.append(SegmentEvent("lull", t_end, self.start, self._speech_end(t_end)))
        if not self.paused and silence >= self.settings.pause - 1e-9:
            self.paused = True
            events.append(SegmentEvent("pause", t_end, self.start, self._speech_end(t_end)))
        if silence >= self.settings.end_silence - 1e-9:
            events.append(self._close(t_end))
        return events

    def _onset(self, first: float) -> float:
        """Where the speech that was first confirmed at ``first`` began: the earliest frame of the unbroken
        run of frames above the noise floor leading up to it, at most ``onset_lookback`` before it."""
        onset = first
        limit = first - self.settings.onset_lookback - 1e-9
        for ts, above in reversed(self._lead):
            if ts >= first:
                continue
            if not above or ts < limit:
                break
            onset = ts
        return onset

    def _close(self, at: float) -> SegmentEvent:
        kind = "end" if self.voiced_time >= self.settings.min_speech - 1e-9 else "drop"
        self.active = self.paused = self.lulled = False
        self._last_end = self._speech_end(at)
        return SegmentEvent(kind, at, self.start, self._last_end)

    def _speech_end(self, at: float) -> float:
        return min(self.last_speech + self.settings.hangover, at)

    def flush(self, at: float) -> list[SegmentEvent]:
        """End of the stream: close an open segment."""
        return [self._close(at)] if self.active else []
