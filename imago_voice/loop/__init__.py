"""The voice loop, as small stages: audio blocks in; speech events, turns and overlaps out.

    framing.py     blocks of any size -> fixed speech frames; the recent audio kept
    segmenter.py   per-frame speech flags -> segments (start, pause, resume, end, drop)
    turns.py       transcript scheduling: what of an open turn is transcribed, and when
    speakers.py    speaker resolution on a worker: voiceprint spans, overlaps, crosstalk
    voice_loop.py  VoiceLoop: the stages wired together, the same for a file and a microphone
"""

from imago_voice.loop.voice_loop import EarlyWords, LoopEvent, LoopSettings, TurnTiming, VoiceLoop

__all__ = ["EarlyWords", "LoopEvent", "LoopSettings", "TurnTiming", "VoiceLoop"]
