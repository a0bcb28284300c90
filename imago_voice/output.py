"""What the commands print and write: turns and the ledger as plain text, and the JSON document.

Everything here reads a :class:`~imago_voice.ledger.Ledger`; nothing computes a figure of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from imago_voice.errors import OutputError
from imago_voice.ledger import Ledger, Overlap, PersonBalance, Turn


def clock(t: float) -> str:
    m, s = divmod(max(t, 0.0), 60.0)
    return f"{int(m):02d}:{s:05.2f}"


def format_turn(turn: Turn) -> str:
    who = turn.speaker if turn.speaker is not None else "(unknown)"
    text = turn.text if turn.text is not None else ""
    return f"{clock(turn.start)}-{clock(turn.end)}  {who:<12} {text}".rstrip()


def format_balance(rows: dict[str, PersonBalance], found: Sequence[Overlap] = ()) -> str:
    lines = [f"{'person':<12} {'seconds':>8} {'share':>6} {'turns':>5} {'longest':>8} {'interrupts':>10} {'overlap':>8}"]
    for r in rows.values():
        lines.append(f"{r.name:<12} {r.seconds:8.1f} {r.share * 100:5.0f}% {r.turns:5d} {r.longest:8.1f} "
                     f"{r.interruptions:10d} {r.overlap:8.1f}")
    if not rows:
        lines.append("(nobody named: use --channel NAME=INDEX or --enroll NAME=AUDIO to tell people apart)")
    if found:
        lines.append(f"overlaps: {len(found)}, {sum(o.duration for o in found):.1f} s in all")
    return "\n".join(lines)


def format_ledger(ledger: Ledger) -> str:
    """The balance table, with the time nobody could be named for and the time-outs when there were any."""
    text = format_balance(ledger.balance(), ledger.overlaps())
    extra = []
    if ledger.unattributed_seconds > 0:
        extra.append(f"speech nobody could be named for: {ledger.unattributed_seconds:.1f} s")
    if ledger.paused_seconds > 0:
        extra.append(f"speech during time-outs (counted for nobody): {ledger.paused_seconds:.1f} s")
    return "\n".join([text, *extra])


def session_dict(audio: str, duration: float, ledger: Ledger) -> dict:
    """The JSON document ``analyze --json``, ``listen --json`` and ``session --log`` write."""
    rows = ledger.balance()
    return {
        "audio": audio,
        "duration": round(duration, 3),
        "participants": list(rows),
        "turns": [{"speaker": t.speaker, "start": round(t.start, 3), "end": round(t.end, 3), "text": t.text}
                  for t in ledger.turns],
        "balance": {name: r.as_dict() for name, r in rows.items()},
        "unattributed": round(ledger.unattributed_seconds, 3),
        "overlaps": [{"start": round(o.start, 3), "end": round(o.end, 3), "speakers": list(o.speakers), "by": o.by}
                     for o in ledger.overlaps()],
    }


def write_json(path: str | Path, doc: dict) -> None:
    try:
        Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"Could not write {path}: {exc.strerror or exc}.") from exc
