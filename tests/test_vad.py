import numpy as np
import pytest

from imago_voice.errors import SettingsError
from imago_voice.audio.voice_activity import NoiseFloor, VadSettings, VoiceDetector
from imago_voice.loop.segmenter import Segmenter
from tests.conftest import needs_espeak

FS = 0.03


def run(flags, settings=None, lull=None):
    seg = Segmenter(settings or VadSettings(), lull)
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


def test_a_lull_asked_for_comes_when_the_hangover_has_passed_and_before_the_pause():
    flags = [False] * 50 + [True] * 20 + [False] * 60
    ev = run(flags, lull=0.2)
    assert kinds(ev) == ["start", "lull", "pause", "end"]
    lull, pause = ev[1], ev[2]
    assert lull.end == pytest.approx(70 * FS + 0.2)          # where the words (with their hangover) ended
    assert lull.at == pytest.approx(70 * FS + 0.2, abs=FS) and lull.at < pause.at
    assert kinds(run(flags)) == ["start", "pause", "end"]    # not asked for: none


def test_speech_after_a_lull_is_a_resume_and_the_next_silence_lulls_again():
    flags = [True] * 20 + [False] * 8 + [True] * 20 + [False] * 40   # a 0.24 s gap: a lull, no pause
    ev = run(flags, lull=0.2)
    assert kinds(ev) == ["start", "lull", "resume", "lull", "pause", "end"]
    with pytest.raises(ValueError):
        Segmenter(VadSettings(), lull=0.5)                   # not shorter than the pause


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


# --------------------------------------------------------------------------------- soft voices (issue 8)
SR = 16000


def room_response(distance: float = 1.5, rt60: float = 0.5, seed: int = 0) -> np.ndarray:
    """A reverberant room's impulse response, talker to a laptop microphone ``distance`` away: the direct
    sound, then an exponentially decaying diffuse tail ~10 dB stronger than it (living room, 1.5 m)."""
    rng = np.random.default_rng(seed)
    n = int(rt60 * 1.2 * SR)
    t = np.arange(n) / SR
    delay = int(distance / 343.0 * SR)
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * (t > delay / SR + 0.003)
    tail *= 10 ** (10 / 20) / np.sqrt(np.sum(tail ** 2))   # tail energy 10 dB over the direct sound
    h = tail
    h[delay] += 1.0
    return h.astype(np.float32)


def pink(n: int, rng) -> np.ndarray:
    from scipy.signal import lfilter

    x = lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                [1, -2.494956002, 2.017265875, -0.522189400], rng.standard_normal(n + 4000))[4000:]
    return (x / np.std(x)).astype(np.float32)


def at_peak(x: np.ndarray, peak_db: float) -> np.ndarray:
    return (x * 10 ** (peak_db / 20) / np.abs(x).max()).astype(np.float32)


def quiet_room(voice: np.ndarray, peak_db: float, *, noise_db: float = -74.0, lead: float = 3.0,
               seed: int = 0) -> tuple[np.ndarray, float]:
    """``voice`` through the room at ``peak_db`` dBFS peak, with room and microphone noise added after the
    gain (``noise_db`` dBFS RMS), 16-bit rounded. Returns (audio, when the speech reaches the microphone)."""
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(seed)
    h = room_response(seed=seed)
    wet = at_peak(fftconvolve(voice, h), peak_db)
    audio = np.zeros(int(lead * SR) + len(wet) + 2 * SR, np.float32)
    audio[int(lead * SR): int(lead * SR) + len(wet)] = wet
    audio += pink(len(audio), rng) * 10 ** ((noise_db - 2) / 20)
    audio += rng.standard_normal(len(audio)).astype(np.float32) * 10 ** ((noise_db - 4) / 20)
    audio = np.round(audio * 32767) / 32767
    return audio.astype(np.float32), lead + int(np.argmax(np.abs(h) >= 0.5)) / SR


def flags_of(audio: np.ndarray, settings: VadSettings) -> np.ndarray:
    det = VoiceDetector(settings)
    n = settings.frame_samples
    return np.array([det.is_speech(audio[i:i + n]) for i in range(0, len(audio) - n + 1, n)])


#: the detector before issue 8: WebRTC heard the frame as it was, and nothing under -70 dBFS was speech
OLD = VadSettings(min_level_db=-70.0, boost_floor_db=None, onset_lookback=0.0)


def loop_turns(audio: np.ndarray, settings: VadSettings | None = None, transcriber=None):
    from imago_voice.audio import FileSource
    from imago_voice.ledger import Turn
    from imago_voice.loop import LoopSettings, VoiceLoop

    loop = VoiceLoop(transcriber=transcriber, settings=LoopSettings(vad=settings or VadSettings()))
    events = list(loop.run(FileSource("x.wav", data=audio[:, None])))
    return [e for e in events if isinstance(e, Turn)], events


@needs_espeak
@pytest.mark.parametrize("peak_db,heard", [(-30.0, 0.8), (-40.0, 0.6), (-50.0, 0.2)])
def test_a_soft_voice_across_the_room_is_heard(peak_db, heard):
    from tests.support.synth import speak

    voice = speak("He was not an ill disposed young man, unless to be rather cold hearted is to be ill disposed.")
    audio, arrives = quiet_room(voice, peak_db)
    s = VadSettings()
    k0 = int(arrives / s.frame_seconds)
    k1 = k0 + int(len(voice) / SR / s.frame_seconds)
    new, old = flags_of(audio, s), flags_of(audio, OLD)
    # the frames that count as speech (a -50 dBFS peak is only ~25 dB over this room's noise)
    assert new[k0:k1].mean() > heard
    if peak_db <= -40:
        assert old[k0:k1].mean() < 0.3                                 # WebRTC unboosted heard little of it
    assert new[:k0 - 10].sum() == 0 and new[k1 + 40:].sum() == 0     # the room before and after is not
    turns, _ = loop_turns(audio)
    assert len(turns) == 1                                             # one sentence, one turn
    assert turns[0].start <= arrives <= turns[0].start + 0.9           # its first syllable kept
    assert turns[0].end >= arrives + len(voice) / SR - 0.3             # and its last


def test_old_detector_misses_what_the_new_one_hears():
    # a buzzy vowel in four syllables a second, -45 dBFS peak on the laptop microphone: WebRTC unboosted
    # hears almost nothing of it
    t = np.arange(int(2.5 * SR)) / SR
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    vowel = sum(np.sin(2 * np.pi * np.cumsum(f0 * k) / SR) / k for k in range(1, 25))
    syllables = 0.5 * (1 + np.sin(2 * np.pi * 4 * t - np.pi / 2)) ** 2           # four syllables a second
    voice = (vowel * syllables).astype(np.float32)
    audio, arrives = quiet_room(voice, -45.0, seed=4)
    k0, k1 = int(arrives / 0.03), int((arrives + 2.5) / 0.03)
    assert flags_of(audio, OLD)[k0:k1].mean() < 0.2
    assert flags_of(audio, VadSettings())[k0:k1].mean() > 0.4


@pytest.mark.parametrize("kind,level_db", [("white", -75), ("white", -55), ("pink", -70), ("pink", -45),
                                           ("hum", -60), ("hum", -35)])
def test_steady_noise_and_hum_never_become_turns(kind, level_db):
    rng = np.random.default_rng(7)
    n = 60 * SR
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = pink(n, rng)
    else:
        t = np.arange(n) / SR
        x = sum(np.sin(2 * np.pi * 50 * k * t + k) / k for k in range(1, 8))
    x = (x / np.std(x) * 10 ** (level_db / 20)).astype(np.float32)
    x += rng.standard_normal(n).astype(np.float32) * 10 ** (-78 / 20)
    turns, events = loop_turns(np.round(x * 32767) / 32767)
    assert turns == []
    assert not any(type(e).__name__ == "SpeechStarted" for e in events)


@pytest.mark.parametrize("level_db", [-60, -50, -40])
def test_a_noise_that_starts_in_a_quiet_room_is_not_boosted_into_speech(level_db):
    # the floor still remembers the quiet room when the fan starts, so the boost is at its largest; the
    # ceiling keeps the fan where WebRTC hears steady noise for what it is
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(11)
    n = 50 * SR
    fan = fftconvolve(pink(n, rng), room_response(seed=2))[:n]
    fan = fan / np.std(fan) * 10 ** (level_db / 20)
    fan[: 15 * SR] = 0.0
    x = (fan + rng.standard_normal(n) * 10 ** (-76 / 20)).astype(np.float32)
    turns, _ = loop_turns(x)
    assert turns == []


def test_boost_lifts_the_floor_and_never_a_loud_frame():
    from imago_voice.audio.voice_activity import boost

    def db(x):   # dBFS -> power
        return 10 ** (x / 10)

    def g(p, floor):   # the boost in dB of a frame at p dBFS over a floor at floor dBFS
        return 20 * np.log10(boost(db(p), db(floor), db(-40), db(-35), 10 ** (40 / 20)))

    assert g(-65, -75) == pytest.approx(30.0)     # quiet room, soft voice: lifted to a -35 dBFS frame
    assert g(-70, -75) == pytest.approx(35.0)     # the floor goes to -40 dBFS (the frame to -35)
    assert g(-95, -100) == pytest.approx(40.0)    # never more than 40 dB
    assert g(-50, -75) == pytest.approx(15.0)     # never above the ceiling
    assert g(-20, -75) == 0.0 and g(-30, -75) == 0.0   # a loud frame is heard as it is
    assert g(-60, -30) == 0.0                      # a noisy room: nothing to lift


def test_the_onset_rule_reaches_back_over_a_soft_start():
    s = VadSettings()
    # 10 silent frames, 8 frames above the floor that WebRTC did not confirm ("h..."), then speech
    voiced = [False] * 30 + [False] * 8 + [True] * 20 + [False] * 50
    energetic = [False] * 30 + [True] * 8 + [True] * 20 + [False] * 50
    seg = Segmenter(s)
    starts = [e for i, (v, a) in enumerate(zip(voiced, energetic)) for e in seg.push(i * FS, v, a) if e.kind == "start"]
    assert starts[0].start == pytest.approx(30 * FS - s.preroll)
    # without the energy, the pre-roll alone
    seg = Segmenter(s)
    starts = [e for i, v in enumerate(voiced) for e in seg.push(i * FS, v) if e.kind == "start"]
    assert starts[0].start == pytest.approx(38 * FS - s.preroll)


def test_the_onset_rule_is_bounded_and_stops_at_a_gap():
    s = VadSettings(onset_lookback=0.3)
    # a long stretch above the floor (a noise): the start reaches back 0.3 s at most
    voiced = [False] * 40 + [True] * 20 + [False] * 50
    energetic = [True] * 40 + [True] * 20 + [False] * 50
    seg = Segmenter(s)
    first = next(e for i, (v, a) in enumerate(zip(voiced, energetic)) for e in seg.push(i * FS, v, a) if e.kind == "start")
    assert first.start == pytest.approx(40 * FS - 0.3 - s.preroll)
    # a frame below the floor breaks the run
    energetic = [False] * 30 + [True] * 3 + [False] + [True] * 6 + [True] * 20 + [False] * 50
    seg = Segmenter(VadSettings())
    first = next(e for i, (v, a) in enumerate(zip(voiced, energetic)) for e in seg.push(i * FS, v, a) if e.kind == "start")
    assert first.start == pytest.approx(34 * FS - s.preroll)


def test_the_onset_rule_never_reaches_into_the_previous_segment():
    voiced = [True] * 20 + [False] * 34 + [True] * 20 + [False] * 40
    energetic = [True] * 20 + [True] * 54 + [False] * 40
    seg = Segmenter(VadSettings())
    ev = [e for i, (v, a) in enumerate(zip(voiced, energetic)) for e in seg.push(i * FS, v, a)]
    ends, starts = [e for e in ev if e.kind == "end"], [e for e in ev if e.kind == "start"]
    assert len(starts) == 2 and starts[1].start >= ends[0].end


@needs_espeak
@pytest.mark.parametrize("voice", ["en+f3", "en+m3"])
def test_the_first_syllable_of_a_quiet_sentence_is_kept(voice):
    from tests.support.synth import speak

    # a loud sentence, then a quiet one: the quiet sentence's turn starts before its speech does
    loud = speak("Thank you, I would like to go first.", voice)
    quiet = speak("Have you thought about what I said?", voice)
    a, _ = quiet_room(loud, -12.0, lead=2.0, seed=5)
    b, arrives_b = quiet_room(quiet, -48.0, lead=1.5, seed=6)
    audio = np.concatenate([a, b])
    turns, _ = loop_turns(audio)
    assert len(turns) == 2
    true_start = len(a) / SR + arrives_b
    margin = true_start - turns[1].start
    assert 0.0 <= margin <= VadSettings().preroll + VadSettings().onset_lookback + 0.1


def test_boost_and_onset_rule_can_be_turned_off():
    s = VadSettings(boost_floor_db=None, onset_lookback=0.0)
    det = VoiceDetector(s)
    rng = np.random.default_rng(0)
    for _ in range(50):
        det.is_speech(rng.normal(0, 1e-4, s.frame_samples).astype(np.float32))
    assert det.gain == 1.0
    with pytest.raises(SettingsError):
        VadSettings(onset_lookback=-1.0)


@needs_espeak
@pytest.mark.model
def test_soft_sentences_are_transcribed_through_the_loop(whisper):
    from tests.conftest import word_recall
    from tests.support.synth import speak

    lines = ["Thank you for listening to me today.", "I felt alone when you came home late.",
             "What I would like is a call when you are going to be late."]
    pieces = []
    for k, (line, peak) in enumerate(zip(lines, (-20.0, -42.0, -48.0))):
        x, _ = quiet_room(speak(line, "en+f3" if k % 2 else "en+m3"), peak, lead=1.5, seed=20 + k)
        pieces.append(x)
    audio = np.concatenate(pieces)
    turns, _ = loop_turns(audio, transcriber=whisper)
    said = " ".join(t.text or "" for t in turns)
    direct = " ".join(whisper.transcribe(x) for x in pieces)     # each sentence on its own
    assert len(turns) == 3
    assert word_recall(" ".join(lines), said) >= word_recall(" ".join(lines), direct) - 0.1
    old, _ = loop_turns(audio, OLD, transcriber=whisper)
    assert len(old) < 3          # before issue 8 the quietest sentences were not heard at all
