"""Crisis resources as data: the help lines of one locale, read from ``data/resources/<locale>.toml``.

Each file names its locale and language, a one-breath ``brief`` for the first-session notice, and its
resources: which crisis categories each is for (``self_harm``, ``violence``, ``child``), its name and
number, what the facilitator says (``say``, numbers as they should be spoken) and ``source``: where the
number was checked. The engine (:mod:`.guard`) says the resources for the category heard, in the file's
order. ``$IMAGO_VOICE_RESOURCES`` points at another folder. This module does I/O only in
:func:`load_resources`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources as package_files
from pathlib import Path

from imago_voice.errors import PromptError

CATEGORIES: tuple[str, ...] = ("self_harm", "violence", "child")
RESOURCES_ENV = "IMAGO_VOICE_RESOURCES"
#: The locale used when none is given, by language.
DEFAULT_LOCALES: Mapping[str, str] = {"en": "en-US", "es": "es-US"}


@dataclass(frozen=True)
class Resource:
    categories: tuple[str, ...]
    name: str
    number: str
    say: str
    source: str


@dataclass(frozen=True)
class Resources:
    locale: str
    language: str
    name: str
    brief: str
    items: tuple[Resource, ...]

    def for_category(self, category: str) -> tuple[Resource, ...]:
        """The resources for ``category``, in the file's order (the emergency number is in every list)."""
        return tuple(r for r in self.items if category in r.categories)


def resources_root() -> Path | object:
    value = os.environ.get(RESOURCES_ENV, "").strip()
    return Path(value).expanduser() if value else package_files.files("imago_voice") / "data" / "resources"


def available_locales(root=None) -> list[str]:
    folder = Path(root) if isinstance(root, (str, os.PathLike)) else (root or resources_root())
    if not folder.is_dir():
        return []
    return sorted(p.name[:-len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def default_locale(language: str) -> str:
    return DEFAULT_LOCALES.get(language, f"{language}")


def load_resources(locale: str, root=None) -> Resources:
    """Read and check ``<root>/<locale>.toml``; a :class:`PromptError` names what is wrong."""
    folder = Path(root) if isinstance(root, (str, os.PathLike)) else (root or resources_root())
    path = folder / f"{locale}.toml"
    if not path.is_file():
        known = ", ".join(available_locales(folder)) or "none"
        raise PromptError(f"There are no crisis resources for the locale '{locale}' (locales: {known}).")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise PromptError(f"The resources file {path} is not valid TOML: {err}.") from None
    meta = data.get("locale")
    if not isinstance(meta, Mapping) or meta.get("code") != locale:
        raise PromptError(f"In {path}, [locale] must have code = \"{locale}\".")
    for key in ("language", "name", "brief"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise PromptError(f"In {path}, [locale] needs a '{key}' text.")
    items = []
    for i, row in enumerate(data.get("resource", [])):
        where = f"{path}, resource {i + 1}"
        if not isinstance(row, Mapping):
            raise PromptError(f"In {where}: each [[resource]] must be a table.")
        cats = row.get("for")
        if not isinstance(cats, list) or not cats or any(c not in CATEGORIES for c in cats):
            raise PromptError(f"In {where}: 'for' must list some of {', '.join(CATEGORIES)}.")
        for key in ("name", "number", "say", "source"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise PromptError(f"In {where}: '{key}' is missing (every number needs its source).")
        items.append(Resource(tuple(cats), row["name"], row["number"], row["say"], row["source"]))
    missing = [c for c in CATEGORIES if not any(c in r.categories for r in items)]
    if missing:
        raise PromptError(f"In {path}, no resource is for: {', '.join(missing)}.")
    return Resources(locale, meta["language"], meta["name"], meta["brief"], tuple(items))
