"""Intent recognition on varied wordings (with Whisper's punctuation and case), and mirror fidelity."""

from __future__ import annotations

import pytest

from imago_voice.protocol import load_common
from imago_voice.protocol.fidelity import content_words, mirror_fidelity, stem
from imago_voice.protocol.intents import (
    hands_over,
    load_vocabulary,
    mentioned_names,
    normalize,
    recognize_answer,
    recognize_command,
)

EN = load_vocabulary("en")
ES = load_vocabulary("es")
VOCAB = {"en": EN, "es": ES}


@pytest.mark.parametrize(
    "text,words",
    [
        ("Yep, you got it.", ["yep", "you", "got", "it"]),
        ("That’s ALL!", ["thats", "all"]),
        ("Time-out.", ["time", "out"]),
        ("¿Sí? ¡Más despacio!", ["si", "mas", "despacio"]),
        ("  ...  ", []),
    ],
)
def test_normalize(text, words):
    assert normalize(text) == words


ANSWERS = [
    # yes
    ("en", "Yes.", None, "yes"),
    ("en", "yep, you got it", None, "yes"),
    ("en", "Yeah you got it all right.", None, "yes"),
    ("en", "Mhm.", None, "yes"),
    ("en", "Sure, now is good.", None, "yes"),
    ("en", "Exactly!", None, "yes"),
    # no
    ("en", "No.", None, "no"),
    ("en", "Nope", None, "no"),
    ("en", "Not quite.", None, "no"),
    ("en", "That's not right.", None, "no"),
    ("en", "No, you missed the part about my mother.", None, "no"),
    # more
    ("en", "There is more.", None, "more"),
    ("en", "there's more", None, "more"),
    ("en", "Yes, and there's more.", None, "more"),
    ("en", "No, there is more.", None, "more"),
    ("en", "I'm not done.", None, "more"),
    ("en", "Wait, one more thing.", None, "more"),
    ("en", "Not finished yet", None, "more"),
    # done
    ("en", "That's all.", None, "done"),
    ("en", "no that's everything", None, "done"),
    ("en", "Yes, that's it.", None, "done"),
    ("en", "There is no more.", None, "done"),
    ("en", "Nothing else.", None, "done"),
    ("en", "I'm done", None, "done"),
    ("en", "THAT IS ALL", None, "done"),
    # not now
    ("en", "not right now", None, "not_now"),
    ("en", "Not now, sorry.", None, "not_now"),
    ("en", "It's not a good time.", None, "not_now"),
    ("en", "Maybe later?", None, "not_now"),
    ("en", "Can we do it later tonight?", None, "not_now"),
    # unclear
    ("en", "Hmm.", None, None),
    ("en", "I'm not sure.", None, None),
    ("en", "", None, None),
    ("en", "Whatever you think", None, None),
    # what is allowed at the branch point matters
    ("en", "Not yet.", ("yes", "no", "not_now"), "not_now"),
    ("en", "Not yet.", ("more", "done", "yes", "no"), "more"),
    ("en", "That's all.", ("yes", "no", "not_now"), None),
    ("en", "No, that's everything.", ("yes", "no", "not_now"), "no"),
    # Spanish
    ("es", "Sí.", None, "yes"),
    ("es", "Sí, claro.", None, "yes"),
    ("es", "Exacto, me entendiste.", None, "yes"),
    ("es", "No.", None, "no"),
    ("es", "No del todo.", None, "no"),
    ("es", "Hay más.", None, "more"),
    ("es", "Sí, hay más.", None, "more"),
    ("es", "No, eso es todo.", None, "done"),
    ("es", "Nada más.", None, "done"),
    ("es", "No hay más.", None, "done"),
    ("es", "Ahora no.", None, "not_now"),
    ("es", "Más tarde, por favor.", None, "not_now"),
    ("es", "No sé.", None, None),
]


@pytest.mark.parametrize("language,text,allowed,expected", ANSWERS)
def test_answers(language, text, allowed, expected):
    assert recognize_answer(text, VOCAB[language], allowed) == expected


COMMANDS = [
    ("en", "Pause.", "pause"),
    ("en", "Time out.", "pause"),
    ("en", "Time-out.", "pause"),
    ("en", "Timeout!", "pause"),
    ("en", "Can we take a time out, please?", "pause"),
    ("en", "I need a break.", "pause"),
    ("en", "Resume.", "resume"),
    ("en", "OK, let's continue.", "resume"),
    ("en", "We're back.", "resume"),
    ("en", "Repeat.", "repeat"),
    ("en", "Could you repeat that?", "repeat"),
    ("en", "Say that again, please.", "repeat"),
    ("en", "Next.", "next"),
    ("en", "Let's move on.", "next"),
    ("en", "Next step please.", "next"),
    ("en", "Back.", "back"),
    ("en", "Go back.", "back"),
    ("en", "Slower.", "slower"),
    ("en", "Slow down, please.", "slower"),
    ("en", "A little slower.", "slower"),
    ("en", "Faster.", "faster"),
    ("en", "Can you speed up a bit?", "faster"),
    ("en", "Stop.", "stop"),
    ("en", "Let's stop here.", "stop"),
    ("en", "STOP!", "stop"),
    ("en", "Guide, please stop.", "stop"),
    ("en", "Hey guide, I think we need a time out.", "pause"),
    ("en", "Facilitator, could you go a bit slower for us?", "slower"),
    # not commands: the command word is part of what a person is saying
    ("en", "I want to stop feeling ignored.", None),
    ("en", "I want to stop feeling ignored when you come home late and look at your phone.", None),
    ("en", "Please don't stop.", None),
    ("en", "I need you to stop.", None),
    ("en", "I want to go back to what you said about the weekend.", None),
    ("en", "Next time I will call you first.", None),
    ("en", "You never slow down when we talk about money.", None),
    ("en", "When you say that again and again I feel small.", None),
    ("en", "That's all.", None),
    ("en", "Next all.", None),     # "that's all" as tiny.en often hears it: an answer, not "next"
    ("en", "Yes.", None),
    ("en", "", None),
    # a wake word in a long speech is not enough
    ("en", "My guide at work told me to stop worrying so much about what other people think of us.", None),
    # Spanish
    ("es", "Pausa.", "pause"),
    ("es", "Tiempo fuera, por favor.", "pause"),
    ("es", "Sigamos.", "resume"),
    ("es", "¿Puedes repetir?", "repeat"),
    ("es", "Otra vez, por favor.", "repeat"),
    ("es", "Siguiente.", "next"),
    ("es", "Atrás.", "back"),
    ("es", "Más despacio, por favor.", "slower"),
    ("es", "Un poco más rápido.", "faster"),
    ("es", "Para.", "stop"),
    ("es", "Guía, para por favor.", "stop"),
    ("es", "Quiero dejar de sentirme sola para siempre.", None),
    ("es", "¿Es un buen momento para hablar?", None),
]


@pytest.mark.parametrize("language,text,expected", COMMANDS)
def test_commands(language, text, expected):
    assert recognize_command(text, VOCAB[language]) == expected


@pytest.mark.parametrize("language,text,expected", [
    ("en", "Wait.", "wait"),
    ("en", "Wait, wait.", "wait"),
    ("en", "Hold on, please.", "wait"),
    ("en", "Hang on.", "wait"),
    ("en", "Just a moment.", "wait"),
    ("en", "Stop.", "stop"),                    # the commands still count over a prompt
    ("en", "Could you repeat that?", "repeat"),
    ("en", "Wait, there is more I want to say.", None),   # a sentence, not a hold
    ("en", "I had to wait for you for an hour.", None),
    ("es", "¡Espera!", "wait"),
    ("es", "Un momento, por favor.", "wait"),
    ("es", "Espera a que termine de hablar contigo.", None),
])
def test_holds_count_over_a_prompt_only(language, text, expected):
    assert recognize_command(text, VOCAB[language], over_prompt=True) == expected
    if expected == "wait":
        assert recognize_command(text, VOCAB[language]) is None   # not a command in the dialogue


@pytest.mark.parametrize(
    "text,names",
    [
        ("Sam should go first.", ["Sam"]),
        ("alex, you start", ["Alex"]),
        ("I think Alex, then Sam.", ["Alex", "Sam"]),
        ("Me!", []),
        ("Samuel will go", []),  # a name inside another word does not count
        ("Mary-Jo goes first", ["Mary Jo"]),
    ],
)
def test_mentioned_names(text, names):
    assert mentioned_names(text, ["Sam", "Alex", "Mary Jo"]) == names


@pytest.mark.parametrize(
    "language,text,expected",
    [
        ("en", "You go first.", True),
        ("en", "After you.", True),
        ("en", "I'll go first.", False),
        ("es", "Empieza tú.", True),
        ("es", "Yo empiezo.", False),
    ],
)
def test_hands_over(language, text, expected):
    assert hands_over(text, VOCAB[language]) is expected


# ------------------------------------------------------------------------------------- fidelity
RULES = {"en": load_common("en").fidelity, "es": load_common("es").fidelity}


@pytest.mark.parametrize(
    "language,words",
    [
        ("en", ["ignored", "ignoring", "ignore", "ignores"]),
        ("en", ["stopped", "stop", "stopping"]),
        ("en", ["feel", "feels", "feeling"]),
        ("en", ["story", "stories"]),
        ("es", ["trabajo", "trabajas", "trabajar", "trabajando"]),
        ("es", ["sola", "solo", "solas"]),
    ],
)
def test_light_stemming_groups_word_forms(language, words):
    assert len({stem(normalize(w)[0], RULES[language]) for w in words}) == 1


@pytest.mark.parametrize(
    "language,sent,mirror,expected",
    [
        ("en", "I feel lonely when you work late.", "If I got it, you feel lonely when I work late.", 1.0),
        ("en", "I feel ignored when you look at your phone.", "You feel ignored when I'm looking at my phone.", 1.0),
        ("en", "I feel ignored when you look at your phone.", "You are upset.", 0.0),
        ("en", "I miss our dinners and our walks.", "You miss our dinners.", 2 / 3),
        ("en", "I, um, you know.", "Okay.", 1.0),  # nothing to keep: nothing lost
        ("es", "Me siento sola cuando trabajas hasta tarde.", "Te sientes sola cuando trabajo hasta tarde.", 1.0),
        ("es", "Extraño nuestras cenas y paseos.", "Extrañas nuestras cenas.", 2 / 3),
    ],
)
def test_mirror_fidelity(language, sent, mirror, expected):
    assert mirror_fidelity(sent, mirror, RULES[language]) == pytest.approx(expected)


def test_extra_words_in_the_mirror_do_not_lower_fidelity():
    rules = RULES["en"]
    sent = "I feel tired after work."
    assert mirror_fidelity(sent, "You feel tired after work, and you need rest, and quiet.", rules) == 1.0
    assert content_words("I am the one who, like, really is tired", rules) == {"tir", "one"}
