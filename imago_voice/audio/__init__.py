"""Audio in: blocks timed by sample count, files and the microphone as sources, conversions, speech frames.

    blocks.py          AudioBlock and the one SAMPLE_RATE
    convert.py         the one resampler (soxr) and the int16/float conversions
    files.py           reading any audio file, writing WAV
    sources.py         FileSource and MicrophoneSource: the same stream of blocks, replayed or live
    voice_activity.py  is this frame speech? (WebRTC VAD confirmed by an energy gate)
"""

from imago_voice.audio.blocks import SAMPLE_RATE, AudioBlock
from imago_voice.audio.convert import resample, to_float, to_int16, to_int16_bytes, to_mono
from imago_voice.audio.files import load_audio, write_audio
from imago_voice.audio.sources import FileSource, MicrophoneSource

__all__ = ["SAMPLE_RATE", "AudioBlock", "FileSource", "MicrophoneSource", "load_audio", "resample", "to_float",
           "to_int16", "to_int16_bytes", "to_mono", "write_audio"]
