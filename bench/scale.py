"""Beyond one machine: throughput against workers, Ray's overhead, a simulated sharded job.

    python bench/scale.py [--candidates 24] [--workers 1,2] [--shards 1,2,4,8]
                          [--simulated 1000] [--sim-seconds 0.02] [--out bench/results/scale.json]

Five measurements (Ray's only where it is installed: ``pip install 'bugfoundry[ray]'``):

1. **Throughput** (candidates validated per second, wall) on the sample repo, the same
   ``--candidates`` each time, for the local pool (``Validator``) and a local Ray (``RayPool``,
   one actor per worker), at each ``--workers``; the pools' start (trees, actors) is timed
   apart from the run.
2. **Ray's overhead**: a stand-in actor that answers each candidate at once with a verdict
   streams shards of 1 .. 500 real candidates back the way ``RayPool`` does; what that costs
   per shard and per candidate is all Ray adds to a validation (scheduling, pickling, the
   stream), compared with the measured validation time per candidate.
3. **Driver writes**: what one DuckDB writer pays per verdict, committed one by one and in
   batches (what ``--ray`` does with the verdicts waiting when it commits).
4. **A simulated cluster**: a ``--simulated``-candidate job prepared in a store (synthetic
   candidates, one baseline), run as N shard *processes* (``--shards``) that each seed their
   shard file from the workspace read-only and commit one verdict per candidate after
   ``--sim-seconds`` of stand-in validation, then merged: the wall of the job and of each step
   (seed, validate+commit, merge), so the bookkeeping a real job adds is measured on its own.
5. **A projection for 100 machines**, written from those figures: what would bound it.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli.main import main as cli_main  # noqa: E402
from engine.forge.run import generate_candidates  # noqa: E402
from engine.forge.setup import build_validator, ensure_baseline, ensure_environment, open_repo  # noqa: E402
from engine.models import Baseline, BaselineTest, Candidate, RepoRecord, Verdict  # noqa: E402
from engine.shards import ShardSpec  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zoo import RESULTS, git_head, machine  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample.bundle"
SHARD_SIZES = (1, 10, 100, 500)


def have_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def sample_setup(home: Path) -> Iterator[tuple[Any, ...]]:
    """The sample repo in a workspace: (ws, repo, env, recipe, baseline, test map)."""
    if not (home / "bugfoundry.duckdb").exists():
        assert cli_main(["repo", "add", str(SAMPLE), "--name", "sample",
                         "--workspace", str(home)]) == 0
    ws = Workspace.open(home)
    with Store.open(ws.db_path) as store:
        repo = open_repo(ws, store, "sample")
        env, recipe = ensure_environment(ws, store, repo)
        baseline = ensure_baseline(ws, store, repo, env, recipe)
        testmap = store.load_test_map(baseline.baseline_id)
    try:
        yield ws, repo, env, recipe, baseline, testmap
    finally:
        env.close()


def throughput(setup: tuple[Any, ...], cands: list[Candidate], workers: list[int],
               ray_too: bool) -> list[dict[str, Any]]:
    ws, repo, env, recipe, baseline, testmap = setup
    rows = []
    for w in workers:
        start = time.monotonic()
        with build_validator(ws, repo, env, recipe, baseline, testmap, workers=w) as v:
            ready = time.monotonic()
            kept = sum(verdict.kept for _, verdict in v.run(cands))
            done = time.monotonic()
        rows.append(_row("local pool", w, ready - start, done - ready, len(cands), kept))
    if ray_too:
        from engine.forge.ray_pool import RayPool

        for w in workers:
            start = time.monotonic()
            pool = RayPool(ws, repo, env.backend, recipe, baseline, testmap, mode="auto",
                           timeout=None, slots=w)
            pool.ray.get([s.actor.ping.remote() for s in pool.workers])  # actors up
            ready = time.monotonic()
            try:
                kept = sum(verdict.kept for _, verdict in pool.run(cands))
            finally:
                pool.close()
            rows.append(_row("local ray", w, ready - start, time.monotonic() - ready,
                             len(cands), kept))
    return rows


def _row(pool: str, workers: int, start: float, run: float, n: int, kept: int
         ) -> dict[str, Any]:
    row = {"pool": pool, "workers": workers, "start_s": round(start, 2),
           "run_s": round(run, 2), "candidates": n, "kept": kept,
           "per_second": round(n / run, 3) if run else 0.0}
    print(f"  {pool:10} workers {workers}: start {start:6.2f}s, {n} candidates in "
          f"{run:6.2f}s = {row['per_second']:.2f}/s ({kept} kept)")
    return row


class Echo:
    """A Ray actor body that answers each candidate at once: Ray's cost and nothing else."""

    def validate(self, cands: list[Candidate]) -> Iterator[tuple[str, Verdict]]:
        for c in cands:
            yield c.candidate_id, Verdict(c.candidate_id, True, "kept",
                                          fail_to_pass=["tests/test_x.py::test_a"],
                                          pass_to_pass=[f"tests/test_x.py::test_{i}"
                                                        for i in range(50)])


def ray_overhead(cands: list[Candidate], rounds: int = 3) -> list[dict[str, Any]]:
    import ray

    actor = ray.remote(num_cpus=1)(Echo).remote()
    pool = (cands * math.ceil(max(SHARD_SIZES) / len(cands)))[:max(SHARD_SIZES)]
    rows = []
    for size in SHARD_SIZES:
        shard = pool[:size]
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            for ref in actor.validate.remote(shard):
                ray.get(ref)
            times.append(time.perf_counter() - start)
        best = min(times)
        rows.append({"shard": size, "per_shard_ms": round(best * 1000, 2),
                     "per_candidate_ms": round(best * 1000 / size, 3)})
        print(f"  ray stream of a shard of {size:3}: {best * 1000:8.2f} ms, "
              f"{best * 1000 / size:7.3f} ms per candidate")
    ray.kill(actor)
    return rows


# ---------------------------------------------------------------------- simulated job
def simulated_store(path: Path, n: int) -> None:
    """A workspace store with one repo, one baseline and ``n`` synthetic candidates."""
    commit = "c0ffee" * 6 + "beef"
    tests = {f"tests/test_x.py::test_{i}": BaselineTest(f"tests/test_x.py::test_{i}", "passed",
                                                         0.01, outcomes=("passed",) * 2)
             for i in range(200)}
    with Store.open(path) as store:
        store.add_repo(RepoRecord("sim", "sim", "path", commit, "/nowhere", ""))
        store.save_baseline(Baseline("sim-base", "sim", commit, 2, tests, 2.0), "sim-recipe")
        run_id = store.start_run("sim", ["procedural"], 0, n, 1, {"prepare": True})
        store.add_candidates(run_id, [
            Candidate("sim", "procedural", "op_change",
                      f"--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = {i}\n+a = {i + 1}\n",
                      file="x.py", entity=f"f{i}") for i in range(n)])


def shard_worker(args: tuple[str, str, int, int, float]) -> dict[str, float]:
    """One shard process: seed its file, 'validate' (sleep) and commit each verdict."""
    ws_db, out, index, count, seconds = args
    t0 = time.monotonic()
    with Store.open(Path(out)) as store:
        store.seed_shard(Path(ws_db), "sim", ShardSpec(index, count), ["procedural"])
        t1 = time.monotonic()
        baseline = store.latest_baseline("sim")
        assert baseline is not None
        p2p = sorted(baseline.passing)[1:]
        for k, cand in enumerate(store.pending_candidates("sim")):
            time.sleep(seconds)
            kept = k % 3 == 0
            store.record_result(cand, Verdict(
                cand.candidate_id, kept, "kept" if kept else "no_test_failed",
                fail_to_pass=p2p[:1] if kept else [], pass_to_pass=p2p if kept else [],
                duration=seconds), baseline)
    t2 = time.monotonic()
    return {"seed_s": t1 - t0, "validate_s": t2 - t1}


def simulated_job(n: int, shards: list[int], seconds: float) -> list[dict[str, Any]]:
    rows = []
    ctx = multiprocessing.get_context("spawn")
    for count in shards:
        with tempfile.TemporaryDirectory(prefix="bf-scale-") as tmp:
            ws_db = Path(tmp) / "bugfoundry.duckdb"
            simulated_store(ws_db, n)
            jobs = [(str(ws_db), str(Path(tmp) / f"sim.{i}-of-{count}.duckdb"), i, count,
                     seconds) for i in range(count)]
            start = time.monotonic()
            with ctx.Pool(count) as procs:
                parts = procs.map(shard_worker, jobs)
            ran = time.monotonic()
            with Store.open(ws_db) as store:
                merged = sum(store.merge_shard(Path(j[1])).merged for j in jobs)
                once = time.monotonic()
                again = sum(store.merge_shard(Path(j[1])).merged for j in jobs)
                instances = store.scalar("SELECT count(*) FROM instances")
            end = time.monotonic()
        assert merged == n and again == 0, (merged, again)
        row = {"shards": count, "candidates": n, "sim_seconds": seconds,
               "job_s": round(once - start, 2), "shards_s": round(ran - start, 2),
               "merge_s": round(once - ran, 3), "remerge_s": round(end - once, 3),
               "instances": instances,
               "seed_s_mean": round(statistics.mean(p["seed_s"] for p in parts), 3),
               "validate_commit_s_mean": round(statistics.mean(p["validate_s"]
                                                              for p in parts), 2),
               "ideal_s": round(n * seconds / count, 2)}
        commit_ms = (row["validate_commit_s_mean"] * count / n - seconds) * 1000
        row["commit_ms_per_verdict"] = round(commit_ms, 2)
        print(f"  {count} shard processes: job {row['job_s']}s (ideal {row['ideal_s']}s), "
              f"seed {row['seed_s_mean']}s each, commit {commit_ms:.2f} ms per verdict, "
              f"merge {row['merge_s']}s (again, a no-op: {row['remerge_s']}s)")
        rows.append(row)
    return rows


def driver_writes(n: int = 200, batch: int = 100) -> dict[str, Any]:
    """The driver's commit cost per verdict: one transaction each (the local pool, a Ray
    driver without a backlog) against one per ``batch`` (a Ray driver's backlog)."""
    out: dict[str, Any] = {"verdicts": n, "batch": batch}
    with tempfile.TemporaryDirectory(prefix="bf-scale-") as tmp:
        for label, size in (("single", 1), ("batched", batch)):
            db = Path(tmp) / f"{label}.duckdb"
            simulated_store(db, n)
            with Store.open(db) as store:
                baseline = store.latest_baseline("sim")
                assert baseline is not None
                cands = store.pending_candidates("sim")
                start = time.perf_counter()
                for i in range(0, n, size):
                    store.record_results([(c, Verdict(c.candidate_id, True, "kept",
                                                      fail_to_pass=["tests/test_x.py::test_0"]))
                                          for c in cands[i:i + size]], baseline)
                out[f"{label}_ms_per_verdict"] = round(
                    (time.perf_counter() - start) * 1000 / n, 3)
    print(f"  driver commits: {out['single_ms_per_verdict']} ms per verdict one by one, "
          f"{out['batched_ms_per_verdict']} ms in batches of {batch}")
    return out


# ---------------------------------------------------------------------- projection
def projection(results: dict[str, Any]) -> str:
    """100 machines, written from the measured figures."""
    local = [r for r in results["throughput"] if r["pool"] == "local pool"]
    one = min(local, key=lambda r: r["workers"])
    per_cand = one["run_s"] / one["candidates"]  # seconds per candidate on one worker
    sim = results["simulated"]
    writes = results["driver_writes"]
    commit_ms = max(writes["single_ms_per_verdict"], 0.01)
    batched_ms = max(writes["batched_ms_per_verdict"], 0.01)
    merge_per_k = statistics.median(r["merge_s"] for r in sim) / (sim[0]["candidates"] / 1000)
    cores = 100 * 16
    demand = cores / per_cand  # verdicts per second the cluster makes
    driver = 1000 / commit_ms  # verdicts per second one DuckDB writer commits
    lines = [
        f"100 machines x 16 cores = {cores} slots. At this sample's {per_cand:.2f} s per "
        f"candidate per slot they make {demand:.0f} verdicts/s; a real repo at (assumed) "
        f"5-30 s per candidate makes {cores / 30:.0f}-{cores / 5:.0f}/s.",
        f"Driver writes: one DuckDB writer commits a verdict (one transaction, its instance "
        f"with it) in {commit_ms:.1f} ms here = {driver:.0f}/s, enough for "
        f"{driver * per_cand:.0f} slots at this sample's speed, {driver * 5:.0f} at 5 s and "
        f"{driver * 30:.0f} at 30 s per candidate. --ray commits the verdicts waiting in its "
        f"backlog together ({batched_ms:.2f} ms per verdict in batches of "
        f"{writes['batch']} = {1000 / batched_ms:.0f}/s), so under load the driver keeps up "
        f"with {1000 / batched_ms * per_cand:.0f} slots at this sample's speed; shards have "
        "no shared writer at all.",
    ]
    ray_rows = results.get("ray_overhead") or []
    at100 = next((r for r in ray_rows if r["shard"] == 100), None)
    if at100:
        share = at100["per_candidate_ms"] / 1000 / per_cand
        lines.append(
            f"Ray's own cost at shards of 100: {at100['per_candidate_ms']:.2f} ms per "
            f"candidate = {share:.2%} of validation here (target < 10%); the scheduler sees "
            f"one task per shard, {cores * 4} in flight at most: not a bound.")
    lines += [
        f"Shards without Ray have no driver: each machine commits to its own file; merging "
        f"costs {merge_per_k:.2f} s per 1,000 verdicts (idempotent), so a 50k-instance job "
        f"merges in about {merge_per_k * 50:.0f} s.",
        "Image distribution: each node builds the venv from the stored recipe (uv's cache "
        "makes that seconds to a minute) or pulls the repo's Docker image once; with 100 "
        "nodes starting together a registry or shared volume serves 100 copies, the first "
        "minutes of the job, then nothing. The baseline and test map are computed once and "
        "shipped (Ray: in each actor's arguments; shards: the workspace read-only).",
        "So: shards scale to 100 machines with no shared writer (each commits to its own "
        "file; the merge is seconds); for --ray the driver's writes come first (one "
        "transaction per verdict when idle, per backlog under load), well before Ray's "
        "scheduling or the stream matter.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=24)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--shards", default="1,2,4,8")
    ap.add_argument("--simulated", type=int, default=1000)
    ap.add_argument("--sim-seconds", type=float, default=0.02)
    ap.add_argument("--workspace", type=Path, default=None)
    ap.add_argument("--no-ray", action="store_true", help="skip Ray even when installed")
    ap.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    args = ap.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    shards = [int(s) for s in args.shards.split(",")]
    ray_too = have_ray() and not args.no_ray
    given = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    results: dict[str, Any] = {"commit": git_head(), "date": time.strftime("%Y-%m-%d %H:%M"),
                               "machine": machine(), "args": given, "ray": ray_too}
    with tempfile.TemporaryDirectory(prefix="bf-scale-ws-") as tmp:
        home = args.workspace or Path(tmp) / "ws"
        with sample_setup(home) as setup:
            ws, repo, env, recipe, baseline, testmap = setup
            cands = generate_candidates(repo, ["procedural"], 0, args.candidates,
                                        covered_lines=testmap.covered_lines if testmap else None)
            if ray_too:
                import ray

                ray.init(num_cpus=max(workers), include_dashboard=False, log_to_driver=False)
            print(f"throughput on the sample repo ({len(cands)} candidates):")
            results["throughput"] = throughput(setup, cands, workers, ray_too)
            if ray_too:
                print("Ray's overhead (a stand-in actor answering at once):")
                results["ray_overhead"] = ray_overhead(cands)
                ray.shutdown()
    print("driver writes:")
    results["driver_writes"] = driver_writes()
    print(f"simulated job: {args.simulated} candidates, {args.sim_seconds}s each:")
    results["simulated"] = simulated_job(args.simulated, shards, args.sim_seconds)
    results["projection"] = projection(results)
    print("projection:\n" + results["projection"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
