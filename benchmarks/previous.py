"""The channel attribution of an earlier commit on the room scenes of bench_rooms.py, for a 'before' row.

    .venv/bin/python benchmarks/previous.py 92c481c        # writes benchmarks/.cache/before-92c481c.json

It checks the commit out in a temporary git worktree and runs that commit's voice loop on the scenes
the current generator makes (reported seeds), scored as bench_rooms.py scores them; then
``bench_rooms.py --before benchmarks/.cache/before-92c481c.json`` puts the figures beside today's.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    rev = sys.argv[1] if len(sys.argv) > 1 else "92c481c"
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), rev], check=True)
        try:
            return _run(rev, tree)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


def _run(rev: str, tree: Path) -> int:
    rooms = _load("rooms_now", HERE / "rooms.py")            # today's scenes and scoring ...
    scoring = _load("scoring_now", ROOT / "tests" / "support" / "scoring.py")
    bench = _load("bench_rooms_now", HERE / "bench_rooms.py")
    while str(ROOT) in sys.path:                            # ... that commit's voice loop
        sys.path.remove(str(ROOT))
    for key in [k for k in sys.modules if k.startswith("imago_voice")]:
        del sys.modules[key]
    sys.path.insert(0, str(tree))
    from imago_voice.audio.sources import FileSource
    from imago_voice.loop import VoiceLoop
    from imago_voice.speakers.channels import ChannelMap

    out = {}
    for case in bench.CASES:
        results = []
        for seed in rooms.REPORT_SEEDS[: bench.PER_CASE]:
            sc = rooms.make_scene(seed, people=case.people, placement=case.placement, quiet_db=case.quiet_db,
                                  barely=case.barely)
            loop = VoiceLoop(channels=ChannelMap(sc.names, tuple(range(sc.people))))
            turns = [e for e in loop.run(FileSource("scene.wav", data=sc.audio)) if hasattr(e, "text")]
            truth = [(sc.names[x.person], x.start, x.end) for x in sc.reference]
            r = scoring.diarization_scores(truth, [(t.speaker, t.start, t.end) for t in turns], sc.names, sc.duration)
            r["turns"], r["ref_turns"] = len(turns), bench.ref_turns(sc)
            results.append(r)
        out[case.name] = bench.pooled(results)
        print(case.name, f"{out[case.name]['attribution'] * 100:.1f} %", flush=True)
    path = HERE / ".cache" / f"before-{rev}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"rev": rev, "cases": out}, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
