"""What the test map costs against one plain suite run, and whether its content changed.

    python bench/testmap.py WORKSPACE [--repo NAME] [--runs 1] [--tracers probe,settrace]
                            [--save FILE] [--compare FILE]

WORKSPACE is a bugfoundry workspace whose repo environment is already built (a zoo run's, or
one made by ``bench/validate.py``). Each round runs the clean suite once plainly and once under
the tracing plugin per recorder in ``--tracers`` (default: the plugin's own choice: probes
before Python 3.12, ``sys.monitoring`` after), all in a worker tree of the workspace; wall time
and CPU (``getrusage`` of the child) are printed side by side with their ratio to the plain
run (target: the map at most 2x a suite run). With several recorders, every map after the
first is compared with the first: functions per test (outside test files; comprehensions
aside, which the probes leave to their enclosing function) and covered statements (the
lines the forge and the pruner read, by the statement holding them). ``--save`` writes the
last map's content as JSON; ``--compare`` checks it against a saved one (e.g. made by an older
plugin: run this script with ``PYTHONPATH`` on another checkout). Nothing is stored.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from zoo import _bf, add_repo_options, git_head, machine, repos_to_run  # noqa: E402

from engine.baseline import run_test_map  # noqa: E402
from engine.forge.prune import statement_spans  # noqa: E402
from engine.forge.setup import ensure_environment, open_repo  # noqa: E402
from engine.repos import make_worker_tree  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.testmap import IMPORT, TestMap  # noqa: E402
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


_COMPREHENSIONS = ("<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>")


def comparable(tm: TestMap, tree: Path, test_files: set[str],
               tests: set[str]) -> dict[str, object]:
    """What two recorders must agree on: functions per test (of ``tests``: ids made from the
    clock differ between runs) outside test files and conftests (comprehensions aside) and,
    per file, the statements some line of which ran."""
    test_files = test_files | {f for f, _q in tm.functions if f.endswith("conftest.py")}
    funcs = sorted([f, q, sorted(t & tests)] for (f, q), t in tm.functions.items()
                   if f not in test_files and not q.endswith(_COMPREHENSIONS) and t & tests)
    stmts: dict[str, list[tuple[int, int]]] = {}
    for rel, lines in sorted(tm.covered_lines.items()):
        if rel in test_files:
            continue
        try:
            spans = statement_spans(ast.parse((tree / rel).read_text(encoding="utf-8")))
        except (OSError, SyntaxError, ValueError):
            continue
        stmts[rel] = sorted({spans[n] for n in lines if n in spans})
    return {"functions": funcs, "lines": stmts}


def measure(ws_path: Path, repo_name: str | None, tracers: list[str], runs: int,
            timeout: float, plain_runs: bool) -> tuple[dict[str, Any], dict[str, TestMap]]:
    """One repo: the plain suite and the map under each recorder, ``runs`` times (the last
    round's figures are kept); the row and the maps."""
    ws = Workspace.open(ws_path)
    with Store.open(ws.db_path) as store:
        name = repo_name or store.list_repos()[0].name
        repo = open_repo(ws, store, name, print)
        env, recipe = ensure_environment(ws, store, repo, log=print)
    tree = make_worker_tree(repo, ws.worker_path(repo.name, 0), generated=env.generated_dir)
    env.session_args(tree)
    maps: dict[str, TestMap] = {}
    test_files: set[str] = set()
    row: dict[str, Any] = {"repo": name}
    for i in range(runs):
        line = [f"[{i}] {name}"]
        cpu = 0.0
        if plain_runs:
            plain, wall, cpu = _timed(lambda: run_pytest(env, tree, recipe, None,
                                                         timeout=timeout, tb="no"))
            test_files = {n.split("::", 1)[0] for n in plain.collected}
            row.update(tests=len(plain.collected), plain_cpu=round(cpu, 2),
                       plain_wall=round(wall, 2))
            line.append(f"plain: {len(plain.collected)} tests, wall {wall:.2f}s, cpu {cpu:.2f}s")
        for tracer in tracers:
            os.environ["BUGFOUNDRY_MAP_TRACER"] = tracer
            try:
                res, mwall, mcpu = _timed(lambda: run_test_map(env, tree, recipe,
                                                               timeout=timeout))
            finally:
                os.environ.pop("BUGFOUNDRY_MAP_TRACER", None)
            tm = res.testmap
            label = tracer or "default"
            if tm is None:
                line.append(f"{label}: no map: {res.problem}")
                row[label] = {"problem": res.problem}
                continue
            maps[label] = tm
            test_files |= {n.split("::", 1)[0] for n in res.run.collected}
            ratio = round(mcpu / cpu, 2) if cpu else None
            row[label] = {"recorded_by": tm.tracer, "cpu": round(mcpu, 2), "wall": round(mwall, 2),
                          "ratio_cpu": ratio, "tests": len(tm.tests),
                          "functions": len(tm.functions)}
            line.append(f"{label} (recorded by {tm.tracer}): wall {mwall:.2f}s, cpu {mcpu:.2f}s"
                        + (f", {ratio:.2f}x plain cpu" if ratio else "")
                        + f", {len(tm.tests)} tests, {len(tm.functions)} functions"
                        + (f"; problem: {tm.problem}" if tm.problem else ""))
        print("\n    ".join(line))
    labels = [t or "default" for t in tracers if (t or "default") in maps]
    for other in labels[1:]:
        both = (maps[labels[0]].tests & maps[other].tests) | {IMPORT}
        diff = differences(comparable(maps[labels[0]], tree, test_files, both),
                           comparable(maps[other], tree, test_files, both))
        row[other]["differences_from_" + labels[0]] = len(diff)
        # functions for which this recorder names tests the first does not, and the reverse
        # (a test left out of a function's set is one the validator would not run for it)
        row[other]["functions_with_more_tests"] = sum(
            1 for d in diff if d.startswith("function") and " extra [] " not in d)
        row[other]["functions_with_fewer_tests"] = sum(
            1 for d in diff if d.startswith("function") and "missing tests [] " not in d)
        print(f"{other} vs {labels[0]}: "
              + ("same functions per test and covered statements" if not diff
                 else f"{len(diff)} differences"))
        for d in diff[:12]:
            print("  " + d[:300])
    return row, maps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", nargs="?", help="an existing workspace (else --zoo)")
    add_repo_options(ap, "/tmp/bf-bench-testmap")
    ap.add_argument("--repo", default=None)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--tracers", default="",
                    help="comma list of probe, settrace, monitoring (default: the plugin's)")
    ap.add_argument("--out", default=None, help="write the rows as JSON")
    ap.add_argument("--save", default=None)
    ap.add_argument("--compare", default=None)
    ap.add_argument("--no-plain", action="store_true", help="skip the plain suite runs")
    args = ap.parse_args(argv)
    tracers = [t for t in args.tracers.split(",") if t] or [""]
    todo: list[tuple[Path, str | None]] = []
    if args.workspace:
        todo.append((Path(args.workspace), args.repo))
    else:
        for name, add in repos_to_run(args.sample, args.zoo, args.clones):
            ws = args.root / name
            if not (ws / "bugfoundry.duckdb").exists():
                ws.mkdir(parents=True, exist_ok=True)
                code, _out, err = _bf(*add, ws=ws)
                if code:
                    print(f"{name}: repo add failed: {err.strip().splitlines()[-1:]}")
                    continue
            todo.append((ws, name))
    rows = []
    maps: dict[str, TestMap] = {}
    differ = "differences_from_" + (tracers[0] or "default")
    for ws, name in todo:
        row, maps = measure(ws, name, tracers, args.runs, args.timeout, not args.no_plain)
        rows.append(row)
    # 1 when some recorder's map differs from the first one's on some repo
    status = int(any(isinstance(v, dict) and v.get(differ) for r in rows for v in r.values()))
    if len(rows) > 1 or args.out:
        print(f"\n{'repo':<20}{'tests':>7}{'plain s':>9}" + "".join(
            f"{(t or 'default'):>22}" for t in tracers))
        for row in rows:
            cells = []
            for t in tracers:
                got = row.get(t or "default", {})
                cells.append(f"{got.get('cpu', '-')}s {got.get('ratio_cpu', '-')}x "
                             f"[{got.get('recorded_by', '-')}]")
            print(f"{row['repo']:<20}{row.get('tests', '-'):>7}{row.get('plain_cpu', '-'):>9}"
                  + "".join(f"{c:>22}" for c in cells))
    if args.out:
        Path(args.out).write_text(json.dumps({"commit": git_head(), "machine": machine(),
                                              "tracers": tracers, "rows": rows}, indent=1),
                                  encoding="utf-8")
    got = content(maps[tracers[-1] or "default"]) if maps else None
    if args.save and got is not None:
        Path(args.save).write_text(json.dumps(got), encoding="utf-8")
    if args.compare and got is not None:
        diff = differences(json.loads(Path(args.compare).read_text(encoding="utf-8")), got)
        print("map content: identical" if not diff else f"map content: {len(diff)} differences")
        for d in diff[:30]:
            print("  " + d)
        return 1 if diff else status
    return status


if __name__ == "__main__":
    raise SystemExit(main())
