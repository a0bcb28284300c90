"""The prompt player when the device misbehaves (a fake sounddevice): a failing clip is logged, counted and
reported, the next one still plays, nothing waits for a clip that will never end, and close keeps its timeout."""

import sys
import time

import numpy as np
import pytest

from imago_voice.facilitator.player import SoundDevicePlayer
from tests.support.fake_sounddevice import FakeSoundDevice


def until_heard(playback, seconds):
    """Wait until ``playback`` has been heard for ``seconds`` (a new stream starts with some silence)."""
    deadline = time.monotonic() + 5.0
    while (playback.heard is None or time.monotonic() < playback.heard + seconds) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert playback.heard is not None, "the clip never started"


def player_with(monkeypatch, modes):
    sd = FakeSoundDevice(modes)
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
    assert player.close(timeout=2.0)
    assert np.count_nonzero(sd.heard()) == len(CLIP)


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
    player, sd = player_with(monkeypatch, ["ok"])
    handles = [player.play(CLIP) for _ in range(3)]
    assert player.close(timeout=5.0) is True
    assert [h.played for h in handles] == [True, True, True]
    assert np.count_nonzero(sd.heard()) == 3 * len(CLIP)   # all three, whole, on the one stream
    assert sd.opened == 1


def test_stop_fades_the_prompt_out_and_drops_what_is_queued(monkeypatch):
    player, sd = player_with(monkeypatch, ["ok"])
    long = np.full(16000 * 3, 0.1, np.float32)      # 3 s
    first, queued = player.play(long), player.play(CLIP)
    until_heard(first, 0.5)
    assert player.stop() is True
    assert first.done.wait(2.0) and queued.done.wait(2.0)
    assert first.played is False and first.error == "stopped"
    assert queued.played is False and queued.error == "stopped"
    heard = sd.heard()
    sounding = np.flatnonzero(heard)
    assert len(sounding) < len(long) // 2, "the prompt played on after the stop"
    # a short fade, not a click: the last blocks fall off gradually to silence
    tail = np.abs(heard[sounding[-1] - int(0.2 * 16000):sounding[-1] + 1])
    assert np.any((tail > 0.01) & (tail < 0.09))
    # the next prompt plays whole, at full volume
    after = player.play(CLIP)
    assert after.done.wait(2.0) and after.played is True
    later = sd.heard()[len(heard):]
    assert np.count_nonzero(later) == len(CLIP) and np.allclose(later[np.flatnonzero(later)], 0.1, atol=1e-3)
    assert player.stop() is False                   # nothing playing now
    player.close(timeout=2.0)


def test_duck_plays_on_more_quietly_and_unduck_brings_it_back(monkeypatch):
    player, sd = player_with(monkeypatch, ["ok"])
    clip = np.full(16000 * 2, 0.1, np.float32)
    handle = player.play(clip)
    until_heard(handle, 0.4)
    player.duck()
    time.sleep(0.6)
    player.unduck()
    assert handle.done.wait(4.0) and handle.played is True
    level = np.abs(sd.heard())
    level = level[np.flatnonzero(level)[0]:]
    ducked = level[int(0.7 * 16000):int(0.9 * 16000)]
    assert np.allclose(ducked, 0.1 * 10 ** (-15 / 20), rtol=0.05), "not 15 dB quieter while ducked"
    assert np.isclose(level[int(1.6 * 16000)], 0.1, rtol=0.01), "not back to full volume after unduck"
    player.close(timeout=2.0)


def test_every_block_played_is_handed_to_the_echo_reference(monkeypatch):
    from imago_voice.audio.echo_cancel import PlayedAudio

    sd = FakeSoundDevice(["ok"])
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    played = PlayedAudio(keep=30.0)
    player = SoundDevicePlayer(warm_up=False, reference=played)
    ramp = np.linspace(0.0, 0.5, 8000, dtype=np.float32)
    t = time.monotonic()
    handle = player.play(ramp)
    assert handle.done.wait(3.0) and handle.played
    # blocks are stamped by sample count from the first one: read back, the clip is there whole, in order
    got = played.read(t - 1.0, 16000 * 4)
    start = int(np.flatnonzero(got)[0])
    assert np.allclose(got[start:start + 8000 - 1], ramp[1:], atol=1e-6)
    assert player.stamp_jumps == 0
    player.close(timeout=2.0)


def test_a_device_that_stops_asking_for_sound_fails_the_clip_and_the_next_plays_on_a_new_stream(monkeypatch, caplog):
    player, sd = player_with(monkeypatch, ["hang", "ok"])
    stuck, next_one = player.play(CLIP), player.play(CLIP)
    assert player.wait_idle(timeout=5.0)
    assert stuck.played is False and "stopped playing" in stuck.error
    assert next_one.played is True and player.failures == 1 and sd.opened == 2
    assert player.close(timeout=2.0)


def test_an_idle_stream_is_no_stall(monkeypatch):
    player, sd = player_with(monkeypatch, ["ok"])
    assert player.play(CLIP).done.wait(2.0)
    time.sleep(player.STALL + 0.3)          # nothing to play for a while: silence on the same stream
    late = player.play(CLIP)
    assert late.done.wait(2.0) and late.played is True and player.failures == 0 and sd.opened == 1
    player.close(timeout=2.0)
