"""Silent mode's terminal: a status line for the facilitator and single keys for commands."""

from __future__ import annotations

import os
import queue
import select
import sys
import threading

KEYS = {"n": "next", "b": "back", "p": "pause", "r": "resume", "s": "stop", "+": "faster", "-": "slower",
        "y": "yes", "m": "more", "d": "done", "x": "no", "w": "not_now", " ": "repeat"}
HELP = "keys: n next, b back, p pause, r resume, s stop, y yes, x no, m more, d that's all, space repeat"


def status_line(snap, at: float) -> str:
    """One line: step, roles, whose turn, step timer, balance."""
    bal = snap.balance.by_person
    total = sum(bal.values()) or 1.0
    shares = "  ".join(f"{n} {v / total * 100:.0f}%" for n, v in bal.items())
    state = "PAUSED " if snap.paused else ("ENDED " if snap.ended else "")
    roles = f"{snap.sender} -> {snap.receiver}" if snap.sender else "-"
    m, s = divmod(int(snap.step_elapsed), 60)
    return (f"{state}[{at // 60:02.0f}:{at % 60:04.1f}] step {snap.step or '-'} ({roles})  "
            f"floor: {snap.waiting_for or 'anyone'}  step time {m}:{s:02d}  {shares}")


class KeyReader:
    """Reads single keys from a terminal on a thread; puts command names in ``commands``.

    A context manager: the terminal is put in cbreak mode on entering and always put back as it was on
    leaving, whatever happens in between. On something that is not a terminal it reads nothing.

        with KeyReader() as keys:
            ...  keys.commands.get_nowait()
    """

    def __init__(self, stream=None) -> None:
        self.commands: queue.Queue[str] = queue.Queue()
        self._stream = sys.stdin if stream is None else stream
        self._stop = threading.Event()
        self._old = None
        self._fd: int | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> KeyReader:
        try:
            if not self._stream.isatty():
                return self
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            return self
        import termios
        import tty

        self._old = termios.tcgetattr(fd)
        self._fd = fd
        try:
            tty.setcbreak(fd)
            self._thread = threading.Thread(target=self._run, name="keys", daemon=True)
            self._thread.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._fd], [], [], 0.2)
                if ready:
                    key = os.read(self._fd, 1).decode(errors="ignore").lower()
                    if key in KEYS:
                        self.commands.put(KEYS[key])
            except (OSError, ValueError):   # the terminal went away
                return

    def close(self) -> None:
        """Stop reading and put the terminal back as it was (safe to call twice)."""
        self._stop.set()
        if self._old is not None:
            import termios

            old, self._old = self._old, None
            termios.tcsetattr(self._fd, termios.TCSADRAIN, old)
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
