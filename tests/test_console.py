"""Silent mode's key reader on a real terminal (a pseudo-terminal): keys become commands, and the terminal
always gets its settings back, even when something fails while the keys are read."""

import os
import termios

import pytest

from imago_voice.facilitator.console import KeyReader


@pytest.fixture
def terminal():
    master, slave = os.openpty()
    stream = os.fdopen(slave, "r")
    try:
        yield master, stream
    finally:
        stream.close()
        os.close(master)


def test_keys_become_commands_and_the_terminal_is_restored(terminal):
    master, stream = terminal
    before = termios.tcgetattr(stream.fileno())
    with KeyReader(stream) as keys:
        assert termios.tcgetattr(stream.fileno()) != before      # cbreak while reading
        os.write(master, b"np ")
        got = [keys.commands.get(timeout=2.0) for _ in range(3)]
    assert got == ["next", "pause", "repeat"]
    assert termios.tcgetattr(stream.fileno()) == before


def test_a_crash_while_reading_keys_leaves_the_terminal_as_it_was(terminal):
    _, stream = terminal
    before = termios.tcgetattr(stream.fileno())
    with pytest.raises(RuntimeError, match="boom"):
        with KeyReader(stream):
            raise RuntimeError("boom")
    assert termios.tcgetattr(stream.fileno()) == before


def test_not_a_terminal_reads_nothing(tmp_path):
    with open(tmp_path / "f", "w+") as f, KeyReader(f) as keys:
        assert keys.commands.empty()
