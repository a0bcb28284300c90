"""The demo: a scripted couple's facilitated session, made by running the engine as it is built.

Each partner's line is spoken by an espeak-ng voice and placed after the prompts the engine would have
spoken before it (rendered, so their length is real) and a short pause, so the recording sounds like a
session that followed the facilitator. ``imago-voice demo`` replays it through the whole facilitator.
Each partner wears a microphone that hears the other too (:func:`microphones`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.errors import ImagoError
from imago_voice.facilitator.render import EspeakNgRenderer, make_renderer
from imago_voice.protocol import Engine, EngineSettings, Say, SpeechStarted, TurnEnded, load_prompts


@dataclass(frozen=True)
class Line:
    """One partner's line of a script; ``gap``: silence before it (negative: it starts early, over the last)."""

    speaker: str
    text: str
    gap: float = 1.2


@dataclass(frozen=True)
class Spoken:
    """Who said what, from when to when (the truth of a made recording)."""

    speaker: str
    start: float
    end: float
    text: str


def speak(text: str, voice: str = "en+m3", *, speed: int = 160, pitch: int = 50) -> np.ndarray:
    """One line in an espeak-ng voice: mono float32 at 16 kHz with espeak's edge silence trimmed."""
    audio = EspeakNgRenderer(voice=voice, words_per_minute=speed, pitch=pitch).render(text)
    loud = np.flatnonzero(np.abs(audio) > 1e-3)
    return audio[loud[0]:loud[-1] + 1] if len(loud) else audio


def microphones(truth: Sequence[Spoken], clips: Sequence[np.ndarray], names: Sequence[str], duration: float, *,
                crosstalk_db: float = -10.0, noise_db: float = -55.0, seed: int = 0,
                gains_db: dict[str, float] | None = None) -> np.ndarray:
    """One microphone per person: each channel its wearer's clips, the others' at ``crosstalk_db``, noise."""
    names = list(names)
    dry = np.zeros((int(duration * SAMPLE_RATE), len(names)), np.float32)
    for spoken, clip in zip(truth, clips):
        a = int(round(spoken.start * SAMPLE_RATE))
        dry[a:a + len(clip), names.index(spoken.speaker)] += clip[: max(0, dry.shape[0] - a)]
    cross = 10 ** (crosstalk_db / 20)
    mix = dry * (1 - cross) + dry.sum(axis=1, keepdims=True) * cross
    mix += np.random.default_rng(seed).normal(0, 10 ** (noise_db / 20), mix.shape).astype(np.float32)
    for name, g in (gains_db or {}).items():
        mix[:, names.index(name)] *= 10 ** (g / 20)
    return np.clip(mix, -1, 1).astype(np.float32)

#: A whole Intentional Dialogue with a role switch (Sam sends first, then Alex).
DIALOGUE_SCRIPT: tuple[Line, ...] = (
    Line("Sam", "I would like to go first."),
    Line("Sam", "Alex, I would like to talk about our weekends. Is now a good time?"),
    Line("Alex", "Yes, now is a good time."),
    Line("Sam", "When you work on Saturdays, I feel lonely in the house."),
    Line("Alex", "If I got it, when I work on Saturdays, you feel lonely in the house. Did I get it? Is there more?"),
    Line("Sam", "There is more."),
    Line("Sam", "I miss our long walks in the park together."),
    Line("Alex", "If I got it, you miss our long walks in the park together. Is there more?"),
    Line("Sam", "No, that's all."),
    Line("Alex", "Let me see if I got all of that. When I work on Saturdays you feel lonely, and you miss our walks."),
    Line("Alex", "You make sense, because we used to walk every weekend."),
    Line("Alex", "I imagine you might be feeling sad and alone."),
    Line("Alex", "I feel worried about money when I do not work on Saturdays."),
    Line("Sam", "If I got it, you feel worried about money when you do not work on Saturdays. Is there more?"),
    Line("Alex", "That's all."),
    Line("Sam", "Let me see if I got it all. You worry about money when you stay home."),
    Line("Sam", "You make sense, because money is tight this year."),
    Line("Sam", "I imagine you might feel scared."),
    Line("Sam", "I appreciate that you listened to me today."),
    Line("Alex", "I appreciate your kindness and your patience."),
)
DIALOGUE_VOICES = {"Sam": "en-us+m3", "Alex": "en-us+f2"}

#: The same dialogue in Spanish (Sam sends first, then Alex), for a Spanish session that must hear Spanish.
DIALOGO_ES: tuple[Line, ...] = (
    Line("Sam", "Yo quiero empezar."),
    Line("Sam", "Alex, quiero hablar de los fines de semana. ¿Es un buen momento para hablar?"),
    Line("Alex", "Sí, ahora es un buen momento."),
    Line("Sam", "Cuando trabajas los sábados, me siento sola en la casa."),
    Line("Alex", "Si te entendí bien, cuando trabajo los sábados, te sientes sola en la casa. ¿Te entendí bien? ¿Hay más?"),
    Line("Sam", "Hay más."),
    Line("Sam", "Extraño nuestros paseos largos por el parque."),
    Line("Alex", "Si te entendí bien, extrañas nuestros paseos largos por el parque. ¿Hay más?"),
    Line("Sam", "No, eso es todo."),
    Line("Alex", "A ver si entendí todo. Cuando trabajo los sábados te sientes sola, y extrañas los paseos."),
    Line("Alex", "Tiene sentido, porque antes caminábamos todos los fines de semana."),
    Line("Alex", "Me imagino que te sientes triste y sola."),
    Line("Alex", "Me preocupa el dinero cuando no trabajo los sábados."),
    Line("Sam", "Si te entendí bien, te preocupa el dinero cuando no trabajas los sábados. ¿Hay más?"),
    Line("Alex", "Eso es todo."),
    Line("Sam", "A ver si entendí todo. Te preocupa el dinero cuando te quedas en casa."),
    Line("Sam", "Tiene sentido, porque este año el dinero está justo."),
    Line("Sam", "Me imagino que sientes miedo."),
    Line("Sam", "Algo que valoro de ti es que hoy me escuchaste."),
    Line("Alex", "Algo que valoro de ti es tu paciencia."),
)
DIALOGO_VOICES = {"Sam": "es+m3", "Alex": "es+f2"}


@dataclass(frozen=True)
class ScriptedSession:
    audio: np.ndarray                 # (n, people): one microphone per person, with crosstalk
    truth: list[Spoken]               # who said what, when
    prompts: list[tuple[float, str]]  # when the engine would have started each prompt, and its text
    steps: list[str]                  # the steps the engine went through


def scripted_session(script: Sequence[Line] = DIALOGUE_SCRIPT, voices: dict[str, str] | None = None, *,
                     exercise: str = "dialogue", language: str = "en", renderer=None, gap: float = 0.8,
                     decision_delay: float = 1.4, crosstalk_db: float = -10.0, noise_db: float = -55.0,
                     settings: EngineSettings | None = None) -> ScriptedSession:
    """Run the engine over ``script``, placing each line after the prompts before it.

    ``decision_delay``: how long after a line ends the engine hears of it (end-of-turn silence plus the
    transcription). Raises :class:`ImagoError` if the script does not carry the engine to its end.
    """
    voices = voices or DIALOGUE_VOICES
    names = list(voices)
    if renderer is None:   # the facilitator's voice, from the same cache as the replay that follows
        from imago_voice.facilitator.cache import CachedRenderer
        from imago_voice.paths import voice_cache_dir

        renderer = CachedRenderer(make_renderer(language), voice_cache_dir())
    engine = Engine(exercise, names, load_prompts(language, exercise), settings or EngineSettings())
    busy = 0.0
    prompts: list[tuple[float, str]] = []

    def spoken(actions, at):
        nonlocal busy
        for a in actions:
            if isinstance(a, Say):
                start = max(at, busy)
                busy = start + len(renderer.render(a.text)) / SAMPLE_RATE
                prompts.append((round(start, 3), a.text))

    spoken(engine.start(at=0.0), 0.0)
    t, truth, clips = 0.0, [], []
    for line in script:
        clip = speak(line.text, voices[line.speaker])
        start = max(t, busy) + gap
        end = start + len(clip) / SAMPLE_RATE
        truth.append(Spoken(line.speaker, round(start, 3), round(end, 3), line.text))
        clips.append(clip)
        spoken(engine.handle(SpeechStarted(line.speaker, start)), start)
        spoken(engine.handle(TurnEnded(line.speaker, start, end, line.text)), end + decision_delay)
        t = end
    if not engine.ended:
        raise ImagoError(f"The script ended at step {engine.step!r} before the exercise did.")
    audio = microphones(truth, clips, names, max(t, busy) + 1.5, crosstalk_db=crosstalk_db, noise_db=noise_db)
    return ScriptedSession(audio, truth, prompts, [s.step for s in engine.steps])
