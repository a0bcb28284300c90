"""Reading converted weights: an ``.npz`` the install step wrote, checked tensor by tensor, never a pickle."""

from __future__ import annotations

import pathlib
import zipfile
from collections.abc import Mapping

import numpy as np

from imago_voice.errors import ImagoError
from imago_voice.paths import INSTALL_HINT


def load_npz(path: pathlib.Path, shapes: Mapping[str, tuple[int, ...]], what: str,
             error: type[ImagoError]) -> dict[str, np.ndarray]:
    """The arrays named in ``shapes`` as float32, each of its shape and finite; ``error`` (with a plain
    sentence about ``what``) when the file is missing, damaged or not the one expected."""
    if not path.is_file():
        raise error(f"The {what} {path} is not installed; {INSTALL_HINT}.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            weights = {name: np.asarray(npz[name], dtype=np.float32) for name in shapes}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise error(f"The {what} {path} is damaged or not the expected file; {INSTALL_HINT} "
                    f"with --force to rebuild it.") from exc
    for name, shape in shapes.items():
        if weights[name].shape != shape or not np.all(np.isfinite(weights[name])):
            raise error(f"The {what} {path} is not the expected file ({name}); {INSTALL_HINT} "
                        f"with --force to rebuild it.")
    return weights
