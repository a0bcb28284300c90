"""Voiceprints and speaker attribution, on voices synthesised with espeak-ng (no shared files).

espeak-ng's voices all come from one synthesiser, so they are closer to each other than two real
people are (typical cross-voice similarity 0.6-0.9 against 0.55-0.7 between LibriSpeech readers). The
tests therefore use clearly different variants (male en+m3, female en+f4, US male en-us+m7) for
attribution and a stricter threshold where a *non-enrolled* synthetic voice must be turned away; the
default threshold is calibrated on real speech (see benchmarks/results_speakers.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from imago_voice.errors import ImagoError, VoiceprintError
from imago_voice.speakers import encoder as se
from imago_voice.speakers import features
from imago_voice.speakers import identify as idm
from imago_voice.speakers import store
from imago_voice.speakers import voiceprint as vpm
from tests.support.speakers import embed_utterance, identify, preprocess, random_encoder_weights

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

try:
    se.load_weights()
    _WEIGHTS = None
except VoiceprintError as exc:  # pragma: no cover - depends on the environment
    _WEIGHTS = str(exc)
needs_weights = pytest.mark.skipif(_WEIGHTS is not None, reason=_WEIGHTS or "")

# Reference values from librosa 0.10.2, read once in a throwaway environment (librosa is not a dependency
# of imago-voice): librosa.filters.mel(sr=16000, n_fft=400, n_mels=40) at (band, FFT bin) ...
LIBROSA_FILTERS = {
    (0, 1): 0.007390209473669529, (0, 2): 0.012404520995914936, (0, 3): 0.005014311522245407,
    (6, 13): 0.012667035683989525, (12, 24): 0.012818343006074429, (15, 30): 0.01091813761740923,
    (18, 38): 0.00779747823253274, (21, 48): 0.005674323998391628, (24, 60): 0.004837319254875183,
    (27, 75): 0.004104815423488617, (30, 94): 0.0033501500729471445, (33, 118): 0.0026761393528431654,
    (36, 148): 0.0021621675696223974, (39, 186): 0.0017012155149132013, (39, 199): 0.00012151539704063907,
}
LIBROSA_FILTERS_SUM = 0.9994971752166748
# ... and librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40) of 0.5 s of
# 0.5 sin(440 Hz) + 0.25 sin(1800 Hz), at (frame, band)
LIBROSA_MELSPEC = {
    (0, 5): 13.434741020202637, (0, 10): 0.017352962866425514, (0, 20): 1.9932917356491089,
    (0, 30): 0.0007359034498222172, (10, 5): 41.07771301269531, (10, 20): 4.706697940826416,
    (50, 5): 13.434741020202637, (50, 20): 1.9932917356491089,
}

ABOUT_DAY = ("I want to tell you about my day. In the morning I walked to the market and bought some "
             "fresh bread, then I met an old friend for coffee and we talked for a long time about our "
             "families.")
FEELING = ("When you come home late without calling, I feel worried and a little lonely, because I "
           "grew up waiting for people who did not come back.")
MIRROR = "So what I hear you saying is that you felt left out when I made plans without asking you."
SHORT = "Yes, I understand."


@pytest.fixture(scope="session")
def say(tmp_path_factory):
    """say(voice, text, *options) -> mono float32 16 kHz audio, cached per session."""
    from math import gcd

    import soundfile as sf
    from scipy.signal import resample_poly

    folder = tmp_path_factory.mktemp("espeak")
    cache: dict = {}

    def _say(voice: str, text: str, *options: str) -> np.ndarray:
        key = (voice, text, options)
        if key not in cache:
            out = folder / f"clip{len(cache)}.wav"
            subprocess.run(["espeak-ng", "-v", voice, *options, "-w", str(out), text], check=True,
                           capture_output=True)
            wav, sr = sf.read(out, dtype="float32")
            if wav.ndim == 2:
                wav = wav.mean(axis=1)
            g = gcd(sr, 16000)
            cache[key] = resample_poly(wav, 16000 // g, sr // g).astype(np.float32)
        return cache[key]

    return _say


def trim(wav: np.ndarray) -> np.ndarray:
    """Cut leading and trailing silence (espeak pads its output)."""
    loud = np.flatnonzero(np.abs(wav) > 0.02 * np.max(np.abs(wav)))
    return wav[loud[0]:loud[-1] + 1]


@pytest.fixture(scope="session")
def couple(say):
    return vpm.enroll("Sam", say("en+m3", ABOUT_DAY)), vpm.enroll("Alex", say("en+f4", ABOUT_DAY))


# ------------------------------------------------------------------------------------------------
# the encoder
# ------------------------------------------------------------------------------------------------


@needs_weights
def test_weights_load_and_give_unit_norm_256d(say):
    weights = se.load_weights()
    assert weights["lstm.weight_ih_l0"].shape == (1024, 40)
    assert weights["linear.weight"].shape == (256, 256)
    enc = se.get_encoder()
    emb = embed_utterance(enc, preprocess(say("en+m3", MIRROR)))
    assert emb.shape == (256,) and emb.dtype == np.float32
    assert abs(float(np.linalg.norm(emb)) - 1.0) < 1e-5
    assert np.all(emb >= 0)  # ReLU before normalisation


def test_mel_matches_librosa_filterbank_properties():
    fb = features.mel_filterbank()
    assert fb.shape == (40, 201)
    # Slaney area normalisation: each filter integrates to about 2 / bandwidth; all non-negative
    assert np.all(fb >= 0) and np.all(fb.max(axis=1) > 0)
    for (band, k), weight in LIBROSA_FILTERS.items():
        assert fb[band, k] == pytest.approx(weight, rel=1e-5), (band, k)
    assert float(fb.sum()) == pytest.approx(LIBROSA_FILTERS_SUM, rel=1e-6)
    wav = np.zeros(16000, dtype=np.float32)
    assert features.mel_spectrogram(wav).shape == (101, 40)  # centred frames: 1 + n // 160
    t = np.arange(8000) / 16000
    tones = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.25 * np.sin(2 * np.pi * 1800 * t)).astype(np.float32)
    mel = features.mel_spectrogram(tones)
    assert mel.shape == (51, 40)
    for (frame, band), value in LIBROSA_MELSPEC.items():
        assert mel[frame, band] == pytest.approx(value, rel=1e-5), (frame, band)


def test_vectorised_lstm_matches_step_by_step_reference():
    rng = np.random.default_rng(1)
    weights = random_encoder_weights(rng)
    enc = se.SpeakerEncoder(weights=weights)
    x = rng.random((2, 12, 40)).astype(np.float32)

    def sig(v):
        return 1 / (1 + np.exp(-v))

    expected = []
    for b in range(2):  # textbook PyTorch LSTM, gate order i, f, g, o, float64
        seq = x[b].astype(np.float64)
        for layer in range(3):
            h, c, outs = np.zeros(256), np.zeros(256), []
            for t in range(len(seq)):
                z = (weights[f"lstm.weight_ih_l{layer}"] @ seq[t] + weights[f"lstm.bias_ih_l{layer}"]
                     + weights[f"lstm.weight_hh_l{layer}"] @ h + weights[f"lstm.bias_hh_l{layer}"])
                i, f, g, o = np.split(z, 4)
                c = sig(f) * c + sig(i) * np.tanh(g)
                h = sig(o) * np.tanh(c)
                outs.append(h)
            seq = np.array(outs)
        raw = np.maximum(weights["linear.weight"] @ h + weights["linear.bias"], 0)
        expected.append(raw / np.linalg.norm(raw))
    np.testing.assert_allclose(enc.embed_mels(x), np.array(expected), atol=2e-5)


def test_restricted_unpickler_refuses_other_globals(tmp_path):
    import pickle

    from tests.support.install import get_models

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil.pt"
    with open(bad, "wb") as fh:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(obj, fh, protocol=2)
        pickle.dump({"model_state": Evil()}, fh, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        get_models().state_dict_arrays(bad.read_bytes(), "model_state")
    with pytest.raises(pickle.UnpicklingError):
        get_models().state_dict_arrays(b"not a pickle at all", "model_state")
    # the package itself reads only .npz, never a pickle
    np.savez(tmp_path / "junk.npz", other=np.zeros(3))
    with pytest.raises(VoiceprintError, match="damaged or not the expected file"):
        se.load_weights(tmp_path / "junk.npz")
    (tmp_path / "pickle.npz").write_bytes(pickle.dumps({"model_state": Evil()}))
    with pytest.raises(VoiceprintError):
        se.load_weights(tmp_path / "pickle.npz")


def test_missing_weights_say_which_install_step(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGO_VOICE_MODELS", str(tmp_path))
    assert se.weights_path() == tmp_path / "speaker-encoder-ge2e.npz"
    with pytest.raises(VoiceprintError, match=r"scripts/get_models\.py"):
        se.load_weights()


# ------------------------------------------------------------------------------------------------
# enrollment and attribution
# ------------------------------------------------------------------------------------------------


@needs_weights
def test_enroll_then_attribute_a_different_sentence(say, couple):
    sam, alex = couple
    assert sam.vector.shape == (256,) and abs(float(np.linalg.norm(sam.vector)) - 1) < 1e-5
    assert 5.0 < sam.seconds < 12.0
    ident = idm.SpeakerIdentifier([sam, alex])
    name, score = identify(ident, say("en+m3", FEELING))
    assert name == "Sam" and score > 0.85
    name, score = identify(ident, say("en+f4", MIRROR))
    assert name == "Alex" and score > 0.85


@needs_weights
def test_enroll_accepts_other_sample_rates_and_int16(say):
    import soundfile as sf  # noqa: F401 - soundfile is what callers use to read files

    from scipy.signal import resample_poly

    wav = say("en+m3", ABOUT_DAY)
    at_44k = resample_poly(wav, 441, 160).astype(np.float32)
    a = vpm.enroll("Sam", at_44k, sample_rate=44100)
    b = vpm.enroll("Sam", (wav * 32767).astype(np.int16))
    c = vpm.enroll("Sam", wav)
    assert float(a.vector @ c.vector) > 0.97 and float(b.vector @ c.vector) > 0.99


@needs_weights
def test_unknown_speaker_is_none(say):
    sam = vpm.enroll("Sam", say("en+m3", ABOUT_DAY))
    alex = vpm.enroll("Alex", say("en+f4", ABOUT_DAY))
    # non-speech never matches at the default threshold
    ident = idm.SpeakerIdentifier([sam, alex])
    noise = 0.05 * np.random.default_rng(0).standard_normal(3 * 16000).astype(np.float32)
    assert identify(ident, noise)[0] is None
    tone = (0.1 * np.sin(2 * np.pi * 220 * np.arange(3 * 16000) / 16000)).astype(np.float32)
    assert identify(ident, tone)[0] is None
    # a voice nobody enrolled: synthetic voices resemble each other, hence the stricter threshold
    strict = idm.SpeakerIdentifier([vpm.enroll("Kim", say("en+f4", ABOUT_DAY)),
                                    vpm.enroll("Lou", say("en-us+m7", ABOUT_DAY))], threshold=0.85)
    name, score = identify(strict, say("en+m1", FEELING))
    assert name is None and score < 0.85
    assert identify(strict, say("en-us+m7", FEELING))[0] == "Lou"
    # spans of a visitor are None too
    assert all(s.speaker is None for s in strict.spans(say("en+m1", FEELING)))


@needs_weights
def test_speaker_change_inside_a_segment_is_split_near_the_right_time(say, couple):
    sam, alex = couple
    first, second = trim(say("en+m3", FEELING)), trim(say("en+f4", MIRROR))
    gap = np.zeros(int(0.05 * 16000), dtype=np.float32)  # one starts as the other stops
    segment = np.concatenate([first, gap, second])
    change = (len(first) + len(gap) / 2) / 16000
    spans = idm.SpeakerIdentifier([sam, alex]).spans(segment, start=100.0)
    assert [s.speaker for s in spans] == ["Sam", "Alex"]
    assert abs(spans[0].end - (100.0 + change)) < 0.5
    # spans cover the segment, in order, without gaps
    assert spans[0].start == 100.0 and spans[-1].end == pytest.approx(100.0 + len(segment) / 16000, abs=0.01)
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    assert all(s.score > 0.8 for s in spans)


@needs_weights
def test_single_speaker_segment_is_one_span(say, couple):
    sam, alex = couple
    audio = np.concatenate([say("en+f4", FEELING), say("en+f4", MIRROR)])
    spans = idm.SpeakerIdentifier([sam, alex]).spans(audio, start=3.0)
    assert len(spans) == 1 and spans[0].speaker == "Alex"
    assert spans[0].start == 3.0 and spans[0].end == pytest.approx(3.0 + len(audio) / 16000, abs=0.01)
    assert idm.SpeakerIdentifier([sam, alex]).spans(np.zeros(0, dtype=np.float32)) == []


@needs_weights
def test_third_voice_among_three_enrolled(say):
    people = {"Parent1": "en+m3", "Child": "en+f4", "Parent2": "en-us+m7"}
    ident = idm.SpeakerIdentifier([vpm.enroll(n, say(v, ABOUT_DAY)) for n, v in people.items()])
    for name, voice in people.items():
        assert identify(ident, say(voice, FEELING))[0] == name
    # three turns in one segment: m3, f4, m7
    turns = [trim(say(v, t)) for v, t in (("en+m3", MIRROR), ("en+f4", FEELING), ("en-us+m7", MIRROR))]
    spans = ident.spans(np.concatenate(turns))
    assert [s.speaker for s in spans] == ["Parent1", "Child", "Parent2"]


@needs_weights
def test_close_pair_pitch_variant_is_still_told_apart(say):
    # Two male voices from the same espeak voice differing only in pitch (-p 30 vs -p 75), the way
    # two brothers might: closer than any real couple, yet each sentence goes to the right one.
    low = vpm.enroll("Low", say("en+m3", ABOUT_DAY, "-p", "30"))
    high = vpm.enroll("High", say("en+m3", ABOUT_DAY, "-p", "75"))
    ident = idm.SpeakerIdentifier([low, high], threshold=-1)
    assert identify(ident, say("en+m3", FEELING, "-p", "30"))[0] == "Low"
    assert identify(ident, say("en+m3", FEELING, "-p", "75"))[0] == "High"


# ------------------------------------------------------------------------------------------------
# files and errors
# ------------------------------------------------------------------------------------------------


def _fake(name="Sam", seed=0):
    v = np.abs(np.random.default_rng(seed).normal(size=256)).astype(np.float32)
    return vpm.Voiceprint(name, v, 7.5)


def test_save_load_round_trip(tmp_path):
    vp = _fake()
    path = tmp_path / "sam.json"
    vp.save(path)
    back = vpm.Voiceprint.load(path)
    assert back == vp and back.name == "Sam" and back.seconds == 7.5
    assert np.array_equal(back.vector, vp.vector) and back.vector.dtype == np.float32
    assert path.stat().st_size < 10_000
    data = json.loads(path.read_text())
    assert set(data) == {"format", "version", "model", "name", "seconds", "vector"}  # never audio


@pytest.mark.parametrize("content", [
    b"",
    b"\x00\x01garbage",
    b'{"format": "imago-voice voiceprint", "version": 1}',
    b'{"format": "something else"}',
    b'[1, 2, 3]',
])
def test_corrupt_voiceprint_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(VoiceprintError) as err:
        vpm.Voiceprint.load(path)
    assert str(path) in str(err.value) and isinstance(err.value, ImagoError)


def test_wrong_vector_or_version_is_a_clear_error(tmp_path):
    path = tmp_path / "sam.json"
    _fake().save(path)
    data = json.loads(path.read_text())
    for change, match in (({"vector": [1.0, 2.0]}, "damaged"), ({"version": 99}, "version"),
                          ({"model": "other"}, "another speaker model"),
                          ({"vector": [float("nan")] * 256}, "damaged")):
        path.write_text(json.dumps({**data, **change}))
        with pytest.raises(VoiceprintError, match=match):
            vpm.Voiceprint.load(path)
    with pytest.raises(VoiceprintError, match="does not exist"):
        vpm.Voiceprint.load(tmp_path / "nobody.json")


@needs_weights
def test_too_short_enrollment_is_a_clear_error(say):
    with pytest.raises(VoiceprintError, match="at least 2 s"):
        vpm.enroll("Sam", say("en+m3", SHORT))
    with pytest.raises(VoiceprintError, match="at least 2 s"):
        vpm.enroll("Sam", np.zeros(5 * 16000, dtype=np.float32))
    with pytest.raises(VoiceprintError, match="name"):
        vpm.enroll("  ", say("en+m3", ABOUT_DAY))


def test_store_and_load_stored_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("IMAGO_VOICE_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert store.voiceprint_dir() == tmp_path / "xdg" / "imago-voice" / "voiceprints"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.voiceprint_dir() == tmp_path / "home" / ".local" / "share" / "imago-voice" / "voiceprints"
    monkeypatch.setenv("IMAGO_VOICE_DATA", str(tmp_path / "data"))     # the whole data folder
    assert store.voiceprint_dir() == tmp_path / "data" / "voiceprints"

    with pytest.raises(VoiceprintError) as err:
        store.load_stored("Sam")
    assert str(tmp_path / "data") in str(err.value) and "imago-voice enroll Sam" in str(err.value)
    path = store.store(_fake("Sam"))
    store.store(_fake("José", seed=1))
    assert path.parent == tmp_path / "data" / "voiceprints"
    assert store.load_stored("Sam") == _fake("Sam")
    assert store.load_stored("José").name == "José"
    assert sorted(store.list_stored()) == ["José", "Sam"]
    with pytest.raises(VoiceprintError, match="Stored voiceprints: José, Sam"):
        store.load_stored("Kim")
    with pytest.raises(VoiceprintError):
        store.store(_fake("../.."))
    assert store.delete_stored("Sam") and not store.delete_stored("Sam")


def test_identifier_rejects_bad_setups():
    with pytest.raises(VoiceprintError):
        idm.SpeakerIdentifier([])
    with pytest.raises(VoiceprintError, match="same name"):
        idm.SpeakerIdentifier([_fake("Sam"), _fake("Sam", seed=2)])
    with pytest.raises(VoiceprintError):
        vpm.Voiceprint("Sam", np.zeros(256), 1.0)
