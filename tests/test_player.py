"""The prompt player when the device misbehaves (a fake sounddevice): a failing clip is logged, counted and
reported, the next one still plays, nothing waits for a clip that will never end, and close keeps its timeout."""

import sys
import time

import numpy as np
import pytest

from imago_voice.facilitator.player import SoundDevicePlayer
from tests.support.fake_sounddevice import FakeSoundDevice


def player_with(monkeypatch, modes, realtime=False):
    sd = FakeSoundDevice(modes, realtime=realtime)
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    return SoundDevicePlayer(warm_up=False), sd


CLIP = np.full(1600, 0.1, np.float32)   # 0.1 s


@pytest.mark.parametrize("failure", ["raise", "portaudio"])
def test_a_clip_that_cannot_be_played_is_reported_and_the_player_goes_on(monkeypatch, caplog, failure):
    player, sd = player_with(monkeypatch, [failure, "ok"])
    first = player.play(CLIP)
    second = player.play(CLIP)
    assert player.wait_idle(timeout=5.0), "the player kept waiting for a clip that failed"
    assert first.played is False and first.error and second.played is True
    assert player.failures == 1 and "could not play a prompt" in caplog.text
    # nothing is left pending: the room is not kept deaf
    assert player.busy_until() <= time.monotonic()
    assert len(sd.played) == 1 and len(sd.played[0]) >= len(CLIP)
    assert player.close(timeout=2.0)


def test_every_clip_failing_never_leaves_the_player_busy(monkeypatch):
    player, _ = player_with(monkeypatch, ["raise"])
    handles = [player.play(CLIP) for _ in range(3)]
    assert player.wait_idle(timeout=5.0)
    assert [h.played for h in handles] == [False, False, False] and player.failures == 3
    assert player.busy_until() <= time.monotonic()
    player.close(timeout=1.0)


def test_close_keeps_its_timeout_when_a_stream_never_finishes(monkeypatch):
    player, _ = player_with(monkeypatch, ["hang"])
    stuck = player.play(CLIP)
    queued = player.play(CLIP)
    t = time.monotonic()
    assert player.close(timeout=0.5) is False
    assert time.monotonic() - t < 2.0
    assert queued.done.wait(2.0) and queued.played is False   # what had not started is not played
    assert player.play(CLIP).played is False                  # and nothing plays after a close
    assert stuck.played in (None, False)


def test_close_plays_what_is_queued_first(monkeypatch):
    player, sd = player_with(monkeypatch, ["ok"], realtime=True)
    handles = [player.play(CLIP) for _ in range(3)]
    assert player.close(timeout=5.0) is True
    assert [h.played for h in handles] == [True, True, True] and len(sd.played) == 3
