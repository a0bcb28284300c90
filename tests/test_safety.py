"""Crisis-language cues and blame markers: the issue's examples in English and Spanish, figurative and
heated talk that must not fire, negation, mishearings, broken rule files, and the blame count."""

from __future__ import annotations

import shutil

import pytest

from imago_voice.errors import PromptError
from imago_voice.protocol.prompts import default_root
from imago_voice.protocol.safety import CATEGORIES, Cue, blame_markers, crisis_cue, cues, load_safety

RULES = {lang: load_safety(lang) for lang in ("en", "es")}

CRISIS = {
    "en": [
        ("I don't see the point of going on.", "self_harm"),
        ("I won't be around much longer.", "self_harm"),
        ("I've been saving up my pills.", "self_harm"),
        ("I keep thinking about taking all the ibuprofen at once.", "self_harm"),
        ("I drove to the bridge last night and sat there for an hour.", "self_harm"),
        ("I bought a rope.", "self_harm"),
        ("I know where you keep the gun and I think about it.", "self_harm"),
        ("Everyone would be better off without me.", "self_harm"),
        ("He grabbed me so hard it bruised.", "violence"),
        ("I'm scared of what happens when we get home.", "violence"),
        ("He said he'd hurt me if I told anyone.", "violence"),
        ("He hits the kids.", "child"),
        ("The kids are scared of him.", "child"),
        ("She leaves the baby alone in the car.", "child"),
    ],
    "es": [
        ("No le veo sentido a seguir.", "self_harm"),
        ("No voy a estar mucho tiempo más.", "self_harm"),
        ("He estado guardando mis pastillas.", "self_harm"),
        ("Pienso en tomarme todo el ibuprofeno de una vez.", "self_harm"),
        ("Compré una cuerda.", "self_harm"),
        ("Todos estarían mejor sin mí.", "self_harm"),
        ("Me agarró tan fuerte que me dejó moretones.", "violence"),
        ("Tengo miedo de lo que pase cuando lleguemos a casa.", "violence"),
        ("Me amenazó con matarme.", "violence"),
        ("Les pega a los niños.", "child"),
        ("Los niños le tienen miedo.", "child"),
        ("Deja al bebé solo en el coche.", "child"),
    ],
}

CLOSE = {
    "en": [
        "I feel like I'm dying inside when you ignore me.", "You never listen.", "I could kill you for eating my dessert.",
        "This job is killing me.", "I'm dead tired.", "The kids were screaming all day.", "I was so scared when the car skidded.",
        "You hurt me when you forgot my birthday.", "You pushed me away.", "I took ibuprofen for my headache.",
        "I'd rather die than go to your mother's again.", "I'm afraid of losing you.", "I'm scared you'll leave me.",
        "We drove over the bridge to your mother's.", "What's the point of talking if you won't listen?",
        "If I got it, you feel lonely when I work on Saturdays. Did I get it? Is there more?",
    ],
    "es": [
        "Siento que me muero por dentro cuando me ignoras.", "Nunca me escuchas.", "Te mataría por comerte mi postre.",
        "Este trabajo me está matando.", "Estoy muerto de cansancio.", "Los niños gritaron todo el día.",
        "Me asusté mucho cuando el coche patinó.", "Me tomé un ibuprofeno para el dolor de cabeza.",
        "Me pegó muy fuerte lo que dijiste.", "Tengo miedo de perderte.", "Prefiero morirme antes que ir otra vez a casa de tu madre.",
        "Si te entendí bien, te sientes sola cuando trabajo los sábados. ¿Lo entendí bien?",
    ],
}


@pytest.mark.parametrize("language,text,category", [(lang, t, c) for lang, items in CRISIS.items() for t, c in items])
def test_crisis_sentences_give_their_category(language, text, category):
    cue = crisis_cue(text, RULES[language])
    assert cue is not None, text
    assert cue.category == category, (text, cue)
    assert 0 < cue.score <= 1
    assert cue.reason.startswith(category) and text.split()[0].lower() not in cue.reason.split(".")


@pytest.mark.parametrize("language,text", [(lang, t) for lang, items in CLOSE.items() for t in items])
def test_close_but_not_sentences_give_no_cue(language, text):
    assert crisis_cue(text, RULES[language]) is None


def test_the_strongest_cue_of_a_turn_of_several_sentences():
    text = "I'm so tired of the dishes. Honestly I don't want to live anymore. You never help."
    cue = crisis_cue(text, RULES["en"])
    assert cue == Cue("self_harm", cue.score, "self_harm.wish_dead")
    assert [c.category for c in cues("He hits the kids and he choked me.", RULES["en"])][0] == "child"
    assert crisis_cue("", RULES["en"]) is None and crisis_cue(None, RULES["es"]) is None


def test_negation_softens_self_harm_and_drops_violence():
    strong = crisis_cue("I want to hurt myself.", RULES["en"])
    soft = crisis_cue("I would never hurt myself.", RULES["en"])
    assert soft is not None and soft.category == "self_harm" and soft.reason.endswith(".negated")
    assert soft.score < strong.score
    assert crisis_cue("He has never hit me.", RULES["en"]) is None
    assert crisis_cue("Yo nunca me haría daño.", RULES["es"]).reason.endswith(".negated")


def test_small_mishearings_are_still_heard():
    assert crisis_cue("I keep thinking about taking all the ibuprofin at once.", RULES["en"]).category == "self_harm"
    assert crisis_cue("I've been cutting my self again.", RULES["en"]).category == "self_harm"
    assert crisis_cue("Quiero matar me.", RULES["es"]).category == "self_harm"


def test_blame_markers_count_each_marker_once():
    en, es = RULES["en"], RULES["es"]
    assert blame_markers("You always do this, you never listen, you idiot.", en) == 3
    assert blame_markers("Oh great. Yeah right, whatever.", en) == 3
    assert blame_markers("When you work on Saturdays I feel lonely.", en) == 0
    assert blame_markers("Tú siempre haces lo mismo, idiota. Sí, claro.", es) == 3
    assert blame_markers("", en) == 0


def test_categories_are_the_three():
    assert CATEGORIES == ("self_harm", "violence", "child")


def _copy(tmp_path):
    root = tmp_path / "prompts"
    shutil.copytree(default_root(), root)
    return root


@pytest.mark.parametrize("old,new,message", [
    ('code = "en"', 'code = "es"', 'code = "en"'),
    ('category = "violence"', 'category = "danger"', "category"),
    ('"@agent + @hit + me|my|myself"', '"@agent + @hitting + me"', "@hitting"),
    ('"@agent + @hit + me|my|myself"', '"@agent + + me"', "gap mark"),
    ("[blame]", "[blaming]", "[blame]"),
    ("min_score = 0.3", "min_score = 3", "min_score"),
    ("[[pattern]]\nid = \"self_harm.explicit\"", "[[pattern]\nid = \"self_harm.explicit\"", "not valid TOML"),
])
def test_broken_rules_are_prompt_errors(tmp_path, old, new, message):
    root = _copy(tmp_path)
    path = root / "en" / "safety.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PromptError, match=message.replace("[", r"\[").replace("@", "@")):
        load_safety("en", root)


def test_missing_rules_and_language_are_prompt_errors(tmp_path):
    root = _copy(tmp_path)
    (root / "es" / "safety.toml").unlink()
    with pytest.raises(PromptError, match="missing"):
        load_safety("es", root)
    with pytest.raises(PromptError, match="no prompts for the language 'fr'"):
        load_safety("fr", root)


def test_the_prompts_folder_comes_from_the_environment(tmp_path, monkeypatch):
    root = _copy(tmp_path)
    path = root / "en" / "safety.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('"suicide", ', '"suicide", "zorblax", ', 1), encoding="utf-8")
    monkeypatch.setenv("IMAGO_VOICE_PROMPTS", str(root))
    assert crisis_cue("zorblax", load_safety("en")).category == "self_harm"
