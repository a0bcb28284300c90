import numpy as np
import pytest

from imago_voice.errors import SettingsError
from imago_voice.audio.voice_activity import NoiseFloor, VadSettings, VoiceDetector
from imago_voice.loop.segmenter import Segmenter
from tests.conftest import needs_espeak

FS = 0.03


def run(flags, settings=None):
    seg = Segmenter(settings or VadSettings())
    events = []
    for i, f in enumerate(flags):
        events += seg.push(i * FS, f)
    events += seg.flush(len(flags) * FS)
    return events


def kinds(events):
    return [e.kind for e in events]


def test_a_segment_starts_with_preroll_and_ends_after_the_end_silence():
    flags = [False] * 50 + [True] * 60 + [False] * 60
    ev = run(flags)
    assert kinds(ev) == ["start", "pause", "end"]
    start, pause, end = ev
    assert start.start == pytest.approx(50 * FS - 0.3)          # pre-roll keeps first syllables
    assert end.end == pytest.approx(110 * FS + 0.2)              # speech end + hangover, not the closing silence
    assert end.at == pytest.approx(110 * FS + 1.0, abs=FS)       # decided after 1.0 s of silence
    assert pause.at == pytest.approx(110 * FS + 0.36, abs=FS)


def test_a_short_gap_is_a_pause_not_an_end():
    flags = [True] * 40 + [False] * 20 + [True] * 40 + [False] * 40
    ev = run(flags)
    assert kinds(ev) == ["start", "pause", "resume", "pause", "end"]
    assert ev[-1].start == pytest.approx(0.0)
    assert ev[-1].end == pytest.approx(100 * FS + 0.2)


def test_end_silence_is_tunable():
    flags = [True] * 40 + [False] * 25 + [True] * 40 + [False] * 80
    assert kinds(run(flags, VadSettings(end_silence=0.6))).count("end") == 2
    assert kinds(run(flags, VadSettings(end_silence=1.0))).count("end") == 1


def test_isolated_blips_do_not_start_a_segment_and_short_speech_is_dropped():
    blips = ([True] + [False] * 9) * 20
    assert run(blips) == []
    short = [False] * 10 + [True] * 6 + [False] * 50
    assert kinds(run(short, VadSettings(min_speech=0.3))) == ["start", "pause", "drop"]


def test_preroll_never_reaches_into_the_previous_segment():
    flags = [True] * 20 + [False] * 34 + [True] * 20 + [False] * 40
    ends = [e for e in run(flags) if e.kind == "end"]
    starts = [e for e in run(flags) if e.kind == "start"]
    assert len(ends) == 2
    assert starts[1].start >= ends[0].end


def test_flush_closes_an_open_segment():
    ev = run([True] * 30)
    assert kinds(ev) == ["start", "end"]
    assert ev[-1].end == pytest.approx(30 * FS)  # the hangover never reaches past the audio


@pytest.mark.parametrize("kwargs", [{"frame_ms": 25}, {"aggressiveness": 4}, {"end_silence": 0.2}])
def test_bad_settings_are_usage_errors(kwargs):
    with pytest.raises(SettingsError):
        VadSettings(**kwargs)


def test_noise_floor_tracks_the_quiet_level():
    nf = NoiseFloor()
    rng = np.random.default_rng(1)
    for i in range(300):
        nf.update(1e-6 if i % 3 else 1e-2 * rng.random())
    assert 5e-7 < nf.level < 2e-6


@needs_espeak
@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_detector_hears_speech_and_not_steady_noise(frame_ms):
    from tests.support.synth import speak

    s = VadSettings(frame_ms=frame_ms)
    n = s.frame_samples
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, 16000 * 3).astype(np.float32)        # -40 dBFS hiss
    voice = speak("This is a sentence spoken clearly for the detector.", "en+m3") * 0.5
    audio = np.concatenate([noise, voice + rng.normal(0, 0.01, len(voice)).astype(np.float32), noise])
    det = VoiceDetector(s)
    flags = [det.is_speech(audio[i:i + n]) for i in range(0, len(audio) - n + 1, n)]
    k0, k1 = len(noise) // n, (len(noise) + len(voice)) // n
    assert np.mean(flags[k0:k1]) > 0.6                 # most of the sentence is speech
    assert np.mean(flags[k1 + 10:]) < 0.05             # trailing noise is not
    assert np.mean(flags[40:k0]) < 0.05                # leading noise, once the floor is known
