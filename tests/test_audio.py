import numpy as np
import pytest
import soundfile as sf

from imago_voice.audio import load_audio, resample
from imago_voice.errors import AudioInputError
from imago_voice.audio.sources import FileSource


def tone(freq, rate, seconds, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([x * (k + 1) / channels for k in range(channels)], axis=1).astype(np.float32)


def peak_freq(x, rate=16000):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spec)]


@pytest.mark.parametrize("rate, channels, fmt, subtype", [
    (44100, 2, "WAV", "PCM_16"), (48000, 1, "FLAC", "PCM_24"), (8000, 4, "WAV", "FLOAT"), (16000, 1, "OGG", "VORBIS"),
])
def test_any_rate_and_channel_count_becomes_16k(tmp_path, rate, channels, fmt, subtype):
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, tone(440, rate, 1.0, channels), rate, format=fmt, subtype=subtype)
    data = load_audio(path)
    assert data.shape[1] == channels
    assert abs(data.shape[0] - 16000) < 200
    assert peak_freq(data[:, 0]) == pytest.approx(440, abs=3)
    assert data.dtype == np.float32


def test_mp3_through_pyav(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "x.mp3"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mp3", rate=22050, layout="stereo")
        x = (tone(300, 22050, 1.0, 2) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(x.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = 22050
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = load_audio(path)
    assert data.shape[1] == 2
    assert peak_freq(data[2000:14000, 0]) == pytest.approx(300, abs=5)


def test_resample_keeps_pitch_and_length():
    x = tone(1000, 48000, 2.0)
    y = resample(x, 48000)
    assert y.shape == (32000, 1)
    assert peak_freq(y[:, 0]) == pytest.approx(1000, abs=2)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_text("this is not audio at all\n" * 20), "not an audio file"),
    (lambda p: sf.write(p, np.zeros((0, 1), np.float32), 16000), "no audio"),
])
def test_bad_files_are_plain_errors(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioInputError, match=message):
        load_audio(path)


def test_file_source_blocks_are_timed_by_sample_count():
    src = FileSource("mem.wav", data=np.zeros((16000 * 2 + 100, 2), np.float32), block=480)
    blocks = list(src)
    assert blocks[0].start == 0 and blocks[1].start == 480
    assert sum(b.frames for b in blocks) == 32100
    assert blocks[-1].t1 == pytest.approx(32100 / 16000)
    assert all(b.channels == 2 for b in blocks)


def test_file_source_can_be_paced_in_real_time():
    import time

    src = FileSource("mem.wav", data=np.zeros((8000, 1), np.float32), block=800, realtime=True)
    t = time.monotonic()
    list(src)
    assert time.monotonic() - t >= 0.45
