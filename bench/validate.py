"""Validate the same candidates three ways and print CPU per candidate side by side.

    python bench/validate.py SOURCE [--max N] [--seed S] [--workers W] [--workspace DIR]
    python bench/validate.py [SOURCE ...] --zoo NAME,NAME|quick [--max N] [--out FILE]

SOURCE is anything ``bugfoundry repo add`` takes (a path, a git URL, ``pypi:NAME==VER``, the
sample bundle); ``--zoo`` adds entries of ``bench/zoo.py``'s ZOO list with their pins (each in
a fresh workspace). The ways:

- ``full``: a fresh pytest on the whole suite per candidate (what SWE-smith does, minus Docker);
- ``subprocess``: a fresh pytest on the covering tests only (``--validation cold``);
- ``hot``: the default (``--validation auto``): warm fork server on the covering tests where
  the diff allows, the subprocess way otherwise.

CPU is measured with ``getrusage`` (this process plus every reaped child, fork servers and
their forked children included). The floor is, per candidate that has covering tests, one
fork of the warm parent plus the covering tests' CPU, measured per test in one more clean
run of the suite (the floor of ``shared/reference/performance.md``): no validator that runs
every covering test in its own process can go below it. Wall durations would overstate it on
suites that sleep (tenacity); the JSON keeps that floor too (``floor_wall``). The fork's
cost is measured on the hot way's fork server after its
candidates (CPU of a bare fork + exit + wait, both sides, mean of ``FORK_PROBES``; 0 when no
fork server ran), and that probe's CPU is not counted in the hot way.

Each way's CPU is split by phase (``engine/validation/cpu.py``; exact with one worker):
forked hot children, warm children, fresh cold/full runs, the confirming runs (bug on disk,
clean alone, chance repeats, and ``confirm_tree``: writing the bug for them and resetting the
tree after), the servers' own CPU (start-up, collection, forking) and the engine (the rest:
planning, other tree resets, grading); the timed-out candidates are listed with their CPU and
why they stopped.

The >= 0.5 s gate of the issue-18 targets (floor efficiency, ratio) is on the suite's *test
time* (sum of baseline test durations, ``tests s``), not one clean run's pytest wall: a suite
whose tests take 0.07 s inside a 1 s pytest start-up is start-up bound, and its floor is almost
all fork; ``gate`` marks the repos the targets apply to.

The servers report the CPU of their start-up (interpreter, pytest, collection, the reload
index): a forge pays it once, so it is set-up here like the baseline and the map, not spread
over the few candidates measured. So is the import graph (what each file imports, parsed
once per commit and cached by blob: ``engine/validation/imports.py``). Besides floor / hot
CPU (``eff``), the floor efficiency of the verdicts alone (``v-eff``: the confirming runs left
out) and the confirming runs' CPU per candidate (``conf``) are printed; the JSON adds the
confirming runs' own floor (the clean-run CPU of the tests they ran, times the repetitions)
and (floor + that) / hot CPU.

After the repos, one row each and a pooled line (the issue-18 headline figures): suite
seconds; CPU per candidate full / cold / hot; the floor; floor efficiency (floor / hot CPU);
the hot way's path shares; the share of its CPU spent on candidates dropped as ``timeout``;
kept per CPU-minute for the full way (validation CPU only, as SWE-smith counts it) and for the
hot way *including* the baseline and test-map CPU, that setup amortised over every candidate a
full forge of the repo validates (``forge``) and, stricter, over only the candidates measured
here (``as run``); the ratio of the two. With ``--zoo`` or ``--out`` the figures are saved as
JSON (default ``bench/results/validate.json``) with the bugfoundry commit, date, machine, args.

A candidate's CPU is the getrusage delta from its start to its verdict (workers 1) plus, on the
hot, reload and warm paths, its forked child's CPU (reaped by the server, so counted in the
hot way's total only at close); the hot way prints it per path (``path_cpu`` in the JSON,
``import_time_vs_hot`` the reload and warm paths' cost over the hot path's). A timed-out test run
is reaped (the sandbox's init kills and reaps it), so its CPU is counted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli.main import main as cli_main  # noqa: E402
from engine.forge.run import generate_candidates  # noqa: E402
from engine.forge.setup import build_validator, ensure_baseline, ensure_environment, open_repo  # noqa: E402
from engine.models import Verdict  # noqa: E402
from engine.repos import make_worker_tree  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.validation.cpu import process_cpu  # noqa: E402
from engine.validation.testrun import run_pytest  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zoo import QUICK, RESULTS, ZOO, git_head, machine, repo_add_args  # noqa: E402

WAYS = (("full", "full"), ("subprocess", "cold"), ("hot", "auto"))
PATHS = ("hot", "reload", "warm", "cold", "full")  # the hot way's paths, cheapest first
SERVED = ("hot", "reload", "warm")  # a server reaps their test run: its CPU is in Verdict.cpu



def measure(add: list[str], ws_dir: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """Validate one repo's candidates every wanted way; print the single-repo report and
    return its figures (None when there is nothing to compare)."""
    ws = Workspace.open(ws_dir)
    with Store.open(ws.db_path) as store:
        known = [r.name for r in store.list_repos()]
    if not known and cli_main([*add, "--workspace", str(ws_dir)]) != 0:
        return None
    with Store.open(ws.db_path) as store:
        name = args.name or store.list_repos()[0].name
        repo = open_repo(ws, store, name, print)
        env, recipe = ensure_environment(ws, store, repo, log=print)
        t0, cpu0 = time.monotonic(), process_cpu()
        baseline = ensure_baseline(ws, store, repo, env, recipe, log=print)
        testmap = store.load_test_map(baseline.baseline_id)
        setup_s, setup_cpu = time.monotonic() - t0, process_cpu() - cpu0
    if testmap is None:
        print("no test map could be built; nothing to compare")
        return None
    everything = generate_candidates(repo, ["procedural"], args.seed, None,
                                     covered_lines=testmap.covered_lines)
    if args.pick == "random":
        cands = random.Random(args.seed).sample(everything, min(args.max, len(everything)))
    else:
        cands = everything[:args.max]
    n = len(cands)
    if not n:
        print(f"repo {repo.name}: no candidates; nothing to compare")
        return None
    planner = build_validator(ws, repo, env, recipe, baseline, testmap, workers=1).planner
    # The import graph is parsed once per commit (cached by blob in the workspace): set-up,
    # like the baseline and the map, and the validators below read it from the cache.
    cpu0 = process_cpu()
    planner.graph.warm(planner.test_files)
    graph_cpu = process_cpu() - cpu0
    setup_cpu += graph_cpu
    plans = {c.candidate_id: planner.plan(c.patch) for c in cands}
    test_cpu = tests_cpu(ws, repo, env, recipe, baseline)
    floor_wall = sum(p.estimate for p in plans.values() if p.mode in ("hot", "cold"))
    cpu_of = {cid: sum(test_cpu.get(t, 0.0) for t in p.tests or ()) for cid, p in plans.items()}
    floor_tests = sum(cpu_of[cid] for cid, p in plans.items() if p.mode in ("hot", "cold"))
    selected = sum(p.mode in ("hot", "cold") for p in plans.values())
    fork_cost = 0.0
    suite_sum = sum(t.duration for t in baseline.tests.values())
    print(f"\nrepo {repo.name}: {len(baseline.tests)} tests, clean suite {baseline.seconds:.2f}s "
          f"wall (sum of test durations {suite_sum:.2f}s); test map traced in "
          f"{testmap.seconds:.2f}s; baseline + map {setup_s:.1f}s this run; import graph "
          f"{graph_cpu:.2f}s CPU")
    print(f"candidates: {n} of {len(everything)} procedural (seed {args.seed}, {args.pick} "
          f"pick), workers {args.workers}")

    rows: dict[str, dict[str, Any]] = {}
    verdicts: dict[str, dict[str, Verdict]] = {}
    wanted = [w.strip() for w in args.ways.split(",")]
    for label, mode in WAYS:
        if label not in wanted:
            continue
        validator = build_validator(ws, repo, env, recipe, baseline, testmap, mode=mode,
                                    workers=args.workers)
        charge: dict[str, float] = {}
        clock = {"at": process_cpu(), "current": ""}

        def tick(cid: str = "", clock: dict[str, Any] = clock,
                 charge: dict[str, float] = charge) -> None:
            """Charge the CPU since the last event to the candidate running in between."""
            now = process_cpu()
            who = clock["current"] or cid
            if who:
                charge[who] = charge.get(who, 0.0) + now - clock["at"]
            clock["at"] = now

        def started(c: Any, clock: dict[str, Any] = clock, tick: Any = tick) -> None:
            tick()
            clock["current"] = c.candidate_id

        cpu0, wall0 = process_cpu(), time.monotonic()
        got: dict[str, Verdict] = {}
        probe = 0.0
        with validator:  # closing reaps the fork servers, so their CPU is counted here
            for c, v in validator.run(cands, on_start=started):
                tick(c.candidate_id)
                clock["current"] = ""
                got[c.candidate_id] = v
            if label == "hot":
                fork_cost = measure_fork(validator)
                probe = FORK_PROBES * fork_cost
        verdicts[label] = got
        cpu, wall = process_cpu() - cpu0 - probe, time.monotonic() - wall0
        split = validator.cpu.snapshot()
        if "servers" in split:
            split["servers"]["cpu"] = round(split["servers"]["cpu"] - probe, 4)
        split["engine"] = {"cpu": round(cpu - sum(p["cpu"] for p in split.values()), 4),
                           "runs": 0}
        per_cand = {cid: charge.get(cid, 0.0) + (v.cpu if v.path in SERVED else 0.0)
                    for cid, v in got.items()}
        by_path: dict[str, list[float]] = {}  # path -> [candidates, CPU, of it test-run CPU]
        for cid, v in got.items():
            slot = by_path.setdefault(v.path or "checks", [0, 0.0, 0.0])
            slot[0] += 1
            slot[1] += per_cand[cid]
            slot[2] += v.cpu
        timeouts = [cid for cid, v in got.items() if v.reason == "timeout"]
        # the confirming runs' own floor: the CPU of the tests they ran, as often as they ran
        confirm_floor = {phase: round(sum(test_cpu.get(t, 0.0) * k for t, k in ran.items()), 4)
                         for phase, ran in sorted(validator.cpu.tests.items())}
        rows[label] = {"cpu": cpu, "wall": wall, "kept": sum(v.kept for v in got.values()),
                       "confirm_floor": confirm_floor,
                       "paths": dict(sorted(Counter(v.path or "checks"
                                                    for v in got.values()).items())),
                       "hot": sum(v.path == "hot" for v in got.values()),
                       "hot_cpu": sum(v.cpu for v in got.values() if v.path == "hot"),
                       "hot_floor": sum(cpu_of[c] + fork_cost
                                        for c, v in got.items() if v.path == "hot"),
                       "timeouts": len(timeouts), "split": split,
                       "fallbacks": dict(sorted(validator.fallbacks.items())),
                       "timeout_list": [{"candidate": c, "path": got[c].path,
                                         "cpu": round(per_cand[c], 3),
                                         "wall": got[c].duration, "hung": got[c].hung,
                                         "detail": got[c].detail[:300]} for c in timeouts],
                       "timeout_cpu": sum(per_cand[c] for c in timeouts),
                       "timeout_wall": sum(got[c].duration for c in timeouts),
                       "path_cpu": {k: {"n": int(c), "cpu_per_cand": t / c, "run_per_cand": r / c}
                                    for k, (c, t, r) in sorted(by_path.items())}}
        print(f"  {label}: done in {wall:.1f}s wall ({dict(sorted(validator.paths.items()))})"
              + (f"; handed on to a new session: {dict(sorted(validator.fallbacks.items()))}"
                 if validator.fallbacks else ""))
        print(f"    CPU {cpu:.1f}s: " + ", ".join(
            f"{k} {v['cpu']:.1f}" + (f" ({v['runs']} runs)" if v["runs"] else "")
            for k, v in sorted(split.items(), key=lambda kv: -kv[1]["cpu"])))
        for t in rows[label]["timeout_list"]:
            print(f"    timeout {t['candidate']} ({t['path']}): {t['cpu']:.2f}s CPU, "
                  f"{t['wall']:.2f}s wall; {t['detail'][:160]}")
        print("    CPU s per candidate by path (all / its test run): " + ", ".join(
            f"{k} {d['cpu_per_cand']:.3f} / {d['run_per_cand']:.3f} (n {d['n']})"
            for k, d in rows[label]["path_cpu"].items()))

    floor = floor_tests + selected * fork_cost
    print()
    print(f"{'way':<12}{'CPU s/cand':>12}{'bugs/CPU-min':>14}{'kept':>6}{'wall s':>9}"
          f"{'hot share':>11}")
    for label, r in rows.items():
        per = r["cpu"] / n
        rate = r["kept"] / (r["cpu"] / 60) if r["cpu"] else 0.0
        print(f"{label:<12}{per:>12.3f}{rate:>14.1f}{int(r['kept']):>6}{r['wall']:>9.1f}"
              f"{r['hot'] / n:>11.0%}")
    print(f"{'floor':<12}{floor / n:>12.3f}{'':>14}{'':>6}{'':>9}{'':>11}"
          f"   (covering tests' CPU in a clean run {floor_tests / n:.3f} + one fork "
          f"{fork_cost * 1000:.1f} ms per selected candidate; on wall durations "
          f"{(floor_wall + selected * fork_cost) / n:.3f})")
    if "full" in rows:
        for label in ("subprocess", "hot"):
            if label in rows and rows[label]["cpu"]:
                print(f"ratio full/{label} = {rows['full']['cpu'] / rows[label]['cpu']:.1f}x "
                      "less CPU per candidate")
    if "hot" in rows and rows["hot"]["cpu"]:
        r = rows["hot"]
        print(f"floor efficiency (floor / CPU, whole hot run incl. cold fallbacks, the "
              f"servers' start-up {once(r):.1f}s counted as set-up) = "
              f"{floor / (r['cpu'] - once(r)):.2f}; with it spread over these candidates "
              f"{floor / r['cpu']:.2f}")
        h = headline({"candidates": n, "ways": rows, "floor": floor, "setup_cpu": 0.0,
                      "all_candidates": n})
        if "verdict_efficiency" in h:
            print(f"floor efficiency of the verdicts (floor / CPU without the confirming runs) "
                  f"= {h['verdict_efficiency']:.2f}; the confirming runs cost "
                  f"{h['confirm_cpu_per_cand']:.3f}s per candidate, "
                  f"{h.get('confirm_efficiency', 0):.0%} of it the tests they repeat; "
                  f"(floor + those tests) / CPU = {h['efficiency_with_confirm_floor']:.2f}")
        if r["hot_cpu"]:
            print(f"floor efficiency on hot-path candidates (floor / forked-child CPU) = "
                  f"{r['hot_floor'] / r['hot_cpu']:.2f}; mean per hot candidate "
                  f"{1000 * r['hot_cpu'] / max(1, r['hot']):.0f} ms CPU")
    held_timeouts = check_timeouts(ws, repo, env, recipe, baseline, testmap, cands, rows)
    last = verdicts[list(verdicts)[-1]]
    by_mod: dict[str, list[int]] = {}
    for c in cands:
        kept_n, total = by_mod.setdefault(c.modifier, [0, 0])
        by_mod[c.modifier] = [kept_n + int(last[c.candidate_id].kept), total + 1]
    print("yield per modifier (kept/validated): " + ", ".join(
        f"{m} {k}/{t}" for m, (k, t) in sorted(by_mod.items())))
    kept_all = sum(k for k, _t in by_mod.values())
    print(f"yield overall: {kept_all}/{n} = {kept_all / n:.1%}")
    same, disagree = n, {}
    if len(verdicts) > 1:
        ref_label = next(iter(verdicts))
        ref = verdicts[ref_label]
        disagree = {c: {w: [vs[c].reason, sorted(vs[c].fail_to_pass)]
                        for w, vs in verdicts.items()}
                    for c in ref if not all((vs[c].kept, sorted(vs[c].fail_to_pass))
                                            == (ref[c].kept, sorted(ref[c].fail_to_pass))
                                            for vs in verdicts.values())}
        same = n - len(disagree)
        print(f"agreement: {same}/{n} candidates with identical keep/drop and FAIL_TO_PASS "
              f"across {', '.join(verdicts)}")
    return {"repo": repo.name, "source": add[2], "tests": len(baseline.tests),
            "suite_s": round(baseline.seconds, 3), "suite_sum_s": round(suite_sum, 3),
            "map_s": round(testmap.seconds, 2), "setup_s": round(setup_s, 2),
            "setup_cpu": round(setup_cpu, 2), "candidates": n, "all_candidates": len(everything),
            "floor": round(floor, 3), "floor_tests": round(floor_tests, 3),
            "floor_basis": "cpu", "floor_wall": round(floor_wall + selected * fork_cost, 3),
            "suite_cpu_s": round(sum(test_cpu.values()), 3),
            "timeouts_kept_unwatched": held_timeouts,
            "fork_cost": round(fork_cost, 5), "kept": kept_all, "agreement": same,
            "disagree": disagree,
            "ways": {k: {f: round(x, 4) if isinstance(x, float) else x for f, x in r.items()}
                     for k, r in rows.items()}}


GATE_SECONDS = 0.5  # the targets apply to suites whose tests take this long (sum of durations)
def tests_cpu(ws: Workspace, repo: Any, env: Any, recipe: Any, baseline: Any) -> dict[str, float]:
    """Each test's CPU in one more clean run of the suite (its share of the floor: a test
    that sleeps costs its wall time but not a core's). A test the run does not report, or
    reports no CPU for (an old reporter), counts its baseline duration."""
    tree = make_worker_tree(repo, ws.worker_path(repo.name, 0), generated=env.generated_dir)
    run = run_pytest(env, tree, recipe, None, timeout=max(60.0, 10 * baseline.seconds), tb="no")
    out = {}
    for nid, t in baseline.tests.items():
        got = run.outcomes.get(nid)
        out[nid] = got.cpu if got is not None and got.cpu > 0 else t.duration
    print(f"tests' CPU in a clean run: {sum(out.values()):.2f}s (their wall durations "
          f"{sum(t.duration for t in baseline.tests.values()):.2f}s)")
    return out


FORK_PROBES = 5  # bare forks of the warm parent timed for the floor


def measure_fork(validator: Any) -> float:
    """CPU of one bare fork + exit + wait of the hot way's fork server (0 when none ran)."""
    for worker in validator.workers:
        server = worker.servers.get("forkserver")
        if server is not None and server.alive:
            try:
                return float(server.fork_cost(FORK_PROBES))
            except Exception as exc:  # noqa: BLE001 - the floor then has no fork term
                print(f"    fork cost not measured: {exc}")
    return 0.0


def check_timeouts(ws: Any, repo: Any, env: Any, recipe: Any, baseline: Any, testmap: Any,
                   cands: list[Any], rows: dict[str, dict[str, Any]]) -> list[str] | None:
    """The hot way's timed-out candidates validated again the slow, lenient way (a fresh
    pytest on the whole suite, no per-test watch, the whole-suite budget): those it keeps
    were dropped by a limit too tight (must be none). None when no timeout to check."""
    wanted = {t["candidate"] for t in rows.get("hot", {}).get("timeout_list", [])}
    if not wanted:
        return None
    validator = build_validator(ws, repo, env, recipe, baseline, testmap, mode="full",
                                workers=1)
    validator.config.hang_factor = 0.0  # no per-test watch
    with validator:
        kept = [c.candidate_id for c, v in validator.run([c for c in cands
                                                          if c.candidate_id in wanted])
                if v.kept]
    print(f"timeouts of the hot way kept by a full run without the per-test watch: "
          f"{len(kept)}/{len(wanted)}" + (f" ({', '.join(kept)})" if kept else ""))
    return kept


def headline(row: dict[str, Any]) -> dict[str, Any]:
    """The issue-18 figures of one repo's (or the pooled) measurements."""
    n, ways = row["candidates"], row["ways"]
    out: dict[str, Any] = {"floor_per_cand": row["floor"] / n,
                           "gated": row.get("suite_sum_s", 0.0) >= GATE_SECONDS}
    for label in ("full", "subprocess", "hot"):
        if label in ways:
            out[f"{label}_per_cand"] = (ways[label]["cpu"] - once(ways[label])) / n
    hot, full = ways.get("hot"), ways.get("full")
    if hot and hot["cpu"]:
        # The servers' start-up is paid once per forge, like the baseline and the map: it is
        # set-up here too, not spread over the few candidates measured.
        setup, hot_cpu = row["setup_cpu"] + once(hot), hot["cpu"] - once(hot)
        out["server_setup_cpu"] = once(hot)
        out["floor_efficiency"] = row["floor"] / hot_cpu
        # The same split in two: judging each candidate against the covering tests' floor,
        # and confirming each kept one (bug on disk, clean alone, chance repeats) against the
        # CPU of the tests those runs repeat.
        confirm_cpu = sum(v["cpu"] for k, v in hot.get("split", {}).items()
                          if k.startswith("confirm_"))
        confirm_floor = sum(hot.get("confirm_floor", {}).values())
        out["confirm_cpu_per_cand"] = confirm_cpu / n
        if hot_cpu > confirm_cpu:
            out["verdict_efficiency"] = row["floor"] / (hot_cpu - confirm_cpu)
        if confirm_cpu:
            out["confirm_efficiency"] = confirm_floor / confirm_cpu
        out["efficiency_with_confirm_floor"] = (row["floor"] + confirm_floor) / hot_cpu
        out["paths"] = {k: hot["paths"].get(k, 0) / n for k in PATHS}
        cost = hot.get("path_cpu", {})
        out["path_cpu_per_cand"] = {k: cost[k]["cpu_per_cand"] for k in PATHS if k in cost}
        if "hot" in cost and cost["hot"]["cpu_per_cand"]:  # the issue-18 target: <= 2x
            out["import_time_vs_hot"] = {
                k: cost[k]["cpu_per_cand"] / cost["hot"]["cpu_per_cand"]
                for k in ("reload", "warm") if k in cost}
        out["timeout_cpu_share"] = hot["timeout_cpu"] / hot_cpu
        scale = row["all_candidates"] / n  # a forge validates every candidate once
        out["kept_per_cpu_min_hot_as_run"] = hot["kept"] / ((hot_cpu + setup) / 60)
        out["kept_per_cpu_min_hot"] = hot["kept"] * scale / ((hot_cpu * scale + setup) / 60)
    if full and full["cpu"]:
        out["kept_per_cpu_min_full"] = full["kept"] / (full["cpu"] / 60)
        if "kept_per_cpu_min_hot" in out:
            out["ratio"] = out["kept_per_cpu_min_hot"] / out["kept_per_cpu_min_full"]
            out["ratio_as_run"] = (out["kept_per_cpu_min_hot_as_run"]
                                   / out["kept_per_cpu_min_full"])
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def once(way: dict[str, Any]) -> float:
    """CPU of the way's servers starting (and indexing), paid once per forge."""
    return float(way.get("split", {}).get("server_setup", {}).get("cpu", 0.0))


def pooled(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Every repo's candidates, CPU and setup summed as if one repo."""
    ways: dict[str, dict[str, Any]] = {}
    for r in rows:
        for label, w in r["ways"].items():
            into = ways.setdefault(label, {"cpu": 0.0, "kept": 0, "timeout_cpu": 0.0,
                                           "paths": {}, "split": {"server_setup": {"cpu": 0.0}}})
            into["cpu"] += w["cpu"]
            into["split"]["server_setup"]["cpu"] += once(w)
            for k, v in w.get("split", {}).items():
                if k.startswith("confirm_"):
                    into["split"].setdefault(k, {"cpu": 0.0})["cpu"] += v["cpu"]
            for k, v in w.get("confirm_floor", {}).items():
                floors = into.setdefault("confirm_floor", {})
                floors[k] = floors.get(k, 0.0) + v
            into["kept"] += w["kept"]
            into["timeout_cpu"] += w["timeout_cpu"]
            for k, v in w["paths"].items():
                into["paths"][k] = into["paths"].get(k, 0) + v
    total = {"repo": "pooled", "suite_s": sum(r["suite_s"] for r in rows),
             "candidates": sum(r["candidates"] for r in rows),
             "all_candidates": sum(r["all_candidates"] for r in rows),
             "setup_cpu": sum(r["setup_cpu"] for r in rows),
             "floor": sum(r["floor"] for r in rows), "ways": ways}
    # the forge projection per repo, summed (each repo scales by its own candidate count)
    head = headline(total)
    kept = sum(r["ways"]["hot"]["kept"] * r["all_candidates"] / r["candidates"] for r in rows
               if "hot" in r["ways"])
    cpu = sum((r["ways"]["hot"]["cpu"] - once(r["ways"]["hot"])) * r["all_candidates"]
              / r["candidates"] + r["setup_cpu"] + once(r["ways"]["hot"])
              for r in rows if "hot" in r["ways"])
    if cpu and "kept_per_cpu_min_full" in head:
        head["kept_per_cpu_min_hot"] = round(kept / (cpu / 60), 4)
        head["ratio"] = round(head["kept_per_cpu_min_hot"] / head["kept_per_cpu_min_full"], 4)
    return head


SUMMARY = (f"{'repo':<16}{'suite s':>8}{'tests s':>8}{'full':>7}{'cold':>7}{'hot':>7}{'floor':>7}"
           f"{'eff':>6}{'v-eff':>6}{'conf':>7}  {'hot/rel/warm/cold/full':<23}{'tmo CPU':>8}"
           f"{'full k/m':>9}{'hot k/m':>9}{'ratio':>7}")


def summary_line(name: str, suite: float, tests: float, h: dict[str, Any]) -> str:
    def f(key: str, fmt: str, width: int) -> str:
        return format(format(h[key], fmt) if key in h else "-", f">{width}")

    paths = ("/".join(f"{100 * h['paths'].get(k, 0):.0f}" for k in PATHS)
             if "paths" in h else "-")
    ratio = f"{h['ratio']:.1f}x" if "ratio" in h else "-"
    gate = "*" if h.get("gated") else " "
    return (f"{name:<15}{gate}{suite:>8.2f}{tests:>8.2f}{f('full_per_cand', '.3f', 7)}"
            f"{f('subprocess_per_cand', '.3f', 7)}{f('hot_per_cand', '.3f', 7)}"
            f"{f('floor_per_cand', '.3f', 7)}{f('floor_efficiency', '.0%', 6)}"
            f"{f('verdict_efficiency', '.0%', 6)}{f('confirm_cpu_per_cand', '.3f', 7)}  {paths:<23}"
            f"{f('timeout_cpu_share', '.1%', 8)}{f('kept_per_cpu_min_full', '.1f', 9)}"
            f"{f('kept_per_cpu_min_hot', '.1f', 9)}{ratio:>7}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sources", nargs="*", metavar="SOURCE")
    ap.add_argument("--zoo", default="", help="comma-separated zoo entries (bench/zoo.py), "
                                              "or 'quick'")
    ap.add_argument("--clones", type=Path, default=Path(os.environ.get(
        "BUGFOUNDRY_ZOO_CLONES", Path.home() / ".cache" / "bugfoundry-zoo" / "clones")))
    ap.add_argument("--out", type=Path, default=None,
                    help="save the figures as JSON (default with --zoo: "
                         "bench/results/validate.json)")
    ap.add_argument("--name", default=None)
    ap.add_argument("--max", type=int, default=100, help="candidates (default 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--workspace", default=None, help="default: a fresh temporary directory "
                                                      "(one SOURCE only)")
    ap.add_argument("--ways", default="full,subprocess,hot")
    ap.add_argument("--pick", choices=("random", "spread"), default="random",
                    help="random: a seeded uniform sample of every candidate a full forge "
                         "would validate (its natural modifier mix); spread: round-robin over "
                         "modifiers, as `forge --max` picks")
    args = ap.parse_args(argv)
    adds: list[list[str]] = []
    for source in args.sources:
        adds.append(["repo", "add", source] + (["--name", args.name] if args.name else []))
    names = ([e.name for e in ZOO if e.name in QUICK] if args.zoo == "quick"
             else [n for n in args.zoo.split(",") if n])
    by_name = {e.name: e for e in ZOO}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        ap.error(f"not in the zoo: {', '.join(unknown)} (see bench/zoo.py --list)")
    for zname in names:
        add = repo_add_args(by_name[zname], args.clones)
        if isinstance(add, str):
            print(f"{zname}: skipped ({add})")
        else:
            adds.append(add)
    if not adds or (args.workspace and len(adds) > 1):
        ap.error("give one SOURCE or --zoo entries (--workspace only with one SOURCE)")
    if len(adds) > 1:
        args.name = None  # each workspace holds one repo
    os.environ.setdefault("UV_CACHE_DIR",
                          str(Path.home() / ".cache" / "bugfoundry-tests" / "uv"))
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    for add in adds:
        ws_dir = Path(args.workspace or tempfile.mkdtemp(prefix="bf-bench-"))
        row = measure(add, ws_dir, args)
        if row is None:
            if len(adds) == 1:
                return 2
            continue
        row["headline"] = headline(row)
        results.append(row)
    if not results:
        return 2
    total = pooled(results)
    print(f"\n{SUMMARY}")
    for r in results:
        print(summary_line(r["repo"], r["suite_s"], r["suite_sum_s"], r["headline"]))
    if len(results) > 1:
        print(summary_line("pooled", sum(r["suite_s"] for r in results),
                           sum(r["suite_sum_s"] for r in results), total))
    print(f"* = the targets apply (tests s >= {GATE_SECONDS} s); "
          "suite s = one clean run's wall, tests s = sum of test durations; "
          "CPU s per candidate (the servers' start-up counted as set-up); eff = floor / hot CPU; "
          "v-eff = floor / hot CPU without the confirming runs; conf = those runs' CPU per "
          "candidate; path shares of the hot way (%); tmo CPU "
          "= share of the hot way's CPU on candidates dropped as timeout; k/m = kept per "
          "CPU-minute: full = validation CPU only, hot = incl. baseline + test map CPU "
          "amortised over every candidate a full forge validates (JSON: also as run)")
    out = args.out or (RESULTS / "validate.json" if args.zoo else None)
    if out is not None:
        data = {"bugfoundry": git_head(), "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                "machine": machine(), "args": {k: str(v) if isinstance(v, Path) else v
                                               for k, v in vars(args).items()},
                "seconds": round(time.monotonic() - started, 1),
                "pooled": total, "rows": results}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
