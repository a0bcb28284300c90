"""The step tracker: moves heard in one turn (both languages, with mishearings), and whole dialogues
followed turn by turn: a couple who self-facilitates from the first word, a couple who waits for every
prompt, one misheard turn in the middle, and the API around it (re-anchoring, hints, the mirror's chunk)."""

from __future__ import annotations

import shutil

import pytest

from imago_voice.errors import PromptError, SettingsError
from imago_voice.protocol import EXERCISES, load_prompts
from imago_voice.protocol import moves as mv
from imago_voice.protocol.prompts import default_root
from imago_voice.protocol.stepgraph import build_graph
from imago_voice.protocol.tracker import StepTracker

MOVES = {lang: load_prompts(lang, "dialogue").moves for lang in ("en", "es")}

# ------------------------------------------------------------------------------------------------- moves

# (language, who says it, words, the most likely move)
MOVE_TABLE = [
    ("en", "sender", "Alex, I'd like to have a dialogue about the dishes. Is now a good time?", mv.APPOINTMENT),
    ("en", "sender", "Is now a good time to talk about money?", mv.APPOINTMENT),
    ("en", "receiver", "Yes, now is good.", mv.YES),
    ("en", "receiver", "Not right now, can we talk later?", mv.NOT_NOW),
    ("en", "sender", "My hope for this talk is that we share the chores.", mv.INTENTION),
    ("en", "sender", "When I come home and the sink is full, I feel tired and invisible.", mv.SEND),
    ("en", "receiver", "If I got it, when you come home and the sink is full, you feel tired and invisible.", mv.MIRROR),
    ("en", "receiver", "So you're saying you feel invisible.", mv.MIRROR),
    ("en", "receiver", "What I hear you saying is that you miss our walks.", mv.MIRROR),
    ("en", "receiver", "Did I get that?", mv.CHECK),
    ("en", "receiver", "Is there more?", mv.ASK_MORE),
    ("en", "sender", "Yes, you got it.", mv.YES),
    ("en", "sender", "There's more.", mv.MORE),
    ("en", "sender", "No, that's all.", mv.DONE),
    ("en", "sender", "Not quite, you missed something.", mv.NO),
    ("en", "receiver", "Let me see if I got all of that. You feel tired and you miss our walks.", mv.SUMMARY),
    ("en", "receiver", "So in summary, you feel tired and unseen.", mv.SUMMARY),
    ("en", "receiver", "You make sense, because you work hard all day.", mv.VALIDATION),
    ("en", "receiver", "That makes sense to me because money is tight.", mv.VALIDATION),
    ("en", "receiver", "I imagine you might be feeling sad and alone.", mv.EMPATHY),
    ("en", "receiver", "I would like to respond now.", mv.SWITCH),
    ("en", "sender", "Would you like to respond?", mv.SWITCH),
    ("en", "receiver", "One thing I value about you is your patience.", mv.APPRECIATION),
    ("es", "sender", "Sam, me gustaría tener un diálogo sobre los platos. ¿Es un buen momento?", mv.APPOINTMENT),
    ("es", "receiver", "Sí, ahora es un buen momento.", mv.YES),
    ("es", "receiver", "Ahora no, más tarde.", mv.NOT_NOW),
    ("es", "sender", "Lo que espero de esta conversación es que repartamos las tareas.", mv.INTENTION),
    ("es", "sender", "Cuando llego a casa y el fregadero está lleno, me siento cansada.", mv.SEND),
    ("es", "receiver", "Si te entendí bien, cuando llegas a casa te sientes cansada.", mv.MIRROR),
    ("es", "receiver", "¿Te entendí bien?", mv.CHECK),
    ("es", "receiver", "¿Hay algo más?", mv.ASK_MORE),
    ("es", "sender", "Sí, me entendiste.", mv.YES),
    ("es", "sender", "Sí, hay más.", mv.MORE),
    ("es", "sender", "No, eso es todo.", mv.DONE),
    ("es", "sender", "No del todo, te faltó una parte.", mv.NO),
    ("es", "receiver", "A ver si entendí todo. Te sientes cansada y extrañas los paseos.", mv.SUMMARY),
    ("es", "receiver", "Tiene sentido, porque trabajas mucho.", mv.VALIDATION),
    ("es", "receiver", "Me imagino que te sientes triste y sola.", mv.EMPATHY),
    ("es", "receiver", "Me gustaría responder.", mv.SWITCH),
    ("es", "sender", "¿Quieres responder?", mv.SWITCH),
    ("es", "receiver", "Algo que valoro de ti es tu paciencia.", mv.APPRECIATION),
]


def _best(likely: dict[str, float]) -> str:
    return max(likely, key=likely.get)


@pytest.mark.parametrize("language,role,text,move", MOVE_TABLE, ids=[f"{r[0]}-{r[3]}-{i}" for i, r in enumerate(MOVE_TABLE)])
def test_the_likeliest_move_of_a_turn(language, role, text, move):
    likely = mv.move_likelihoods(role, text, MOVES[language])
    assert _best(likely) == move, sorted(likely.items(), key=lambda kv: -kv[1])[:3]


# (language, a mishearing or a paraphrase, the move heard in it)
HEARD = [
    ("en", "If I go to it, you feel tired.", mv.MIRROR),
    ("en", "if i got that you feel tired", mv.MIRROR),
    ("en", "So your saying you feel tired.", mv.MIRROR),
    ("en", "Is the more?", mv.ASK_MORE),
    ("en", "Did I get at?", mv.CHECK),
    ("en", "Theirs more.", mv.MORE),
    ("en", "There's mor.", mv.MORE),
    ("en", "That's oil.", mv.DONE),
    ("en", "That sall.", mv.DONE),
    ("en", "Let me see if I got out of that. You feel tired.", mv.SUMMARY),
    ("en", "You make since, because you work hard.", mv.VALIDATION),
    ("en", "I imagine you might be feline tired.", mv.EMPATHY),
    ("en", "Imagine you might be feeling tired.", mv.EMPATHY),  # the first word lost
    ("en", "I'd like to have a dial log about money, is no a good time?", mv.APPOINTMENT),
    ("en", "I'd like to respawn now.", mv.SWITCH),
    ("en", "you got a", mv.YES),
    ("es", "Si te entendi bien, te sientes cansada.", mv.MIRROR),
    ("es", "Se te entendí bien, te sientes cansada.", mv.MIRROR),
    ("es", "¿Ay algo más?", mv.ASK_MORE),
    ("es", "Eso es to.", mv.DONE),
    ("es", "Haber si entendí todo. Te sientes cansada.", mv.SUMMARY),
    ("es", "Tiene sentido por que trabajas mucho.", mv.VALIDATION),
    ("es", "Me imagine que te sientes sola.", mv.EMPATHY),
    ("es", "Me gustaria tener un dialogo sobre el dinero.", mv.APPOINTMENT),
]


@pytest.mark.parametrize("language,text,move", HEARD, ids=[f"{r[0]}-{r[2]}-{i}" for i, r in enumerate(HEARD)])
def test_stems_heard_through_mishearings(language, text, move):
    assert move in mv.read(text, MOVES[language]).heard


@pytest.mark.parametrize("language,text,absent", [
    ("en", "When I work on Saturdays, you feel lonely in the house.", mv.EMPATHY),  # "you must feel" needs "must"
    ("en", "I would like us to put the phones away while we eat.", mv.SWITCH),  # "...to respond" needs "respond"
    ("en", "I want us to find a plan together.", mv.MORE),  # "want" is not "wait": a one-word stem is exact
    ("en", "When I finally got it done I felt proud.", mv.MIRROR),
    ("es", "Cuando compras cosas sin decirme, me da miedo.", mv.CHECK),
])
def test_no_stem_where_none_was_said(language, text, absent):
    assert absent not in mv.read(text, MOVES[language]).heard


def test_a_mirror_that_ends_with_the_check_holds_both():
    reading = mv.read("If I got it, you feel tired. Did I get that? Is there more?", MOVES["en"])
    assert {mv.MIRROR, mv.CHECK, mv.ASK_MORE} <= set(reading.heard)
    assert reading.content >= 2
    assert reading.question == mv.ASK_MORE                        # the last question asked
    assert mv.read("Is there more? Did I get it?", MOVES["en"]).question == mv.CHECK
    assert mv.read("You feel tired.", MOVES["en"]).question is None


def test_a_stretch_of_words_goes_to_the_longest_stem():
    reading = mv.read("Let me see if I got all of that.", MOVES["en"])
    assert reading.heard == (mv.SUMMARY,)  # not also the mirror's "if I got"


def test_an_exact_short_stem_beats_a_longer_stem_heard_in_part():
    # "let me see if I got [all of] that" heard 7 of its 9 words; "let me see if I got that" all 7
    assert mv.read("Let me see if I got that. You feel like a guest.", MOVES["en"]).heard == (mv.MIRROR,)


def test_that_s_it_after_the_empathy_is_the_senders_yes():
    script = SELF_EN[:13] + [("Sam", "That's it.", "empathize", "check")] + SELF_EN[14:16]
    _, got = _follow("en", script)
    assert [(a.step, a.phase) for a in got] == [(s[2], s[3]) for s in script]


def test_the_answer_of_a_turn_follows_the_intents_precedence():
    assert mv.read("Yes, and there's more.", MOVES["en"]).answer == mv.MORE
    assert mv.read("No, that's all.", MOVES["en"]).answer == mv.DONE
    assert mv.read("I feel alone.", MOVES["en"]).answer is None


def test_role_changes_the_likelihood():
    text = "If I got it, you feel tired."
    assert mv.move_likelihoods("receiver", text, MOVES["en"])[mv.MIRROR] > \
        5 * mv.move_likelihoods("sender", text, MOVES["en"])[mv.MIRROR]
    assert mv.move_likelihoods("unknown", text, MOVES["en"])[mv.MIRROR] == \
        mv.move_likelihoods("receiver", text, MOVES["en"])[mv.MIRROR]
    with pytest.raises(ValueError):
        mv.move_likelihoods("judge", text, MOVES["en"])


# --------------------------------------------------------------------------------- whole dialogues

SELF_EN = [  # a couple who self-facilitates from the first word: (speaker, words, step, phase)
    ("Sam", "Alex, I'd like to have a dialogue about the dishes. Is now a good time?", "appointment", "ask"),
    ("Alex", "Yes, now is good.", "appointment", "answer"),
    ("Sam", "When I come home and the sink is full, I feel tired and invisible.", "send", "speak"),
    ("Alex", "If I got it, when you come home and the sink is full, you feel tired and invisible. Did I get that?", "mirror", "speak"),
    ("Sam", "Yes, you got it.", "mirror", "check"),
    ("Alex", "Is there more?", "mirror", "more"),
    ("Sam", "Yes. I grew up doing all the chores and nobody noticed.", "send", "speak"),
    ("Alex", "So you are saying you grew up doing all the chores and nobody noticed. Is there more?", "mirror", "speak"),
    ("Sam", "No, that's all.", "mirror", "more"),
    ("Alex", "Let me see if I got all of that. The full sink makes you tired and invisible, like when you were a kid. Did I get it all?", "summarize", "speak"),
    ("Sam", "Yes, you did.", "summarize", "check"),
    ("Alex", "You make sense, because you work hard all day and nobody thanked you as a kid.", "validate", "speak"),
    ("Alex", "I imagine you might be feeling tired and alone.", "empathize", "speak"),
    ("Sam", "Yes, thank you.", "empathize", "check"),
    ("Alex", "I'd like to respond now.", "switch", "announce"),
    ("Alex", "When I leave the dishes, it's because I'm exhausted after my shift.", "send", "speak"),
    ("Sam", "If I got it, you leave the dishes because you're exhausted after your shift. Is there more?", "mirror", "speak"),
    ("Alex", "There's more. I want us to find a plan together.", "send", "speak"),
    ("Sam", "You want us to find a plan together. Anything else?", "mirror", "speak"),
    ("Alex", "That's all.", "mirror", "more"),
    ("Sam", "Let me see if I got it all. You're exhausted after your shift and you want a plan together.", "summarize", "speak"),
    ("Sam", "That makes sense to me, because your shifts are long.", "validate", "speak"),
    ("Sam", "I imagine you feel worn out and maybe guilty.", "empathize", "speak"),
    ("Alex", "Yes.", "empathize", "check"),
    ("Sam", "One thing I value about you is how hard you work.", "close", "appreciate"),
    ("Alex", "I appreciate that you listened to me.", "close", "appreciate"),
]

SELF_ES = [
    ("Lucía", "Andrés, me gustaría tener un diálogo sobre el dinero. ¿Es un buen momento?", "appointment", "ask"),
    ("Andrés", "Sí, te escucho.", "appointment", "answer"),
    ("Lucía", "Cuando compras cosas sin decirme, me da miedo por nuestros ahorros.", "send", "speak"),
    ("Andrés", "Si te entendí bien, cuando compro cosas sin decirte, te da miedo por nuestros ahorros. ¿Hay algo más?", "mirror", "speak"),
    ("Lucía", "Sí, hay más. Mis padres peleaban por dinero todas las noches.", "send", "speak"),
    ("Andrés", "Me estás diciendo que tus padres peleaban por dinero todas las noches. ¿Te entendí bien?", "mirror", "speak"),
    ("Lucía", "Sí.", "mirror", "check"),
    ("Andrés", "¿Hay algo más?", "mirror", "more"),
    ("Lucía", "No, eso es todo.", "mirror", "more"),
    ("Andrés", "A ver si entendí todo. Te da miedo cuando gasto sin decirte, porque tus padres peleaban por dinero.", "summarize", "speak"),
    ("Andrés", "Tiene sentido, porque creciste con peleas por dinero cada noche.", "validate", "speak"),
    ("Andrés", "Me imagino que te sientes asustada e insegura.", "empathize", "speak"),
    ("Lucía", "Sí, gracias. ¿Quieres responder?", "switch", "announce"),
    ("Andrés", "Compro rápido porque hablar de dinero me pone ansioso.", "send", "speak"),
    ("Lucía", "Si te entendí bien, compras rápido porque hablar de dinero te pone ansioso. ¿Hay más?", "mirror", "speak"),
    ("Andrés", "No, eso es todo.", "mirror", "more"),
    ("Lucía", "En resumen, hablar de dinero te pone ansioso y por eso compras rápido.", "summarize", "speak"),
    ("Lucía", "Tiene sentido para mí, porque hablar de dinero se siente como un examen.", "validate", "speak"),
    ("Lucía", "Me imagino que te sientes juzgado.", "empathize", "speak"),
    ("Andrés", "Algo que valoro de ti es lo honesta que eres.", "close", "appreciate"),
    ("Lucía", "Gracias por escucharme. Valoro tu calma.", "close", "appreciate"),
]

WAITING_EN = [  # a couple who waits for each prompt: short turns, few stems
    ("Sam", "Is now a good time to talk?", "appointment", "ask"),
    ("Alex", "Yes.", "appointment", "answer"),
    ("Sam", "I feel lonely on Saturdays.", "send", "speak"),
    ("Alex", "You feel lonely on Saturdays.", "mirror", "speak"),
    ("Sam", "Yes.", "mirror", "check"),
    ("Sam", "Yes.", "mirror", "more"),
    ("Sam", "I miss our walks in the park.", "send", "speak"),
    ("Alex", "You miss our walks in the park.", "mirror", "speak"),
    ("Sam", "Yeah.", "mirror", "check"),
    ("Sam", "No.", "mirror", "more"),
    ("Alex", "You feel lonely on Saturdays and you miss our walks.", "summarize", "speak"),
    ("Alex", "That makes sense.", "validate", "speak"),
    ("Alex", "Sad and alone.", "empathize", "speak"),
    ("Alex", "I work on Saturdays because I worry about money.", "send", "speak"),
    ("Sam", "You work on Saturdays because you worry about money.", "mirror", "speak"),
    ("Alex", "Right.", "mirror", "check"),
    ("Alex", "No, that's all.", "mirror", "more"),
    ("Sam", "You worry about money, so you work on Saturdays.", "summarize", "speak"),
    ("Sam", "It makes sense, because money is tight.", "validate", "speak"),
    ("Sam", "You might feel scared.", "empathize", "speak"),
    ("Sam", "I appreciate your honesty.", "close", "appreciate"),
    ("Alex", "I value your patience.", "close", "appreciate"),
]

SCRIPTS = {"self-en": ("en", SELF_EN), "self-es": ("es", SELF_ES), "waiting-en": ("en", WAITING_EN)}


def _follow(language, script, names=None, **kw):
    names = names or tuple(dict.fromkeys(s for s, *_ in script))
    tracker = StepTracker("dialogue", names, MOVES[language], **kw)
    return tracker, [tracker.observe(speaker, text) for speaker, text, *_ in script]


def _roles(script):
    """The true (sender, receiver) of each turn: the first speaker sends until the switch (or the
    first send by the other person after the empathy), then the other."""
    first = script[0][0]
    other = next(s for s, *_ in script if s != first)
    out, switched = [], False
    for i, (speaker, _, step, _) in enumerate(script):
        if step == "switch" or (step == "send" and speaker == other):
            switched = True
        out.append((other, first) if switched else (first, other))
    return out


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_turn_of_a_whole_dialogue_is_followed(name):
    language, script = SCRIPTS[name]
    _, got = _follow(language, script)
    assert [(a.step, a.phase) for a in got] == [(step, phase) for *_, step, phase in script]
    assert [(a.sender, a.receiver) for a in got] == _roles(script)


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_sender_is_inferred_whoever_speaks_first(name):
    language, script = SCRIPTS[name]
    names = tuple(dict.fromkeys(s for s, *_ in script))
    _, got = _follow(language, script, names=tuple(reversed(names)))  # the list order does not decide
    assert got[0].sender == names[0] and got[-3].receiver in names


def test_the_waiting_couple_is_followed_with_the_facilitators_hints_too():
    tracker = StepTracker("dialogue", ("Sam", "Alex"), MOVES["en"], sender="Sam")
    for speaker, text, step, phase in WAITING_EN:
        tracker.prompted(step, phase)
        a = tracker.observe(speaker, text)
        assert (a.step, a.phase) == (step, phase), text


def test_unknown_speakers_still_give_the_steps():
    script = [(None, text, step, phase) for _, text, step, phase in SELF_EN]
    tracker = StepTracker("dialogue", ("Sam", "Alex"), MOVES["en"])
    got = [tracker.observe(None, text) for _, text, *_ in script]
    right = sum((a.step, a.phase) == (step, phase) for a, (*_, step, phase) in zip(got, script))
    assert right >= len(script) - 2
    assert all(a.sender is None for a in got)  # nobody can tell who is who from words alone


# (which turn of SELF_EN, what was heard instead): one misheard turn does not derail the rest
MISHEARD = [
    (3, "When you come home and the sink is full, you feel tired and invisible."),     # a mirror without its stem
    (3, "you come home and the sink is full, you feel tired and"),                       # its first and last words lost
    (5, "Is the more?"),
    (6, "the small. I grew up doing all the chores and nobody noticed."),              # "yes, there's more" misheard
    (8, "No, that's oil."),
    (8, "No."),
    (9, "The full sink makes you tired and invisible, like when you were a kid."),      # a summary without its stem
    (11, "You make since, because you work hard all day and nobody thanked you."),
    (12, "tired and alone."),                                                            # empathy reduced to its feelings
    (14, "I'd like to respawn now."),
    (17, "I want us to find a plan together."),                                        # "there's more" lost entirely
    (19, "That's hall."),
]


@pytest.mark.parametrize("at,heard", MISHEARD, ids=[f"turn{at}-{i}" for i, (at, _) in enumerate(MISHEARD)])
def test_one_misheard_turn_does_not_derail_the_rest(at, heard):
    script = list(SELF_EN)
    script[at] = (script[at][0], heard, *script[at][2:])
    _, got = _follow("en", script)
    wrong = [(i, script[i][2], a.step) for i, a in enumerate(got) if a.step != script[i][2]]
    assert all(i == at for i, *_ in wrong), wrong            # at most the misheard turn itself
    assert [(a.sender, a.receiver) for a in got[at + 1:]] == _roles(script)[at + 1:]


def test_a_wrongly_attributed_turn_does_not_derail_the_rest():
    script = list(SELF_EN)
    script[11] = ("Sam", *script[11][1:])   # the validation credited to the sender
    _, got = _follow("en", script)
    assert [a.step for a in got[12:]] == [s[2] for s in script[12:]]


def test_a_couple_who_skips_the_appointment_is_followed_from_the_send():
    _, got = _follow("en", SELF_EN[2:])
    assert [a.step for a in got] == [s[2] for s in SELF_EN[2:]]
    assert got[0].sender == "Sam"


def test_summary_and_validation_in_one_turn_are_at_the_validation():
    script = SELF_EN[:9] + [("Alex", "Let me see if I got it all. You feel tired and invisible. You make sense, because nobody thanked you.",
                              "validate", "speak")] + SELF_EN[12:14]
    _, got = _follow("en", script)
    assert [a.step for a in got] == [s[2] for s in script]


# --------------------------------------------------------------------------------- the mirror's chunk

def test_the_chunk_is_what_the_sender_sent_since_the_last_mirror():
    tracker = StepTracker("dialogue", ("Sam", "Alex"), MOVES["en"])
    for speaker, text, *_ in SELF_EN[:3]:
        tracker.observe(speaker, text)
    tracker.observe("Sam", "And the kitchen smells.")                      # a chunk split by a pause
    assert tracker.chunk_for_mirror() == SELF_EN[2][1] + " And the kitchen smells."
    a = tracker.observe(*SELF_EN[3][:2])
    assert a.step == "mirror"
    assert tracker.chunk_for_mirror() == SELF_EN[2][1] + " And the kitchen smells."   # what this mirror answered
    for speaker, text, *_ in SELF_EN[4:7]:   # "yes" / "is there more?" / "Yes. I grew up..."
        tracker.observe(speaker, text)
    assert tracker.chunk_for_mirror() == SELF_EN[6][1]                      # the answers are not part of it


def test_the_chunk_is_kept_whichever_phase_the_words_were_heard_in():
    tracker = StepTracker("dialogue", ("Sam", "Alex"), MOVES["en"])
    for speaker, text, *_ in SELF_EN[:4]:
        tracker.observe(speaker, text)
    a = tracker.observe("Sam", "Yes, you got it. And also, I grew up doing all the chores.")
    assert a.step == "send" and mv.YES in a.heard
    tracker.observe("Alex", "You grew up doing all the chores.")
    assert tracker.chunk_for_mirror() == "Yes, you got it. And also, I grew up doing all the chores."


# --------------------------------------------------------------------------------- the API

def test_next_step_follows_the_answer():
    tracker, _ = _follow("en", SELF_EN[:9])          # ... "No, that's all."
    assert tracker.next_step() == ("summarize", "speak")
    tracker, _ = _follow("en", SELF_EN[:5])          # ... "Yes, you got it."
    assert tracker.next_step() == ("mirror", "more")
    tracker, _ = _follow("en", SELF_EN[:4] + [("Sam", "There's more.", "mirror", "check")])
    assert tracker.next_step() == ("send", "speak")


def test_reanchor_puts_the_couple_where_they_say_they_are():
    tracker, _ = _follow("en", SELF_EN[:4])
    tracker.reanchor("summarize")                      # "we are at the summary"
    a = tracker.observe("Alex", "You feel tired and invisible when the sink is full.")
    assert (a.step, a.sender) == ("summarize", "Sam")
    tracker.reanchor("mirror", "speak")               # "back to the mirror"
    assert tracker.observe("Alex", "You feel tired and invisible.").step == "mirror"
    tracker.reanchor("send", sender="Alex")           # the roles too
    a = tracker.observe("Alex", "I am exhausted after my shift.")
    assert (a.step, a.sender, a.receiver, a.round) == ("send", "Alex", "Sam", 1)


def test_a_known_sender_is_kept():
    tracker = StepTracker("dialogue", ("Sam", "Alex"), MOVES["en"], sender="Alex")
    a = tracker.observe("Sam", "I feel lonely on Saturdays.")   # words alone cannot make Sam the sender
    assert a.sender == "Alex"


def test_three_people_take_a_round_each():
    tracker = StepTracker("dialogue", ("Sam", "Alex", "Kim"), MOVES["en"], sender="Sam")
    assert tracker.graph.rounds == 3
    assert tracker.observe(*SELF_EN[0][:2]).step == "appointment"


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_every_exercise_has_a_graph(exercise):
    graph = build_graph(EXERCISES[exercise])
    steps = {n.step for n in graph.nodes}
    assert {"opening", "close"} <= steps and set(EXERCISES[exercise].steps) - {"consent", "voices", "opening"} <= steps
    for edges in graph.edges:
        assert edges and abs(sum(e.weight for e in edges) - 1) < 1e-9


@pytest.mark.parametrize("kwargs,message", [
    ({"exercise": "tango"}, "Unknown exercise"),
    ({"participants": ("Sam",)}, "two or three people"),
    ({"participants": ("Sam", "Sam")}, "two or three people"),
    ({"sender": "Kim"}, "not one of"),
])
def test_bad_arguments_are_settings_errors(kwargs, message):
    args = dict(exercise="dialogue", participants=("Sam", "Alex"), **{k: v for k, v in kwargs.items() if k == "sender"})
    args.update({k: v for k, v in kwargs.items() if k != "sender"})
    with pytest.raises(SettingsError, match=message):
        StepTracker(args.pop("exercise"), args.pop("participants"), MOVES["en"], **args)


def test_reanchor_to_an_unknown_step_is_a_settings_error():
    with pytest.raises(SettingsError, match="no step 'tango'"):
        StepTracker("dialogue", ("Sam", "Alex"), MOVES["en"]).reanchor("tango")


# --------------------------------------------------------------------------------- the stem data

@pytest.fixture()
def root(tmp_path):
    shutil.copytree(default_root(), tmp_path / "prompts")
    return tmp_path / "prompts"


@pytest.mark.parametrize("old,new,message", [
    ("\nswitch = [", "\nswop = [\"x\"]\nswitch = [", "'swop' is not a move"),
    ("\nswitch = [", "\nswap = [", "'switch' must be a non-empty list"),
    ("\nempathy = [", "\nempathy = []\nempathy_old = [", "'empathy' must be a non-empty list"),
    ('first_person = ["i",', 'first_person = ["",', "'first_person' must be a non-empty list"),
])
def test_broken_stem_data_is_a_prompt_error(root, old, new, message):
    path = root / "en" / "common.toml"
    head, table, moves_part = path.read_text(encoding="utf-8").partition("\n[moves]")
    assert old in moves_part
    path.write_text(head + table + moves_part.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PromptError, match=message):
        load_prompts("en", "dialogue", root)


def test_a_prompt_folder_without_move_stems_still_loads(root):
    # a custom prompt folder may lack [moves]: its engine then does not follow the couple (today's rules)
    path = root / "en" / "common.toml"
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition("[moves]")
    tail = rest[rest.find("\n[", 1):] if "\n[" in rest else ""
    if tail.startswith("\n[moves."):
        raise AssertionError("sub-tables of [moves]: cut them too")
    path.write_text(head + tail, encoding="utf-8")
    assert load_prompts("en", "dialogue", root).moves is None


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_stemmed_move_has_stems_in_each_language(language):
    vocab = MOVES[language]
    assert set(vocab.stems) == set(mv.STEMMED)
    assert all(vocab.stems[m] and all(vocab.stems[m]) for m in mv.STEMMED)
    assert vocab.first_person and vocab.second_person and vocab.stopwords
