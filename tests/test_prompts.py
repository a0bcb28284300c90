"""Prompt files: complete for every step of every exercise in every language, placeholders that resolve,
the second language shaped like English, and plain errors for broken files."""

from __future__ import annotations

import re
import shutil
import tomllib

import pytest

from imago_voice.errors import PromptError
from imago_voice.protocol import EXERCISES, Engine, available_exercises, available_languages, load_prompts
from imago_voice.protocol.prompts import (
    COMMAND_KEYS,
    PLACEHOLDERS,
    STEP_KEYS,
    WORD_KEYS,
    default_root,
    load_common,
    placeholders,
    render,
)

ROOT = default_root()
LANGUAGES = available_languages()
SHIPPED = [(lang, ex) for lang in LANGUAGES for ex in available_exercises(lang)]
SAMPLE = {
    "sender": "Sam", "receiver": "Alex", "name": "Kim", "names": "Sam and Alex", "floor": "Sam",
    "minutes": 20, "balance": "Sam talked for about 4 minutes and Alex talked for about 3 minutes",
    "time": "about 4 minutes", "n": 4, "back_at": "Let's meet back here at 8:40. ",
    "brief": "You can call or text 9 8 8.",
}


def test_languages_and_exercises_shipped():
    assert {"en", "es"} <= set(LANGUAGES)
    assert set(available_exercises("en")) >= set(EXERCISES)
    assert "dialogue" in available_exercises("es")
    assert set(SAMPLE) == set(PLACEHOLDERS)


@pytest.mark.parametrize("language,exercise", SHIPPED)
def test_every_step_has_all_its_prompts(language, exercise):
    prompts = load_prompts(language, exercise)
    needed = EXERCISES[exercise].required_keys()
    for table, keys in needed.items():
        assert table in prompts.steps, f"{language}/{exercise}: no step '{table}'"
        missing = set(keys) - set(prompts.steps[table])
        assert not missing, f"{language}/{exercise}: '{table}' lacks {sorted(missing)}"
    for step in EXERCISES[exercise].steps.values():
        if not step.announces:
            assert set(STEP_KEYS) <= set(prompts.steps[step.table]), step.id
    Engine(exercise, ["Sam", "Alex"], prompts)  # the engine's own check agrees


@pytest.mark.parametrize("language,exercise", SHIPPED)
def test_every_placeholder_resolves(language, exercise):
    prompts = load_prompts(language, exercise)
    for where, template in prompts.all_texts():
        assert placeholders(template) <= PLACEHOLDERS, where
        text = render(template, SAMPLE, where)
        assert "{" not in text and "}" not in text, where
        assert text.strip() == text and text, where


@pytest.mark.parametrize("language,exercise", SHIPPED)
def test_prompts_are_short_sentences(language, exercise):
    prompts = load_prompts(language, exercise)
    for where, template in prompts.all_texts():
        for sentence in re.split(r"[.?!…:]+", render(template, SAMPLE)):
            assert len(sentence.split()) <= 22, f"{language} {where}: {sentence!r}"


def _shape(path):
    """Section and key names of a prompt file (not the texts, nor the vocabulary's phrases)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    shape = {}
    for section, value in data.items():
        if section == "steps":
            for step, texts in value.items():
                shape[f"steps.{step}"] = set(texts)
        elif section == "vocabulary":
            shape[section] = {k for k in value if k not in ("answers", "commands")}
            shape["vocabulary.answers"] = set(value.get("answers", {}))
            shape["vocabulary.commands"] = set(value.get("commands", {}))
        else:
            shape[section] = set(value)
    return shape


@pytest.mark.parametrize(
    "language,name",
    [(lang, name) for lang in LANGUAGES if lang != "en" for name in ["common", *available_exercises(lang)]],
)
def test_other_languages_have_the_same_steps_and_keys_as_english(language, name):
    assert _shape(ROOT / language / f"{name}.toml") == _shape(ROOT / "en" / f"{name}.toml")


def test_common_has_what_the_commands_and_the_balance_need():
    for language in LANGUAGES:
        common = load_common(language)
        assert set(COMMAND_KEYS) <= set(common.commands)
        assert set(WORD_KEYS) <= set(common.words)
        assert {"opening", "mirror", "switch", "close"} <= set(common.steps)


def test_opening_says_what_it_is_and_asks_who_goes_first():
    text = load_prompts("en", "dialogue").text("opening", "enter", SAMPLE)
    assert "not therapy" in text and text.endswith("Who would like to speak first?")


def test_exercise_file_overrides_a_shared_step():
    assert "how this felt" in load_prompts("en", "appreciation").template("close", "enter")
    assert "value about the other" in load_prompts("en", "dialogue").template("close", "enter")


def test_render_names_a_missing_value():
    with pytest.raises(PromptError, match=r"needs \{receiver\}"):
        render("{sender}, wait for {receiver}.", {"sender": "Sam", "receiver": None}, "a test prompt")


# ------------------------------------------------------------------------------------- broken files


@pytest.fixture()
def root(tmp_path):
    shutil.copytree(ROOT, tmp_path / "prompts")
    return tmp_path / "prompts"


def _edit(path, old, new, count=1):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


BROKEN = [
    ("unknown-language", None, "fr", "dialogue", "no prompts for the language 'fr'"),
    ("unknown-exercise", None, "en", "tango", "no English prompts for the exercise 'tango'"),
    ("spanish-not-shipped", None, "es", "tango", "no Español prompts for the exercise 'tango'"),
    ("bad-toml", ("en/dialogue.toml", "[steps.send]", "[steps.send"), "en", "dialogue", "not valid TOML"),
    ("unknown-placeholder", ("en/dialogue.toml", "{sender}, please share", "{partner}, please share"), "en",
     "dialogue", r"placeholder \{partner\} is unknown"),
    ("bad-braces", ("en/dialogue.toml", "{sender}, please share", "{sender, please share"), "en", "dialogue",
     "badly placed braces"),
    ("empty-text", ("en/dialogue.toml", 'again = "Go on, {sender}. Say the next part."', 'again = ""'), "en",
     "dialogue", "'again' must be a text"),
    ("no-enter", ('en/dialogue.toml', 'enter = "{sender}, please share', 'start = "{sender}, please share'), "en",
     "dialogue", "'send' has no 'enter'"),
    ("missing-command", ("en/common.toml", 'faster = "Okay.', 'quicker = "Okay.'), "en", "dialogue",
     "missing: faster"),
    ("missing-word", ("en/common.toml", 'and = "and"', 'und = "and"'), "en", "dialogue", "missing: and"),
    ("wrong-exercise-id", ("en/dialogue.toml", 'id = "dialogue"', 'id = "dialog"'), "en", "dialogue",
     'id = "dialogue"'),
    ("wrong-language-code", ("en/common.toml", 'code = "en"', 'code = "english"'), "en", "dialogue", 'code = "en"'),
    ("vocabulary-answer-missing", ("en/common.toml", 'not_now = ["not now"', 'later = ["not now"'), "en",
     "dialogue", "'answers.not_now' must be a non-empty list"),
    ("vocabulary-command-empty", ("en/common.toml", 'stop = ["stop", "stop the session", "stop here", "end the session", "end session", "quit", "stop now", "we want to stop"]', "stop = []"),
     "en", "dialogue", "'commands.stop' must be a non-empty list"),
    ("fidelity-missing", ("en/common.toml", "[fidelity]", "[fidelity_rules]"), "en", "dialogue",
     r"\[fidelity\] table is missing"),
]


@pytest.mark.parametrize("edit,language,exercise,message", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_prompt_files_are_plain_prompt_errors(root, edit, language, exercise, message):
    if edit:
        _edit(root / edit[0], edit[1], edit[2])
    with pytest.raises(PromptError, match=message) as caught:
        load_prompts(language, exercise, root)
    assert "\n" not in str(caught.value)


def test_missing_file(root):
    (root / "en" / "common.toml").unlink()
    with pytest.raises(PromptError, match="common.toml is missing"):
        load_prompts("en", "dialogue", root)
    (root / "es" / "dialogue.toml").unlink()
    assert "dialogue" not in available_exercises("es", root)


def test_missing_step_text_is_reported_by_the_engine(root):
    _edit(root / "en" / "common.toml", 'more_question = "{sender}, is there more?"\n', "")
    prompts = load_prompts("en", "dialogue", root)
    with pytest.raises(PromptError, match="'mirror.more_question'"):
        Engine("dialogue", ["Sam", "Alex"], prompts)


def test_prompts_folder_from_the_environment(root, monkeypatch):
    monkeypatch.setenv("IMAGO_VOICE_PROMPTS", str(root))
    assert default_root() == root
    assert load_prompts("es", "dialogue").title == "Diálogo Intencional"
