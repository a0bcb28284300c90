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
    """Reads single keys from a terminal on a thread; puts command names in ``commands``."""

    def __init__(self) -> None:
        self.commands: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._old = None
        self._fd = None
        if sys.stdin.isatty():
            import termios
            import tty

            self._fd = sys.stdin.fileno()
            self._old = termios.tcgetattr(self._fd)
            tty.setcbreak(self._fd)
            threading.Thread(target=self._run, name="keys", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.2)
            if ready:
                key = os.read(self._fd, 1).decode(errors="ignore").lower()
                if key in KEYS:
                    self.commands.put(KEYS[key])

    def close(self) -> None:
        self._stop.set()
        if self._old is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._old)
