"""Validate the same candidates three ways and print CPU per candidate side by side.

    python bench/validate.py SOURCE [--max N] [--seed S] [--workers W] [--workspace DIR]

SOURCE is anything ``bugfoundry repo add`` takes (a path, a git URL, ``pypi:NAME==VER``, the
sample bundle). The ways:

- ``full``: a fresh pytest on the whole suite per candidate (what SWE-smith does, minus Docker);
- ``subprocess``: a fresh pytest on the covering tests only (``--validation cold``);
- ``hot``: the default (``--validation auto``): warm fork server on the covering tests where
  the diff allows, the subprocess way otherwise.

CPU is measured with ``getrusage`` (this process plus every reaped child, fork servers and
their forked children included). The floor is the sum, over candidates, of the covering tests'
baseline durations: no validator that runs every covering test can go below it.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli.main import main as cli_main  # noqa: E402
from engine.forge.run import generate_candidates  # noqa: E402
from engine.forge.setup import build_validator, ensure_baseline, ensure_environment, open_repo  # noqa: E402
from engine.models import Verdict  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

WAYS = (("full", "full"), ("subprocess", "cold"), ("hot", "auto"))


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source")
    ap.add_argument("--name", default=None)
    ap.add_argument("--max", type=int, default=100, help="candidates (default 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--workspace", default=None, help="default: a fresh temporary directory")
    ap.add_argument("--ways", default="full,subprocess,hot")
    ap.add_argument("--pick", choices=("random", "spread"), default="random",
                    help="random: a seeded uniform sample of every candidate a full forge "
                         "would validate (its natural modifier mix); spread: round-robin over "
                         "modifiers, as `forge --max` picks")
    args = ap.parse_args(argv)
    os.environ.setdefault("UV_CACHE_DIR",
                          str(Path.home() / ".cache" / "bugfoundry-tests" / "uv"))
    ws_dir = Path(args.workspace or tempfile.mkdtemp(prefix="bf-bench-"))
    add = ["repo", "add", args.source, "--workspace", str(ws_dir)]
    if args.name:
        add += ["--name", args.name]
    ws = Workspace.open(ws_dir)
    with Store.open(ws.db_path) as store:
        known = [r.name for r in store.list_repos()]
    if not known and cli_main(add) != 0:
        return 2
    with Store.open(ws.db_path) as store:
        name = args.name or store.list_repos()[0].name
        repo = open_repo(ws, store, name, print)
        env, recipe = ensure_environment(ws, store, repo, log=print)
        t0 = time.monotonic()
        baseline = ensure_baseline(ws, store, repo, env, recipe, log=print)
        testmap = store.load_test_map(baseline.baseline_id)
        setup_s = time.monotonic() - t0
    if testmap is None:
        print("no test map could be built; nothing to compare")
        return 2
    everything = generate_candidates(repo, ["procedural"], args.seed, None,
                                     covered_lines=testmap.covered_lines)
    if args.pick == "random":
        import random

        cands = random.Random(args.seed).sample(everything, min(args.max, len(everything)))
    else:
        cands = everything[:args.max]
    n = len(cands)
    planner = build_validator(ws, repo, env, recipe, baseline, testmap, workers=1).planner
    plans = {c.candidate_id: planner.plan(c.patch) for c in cands}
    floor = sum(p.estimate for p in plans.values() if p.mode in ("hot", "cold"))
    suite_sum = sum(t.duration for t in baseline.tests.values())
    print(f"\nrepo {repo.name}: {len(baseline.tests)} tests, clean suite {baseline.seconds:.2f}s "
          f"wall (sum of test durations {suite_sum:.2f}s); test map traced in "
          f"{testmap.seconds:.2f}s; baseline + map {setup_s:.1f}s this run")
    print(f"candidates: {n} of {len(everything)} procedural (seed {args.seed}, {args.pick} "
          f"pick), workers {args.workers}")

    rows: dict[str, dict[str, float]] = {}
    verdicts: dict[str, dict[str, Verdict]] = {}
    wanted = [w.strip() for w in args.ways.split(",")]
    for label, mode in WAYS:
        if label not in wanted:
            continue
        validator = build_validator(ws, repo, env, recipe, baseline, testmap, mode=mode,
                                    workers=args.workers)
        cpu0, wall0 = _cpu(), time.monotonic()
        with validator:  # closing reaps the fork servers, so their CPU is counted here
            verdicts[label] = {c.candidate_id: v for c, v in validator.run(cands)}
        cpu, wall = _cpu() - cpu0, time.monotonic() - wall0
        kept = sum(v.kept for v in verdicts[label].values())
        rows[label] = {"cpu": cpu, "wall": wall, "kept": kept,
                       "hot": validator.paths.get("hot", 0),
                       "hot_cpu": sum(v.cpu for v in verdicts[label].values() if v.path == "hot"),
                       "hot_floor": sum(plans[c].estimate for c, v in verdicts[label].items()
                                        if v.path == "hot")}
        print(f"  {label}: done in {wall:.1f}s wall ({dict(sorted(validator.paths.items()))})")

    print()
    print(f"{'way':<12}{'CPU s/cand':>12}{'bugs/CPU-min':>14}{'kept':>6}{'wall s':>9}"
          f"{'hot share':>11}")
    for label, r in rows.items():
        per = r["cpu"] / n
        rate = r["kept"] / (r["cpu"] / 60) if r["cpu"] else 0.0
        print(f"{label:<12}{per:>12.3f}{rate:>14.1f}{int(r['kept']):>6}{r['wall']:>9.1f}"
              f"{r['hot'] / n:>11.0%}")
    print(f"{'floor':<12}{floor / n:>12.3f}{'':>14}{'':>6}{'':>9}{'':>11}"
          "   (sum of covering tests' baseline durations)")
    if "full" in rows:
        for label in ("subprocess", "hot"):
            if label in rows and rows[label]["cpu"]:
                print(f"ratio full/{label} = {rows['full']['cpu'] / rows[label]['cpu']:.1f}x "
                      "less CPU per candidate")
    if "hot" in rows and rows["hot"]["cpu"]:
        r = rows["hot"]
        print(f"floor efficiency (floor / CPU, whole hot run incl. server start-up and cold "
              f"fallbacks) = {floor / r['cpu']:.2f}")
        if r["hot_cpu"]:
            print(f"floor efficiency on hot-path candidates (floor / forked-child CPU) = "
                  f"{r['hot_floor'] / r['hot_cpu']:.2f}; mean per hot candidate "
                  f"{1000 * r['hot_cpu'] / max(1, r['hot']):.0f} ms CPU")
    last = verdicts[list(verdicts)[-1]]
    by_mod: dict[str, list[int]] = {}
    for c in cands:
        kept_n, total = by_mod.setdefault(c.modifier, [0, 0])
        by_mod[c.modifier] = [kept_n + int(last[c.candidate_id].kept), total + 1]
    print("yield per modifier (kept/validated): " + ", ".join(
        f"{m} {k}/{t}" for m, (k, t) in sorted(by_mod.items())))
    kept_all = sum(k for k, _t in by_mod.values())
    print(f"yield overall: {kept_all}/{n} = {kept_all / n:.1%}")
    if len(verdicts) > 1:
        ref_label = next(iter(verdicts))
        ref = verdicts[ref_label]
        same = sum(all((vs[c].kept, sorted(vs[c].fail_to_pass))
                       == (ref[c].kept, sorted(ref[c].fail_to_pass))
                       for vs in verdicts.values()) for c in ref)
        print(f"agreement: {same}/{n} candidates with identical keep/drop and FAIL_TO_PASS "
              f"across {', '.join(verdicts)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
