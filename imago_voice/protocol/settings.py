"""The engine's timing and behaviour settings, checked when made."""

from __future__ import annotations

from dataclasses import dataclass

from imago_voice.errors import SettingsError


@dataclass(frozen=True)
class EngineSettings:
    """Timing and behaviour. Times in seconds unless named otherwise.

    ``chunk_limit``: a sender talking this long hears "let's pause there" once per chunk (0: never).
    ``timeout_minutes``: length of a time-out before the facilitator checks back.
    ``silence_reminder``: silence while somebody is awaited before a reminder (0: never);
    ``max_reminders`` per wait (the first says the step's reminder, later ones its re-prompt).
    ``intention``: include the optional intention step. ``ask_consent``: open by asking each person
    whether the session's words may be kept. ``remirror_below``: fidelity under which the
    receiver is asked once to mirror again (``None``: never). ``max_unclear``: unclear answers at a
    branch point before the engine takes the default way on. ``rate_step``, ``min_rate``, ``max_rate``:
    how "slower"/"faster" change the speaking rate. ``seconds_per_word``: the engine's estimate of how
    long a prompt takes to say at rate 1.0 (silence is counted from the estimated end of a prompt).

    Following the couple (:mod:`.follow`): ``guide``: ``"full"`` says every prompt, ``"light"`` says a
    step's prompts only when the couple waits ``lead_after`` seconds or goes wrong (a receiver's turn that
    keeps less than ``lead_mirror_below`` of the sender's words and has no mirror stem is not taken as
    the mirror; ``lead_after_waiting`` seconds instead once the couple waited for the last prompt held),
    ``"silent"`` says nothing. ``follow``: move the engine where the step tracker puts a turn
    when its belief is at least ``follow_confidence`` and the turn's words make that move (or the belief
    is at least ``follow_sure``); False keeps the engine's own rules (the tracker then only logs).

    Safety (:mod:`.guard`): ``safety``: the crisis stop and the pause offers (False only for measuring);
    a pause is offered at ``escalation_cues`` blame markers, interruptions, overlaps or raised voices within
    ``escalation_window`` seconds, at most once every ``escalation_every`` seconds. A turn is a raised voice
    when its level is ``raised_voice_db`` or more above the median of the same person's earlier turns
    (``raised_after`` of them at least, the last ``raised_history``). ``disclose``: say what
    this is and is not, and where help is, before anything else (the CLI does, before a data folder's
    first live session). ``learn_voices``: with one shared microphone, the people whose voices are not
    known yet: each is asked for a short sample (a turn of ``voice_sample`` seconds at least) before the
    opening question (after the consent question, whose yes also lets the voiceprint be stored).
    """

    chunk_limit: float = 45.0
    timeout_minutes: float = 20.0
    silence_reminder: float = 12.0
    max_reminders: int = 2
    intention: bool = False
    ask_consent: bool = False
    remirror_below: float | None = None
    max_unclear: int = 2
    rate_step: float = 0.15
    min_rate: float = 0.5
    max_rate: float = 2.0
    seconds_per_word: float = 0.4
    guide: str = "full"
    follow: bool = True
    follow_confidence: float = 0.5
    follow_sure: float = 0.8
    lead_after: float = 4.0
    lead_after_waiting: float = 1.5
    lead_mirror_below: float = 0.2
    safety: bool = True
    check_in_every: float = 600.0
    escalation_window: float = 120.0
    escalation_cues: int = 3
    escalation_every: float = 300.0
    raised_voice_db: float = 8.0
    raised_after: int = 3
    raised_history: int = 30
    disclose: bool = False
    learn_voices: tuple[str, ...] = ()
    voice_sample: float = 3.0

    def __post_init__(self) -> None:
        checks = (
            (self.chunk_limit >= 0, "the chunk limit must be zero (off) or more seconds"),
            (self.timeout_minutes > 0, "the time-out must last more than zero minutes"),
            (self.silence_reminder >= 0, "the silence before a reminder must be zero (off) or more seconds"),
            (self.max_reminders >= 0, "the number of reminders cannot be negative"),
            (self.remirror_below is None or 0 < self.remirror_below <= 1, "the re-mirror threshold must be above 0 and at most 1"),
            (self.max_unclear >= 0, "the number of unclear answers cannot be negative"),
            (0 < self.rate_step < 1, "the rate step must be between 0 and 1"),
            (0 < self.min_rate <= 1 <= self.max_rate, "the rate limits must hold 1.0 between them"),
            (self.seconds_per_word >= 0, "the seconds per word cannot be negative"),
            (self.guide in ("full", "light", "silent"), "the guidance must be full, light or silent"),
            (0 <= self.follow_confidence <= self.follow_sure <= 1, "the follow thresholds must be 0 to 1, the sure one the higher"),
            (self.lead_after >= 0 and self.lead_after_waiting >= 0, "the silence before leading cannot be negative"),
            (0 <= self.lead_mirror_below <= 1, "the not-a-mirror threshold must be 0 to 1"),
            (self.escalation_window > 0 and self.escalation_cues >= 1 and self.escalation_every >= 0,
             "the escalation window and cues must be positive"),
            (self.voice_sample > 0, "the voice sample must last more than zero seconds"),
            (self.raised_voice_db > 0 and self.raised_after >= 1 and self.raised_history >= self.raised_after,
             "the raised-voice margin and turn counts must be positive"),
        )
        for ok, message in checks:
            if not ok:
                raise SettingsError(f"Engine settings: {message}.")
