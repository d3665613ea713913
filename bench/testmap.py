"""What the test map costs against one plain suite run, and whether its content changed.

    python bench/testmap.py WORKSPACE [--repo NAME] [--runs 1] [--save FILE] [--compare FILE]

WORKSPACE is a bugfoundry workspace whose repo environment is already built (a zoo run's, or
one made by ``bench/validate.py``). Each round runs the clean suite once plainly and once under
the tracing plugin (the baseline's map run), both in a worker tree of the workspace; wall time
and CPU (``getrusage`` of the child) are printed with their ratio (target: the map at most 2x
a suite run). ``--save`` writes the map's content (functions per test, covered lines) as JSON;
``--compare`` checks it against a saved one (e.g. made by an older plugin: run this script
with ``PYTHONPATH`` on another checkout) and prints what differs. Nothing is stored.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.baseline import run_test_map  # noqa: E402
from engine.forge.setup import ensure_environment, open_repo  # noqa: E402
from engine.repos import make_worker_tree  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.testmap import TestMap  # noqa: E402
from engine.validation.testrun import run_pytest  # noqa: E402
from engine.workspace import Workspace  # noqa: E402


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _timed(fn):  # type: ignore[no-untyped-def]
    cpu, wall = _child_cpu(), time.monotonic()
    out = fn()
    return out, time.monotonic() - wall, _child_cpu() - cpu


def content(tm: TestMap) -> dict[str, object]:
    """What the map says, independent of trace order: functions per test and covered lines."""
    return {
        "functions": sorted([f, q, sorted(t)] for (f, q), t in tm.functions.items()),
        "lines": {f: sorted(v) for f, v in sorted(tm.covered_lines.items())},
    }


def differences(old: dict, new: dict) -> list[str]:  # type: ignore[type-arg]
    out = []
    of = {(f, q): set(t) for f, q, t in old["functions"]}
    nf = {(f, q): set(t) for f, q, t in new["functions"]}
    for key in sorted(set(of) | set(nf)):
        if of.get(key) != nf.get(key):
            a, b = of.get(key, set()), nf.get(key, set())
            gone, extra = a - b, b - a
            out.append(f"function {key}: missing tests {sorted(gone)[:3]} extra {sorted(extra)[:3]}"
                       f" ({len(gone)}/{len(extra)})")
    for f in sorted(set(old["lines"]) | set(new["lines"])):
        a, b = set(old["lines"].get(f, [])), set(new["lines"].get(f, []))
        if a != b:
            out.append(f"lines {f}: missing {sorted(a - b)[:10]} extra {sorted(b - a)[:10]}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace")
    ap.add_argument("--repo", default=None)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--save", default=None)
    ap.add_argument("--compare", default=None)
    ap.add_argument("--no-plain", action="store_true", help="skip the plain suite runs")
    args = ap.parse_args(argv)
    ws = Workspace.open(Path(args.workspace))
    with Store.open(ws.db_path) as store:
        name = args.repo or store.list_repos()[0].name
        repo = open_repo(ws, store, name, print)
        env, recipe = ensure_environment(ws, store, repo, log=print)
    tree = make_worker_tree(repo, ws.worker_path(repo.name, 0), generated=env.generated_dir)
    env.session_args(tree)
    tm = None
    for i in range(args.runs):
        if not args.no_plain:
            plain, wall, cpu = _timed(lambda: run_pytest(env, tree, recipe, None,
                                                         timeout=args.timeout, tb="no"))
            print(f"[{i}] plain suite: {len(plain.collected)} tests, wall {wall:.2f}s, "
                  f"cpu {cpu:.2f}s")
        res, mwall, mcpu = _timed(lambda: run_test_map(env, tree, recipe, timeout=args.timeout))
        tm = res.testmap
        if tm is None:
            print(f"[{i}] no map: {res.problem}")
            return 2
        print(f"[{i}] map run: wall {mwall:.2f}s, cpu {mcpu:.2f}s, {len(tm.tests)} tests, "
              f"{len(tm.functions)} functions, {sum(map(len, tm.covered_lines.values()))} lines"
              + (f"; problem: {tm.problem}" if tm.problem else ""))
        if not args.no_plain:
            print(f"[{i}] ratio map/suite: wall {mwall / wall:.2f}x, cpu {mcpu / cpu:.2f}x")
    assert tm is not None
    got = content(tm)
    if args.save:
        Path(args.save).write_text(json.dumps(got), encoding="utf-8")
    if args.compare:
        diff = differences(json.loads(Path(args.compare).read_text(encoding="utf-8")), got)
        print("map content: identical" if not diff else f"map content: {len(diff)} differences")
        for d in diff[:30]:
            print("  " + d)
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
