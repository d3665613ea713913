"""What one hanging candidate costs on each path, with the per-test hang watch off and on.

    python bench/hang.py [--workspace DIR] [--modes auto,cold,full]

On the sample repo (``data/sample.bundle``): a candidate whose ``simple_interest`` loops
forever (``--kind busy`` burns CPU, ``sleep`` sleeps 50 ms a turn), validated with the default
budgets on one worker. "off" is the whole-run budget alone (``hang_factor = 0``: killed at the
budget, retried alone at twice it); "on" is the default (killed once one test is 5x its
baseline time + 2 s over, no retry). Wall and CPU (``getrusage``, this process and every reaped
child) are those of a validator that validates a real bug and then the hang, minus the same
validator on the real bug alone, so server start-up is not counted.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli.main import main as cli_main  # noqa: E402
from engine.forge.setup import build_validator, ensure_baseline, ensure_environment, open_repo  # noqa: E402
from engine.models import Candidate  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.validation.cpu import process_cpu  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

REL = "ledgerkit/interest.py"
GUARD = '    if days < 0:\n        raise ValueError("days must not be negative")\n'
HANGS = {"sleep": '    while True:\n        __import__("time").sleep(0.05)\n',
         "busy": '    while True:\n        days = days + 0\n'}  # a sleep loop, a CPU loop
BUG = ('    return Money(principal.amount * annual_rate * days / 360, '
       'principal.currency).rounded()\n')



def _candidate(root: Path, modifier: str, new: str) -> Candidate:
    text = (root / REL).read_text()
    after = text.replace(GUARD, new, 1)
    diff = "".join(difflib.unified_diff(text.splitlines(True), after.splitlines(True),
                                        f"a/{REL}", f"b/{REL}"))
    return Candidate("sample", "procedural", modifier, f"diff --git a/{REL} b/{REL}\n" + diff,
                     file=REL, entity="simple_interest")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", default=None, help="default: a fresh temporary directory")
    ap.add_argument("--modes", default="auto,cold,full")
    ap.add_argument("--kind", choices=sorted(HANGS), default="busy")
    args = ap.parse_args(argv)
    os.environ.setdefault("UV_CACHE_DIR", str(Path.home() / ".cache/bugfoundry-tests/uv"))
    ws_dir = Path(args.workspace or tempfile.mkdtemp(prefix="bf-hang-"))
    bundle = Path(__file__).resolve().parents[1] / "data" / "sample.bundle"
    ws = Workspace.open(ws_dir)
    if not (ws_dir / "repos" / "sample").exists():  # a workspace of an earlier run is reused
        cli_main(["repo", "add", str(bundle), "--name", "sample", "--workspace", str(ws_dir)])
    with Store.open(ws.db_path) as store:
        repo = open_repo(ws, store, "sample", print)
        env, recipe = ensure_environment(ws, store, repo, log=print)
        baseline = ensure_baseline(ws, store, repo, env, recipe, log=print)
        testmap = store.load_test_map(baseline.baseline_id)
    root = Path(repo.path)
    bug, hang = _candidate(root, "bug", BUG), _candidate(root, "hang", HANGS[args.kind])

    def measure(mode: str, cands: list[Candidate], factor: float | None) -> tuple[float, float,
                                                                                 str]:
        validator = build_validator(ws, repo, env, recipe, baseline, testmap, mode=mode)
        if factor is not None:
            validator.config.hang_factor = factor
        cpu0, wall0 = process_cpu(), time.monotonic()
        with validator:
            verdicts = [v for _c, v in validator.run(cands)]
        last = verdicts[-1]
        why = f"{last.path} {last.reason}: {last.detail}"
        return process_cpu() - cpu0, time.monotonic() - wall0, why

    print(f"\n{'mode':<6}{'watch':<7}{'wall s':>8}{'CPU s':>8}  verdict")
    for mode in args.modes.split(","):
        cpu_bug, wall_bug, _ = measure(mode, [bug], None)
        for label, factor in (("off", 0.0), ("on", None)):
            cpu, wall, said = measure(mode, [bug, hang], factor)
            print(f"{mode:<6}{label:<7}{wall - wall_bug:>8.2f}{cpu - cpu_bug:>8.2f}  "
                  f"{said[:150]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
