"""Shared by the benchmarks: where ../shared is, the machine, and writing figures into BENCHMARKS.md."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("IMAGO_SHARED", ROOT.parent / "shared"))
EVAL = SHARED / "eval"


def need_shared() -> Path:
    """The evaluation data folder; exits 0 with a clear message when it is absent."""
    if not EVAL.is_dir():
        print(f"skipped: {EVAL} is absent (benchmarks read ../shared/eval beside the project)")
        sys.exit(0)
    return EVAL


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def today() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values, q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if len(values) else float("nan")


def write_section(name: str, body: str) -> None:
    """Replace (or add) the section ``name`` of BENCHMARKS.md."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else (
        "# Benchmarks\n\nFigures measured by the scripts in `benchmarks/` (each rewrites its own section).\n")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def run_loop(loop, source):
    """Run a voice loop over a source: (turns, overlaps it flagged), as its consumers see them."""
    from imago_voice.ledger import Overlap, Turn

    events = list(loop.run(source))
    return [e for e in events if isinstance(e, Turn)], [e for e in events if isinstance(e, Overlap)]
