"""Overlapped-speech detection with pyannote segmentation-3.0 in numpy, and the torch-free weight converter."""

from __future__ import annotations

import io
import os
import pathlib
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

from imago_voice.errors import ModelError
from imago_voice.speakers.overlap import (
    FRAME_STEP_SAMPLES,
    POWERSET,
    SAMPLE_RATE,
    OverlapDetector,
    default_model_path,
    num_frames,
    spans_from_probability,
)
from tests.conftest import needs_espeak

ROOT = pathlib.Path(__file__).resolve().parent.parent
needs_model = pytest.mark.skipif(
    not default_model_path().is_file(),
    reason=f"{default_model_path()} is absent (scripts/setup.sh or scripts/get_segmentation_model.py makes it)",
)


def _converter():
    """scripts/get_models.py, imported as a module (it is not part of the package)."""
    from tests.support.install import get_models

    return get_models()


@pytest.fixture(scope="module")
def detector():
    return OverlapDetector()


@pytest.fixture(scope="module")
def voices():
    from tests.support.synth import speak

    m3 = speak("The quick brown fox jumps over the lazy dog while the rain keeps falling on the old roof.",
               "en-us+m3")
    f2 = speak("I think we should talk about what happened yesterday at dinner with your parents.", "en-us+f2")
    return m3, f2


def _place(length_s: float, *clips_at: tuple[np.ndarray, float]) -> np.ndarray:
    out = np.zeros(int(length_s * SAMPLE_RATE), np.float32)
    for clip, at in clips_at:
        i = int(at * SAMPLE_RATE)
        out[i:i + len(clip)] += clip[: len(out) - i]
    return out


def _covered(spans, a: float, b: float) -> float:
    return sum(max(0.0, min(e, b) - max(s, a)) for s, e in spans)


# ---- the model -----------------------------------------------------------------------------


@needs_model
def test_shapes_and_probabilities(detector):
    rng = np.random.default_rng(1)
    for seconds in (0.03, 0.5, 3.0, 10.0, 12.3):
        audio = (0.05 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)
        probs, step, first = detector.frame_probs(audio)
        assert step == pytest.approx(FRAME_STEP_SAMPLES / SAMPLE_RATE) and first == pytest.approx(495 / 16000)
        assert probs.shape == (max(num_frames(len(audio)), 1), len(POWERSET)) and probs.dtype == np.float32
        assert np.all(probs >= 0) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
        p, _, _ = detector.overlap_probability(audio)
        assert np.allclose(p, probs[:, 4:].sum(axis=1))
    assert num_frames(160000) == 589
    assert detector.frame_probs(np.zeros(0, np.float32))[0].shape == (0, 7)
    with pytest.raises(ModelError):
        detector.frame_probs(np.zeros((16000, 2), np.float32))


@needs_model
def test_silence_is_not_speech(detector):
    # digital silence is degenerate for the instance norms (torch's output is rounding noise too), yet
    # still clearly "no speech"
    for seconds in (1, 3, 12):
        probs, _, _ = detector.frame_probs(np.zeros(seconds * SAMPLE_RATE, np.float32))
        assert probs[:, 0].mean() > 0.9 and probs[:, 4:].sum(axis=1).max() < 0.05
    quiet = (1e-4 * np.random.default_rng(0).standard_normal(4 * SAMPLE_RATE)).astype(np.float32)
    assert detector.overlaps(quiet) == []
    assert (1.0 - detector.frame_probs(quiet)[0][:, 0]).mean() < 0.2


@needs_model
@needs_espeak
def test_two_voices_at_once_are_an_overlap(detector, voices):
    m3, f2 = voices
    # m3 from 0.5 s, f2 from 1.5 s: both speak from 1.5 s until m3 ends
    mix = _place(8.0, (m3, 0.5), (f2, 1.5))
    both = (1.5, 0.5 + len(m3) / SAMPLE_RATE)
    assert both[1] - both[0] > 3.0
    p, step, first = detector.overlap_probability(mix)
    centres = first + step * np.arange(len(p))
    inside = (centres > both[0] + 0.3) & (centres < both[1] - 0.3)
    assert (p[inside] > 0.5).mean() > 0.7
    spans = detector.overlaps(mix, start=100.0)
    assert _covered(spans, 100 + both[0], 100 + both[1]) > 0.6 * (both[1] - both[0])
    assert _covered(spans, 100.0, 100 + both[0] - 0.3) + _covered(spans, 100 + both[1] + 0.5, 108.0) < 0.3
    for alone in (_place(6.0, (m3, 0.5)), _place(6.0, (f2, 0.5))):
        p, _, _ = detector.overlap_probability(alone)
        assert (p > 0.5).mean() < 0.05
        assert sum(e - s for s, e in detector.overlaps(alone)) < 0.3
        assert (1.0 - detector.frame_probs(alone)[0][:, 0]).max() > 0.9


@needs_model
@needs_espeak
def test_long_audio_in_windows(detector, voices):
    m3, f2 = voices
    audio = _place(23.0, (f2, 1.0), (m3, 9.0), (f2, 11.0), (m3, 17.0))   # overlap from 11 s to ~14 s only
    probs, step, first = detector.frame_probs(audio)
    assert probs.shape == (num_frames(len(audio)), 7)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    spans = detector.overlaps(audio)
    end_m3 = 9.0 + len(m3) / SAMPLE_RATE
    assert _covered(spans, 11.0, end_m3) > 0.6 * (end_m3 - 11.0)
    assert _covered(spans, 0.0, 10.7) + _covered(spans, 15.7, 23.0) < 0.5


def test_spans_from_probability():
    step, first = 0.01, 0.005
    p = np.zeros(300)
    p[100:150] = 0.9
    p[150:153] = 0.45        # above the 0.4 offset: still the same span
    p[158:170] = 0.9         # a gap of 5 frames (50 ms) < min_gap: merged
    p[250:255] = 0.9         # 50 ms: too short
    spans = spans_from_probability(p, step, first, start=10.0, onset=0.5, offset=0.4, min_duration=0.1, min_gap=0.1)
    assert spans == [(pytest.approx(11.0), pytest.approx(11.7))]


# ---- loading errors ---------------------------------------------------------------------------


def test_missing_or_corrupt_model_is_a_model_error(tmp_path, monkeypatch):
    with pytest.raises(ModelError, match="setup.sh"):
        OverlapDetector(tmp_path / "absent.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ModelError, match="setup.sh"):
        OverlapDetector(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, **{"classifier.weight": np.zeros((7, 128), np.float32)})
    with pytest.raises(ModelError, match="setup.sh"):
        OverlapDetector(partial)
    monkeypatch.setenv("IMAGO_VOICE_MODELS", str(tmp_path / "elsewhere"))
    assert default_model_path() == tmp_path / "elsewhere" / "segmentation-3.0.npz"
    with pytest.raises(ModelError, match="get_models.py"):
        OverlapDetector()


# ---- the converter's restricted unpickler -------------------------------------------------------------


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_other_globals():
    conv = _converter()
    data = pickle.dumps({"state_dict": _Evil()}, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        conv.RestrictedUnpickler(io.BytesIO(data)).load()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", data)
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        conv.read_torch_zip(buf.getvalue())


def _fake_torch_checkpoint(monkeypatch, tensors: dict[str, np.ndarray]) -> bytes:
    """A torch zip-format checkpoint written without torch (fake torch modules only while pickling)."""
    torch_mod, utils_mod = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while pickling")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch_mod.FloatStorage, utils_mod._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch_mod)
    monkeypatch.setitem(sys.modules, "torch._utils", utils_mod)

    class Storage:
        def __init__(self, key, flat):
            self.key, self.flat = key, flat

    class Tensor:
        def __init__(self, storage, size, stride):
            self.storage, self.size, self.stride = storage, size, stride

        def __reduce__(self):
            import collections
            return (_rebuild_tensor_v2, (self.storage, 0, self.size, self.stride, False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", obj.flat.size)
            return None

    import collections
    state, storages = collections.OrderedDict(), {}
    for i, (name, array) in enumerate(tensors.items()):
        if array.ndim == 2:          # store it transposed and describe it with swapped strides
            flat = np.ascontiguousarray(array.T, dtype="<f4").reshape(-1)
            stride = (1, array.shape[0])
        else:
            flat = np.ascontiguousarray(array, dtype="<f4").reshape(-1)
            stride = tuple(int(s // 4) for s in np.ascontiguousarray(array).strides) or ()
        storages[str(i)] = flat
        state[name] = Tensor(Storage(str(i), flat), tuple(array.shape), stride)
    pkl = io.BytesIO()
    Pickler(pkl, protocol=2).dump({"state_dict": state, "epoch": 3})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl.getvalue())
        z.writestr("archive/byteorder", "little")
        for key, flat in storages.items():
            z.writestr(f"archive/data/{key}", flat.tobytes())
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def test_converter_reads_a_torch_zip_checkpoint(monkeypatch):
    conv = _converter()
    rng = np.random.default_rng(0)
    tensors = {"a.weight": rng.standard_normal((3, 4)).astype(np.float32),
               "a.bias": rng.standard_normal(3).astype(np.float32)}
    data = _fake_torch_checkpoint(monkeypatch, tensors)
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.delitem(sys.modules, "torch._utils")
    arrays = conv.state_dict_arrays(data)
    assert set(arrays) == set(tensors)
    for name, array in tensors.items():
        assert arrays[name].dtype == np.float32 and np.array_equal(arrays[name], array)
