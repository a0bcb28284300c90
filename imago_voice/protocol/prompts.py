"""Prompts as data: ``<language>/common.toml`` plus ``<language>/<exercise>.toml`` in the prompts folder
(the package's ``data/prompts``, read with :mod:`importlib.resources`; see :func:`imago_voice.paths.prompts_root`).

``common.toml`` holds what every exercise shares::

    [language]     code, name
    [words]        and, time_short, time_minute, time_minutes, balance_item, balance_unknown  (the balance sentence)
    [commands]     paused, check_back, resumed, stopped, slower, faster, floor, chunk_limit, remirror
    [steps.<id>]   shared steps: opening, mirror, switch, close
    [vocabulary]   phrases for answers and voice commands (see :mod:`.intents`)
    [fidelity]     stop-words and suffixes for mirror fidelity (see :mod:`.fidelity`)
    [moves]        stems of the dialogue's moves, for the step tracker (see :mod:`.moves`)

``<exercise>.toml`` holds ``[exercise]`` (``id``, ``title``) and ``[steps.<id>]`` for its own steps; a
step it defines with the name of a shared step replaces the shared one.

Each step is a table of prompt texts by key: ``enter`` (said on entering it), ``stems`` (the sentence
stems offered), ``reminder`` (for a person who is stuck or silent), ``reprompt`` (when an answer was not
understood, or a second reminder), plus the extra keys the engine uses for that step (``again``,
``missed``, ``check``...). Which keys each step needs is the engine's business:
:meth:`Prompts.require` checks them and the :class:`~imago_voice.protocol.engine.Engine` calls it.

Texts use ``{placeholders}`` from :data:`PLACEHOLDERS` only. Every problem is a
:class:`~imago_voice.errors.PromptError` with a plain sentence.
"""

from __future__ import annotations

import os
import string
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Union

from imago_voice.errors import PromptError
from imago_voice.paths import prompts_root
from imago_voice.protocol.fidelity import FidelityRules
from imago_voice.protocol.intents import Vocabulary
from imago_voice.protocol.moves import MoveVocabulary

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:  # pragma: no cover
    from importlib.resources.abc import Traversable

#: A prompts folder: a path, or a package-data folder from :mod:`importlib.resources`.
Root = Union[str, "os.PathLike[str]", "Traversable"]

#: Every placeholder a prompt may use.
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "sender",  # the person who shares (the sender role)
        "receiver",  # the person who listens and mirrors
        "name",  # the person the prompt is about (who interrupted, whose turn it is in the close)
        "names",  # everybody, "Sam and Alex"
        "floor",  # the person whose turn it is now
        "minutes",  # the time-out length, in minutes
        "balance",  # the speaking-time balance, built from [words]
        "time",  # one person's speaking time, in words ([words] only)
        "n",  # a number ([words] only)
        "back_at",  # when a time-out ends, as a time of day ("Let's meet back here at 8:40.") or nothing
        "brief",  # the locale's crisis resources in one breath (data/resources/<locale>.toml)
    }
)
#: Keys that ``[commands]`` must have.
COMMAND_KEYS: tuple[str, ...] = (
    "paused", "check_back", "resumed", "stopped", "slower", "faster", "floor", "chunk_limit", "remirror",
    # safety (see :mod:`.guard`): the crisis stop, the pause offered when a talk heats up, the return check
    # after a time-out, the notice before the first session
    "crisis", "crisis_named", "crisis_intro", "crisis_offer", "crisis_resume", "pause_suggested",
    "pause_declined", "return_check", "return_next", "return_unclear", "return_no", "disclosure",
)
#: Keys that ``[words]`` must have.
WORD_KEYS: tuple[str, ...] = ("and", "time_short", "time_minute", "time_minutes", "balance_item", "balance_unknown",
                              "back_at")
#: The keys every step that waits for somebody has.
STEP_KEYS: tuple[str, ...] = ("enter", "stems", "reminder", "reprompt")

#: Files of a language folder that are not exercises.
NOT_EXERCISES = frozenset({"common.toml", "safety.toml"})

_FORMATTER = string.Formatter()


def default_root() -> Traversable:
    """The prompts folder: ``$IMAGO_VOICE_PROMPTS`` if set, else the package's own prompt files."""
    return prompts_root()


def _folder(root: Root | None) -> Traversable:
    if root is None:
        return default_root()
    if isinstance(root, (str, os.PathLike)):
        return Path(root)
    return root


def placeholders(template: str, where: str = "a prompt") -> set[str]:
    """The placeholder names in ``template``; :class:`PromptError` if its braces are malformed."""
    try:
        fields = [field for _, field, _, _ in _FORMATTER.parse(template) if field is not None]
    except ValueError as err:
        raise PromptError(f"The text of {where} has badly placed braces ({err}).") from None
    for field in fields:
        if not field.isidentifier():
            raise PromptError(f"The text of {where} has a placeholder '{{{field}}}' that is not a plain name.")
    return set(fields)


def render(template: str, values: Mapping[str, object], where: str = "a prompt") -> str:
    """Fill the placeholders of ``template`` from ``values`` (``None`` counts as missing)."""
    missing = sorted(p for p in placeholders(template, where) if values.get(p) is None)
    if missing:
        raise PromptError(f"The text of {where} needs {', '.join('{' + m + '}' for m in missing)}, which has no value here.")
    return template.format_map({k: v for k, v in values.items() if v is not None})


def _read(path: Traversable) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise PromptError(f"The prompt file {path} is missing.") from None
    except UnicodeDecodeError as err:
        raise PromptError(f"The prompt file {path} is not UTF-8 text: {err}.") from None
    except tomllib.TOMLDecodeError as err:
        raise PromptError(f"The prompt file {path} is not valid TOML: {err}.") from None
    except OSError as err:
        raise PromptError(f"The prompt file {path} cannot be read: {err.strerror or err}.") from None


def _texts(table: object, where: str, *, allowed: frozenset[str] = PLACEHOLDERS) -> dict[str, str]:
    if not isinstance(table, Mapping):
        raise PromptError(f"In {where}, expected a table of texts.")
    out: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str) or not value.strip():
            raise PromptError(f"In {where}, '{key}' must be a text that is not empty.")
        unknown = sorted(placeholders(value, f"{where}.{key}") - allowed)
        if unknown:
            raise PromptError(
                f"In {where}.{key}, the placeholder {{{unknown[0]}}} is unknown; "
                f"use one of {', '.join('{' + p + '}' for p in sorted(allowed))}."
            )
        out[key] = value.strip()
    return out


def _steps(table: object, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(table, Mapping) or not table:
        raise PromptError(f"In {where}, the [steps] table is missing or empty.")
    steps = {}
    for step, texts in table.items():
        steps[step] = _texts(texts, f"{where} [steps.{step}]")
        if "enter" not in steps[step]:
            raise PromptError(f"In {where}, the step '{step}' has no 'enter' text.")
    return steps


def _require_keys(texts: Mapping[str, str], keys: Iterable[str], where: str) -> None:
    missing = [k for k in keys if k not in texts]
    if missing:
        raise PromptError(f"In {where}, these texts are missing: {', '.join(missing)}.")


@dataclass(frozen=True)
class Common:
    """The contents of one language's ``common.toml``."""

    language: str
    language_name: str
    steps: Mapping[str, Mapping[str, str]]
    commands: Mapping[str, str]
    words: Mapping[str, str]
    vocabulary: Vocabulary
    fidelity: FidelityRules
    path: Traversable
    moves: MoveVocabulary | None = None


def load_common(language: str, root: Root | None = None) -> Common:
    """Read and check ``<root>/<language>/common.toml``."""
    folder = _folder(root)
    path = folder / language / "common.toml"
    if not (folder / language).is_dir():
        known = ", ".join(available_languages(folder)) or "none"
        raise PromptError(f"There are no prompts for the language '{language}' in {folder} (languages found: {known}).")
    data = _read(path)
    where = str(path)
    meta = data.get("language")
    if not isinstance(meta, Mapping) or meta.get("code") != language or not isinstance(meta.get("name"), str):
        raise PromptError(f"In {where}, [language] must have code = \"{language}\" and a name.")
    commands = _texts(data.get("commands"), f"{where} [commands]")
    _require_keys(commands, COMMAND_KEYS, f"{where} [commands]")
    words = _texts(data.get("words"), f"{where} [words]")
    _require_keys(words, WORD_KEYS, f"{where} [words]")
    vocab = data.get("vocabulary")
    if not isinstance(vocab, Mapping):
        raise PromptError(f"In {where}, the [vocabulary] table is missing.")
    rules = data.get("fidelity")
    if not isinstance(rules, Mapping):
        raise PromptError(f"In {where}, the [fidelity] table is missing.")
    moves = data.get("moves")   # optional until the engine follows the couple with it (issue 9)
    if moves is not None and not isinstance(moves, Mapping):
        raise PromptError(f"In {where}, [moves] must be a table.")
    vocabulary = Vocabulary.from_mapping(language, vocab, f"{where} [vocabulary]")
    fidelity = FidelityRules.from_mapping(rules, f"{where} [fidelity]")
    return Common(
        language=language,
        language_name=meta["name"],
        steps=_steps(data.get("steps"), where),
        commands=commands,
        words=words,
        vocabulary=vocabulary,
        fidelity=fidelity,
        path=path,
        moves=None if moves is None else MoveVocabulary.from_mapping(
            language, moves, answers=vocabulary.answers, stopwords=fidelity.stopwords, where=f"{where} [moves]"),
    )


@dataclass(frozen=True)
class Prompts:
    """All the texts one exercise needs in one language: its steps merged over the shared ones."""

    language: str
    exercise: str
    title: str
    steps: Mapping[str, Mapping[str, str]]
    commands: Mapping[str, str]
    words: Mapping[str, str]
    vocabulary: Vocabulary
    fidelity: FidelityRules
    moves: MoveVocabulary | None = None
    safety: object | None = None      # imago_voice.protocol.safety.SafetyRules, when the language has them
    resources: object | None = None   # imago_voice.protocol.resources.Resources of the session's locale

    def template(self, step: str, key: str) -> str:
        """The raw text of ``key`` in ``step``; :class:`PromptError` if there is none."""
        try:
            return self.steps[step][key]
        except KeyError:
            raise PromptError(f"The {self.language} prompts for '{self.exercise}' have no '{key}' text for the step '{step}'.") from None

    def text(self, step: str, key: str, values: Mapping[str, object]) -> str:
        """The text of ``key`` in ``step`` with its placeholders filled from ``values``."""
        return render(self.template(step, key), values, f"[steps.{step}].{key} ({self.language})")

    def command(self, key: str, values: Mapping[str, object]) -> str:
        """The text of ``[commands].key``, filled."""
        return render(self.commands[key], values, f"[commands].{key} ({self.language})")

    def word(self, key: str, values: Mapping[str, object]) -> str:
        """The text of ``[words].key``, filled."""
        return render(self.words[key], values, f"[words].{key} ({self.language})")

    def require(self, keys_by_step: Mapping[str, Iterable[str]]) -> None:
        """Check that each step named has each of its keys; one :class:`PromptError` lists what is missing."""
        missing = []
        for step, keys in keys_by_step.items():
            texts = self.steps.get(step)
            if texts is None:
                missing.append(f"the step '{step}'")
                continue
            missing.extend(f"'{step}.{k}'" for k in keys if k not in texts)
        if missing:
            raise PromptError(
                f"The {self.language} prompts for the exercise '{self.exercise}' are incomplete: "
                f"{', '.join(missing)} missing."
            )

    def all_texts(self) -> Iterable[tuple[str, str]]:
        """Every (where, template) pair, for checks."""
        for step, texts in self.steps.items():
            for key, text in texts.items():
                yield f"steps.{step}.{key}", text
        for key, text in self.commands.items():
            yield f"commands.{key}", text
        for key, text in self.words.items():
            yield f"words.{key}", text


def load_prompts(language: str, exercise: str, root: Root | None = None, locale: str | None = None) -> Prompts:
    """Read and check ``<root>/<language>/common.toml`` and ``<root>/<language>/<exercise>.toml``, the
    language's crisis patterns (``safety.toml``, when there is one) and the crisis resources of ``locale``
    (default: the language's, e.g. en-US for en; see :mod:`.resources`)."""
    folder = _folder(root)
    common = load_common(language, folder)
    path = folder / language / f"{exercise}.toml"
    if exercise == "common" or not path.is_file():
        known = ", ".join(available_exercises(language, folder)) or "none"
        raise PromptError(
            f"There are no {common.language_name} prompts for the exercise '{exercise}' "
            f"(exercises in {folder / language}: {known})."
        )
    data = _read(path)
    meta = data.get("exercise")
    if not isinstance(meta, Mapping) or meta.get("id") != exercise or not isinstance(meta.get("title"), str):
        raise PromptError(f"In {path}, [exercise] must have id = \"{exercise}\" and a title.")
    steps = {k: MappingProxyType(dict(v)) for k, v in common.steps.items()}
    steps.update({k: MappingProxyType(v) for k, v in _steps(data.get("steps"), str(path)).items()})
    return Prompts(
        language=language,
        exercise=exercise,
        title=meta["title"],
        steps=MappingProxyType(steps),
        commands=MappingProxyType(dict(common.commands)),
        words=MappingProxyType(dict(common.words)),
        vocabulary=common.vocabulary,
        fidelity=common.fidelity,
        moves=common.moves,
        safety=_safety_rules(language, folder),
        resources=_resources(language, locale),
    )


def _safety_rules(language: str, folder: Traversable):
    if not (folder / language / "safety.toml").is_file():
        return None
    from imago_voice.protocol.safety import load_safety

    return load_safety(language, folder)


def _resources(language: str, locale: str | None):
    from imago_voice.protocol.resources import available_locales, default_locale, load_resources

    if locale is None:
        locale = default_locale(language)
        if locale not in available_locales():
            return None
    return load_resources(locale)


def available_languages(root: Root | None = None) -> list[str]:
    """Language folders under ``root`` that have a ``common.toml``."""
    folder = _folder(root)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / "common.toml").is_file())


def available_exercises(language: str, root: Root | None = None) -> list[str]:
    """Exercise ids that have a prompt file for ``language``."""
    folder = _folder(root) / language
    if not folder.is_dir():
        return []
    return sorted(p.name[:-len(".toml")] for p in folder.iterdir()
                  if p.is_file() and p.name.endswith(".toml") and p.name not in NOT_EXERCISES)
