"""The facilitated session: echo filter, prompt mix, and a replay of a scripted dialogue (real model)."""

import json

import numpy as np
import pytest
import soundfile as sf

from imago_voice.cli import main
from imago_voice.facilitator.echo import is_echo
from imago_voice.facilitator.record import mix_prompts
from tests.conftest import needs_espeak


@pytest.mark.parametrize("text, expect", [
    ("Sam, please say back what you heard.", True),
    ("please say back what you heard", True),
    ("say back what", False),              # a fragment this short could be anybody's
    ("If I got it, you feel lonely on Saturdays.", False),
    ("Yes.", False),                       # too short to judge: never discarded
    ("", False),
    ("Damn, you go first.", False),        # an answer uses the prompt's words, not its sentence
    ("Who would like to speak first?", True),
])
def test_is_echo(text, expect):
    prompts = ["Sam, please say back what you heard. Use your own words.", "Is now a good time?",
               "Who would like to speak first? Just say: I will go first."]
    assert is_echo(text, prompts) is expect


def test_mix_prompts_adds_each_prompt_at_its_time_on_every_channel():
    rec = np.zeros((16000, 2), np.float32)
    out = mix_prompts(rec, [(0.5, np.ones(4000, np.float32) * 0.5), (0.9, np.ones(16000, np.float32) * 0.5)], gain=1.0)
    assert out.shape == (int(0.9 * 16000) + 16000, 2)   # grown to hold the last prompt
    assert out[8000, 0] == pytest.approx(0.5) and out[8000, 1] == pytest.approx(0.5)
    assert out[7999, 0] == 0.0
    assert out[14400 + 100, 1] == pytest.approx(0.5)


def test_session_needs_names(capsys):
    assert main(["session", "--input", "x.wav"]) == 2
    assert "--names" in capsys.readouterr().err


@needs_espeak
@pytest.mark.model
def test_replay_of_a_scripted_dialogue_follows_every_step(tmp_path, capsys):
    from imago_voice.demo import DIALOGUE_SCRIPT, scripted_session

    made = scripted_session()
    wav, log, mixed = tmp_path / "s.wav", tmp_path / "s.json", tmp_path / "mix.wav"
    sf.write(wav, made.audio, 16000)
    assert main(["session", "--input", str(wav), "--channel", "Sam=0", "--channel", "Alex=1", "--log", str(log),
                 "--prompts-wav", str(mixed), "--guide", "full"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(log.read_text())
    assert [s["step"] for s in doc["steps"]] == made.steps
    assert doc["ended"] == "done" and doc["exercise"] == "dialogue"
    assert "switch" in made.steps and made.steps[-1] == "close"
    senders = {s["sender"] for s in doc["steps"] if s["step"] == "send"}
    assert senders == {"Sam", "Alex"}                          # both had the sender role
    assert [t["speaker"] for t in doc["turns"]] == [line.speaker for line in DIALOGUE_SCRIPT]
    # each mirror said back the sender's words (nearly word for word in this script): most were kept
    assert len(doc["mirrors"]) == 3 and all(m["fidelity"] >= 0.75 for m in doc["mirrors"]), doc["mirrors"]
    assert all(set(p) == {"at", "step", "key", "to", "text", "end"} for p in doc["prompts"])
    # every turn was placed in its step by the tracker, with its confidence, and the engine agreed
    # (a turn heard as a voice command is not placed: "that's all" misheard as "next all" is one here)
    starts = [t["start"] for t in doc["turns"]]
    assert len(doc["placements"]) >= len(starts) - 2 and all(p["start"] in starts for p in doc["placements"])
    assert all(0 <= p["confidence"] <= 1 and p["step"] == p["engine_step"] for p in doc["placements"][1:])
    # prompts come at the moments the engine would have spoken them, as when the recording was made
    made_at = [at for at, _ in made.prompts]
    logged = [p["at"] for p in doc["prompts"]]
    assert len(logged) == len(made_at)
    assert np.max(np.abs(np.array(logged) - np.array(made_at))) < 1.0
    assert set(doc["balance_by_role"]) == {"Sam", "Alex"}
    assert doc["balance_by_role"]["Sam"]["sender"] > 0 and doc["balance_by_role"]["Sam"]["receiver"] > 0
    assert "Thank you for listening to each other" in out
    mix, _ = sf.read(mixed)
    assert mix.shape[1] == 2 and len(mix) >= len(made.audio)
    # light guidance follows the same couple through the same steps: this couple waits for each
    # prompt, so it hears every one of them (each a moment later: light waits to see whether they go on)
    light = tmp_path / "light.json"
    assert main(["session", "--input", str(wav), "--channel", "Sam=0", "--channel", "Alex=1", "--log", str(light),
                 "--guide", "light"]) == 0
    doc_light = json.loads(light.read_text())
    assert doc_light["guide"] == "light"
    assert [s["step"] for s in doc_light["steps"]] == made.steps
    assert [(p["step"], p["key"]) for p in doc_light["prompts"]] == [(p["step"], p["key"]) for p in doc["prompts"]]
    late = [b["at"] - a["at"] for a, b in zip(doc["prompts"], doc_light["prompts"])]
    assert 0 <= np.median(late) <= 2.5, late


def test_silent_mode_keys_steer_the_engine_and_the_status_line_shows_the_state():
    import queue

    from imago_voice.facilitator.console import KEYS, status_line
    from imago_voice.audio.sources import FileSource
    from imago_voice.facilitator.session import Session
    from imago_voice.loop import LoopSettings, VoiceLoop
    from imago_voice.protocol import Engine, load_prompts

    keys = queue.Queue()
    for command in ("next", "next"):          # the facilitator skips the opening and the appointment
        keys.put(command)
    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"))
    shown = []
    session = Session(engine, VoiceLoop(settings=LoopSettings(tick=0.5)), keys=keys,
                      on_tick=lambda snap, at: shown.append(status_line(snap, at)))
    session.run(FileSource("quiet.wav", data=np.zeros((16000 * 3, 1), np.float32)))
    steps = [s.step for s in engine.steps]
    assert steps[:3] == ["opening", "appointment", "send"]
    assert any("step send (Sam -> Alex)" in line for line in shown), shown[-1]
    assert "floor: Sam" in shown[-1]
    # every key is a command or an answer the engine understands
    from imago_voice.protocol.intents import ANSWERS, COMMANDS

    assert set(KEYS.values()) <= set(COMMANDS) | set(ANSWERS)
    assert set(KEYS.values()) >= {"next", "back", "pause", "resume", "stop"}


@needs_espeak
@pytest.mark.parametrize("answers, kept", [(("Yes, you may.", "Yes, fine."), True), (("Yes, you may.", "No, I'd rather not."), False)])
def test_words_are_logged_only_when_everyone_said_yes(answers, kept):
    from imago_voice.loop import LoopSettings, VoiceLoop
    from imago_voice.protocol import Engine, EngineSettings, load_prompts
    from imago_voice.facilitator.session import Session
    from imago_voice.audio.sources import FileSource
    from tests.support.synth import Line, conversation
    from tests.conftest import FakeTranscriber

    said = [*answers, "I would like to go first.", "Alex, is now a good time to talk?"]
    lines = [Line("Sam", said[0], 0.5), Line("Alex", said[1], 2.0), Line("Sam", said[2], 2.0), Line("Sam", said[3], 2.0)]
    audio, _ = conversation(lines, {"Sam": "en+m3", "Alex": "en+f2"})
    replies = iter(said)
    loop = VoiceLoop(transcriber=FakeTranscriber(lambda audio: next(replies)), settings=LoopSettings(tick=0.5))
    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"), EngineSettings(ask_consent=True))
    lines_out = []
    session = Session(engine, loop, on_line=lines_out.append)
    session.run(FileSource("mem.wav", data=audio.mean(axis=1, keepdims=True)))
    doc = session.log_dict("mem.wav", len(audio) / 16000)
    assert [s["step"] for s in doc["steps"]][:3] == ["consent", "opening", "appointment"]
    assert doc["consent"] == {"Sam": True, "Alex": kept} and doc["words_kept"] is kept
    assert len(doc["turns"]) == 4
    texts = [t["text"] for t in doc["turns"]]
    assert texts == (said if kept else [None] * 4)
    assert all(t["end"] > t["start"] for t in doc["turns"])     # the times are kept either way
    # one microphone and no voiceprints: the time is kept, as time nobody could be named for
    assert doc["unattributed"] > 0 and sum(doc["balance_by_role"]["Sam"].values()) == 0
    assert any("consent: Alex" in line for line in lines_out)


# ------------------------------------------------------------------------ live timing, without hardware
class _Renderer:
    rate = 1.0

    def render(self, text):
        return np.zeros(16000, np.float32)      # every prompt lasts 1 s


class _Player:
    """Plays nothing; each clip 'plays' from now for its length, or fails at once (``fail``)."""

    def __init__(self, fail=False):
        from imago_voice.facilitator.player import Playback

        self.Playback, self.fail, self.closed, self.handles = Playback, fail, 0, []

    def play(self, audio):
        import time

        now = time.monotonic()
        playback = self.Playback(now, now + len(audio) / 16000)
        if self.fail:
            playback.finish(False, "the sound server went away")
        self.handles.append(playback)
        return playback

    def busy_until(self):
        import time

        return time.monotonic() if self.fail else max([h.end for h in self.handles] or [0.0])

    def close(self, timeout=30.0):
        self.closed += 1
        return True


def _lagging_source(seconds, lag):
    """Blocks captured ``lag`` seconds before they are read (the program running behind)."""
    import time

    from imago_voice.audio.blocks import AudioBlock

    began = time.monotonic()
    for start in range(0, int(seconds * 16000), 480):
        yield AudioBlock(start, np.zeros((480, 1), np.float32), captured=began - lag + start / 16000)


def _live_session(player, **kw):
    from imago_voice.facilitator.session import Session
    from imago_voice.loop import LoopSettings, VoiceLoop
    from imago_voice.protocol import Engine, load_prompts

    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"))
    loop = VoiceLoop(settings=LoopSettings(tick=0.5))
    return Session(engine, loop, renderer=_Renderer(), player=player, live=True, **kw), loop


def test_prompt_times_follow_the_capture_clock_even_when_the_loop_runs_behind():
    session, loop = _live_session(_Player())
    record = session.run(_lagging_source(1.0, lag=2.0))
    first = record.prompts[0]
    # the opening is played as soon as the first block is seen: in the audio that is ~2 s after that
    # block (it was captured 2 s before it was read), not at the block itself
    assert first.at == pytest.approx(2.0, abs=0.15)
    assert first.end == pytest.approx(first.at + 1.0, abs=0.01)


def test_the_session_closes_the_player_whatever_happens():
    from imago_voice.errors import DeviceError

    def broken():
        yield from _lagging_source(0.3, lag=0.0)
        raise DeviceError("The input device stopped sending audio.")

    player = _Player()
    session, _ = _live_session(player)
    with pytest.raises(DeviceError):
        session.run(broken())
    assert player.closed == 1


def test_a_prompt_that_could_not_be_played_is_recorded_and_the_room_is_heard_again():
    player = _Player(fail=True)
    session, loop = _live_session(player)
    record = session.run(_lagging_source(2.0, lag=0.0))
    assert record.not_played == list(range(len(record.prompts))) and record.prompts
    assert not loop._is_muted(1.9)          # not deaf for the prompts that never sounded
    doc = session.log_dict("live", 2.0)
    assert doc["prompts_not_played"] == list(range(len(record.prompts)))


def test_when_nobody_could_be_told_apart_the_close_says_so():
    from imago_voice.protocol import Engine, TurnEnded, load_prompts

    engine = Engine("appreciation", ["Sam", "Alex"], load_prompts("en", "appreciation"))
    engine.start(0.0)
    engine.handle(TurnEnded(None, 1.0, 3.0, "Sam goes first."))
    assert engine.balance_sentence().startswith("Today I could not tell your voices apart")
    engine.handle(TurnEnded("Sam", 4.0, 6.0, "One thing I value about you is your kindness."))
    assert engine.balance_sentence().startswith("Today Sam talked for less than a minute and Alex talked for")


# ------------------------------------------------------------------------ barge-in, without hardware
class _ReferencePlayer(_Player):
    """A player that keeps an echo reference (so the session listens while it talks) and can be stopped."""

    def __init__(self):
        from imago_voice.audio.echo_cancel import PlayedAudio

        super().__init__()
        self.reference = PlayedAudio()
        self.stops, self.ducks = 0, []

    def stop(self):
        busy = any(h.played is None for h in self.handles)
        for h in self.handles:
            if h.played is None:
                h.finish(False, "stopped")
        self.stops += 1
        return busy

    def busy_until(self):
        import time

        playing = [h.end for h in self.handles if h.played is None]
        return max(playing) if playing else time.monotonic() - 1.0

    def duck(self, db=None):
        self.ducks.append("duck")

    def unduck(self):
        self.ducks.append("unduck")


class _ScriptedLoop:
    """Stands in for the voice loop: consumes the audio and yields the given events when their time comes."""

    def __init__(self, events):
        self.events, self.now = list(events), 0.0

    def run(self, source):
        for block in source:
            self.now = block.t1
            while self.events and _when(self.events[0]) <= self.now:
                yield self.events.pop(0)
        yield from self.events

    def mute(self, t0, t1):
        raise AssertionError("listening while the facilitator talks: the loop is never muted")


def _when(event):
    return getattr(event, "decided_at", None) or getattr(event, "end", None) or event.at


class _LongRenderer(_Renderer):
    def render(self, text):
        return np.zeros(16000 * 20, np.float32)      # every prompt lasts 20 s


def _barge_in_session(events):
    from imago_voice.facilitator.session import Session
    from imago_voice.protocol import Engine, load_prompts

    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"))
    player = _ReferencePlayer()
    session = Session(engine, _ScriptedLoop(events), renderer=_LongRenderer(), player=player, live=True)
    return session, engine, player


def test_a_voice_command_over_a_prompt_stops_it_and_the_engine_acts_on_it():
    from imago_voice.ledger import Turn
    from imago_voice.protocol.events import SpeechStarted

    events = [SpeechStarted("Sam", 1.0), Turn("Sam", 1.0, 1.4, "Pause.", decided_at=2.4)]
    session, engine, player = _barge_in_session(events)
    record = session.run(_lagging_source(3.0, lag=0.0))
    assert player.stops == 1 and player.handles[0].error == "stopped"
    assert player.ducks[:2] == ["duck", "unduck"]           # ducked as Sam began, back up when the turn ended
    assert [b.command for b in record.barge_ins] == ["pause"]
    assert record.barge_ins[0].said_until == 1.4
    assert engine.paused                                      # the engine heard "pause" too
    opening = record.prompts[0]
    assert opening.end < 3.5                                  # the opening is recorded as cut where it stopped
    assert 0 not in record.not_played                         # a stopped prompt is not a failure
    assert session.log_dict("live", 3.0)["barge_ins"][0]["command"] == "pause"


def test_speech_wholly_over_a_prompt_that_is_no_command_is_not_a_turn():
    """What is left of the prompt's echo after cancellation can come out as 'Thank you.'; nobody can be
    answered before the prompt ends anyway, so only commands count while it plays."""
    from imago_voice.ledger import Turn

    events = [Turn("Alex", 2.0, 2.6, "Thank you.", decided_at=3.6)]
    session, engine, player = _barge_in_session(events)
    record = session.run(_lagging_source(4.0, lag=0.0))
    assert player.stops == 0 and not record.barge_ins
    assert [t.text for t in record.echoes] == ["Thank you."]
    assert session.ledger.turns == []


def test_a_command_acts_at_its_first_pause_and_its_turn_is_not_taken_twice():
    """Listening while it talks, the loop reports the first words at the first pause (0.35 s) rather than
    after the end-of-turn silence (1 s): 'pause' stops the prompt then, and the turn that follows is the
    same command, not a second one."""
    from imago_voice.ledger import Turn
    from imago_voice.loop import EarlyWords

    events = [EarlyWords("Sam", 1.0, 1.4, "Pause.", at=1.8), Turn("Sam", 1.0, 1.4, "Pause.", decided_at=2.4)]
    session, engine, player = _barge_in_session(events)
    assert session.loop.listen_early is not None          # the session asks the loop to listen early
    record = session.run(_lagging_source(3.0, lag=0.0))
    assert player.stops == 1 and [b.command for b in record.barge_ins] == ["pause"]
    assert record.barge_ins[0].said_until == 1.4
    assert engine.paused
    time_outs = [p.text for p in record.prompts if p.step == "commands"]
    assert len(time_outs) == 1 and "time out" in time_outs[0], f"the pause was acted on twice: {time_outs}"
    assert len(session.ledger.turns) == 1


@pytest.mark.parametrize("early", [True, False])
def test_wait_over_a_prompt_stops_it_and_the_engine_just_waits(early):
    """'Wait' is no command in the dialogue (after 'is there more?' it means there is more), but said over
    a prompt it stops the prompt, and nothing else happens: the step and the floor stay as they were."""
    from imago_voice.ledger import Turn
    from imago_voice.loop import EarlyWords

    events = [Turn("Sam", 1.0, 1.4, "Wait.", decided_at=2.4)]
    if early:
        events.insert(0, EarlyWords("Sam", 1.0, 1.4, "Wait.", at=1.8))
    session, engine, player = _barge_in_session(events)
    record = session.run(_lagging_source(3.0, lag=0.0))
    assert player.stops == 1 and [b.command for b in record.barge_ins] == ["wait"]
    assert not engine.paused and not engine.ended and engine.snapshot(3.0).step == "opening"
    assert all(p.at < 1.0 for p in record.prompts)       # nothing was said after it: it waits
    assert session.ledger.turns == [] or all(t.text == "Wait." for t in session.ledger.turns)
