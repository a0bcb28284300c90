"""The one text normaliser, in English and Spanish, and everything that compares words through it."""

import pytest

from imago_voice.facilitator.echo import is_echo
from imago_voice.protocol import load_prompts
from imago_voice.protocol.intents import recognize_answer, recognize_command
from imago_voice.protocol.text import normalize
from tests.support.scoring import word_errors


@pytest.mark.parametrize("text, words", [
    ("That’s it!", ["thats", "it"]),
    ("Time-out.", ["time", "out"]),
    ("¿Está bien? Sí, está bien.", ["esta", "bien", "si", "esta", "bien"]),
    ("Mañana, el niño habló con él.", ["manana", "el", "nino", "hablo", "con", "el"]),
    ("¡Qué día!", ["que", "dia"]),
    ("Straße", ["strasse"]),
    ("  ", []),
    (None, []),
])
def test_normalize(text, words):
    assert normalize(text) == words


def test_spanish_words_are_never_split():
    # the ASCII-only normaliser the echo filter used made "está" into "est" and "sí" into "s"
    assert normalize("Está ahí, sí") == ["esta", "ahi", "si"]
    assert word_errors("Está bien, sí.", "esta bien si") == (0, 3)


def test_the_echo_filter_knows_a_spanish_prompt_heard_back():
    prompt = load_prompts("es", "dialogue").text("mirror", "enter", {"receiver": "Alex", "sender": "Sam"})
    heard = prompt.lower().replace("é", "e").replace("á", "a")      # Whisper may drop the accents
    assert is_echo(heard, [prompt])
    assert not is_echo("Sí, es un buen momento para hablar.", [prompt])


def test_spanish_answers_and_commands_with_or_without_accents():
    vocab = load_prompts("es", "dialogue").vocabulary
    assert recognize_answer("Sí, claro.", vocab) == recognize_answer("si claro", vocab) == "yes"
    assert recognize_answer("No, eso es todo.", vocab) == "done"
    assert recognize_command("¡Pausa!", vocab) == recognize_command("pausa", vocab) == "pause"
    assert recognize_command("¿Podemos hacer una pausa?", vocab) == "pause"       # as "can we take a break?"
    assert recognize_command("Más despacio, por favor.", vocab) == recognize_command("mas despacio", vocab) == "slower"
