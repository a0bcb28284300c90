import numpy as np
import pytest

from imago_voice.errors import ModelError
from imago_voice.ledger import Turn
from imago_voice.loop import LoopSettings, VoiceLoop
from imago_voice.protocol import SpeechStarted
from imago_voice.audio.sources import FileSource
from tests.support.synth import Line, conversation, speak
from imago_voice.audio.voice_activity import VadSettings
from tests.conftest import FakeTranscriber, collect, needs_espeak

pytestmark = needs_espeak


@pytest.fixture(scope="module")
def talk():
    lines = [Line("A", "Good morning, I would like to tell you about my day.", 0),
             Line("B", "Please go on, I am listening.", 1.5),
             Line("A", "It was long and I am tired now.", 1.5)]
    audio, truth = conversation(lines, {"A": "en+m3", "B": "en+f2"}, crosstalk_db=-60)
    return audio.mean(axis=1, keepdims=True), truth


def src(audio):
    return FileSource("mem.wav", data=audio)


def test_mono_turns_follow_the_speech(talk):
    audio, truth = talk
    fake = FakeTranscriber("hello")
    loop = VoiceLoop(transcriber=fake)
    events = list(loop.run(src(audio)))
    turns = [e for e in events if isinstance(e, Turn)]
    assert len(turns) == 3
    for turn, spoken in zip(turns, truth):
        assert turn.speaker is None
        assert turn.text == "hello"
        assert turn.start <= spoken.start + 0.05 and turn.start >= spoken.start - 0.4
        assert -0.1 < turn.end - spoken.end < 0.3     # hangover of 0.2 s
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    assert len(starts) == 3
    assert [s.at for s in starts] == pytest.approx([t.start for t in turns], abs=1e-3)
    assert fake.calls, "the transcriber was used"


def test_without_a_transcriber_turns_have_no_text(talk):
    loop = VoiceLoop()
    turns = [e for e in loop.run(src(talk[0])) if isinstance(e, Turn)]
    assert len(turns) == 3 and all(t.text is None for t in turns)


def test_the_loop_does_not_wait_for_transcription(talk):
    """With a slow model, later speech is still detected before earlier transcripts are ready."""
    fake = FakeTranscriber("x", delay=0.4)
    events = list(VoiceLoop(transcriber=fake).run(src(talk[0])))
    first_turn = next(i for i, e in enumerate(events) if isinstance(e, Turn))
    assert sum(isinstance(e, SpeechStarted) for e in events[:first_turn]) == 3


def test_turn_text_is_the_chunks_in_order():
    # one person, one turn with two pauses of 0.5 s; chunks commit after 2 s of speech
    parts = [speak(t, "en+m3") for t in ("First part of what I say.", "Second part of it.", "And the third.")]
    gap = np.zeros(8000, np.float32)
    audio = np.concatenate([gap, parts[0], gap, parts[1], gap, parts[2], gap, gap, gap])[:, None]
    counter = iter(range(100))
    fake = FakeTranscriber(lambda a: f"c{next(counter)}:{len(a)}")
    settings = LoopSettings(commit_chunk=2.0)
    turns = [e for e in VoiceLoop(transcriber=fake, settings=settings).run(src(audio)) if isinstance(e, Turn)]
    assert len(turns) == 1
    chunks = turns[0].text.split()
    assert len(chunks) >= 2
    # chunk audio adds up to the turn (each cut once, plus lead silence and a short tail)
    total = sum(int(c.split(":")[1]) for c in chunks) / 16000 - settings.lead_silence * len(chunks)
    assert total == pytest.approx(turns[0].end - turns[0].start, abs=0.2 * len(chunks))
    assert [int(c[1:].split(":")[0]) for c in chunks] == sorted(int(c[1:].split(":")[0]) for c in chunks)


def test_speculative_transcript_is_reused_when_the_pause_ends_the_turn(talk):
    fake = FakeTranscriber("t")
    list(VoiceLoop(transcriber=fake).run(src(talk[0])))
    assert len(fake.calls) == 3   # one call per turn: the pause's speculative call became the final one


def test_a_long_unbroken_turn_is_cut_below_whisper_window():
    rng = np.random.default_rng(0)
    voice = speak("This is one sentence that goes on and on without stopping at all", "en+m3")
    audio = np.concatenate([voice] * 8)            # ~30 s, no pauses of 0.35 s
    audio = (audio + rng.normal(0, 1e-3, len(audio)))[:, None].astype(np.float32)
    fake = FakeTranscriber("x")
    list(VoiceLoop(transcriber=fake, settings=LoopSettings(max_chunk=10.0)).run(src(audio)))
    assert max(fake.calls) / 16000 <= 10.5
    assert sum(fake.calls) / 16000 >= len(audio) / 16000 * 0.9


def test_replay_is_deterministic(talk):
    a = VoiceLoop(transcriber=FakeTranscriber("x", delay=0.01))
    b = VoiceLoop(transcriber=FakeTranscriber("x"))
    a_turns, _, _ = collect(a, src(talk[0]))
    b_turns, _, _ = collect(b, FileSource("mem.wav", data=talk[0], block=1234))
    assert a_turns == b_turns


def test_a_failing_model_is_one_plain_error(talk):
    def boom(audio):
        raise RuntimeError("out of memory")

    with pytest.raises(ModelError, match="Transcription failed: out of memory"):
        list(VoiceLoop(transcriber=FakeTranscriber(boom)).run(src(talk[0])))


@pytest.mark.parametrize("frame_ms", [10, 20])
def test_other_frame_sizes(talk, frame_ms):
    loop = VoiceLoop(settings=LoopSettings(vad=VadSettings(frame_ms=frame_ms)))
    assert len([e for e in loop.run(src(talk[0])) if isinstance(e, Turn)]) == 3


def test_ticks_drops_and_muting(talk):
    from imago_voice.protocol import SpeechDropped, Tick

    audio = talk[0]
    loop = VoiceLoop(settings=LoopSettings(tick=0.5))
    ticks = [e.at for e in loop.run(src(audio)) if isinstance(e, Tick)]
    assert len(ticks) == pytest.approx(len(audio) / 16000 / 0.5, abs=2)
    assert all(b - a == pytest.approx(0.5, abs=0.05) for a, b in zip(ticks, ticks[1:]))
    # muting the second turn's time: it is not heard at all
    truth = talk[1]
    loop = VoiceLoop()
    loop.mute(truth[1].start - 0.2, truth[1].end + 0.3)
    turns = [e for e in loop.run(src(audio)) if isinstance(e, Turn)]
    assert len(turns) == 2
    # a mute window starting mid-turn leaves a short stub that is dropped, not a turn
    loop = VoiceLoop()
    loop.mute(truth[0].start + 0.2, truth[0].end + 0.3)
    turns, _, events = collect(loop, src(audio))
    assert len(turns) == 2
    assert [e for e in events if isinstance(e, SpeechDropped)]
    assert loop.timings[0].decided_at == pytest.approx(turns[0].end - 0.2 + 1.0, abs=0.05)
    assert turns[0].decided_at == pytest.approx(loop.timings[0].decided_at, abs=1e-3)   # the turn carries it


class _Ident:
    """A stand-in for the voiceprint identifier: the whole segment is Sam's."""

    names = ("Sam", "Alex", "Kim")

    def spans(self, audio, start=0.0):
        from imago_voice.speakers.identify import SpeakerSpan

        return [SpeakerSpan(start, start + len(audio) / 16000, "Sam", 0.9)]

    def scores(self, audio):
        return {"Sam": 0.9, "Alex": 0.5, "Kim": 0.7}


class _Detector:
    def __init__(self, fail=False):
        self.fail, self.calls = fail, []

    def overlaps(self, audio, start=0.0):
        self.calls.append((start, len(audio)))
        if self.fail:
            raise ModelError("no overlap model here")
        return [(start + 0.5, start + 1.0)]


def test_one_microphone_overlaps_are_flagged_with_both_names(talk):
    audio, _ = talk
    detector = _Detector()
    loop = VoiceLoop(identifier=_Ident(), overlap_detector=detector)
    turns, flagged, events = collect(loop, src(audio))
    assert len(detector.calls) == len(turns) == 3
    assert len(flagged) == 3
    # each overlap comes just before the turn it was found in
    assert [type(e).__name__ for e in events if isinstance(e, (Turn, type(flagged[0])))] == ["Overlap", "Turn"] * 3
    for o, t in zip(flagged, turns):
        assert (o.start, o.end) == (pytest.approx(t.start + 0.5, abs=1e-3), pytest.approx(t.start + 1.0, abs=1e-3))
        # Sam holds the turn; the other voice is the best other voiceprint on the overlap, and it cut in
        assert o.speakers == ("Kim", "Sam") and o.by == "Kim"


def test_a_broken_overlap_detector_is_dropped_not_fatal(talk, caplog):
    audio, _ = talk
    detector = _Detector(fail=True)
    loop = VoiceLoop(identifier=_Ident(), overlap_detector=detector)
    turns, flagged, _ = collect(loop, src(audio))
    assert len(turns) == 3 and flagged == [] and len(detector.calls) == 1
    assert "will not be flagged" in caplog.text


class _SlowIdent(_Ident):
    """Voiceprint work that takes a while, and says which thread it ran on."""

    def __init__(self):
        self.threads = []

    def spans(self, audio, start=0.0):
        import threading
        import time

        self.threads.append(threading.current_thread().name)
        time.sleep(0.3)
        return super().spans(audio, start)


def test_voiceprints_and_overlaps_are_worked_out_off_the_audio_thread(talk):
    """Capture never waits for the speaker stages: later speech is detected before an earlier turn is named."""
    import threading

    ident, detector = _SlowIdent(), _Detector()
    loop = VoiceLoop(identifier=ident, overlap_detector=detector)
    turns, flagged, events = collect(loop, src(talk[0]))
    assert len(turns) == 3 and len(flagged) == 3
    assert threading.main_thread().name not in ident.threads and len(ident.threads) == 3
    first_turn = next(i for i, e in enumerate(events) if isinstance(e, Turn))
    assert sum(isinstance(e, SpeechStarted) for e in events[:first_turn]) == 3


def test_a_second_ctrl_c_while_transcripts_are_awaited_stops_at_once(talk):
    import os
    import signal
    import threading
    import time

    loop = VoiceLoop(transcriber=FakeTranscriber("x", delay=3.0))
    timer = threading.Timer(0.8, os.kill, (os.getpid(), signal.SIGINT))
    began = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            list(loop.run(src(talk[0])))           # three turns of 3 s transcription each are awaited
    finally:
        timer.cancel()
    assert time.monotonic() - began < 2.5          # not the ~9 s the transcripts would take


def test_each_turn_carries_how_loud_it_was(talk):
    """The loop measures each turn's level on its microphone: the second turn, played 12 dB louder, is
    about 12 dB louder; the others keep their own level."""
    audio, truth = talk
    louder = audio.copy()
    a, b = int(truth[1].start * 16000) - 1600, int(truth[1].end * 16000) + 1600
    louder[a:b] *= 10 ** (12 / 20)
    plain = [e for e in VoiceLoop().run(src(audio)) if isinstance(e, Turn)]
    loud = [e for e in VoiceLoop().run(src(louder)) if isinstance(e, Turn)]
    assert len(plain) == len(loud) == 3 and all(t.level is not None and -60 < t.level < 0 for t in plain)
    assert loud[1].level - plain[1].level == pytest.approx(12.0, abs=0.5)
    assert loud[0].level == pytest.approx(plain[0].level, abs=0.1)
    assert loud[2].level == pytest.approx(plain[2].level, abs=0.1)


def test_listening_early_reports_the_first_words_at_the_first_pause(talk):
    """While the session asks for it (a prompt is playing), short speech is reported at its first pause,
    before the turn's end is decided; speech that is already long at its first pause is not, and without
    the request nothing is."""
    from imago_voice.loop import EarlyWords

    audio, truth = talk
    asked = []
    loop = VoiceLoop(transcriber=FakeTranscriber("pause"))
    loop.listen_early = lambda t: asked.append(t) or t < truth[1].end + 0.5   # "prompts" over the first two lines
    events = list(loop.run(src(audio)))
    early = [e for e in events if isinstance(e, EarlyWords)]
    turns = [e for e in events if isinstance(e, Turn)]
    assert asked, "the loop never asked whether to listen early"
    # the first line runs 3.4 s without a pause (longer than early_max, 2.5 s: no command), the second is
    # 2.3 s, the third comes after the "prompts": only the second is reported early, quickly at its lull
    # (the quick pass) and again at its pause (the full one)
    assert len(turns) == 3 and len(early) == 2
    turn = turns[1]
    for e in early:
        assert e.start == turn.start and e.end == pytest.approx(turn.end, abs=0.05) and e.text == "pause"
        assert events.index(e) < events.index(turn)  # (replayed fast, its `at` follows the worker, not the audio)
    assert loop.worker.transcriber.short_calls == 1   # the lull's words went the quick way
    # a short command: "Pause." then silence, at the pace of a microphone. Reported at its lull, as soon as
    # the hangover has passed (0.2 s after the speech), well before the end-of-turn silence (1 s)
    pause = speak("Pause.", "en+f2")
    clip = np.concatenate([np.zeros(8000), pause, np.zeros(32000)]).astype(np.float32)[:, None]
    loop = VoiceLoop(transcriber=FakeTranscriber("pause"))
    loop.listen_early = lambda t: True
    events = list(loop.run(FileSource("mem.wav", data=clip, realtime=True)))
    first, *_ = [e for e in events if isinstance(e, EarlyWords)]
    (turn,) = [t for t in events if isinstance(t, Turn)]
    assert turn.decided_at - first.at > 0.6, "the early words came no sooner than the turn"
    assert first.at - first.end < 0.15, "the quick words came later than the lull"
    # and none without the request
    assert not [e for e in VoiceLoop(transcriber=FakeTranscriber("pause")).run(src(clip)) if isinstance(e, EarlyWords)]
