"""What a facilitated session leaves: the prompts said, the echoes discarded, how it ended; the log
document (turns and figures from the ledger); and the recording with the prompts mixed in."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from imago_voice.audio.blocks import SAMPLE_RATE
from imago_voice.ledger import Turn
from imago_voice.output import session_dict


@dataclass(frozen=True)
class PromptRecord:
    at: float               # audio clock: when it was (or would have been) spoken
    step: str
    to: str | None
    text: str
    key: str = ""
    end: float | None = None  # audio clock: when it should finish playing (live), else None

    def cut(self, at: float) -> PromptRecord:
        """This prompt, stopped at ``at`` (a voice command said over it)."""
        return replace(self, end=at if self.end is None else min(self.end, at))


@dataclass(frozen=True)
class BargeIn:
    """A voice command said over a prompt: when its words ended and when the prompt was stopped (audio
    clock), and the command."""

    command: str
    said_until: float
    stopped_at: float

    @property
    def reaction(self) -> float:
        return self.stopped_at - self.said_until


@dataclass(frozen=True)
class VoiceLearned:
    """A voice learned during the session (one shared microphone): whose, when, from how much speech,
    whether it was stored for next time, or why it could not be made (``error``)."""

    person: str
    at: float
    seconds: float = 0.0
    stored: bool = False
    error: str | None = None


@dataclass
class SessionRecord:
    """What the session itself adds to the ledger's account, gathered as it runs."""

    prompts: list[PromptRecord] = field(default_factory=list)
    echoes: list[Turn] = field(default_factory=list)
    not_played: list[int] = field(default_factory=list)   # indexes into ``prompts`` that could not be played
    safety: list = field(default_factory=list)   # SafetyEvent actions, in order (never with words)
    barge_ins: list[BargeIn] = field(default_factory=list)   # commands said over a prompt, and when it stopped
    voices: list[VoiceLearned] = field(default_factory=list)  # voiceprints made in the session
    ended: str | None = None


def log_document(engine, record: SessionRecord, audio: str, duration: float) -> dict:
    """The session log (``session --log``): the JSON of ``analyze`` plus steps, prompts, mirrors, consent.

    Without everybody's yes (when consent was asked), no turn carries its words.
    """
    doc = session_dict(audio, duration, engine.ledger)
    doc["exercise"] = engine.exercise
    doc["guide"] = engine.guide
    doc["prompts"] = [{"at": p.at, "step": p.step, "key": p.key, "to": p.to, "text": p.text, "end": p.end}
                      for p in record.prompts]
    # where the step tracker put each turn, and whether the engine followed it there
    doc["placements"] = [p.to_dict() for p in engine.placements]
    if record.not_played:
        doc["prompts_not_played"] = sorted(record.not_played)
    doc["steps"] = [s.to_dict() for s in engine.steps]
    doc["mirrors"] = [{"at": m.at, "fidelity": round(m.fidelity, 3), "sender": m.sender, "receiver": m.receiver}
                      for m in engine.mirrors]
    summary = engine.ledger.summary()
    doc["balance_by_role"] = summary["by_role"]
    doc["balance_by_step"] = summary["by_step"]
    doc["paused"] = summary["paused"]
    doc["echoes_discarded"] = len(record.echoes)
    if record.voices:   # never the voiceprints themselves
        doc["voices_learned"] = [{"person": v.person, "at": v.at, "seconds": round(v.seconds, 2), "stored": v.stored,
                                  **({"error": v.error} if v.error else {})} for v in record.voices]
    if record.barge_ins:
        doc["barge_ins"] = [{"command": b.command, "said_until": round(b.said_until, 3),
                             "stopped_at": round(b.stopped_at, 3)} for b in record.barge_ins]
    doc["safety"] = [e.to_dict() for e in record.safety]
    doc["words_kept"] = engine.words_may_be_kept
    if engine.consents:
        doc["consent"] = engine.consents
    if not engine.words_may_be_kept:   # nobody's words without everybody's yes: times only
        for turn in doc["turns"]:
            turn["text"] = None
    doc["ended"] = record.ended
    return doc


def mix_prompts(recording: np.ndarray, prompts: list[tuple[float, np.ndarray]], gain: float = 0.8) -> np.ndarray:
    """The recording (n, channels) with each prompt added at its time on every channel, to listen to."""
    out = recording.astype(np.float32).copy()
    for at, audio in prompts:
        a = int(round(at * SAMPLE_RATE))
        need = a + len(audio)
        if need > out.shape[0]:
            out = np.concatenate([out, np.zeros((need - out.shape[0], out.shape[1]), np.float32)])
        out[a:need] += gain * audio[:, None]
    return np.clip(out, -1.0, 1.0)
