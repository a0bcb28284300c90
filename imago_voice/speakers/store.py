"""Stored voiceprints: one small JSON file per person in ``voiceprints/`` of the data folder
(:func:`imago_voice.paths.voiceprint_dir`). Never audio."""

from __future__ import annotations

import pathlib

from imago_voice.errors import VoiceprintError
from imago_voice.paths import voiceprint_dir
from imago_voice.speakers.voiceprint import Voiceprint

__all__ = ["delete_stored", "list_stored", "load_stored", "store", "voiceprint_dir"]


def _file_stem(name: str) -> str:
    name = str(name).strip() if name is not None else ""
    stem = "".join(ch if (ch.isalnum() or ch in "-_") else "_" for ch in name.casefold())
    if not stem.strip("_"):
        raise VoiceprintError(f"{name!r} cannot be used as a voiceprint name; use letters or digits.")
    return stem


def _stored_path(name: str) -> pathlib.Path:
    return voiceprint_dir() / f"{_file_stem(name)}.json"


def store(vp: Voiceprint) -> pathlib.Path:
    """Save ``vp`` in :func:`voiceprint_dir` under its name (replacing an older one); returns the path."""
    path = _stored_path(vp.name)
    vp.save(path)
    return path


def list_stored() -> list[str]:
    """Names of the voiceprints stored in :func:`voiceprint_dir` (unreadable files are skipped)."""
    folder = voiceprint_dir()
    names = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            names.append(Voiceprint.load(path).name)
        except VoiceprintError:
            continue
    return names


def load_stored(name: str) -> Voiceprint:
    """The stored voiceprint called ``name``; a clear error naming the folder when there is none."""
    path = _stored_path(name)
    if not path.is_file():
        known = list_stored()
        have = f" Stored voiceprints: {', '.join(known)}." if known else " No voiceprints are stored there yet."
        raise VoiceprintError(
            f"No voiceprint named {str(name).strip()!r} in {path.parent}.{have} "
            f"Enroll the person first (imago-voice enroll {str(name).strip()})."
        )
    return Voiceprint.load(path)


def delete_stored(name: str) -> bool:
    """Remove a stored voiceprint; True if there was one."""
    path = _stored_path(name)
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise VoiceprintError(f"Cannot delete the voiceprint file {path}: {exc.strerror or exc}.") from exc
