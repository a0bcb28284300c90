"""Echo cancellation (barge-in): the facilitator's own voice, heard back through a simulated laptop room, is
taken out of the microphone; a person talking over it is kept; the reference is timed by sample count."""

import numpy as np
import pytest

from imago_voice.audio.blocks import SAMPLE_RATE, AudioBlock
from imago_voice.audio.echo_cancel import CancellerSettings, EchoCanceller, EchoTimes, PlayedAudio, cancel_echo
from imago_voice.demo import speak

FS = SAMPLE_RATE


def db(x) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-12))


@pytest.fixture(scope="module")
def laptop():
    """A laptop in a living room: the loudspeaker 20 cm from the microphone, a person 1 m away."""
    import pyroomacoustics as pra

    dims = [4.5, 3.8, 2.6]
    absorption, order = pra.inverse_sabine(0.45, dims)
    room = pra.ShoeBox(dims, fs=FS, materials=pra.Material(absorption), max_order=min(order, 12))
    room.add_source([2.0, 1.8, 0.9])          # loudspeaker
    room.add_source([2.1, 2.8, 1.15])         # the person
    room.add_microphone_array(np.array([[2.2, 1.8, 0.92]]).T)
    room.compute_rir()
    return np.asarray(room.rir[0][0]), np.asarray(room.rir[0][1])


@pytest.fixture(scope="module")
def prompt():
    words = ("Sam, please share what is on your mind. Say a little at a time, then stop, so Alex can "
             "mirror. I will tell you each step, one at a time.")
    return 0.5 * speak(words, "en-us+m3")


def through(rir, x, n):
    from scipy.signal import fftconvolve
    return fftconvolve(x, rir)[:n].astype(np.float32)


def run(canceller, mic, ref, block=320):
    n = len(mic) // block * block
    return np.concatenate([canceller.process(mic[i:i + block], ref[i:i + block]) for i in range(0, n, block)])


def test_the_prompts_echo_is_taken_out_and_a_voice_over_it_is_kept(laptop, prompt):
    echo_rir, talk_rir = laptop
    n = len(prompt) // 320 * 320
    ref = prompt[:n]
    echo = through(echo_rir, ref, n)
    said = speak("Pause, please. I need a moment.", "en-us+f2")
    at = n - len(said) - FS // 2
    assert at > 3 * FS, "the prompt is too short for the canceller to converge first"
    dry = np.zeros(n, np.float32)
    dry[at:at + len(said)] = said
    voice = through(talk_rir, dry, n)
    voice *= 10 ** ((db(echo[at:at + len(said)]) - db(voice[at:at + len(said)])) / 20)   # as loud as the echo
    noise = np.random.default_rng(0).normal(0, 3e-4, n).astype(np.float32)

    # the prompt alone: echo removed by far more than the ear needs to stop hearing it as a voice
    alone = run(EchoCanceller(), echo + noise, ref)
    settled = slice(2 * FS, at)
    erle = db(echo[settled]) - db(alone[settled])
    assert erle > 20.0, f"only {erle:.1f} dB of echo removed"
    # without the gate, the linear filter alone still takes out a good part of it
    linear = run(EchoCanceller(CancellerSettings(gate_margin=-200.0)), echo + noise, ref)
    assert db(echo[settled]) - db(linear[settled]) > 12.0

    # a person talking over the prompt, as loud as the echo: their voice is kept (not cancelled as echo)
    mic = echo + voice + noise
    out = run(EchoCanceller(), mic, ref)
    span = slice(at, at + len(said))
    kept = db(out[span]) - db(voice[span])
    assert -3.0 < kept < 3.0, f"the voice came out {kept:+.1f} dB from what was said"
    # and what is left in its place is the voice, not the echo: it correlates with the voice
    corr = np.corrcoef(out[span], voice[span])[0, 1]
    assert corr > 0.9, f"output correlates {corr:.2f} with the voice"


def test_with_nothing_played_the_microphone_passes_as_it_is():
    mic = np.random.default_rng(1).normal(0, 0.05, 3200).astype(np.float32)
    c = EchoCanceller()
    out = c.process(mic, np.zeros_like(mic))
    assert c.idle and np.allclose(out, mic)


def test_lengths_must_match_whole_blocks():
    with pytest.raises(ValueError):
        EchoCanceller().process(np.zeros(300), np.zeros(300))


def test_played_audio_is_read_back_by_the_moment_it_is_heard():
    played = PlayedAudio(keep=5.0)
    clip = np.arange(1, 1601, dtype=np.float32)
    played.add(100.0, clip)                        # heard from t = 100 s, 0.1 s long
    got = played.read(100.05, 1600)                # half of it, then silence
    assert np.array_equal(got[:800], clip[800:]) and not got[800:].any()
    before = played.read(99.99, 320)               # 10 ms of silence, then its first samples
    assert not before[:160].any() and np.array_equal(before[160:], clip[:160])
    assert played.playing(100.05, 100.06) and not played.playing(100.2, 101.0)
    played.add(200.0, clip)                        # far later: what is older than `keep` is forgotten
    assert not played.read(100.0, 1600).any()


def test_the_stage_times_the_reference_by_sample_count_not_by_jittery_stamps(laptop, prompt):
    """Live blocks carry capture stamps that jitter by milliseconds; the stage reads the reference by
    sample count from the first stamp, so jitter does not smear it. A file (no stamps) passes untouched."""
    echo_rir, _ = laptop
    n = len(prompt) // 320 * 320
    played = PlayedAudio(keep=30.0)
    t_zero = 1000.0
    played.add(t_zero + 0.5, prompt[:n])           # the prompt is heard from 0.5 s into the stream
    ref = np.zeros(n + FS // 2, np.float32)
    ref[FS // 2:] = prompt[:n]
    mic = through(echo_rir, ref, len(ref)) + np.random.default_rng(2).normal(0, 3e-4, len(ref)).astype(np.float32)
    jitter = np.random.default_rng(3).uniform(-0.004, 0.004, len(ref) // 320)
    blocks = [AudioBlock(i, mic[i:i + 320, None], t_zero + i / FS + jitter[i // 320])
              for i in range(0, len(ref) - 319, 320)]
    settings = CancellerSettings(lead=0.0)
    heard = EchoTimes()
    out = np.concatenate([b.samples[:, 0] for b in cancel_echo(iter(blocks), played, settings, heard)])
    settled = slice(FS // 2 + 2 * FS, len(out))
    assert db(mic[settled]) - db(out[settled]) > 20.0
    # where the prompt was heard, on the audio clock: one stretch, from 0.5 s for the prompt's length
    # (to the block; the prompt's own first and last samples may be silent)
    ((t0, t1),) = heard.windows()
    assert t0 == pytest.approx(0.5, abs=0.05) and t1 == pytest.approx(0.5 + n / FS, abs=0.05)
    assert heard.during(1.0) and not heard.during(0.2) and heard.during(t1 + 0.3, tail=0.5)
    # a replayed file has no stamps: nothing is cancelled
    plain = [AudioBlock(b.start, b.samples) for b in blocks[:10]]
    assert all(a is b for a, b in zip(cancel_echo(iter(plain), played), plain))
