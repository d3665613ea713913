"""Baseline: run the clean repo's suite several times, quarantine flaky tests.

Only tests that pass in every run can become FAIL_TO_PASS or PASS_TO_PASS; a test whose outcome
changes between runs is flaky and never used, so a flaky test can never fake a bug.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import BaselineError
from engine.logs import Log, quiet
from engine.models import PASSED, Baseline, BaselineTest, Recipe, TestRun
from engine.testmap import IMPORT, TestMap, load_map_file
from engine.validation.testrun import last_line, run_pytest

if TYPE_CHECKING:
    from engine.environments.base import Environment

DEFAULT_RUNS = 2
DEFAULT_TIMEOUT = 1800.0


def fold_runs(repo: str, commit: str, runs: list[TestRun],
              also: Sequence[TestRun] = ()) -> Baseline:
    """Combine several runs into per-test stable outcomes (pure; unit-tested).

    A test whose outcome changes between runs is flaky; a test that is not collected under the
    same id in every run (nor by the runs in ``also``, whose collections alone count, such as
    a collect-only run at another hash seed), or whose id names other parameters in another
    run (fingerprints differ: ids by position over a set follow the hash seed), has an
    unstable id. Neither can ever be FAIL_TO_PASS or PASS_TO_PASS.
    """
    nodeids: list[str] = []
    seen: set[str] = set()
    for run in runs:
        for nid in run.outcomes:
            if nid not in seen:
                seen.add(nid)
                nodeids.append(nid)
    tests: dict[str, BaselineTest] = {}
    for nid in nodeids:
        outcomes = tuple(run.status(nid) for run in runs)
        present = [o for run, o in zip(runs, outcomes, strict=True) if nid in run.outcomes]
        durations = [run.outcomes[nid].duration for run in runs if nid in run.outcomes]
        prints = {run.fingerprints.get(nid) for run in [*runs, *also] if run.fingerprints}
        unstable = (len(present) < len(runs) or len(prints) > 1
                    or any(nid not in run.collected for run in also))
        tests[nid] = BaselineTest(
            nodeid=nid,
            outcome=present[0],
            duration=round(statistics.median(durations), 6) if durations else 0.0,
            flaky=len(set(present)) > 1,
            outcomes=outcomes,
            unstable_id=unstable,
        )
    seconds = statistics.median([r.duration for r in runs]) if runs else 0.0
    baseline = Baseline(uuid.uuid4().hex[:12], repo, commit, len(runs), tests, round(seconds, 3))
    baseline.fingerprints = dict(runs[0].fingerprints) if runs else {}
    return baseline


def mark_unstable(baseline: Baseline, other: TestRun) -> Baseline:
    """Flag the baseline's tests that another run (the tracing one) did not collect under the
    same id, or collected with other parameters behind the id."""
    for nid, t in list(baseline.tests.items()):
        moved = (nid in baseline.fingerprints and nid in other.fingerprints
                 and baseline.fingerprints[nid] != other.fingerprints[nid])
        if (nid not in other.collected or moved) and not t.unstable_id:
            baseline.tests[nid] = replace(t, unstable_id=True)
    return baseline


def hash_seeds(runs: int) -> list[int]:
    """The first run at hash seed 0 (what validation uses), the others at random seeds, so a
    test whose outcome or id depends on set/dict order is caught as flaky or unstable."""
    rng = random.SystemRandom()
    return [0] + [rng.randrange(1, 2**32 - 1) for _ in range(runs - 1)]


def run_baseline(
    env: Environment,
    tree: Path,
    recipe: Recipe,
    repo: str,
    commit: str,
    *,
    runs: int = DEFAULT_RUNS,
    timeout: float = DEFAULT_TIMEOUT,
    log: Log = quiet,
) -> Baseline:
    """Run the suite ``runs`` times on a clean tree; refuse a repo with no passing test."""
    results: list[TestRun] = []
    seeds = hash_seeds(max(2, runs))
    for i, seed in enumerate(seeds):
        log(f"baseline run {i + 1}/{len(seeds)} ...")
        run = run_pytest(env, tree, recipe, None, timeout=timeout, tb="short", hash_seed=seed,
                         extra_env={"BUGFOUNDRY_FINGERPRINT": "1"})
        if run.timed_out:
            raise BaselineError(
                f"{repo}: the clean test suite did not finish within {timeout:.0f}s.\n"
                "Its tests hang or are very slow; pass --baseline-timeout to allow more time."
            )
        if not run.outcomes:
            why = (run.collection_errors[0] if run.collection_errors
                   else last_line(run.output_tail) or "(no output)")
            raise BaselineError(
                f"{repo}: pytest found no tests to run (exit code {run.exit_code}).\n"
                f"pytest said: {why}"
            )
        results.append(run)
    # One more collection at a third hash seed: cheap, and ids by position over a set rarely
    # land on the same parameters three times.
    log("collecting once more to check test ids ...")
    collect = run_pytest(env, tree, recipe, None, timeout=timeout, tb="no",
                         hash_seed=hash_seeds(2)[1], extra_args=["--collect-only"],
                         extra_env={"BUGFOUNDRY_FINGERPRINT": "1"})
    baseline = fold_runs(repo, commit, results, also=[collect] if collect.collected else [])
    require_passing(baseline, results[0])
    return baseline


def require_passing(baseline: Baseline, first_run: TestRun | None = None) -> None:
    """Refuse a baseline with no stable passing test, saying which of the reasons it is."""
    if baseline.passing:
        return
    repo = baseline.repo
    passed = [t for t in baseline.tests.values() if t.outcome == PASSED]
    if passed:
        unstable = sum(t.unstable_id for t in passed)
        raise BaselineError(
            f"{repo}: each of the {len(passed)} passing tests is flaky "
            f"({len(passed) - unstable}) or has a test id that changes between runs "
            f"({unstable}); nothing can be validated.\n"
            "Ids built from object reprs or set order cannot be named in a dataset; "
            "see `bugfoundry baseline REPO --json`."
        )
    statuses: dict[str, int] = {}
    for t in baseline.tests.values():
        statuses[t.outcome] = statuses.get(t.outcome, 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    outcomes = first_run.outcomes.values() if first_run else []
    first = next((t for t in outcomes if t.outcome != PASSED), None)
    hint = _error_line(first.message) if first and first.message else (
        last_line(first_run.output_tail) if first_run else "") or "(no output)"
    raise BaselineError(
        f"{repo}: no test passes on the clean repo ({counts}); nothing can be validated.\n"
        f"first failure: {hint}"
    )


def _error_line(text: str) -> str:
    """pytest's own "E   ..." line (the assertion or exception), else the last line."""
    for ln in text.splitlines():
        if ln.startswith("E "):
            return ln[1:].strip()[:240]
    return last_line(text) or "(no output)"


@dataclass
class MapResult:
    """The tracing run: its map (None when unusable), the ids it collected, and why not."""

    testmap: TestMap | None
    run: TestRun  # the tracing run (its collected ids and fingerprints check test identity)
    problem: str = ""  # why there is no usable map (said to the user, one line)


def run_test_map(env: Environment, tree: Path, recipe: Recipe, *, timeout: float,
                 log: Log = quiet) -> MapResult:
    """One more run of the clean suite under the mapping plugin (probes before Python 3.12,
    ``sys.monitoring`` after); a second one under its tracer when a project module was
    imported past the probes (the first map would miss what that module ran).

    Kept apart from the flake-check runs because recording slows tests down, which could make
    a timing-sensitive test look flaky. A map in which no test executed any of the project's
    code is refused (something else held the trace hook, or the recorder saw no file of the
    tree): forging then falls back to mutating everything and running the whole suite,
    instead of silently finding nothing to mutate.
    """
    fd, path = tempfile.mkstemp(prefix="bf-map-", suffix=".json", dir=env.scratch_dir)
    os.close(fd)
    try:
        log("mapping which tests execute which code ...")

        def traced(**more: str) -> TestRun:
            return run_pytest(env, tree, recipe, None, timeout=timeout, tb="no",
                              extra_args=["-p", "bugfoundry_map"], hash_seed=hash_seeds(2)[1],
                              extra_env={"BUGFOUNDRY_MAP": path, "BUGFOUNDRY_FINGERPRINT": "1",
                                         **more})

        run = traced()
        spent = run.duration
        if run.timed_out or os.path.getsize(path) == 0:
            return MapResult(None, run, "the tracing run did not finish")
        tm = load_map_file(Path(path))
        if tm.unprobed:  # another loader imported these: their code ran unseen by the probes
            log(f"test map: {len(tm.unprobed)} module(s) imported past the probes "
                f"({tm.unprobed[0]}); mapping again with the tracer")
            run = traced(BUGFOUNDRY_MAP_TRACER="settrace")
            spent += run.duration
            if run.timed_out or os.path.getsize(path) == 0:
                return MapResult(None, run, "the tracing run did not finish")
            tm = load_map_file(Path(path))
        tm.seconds = round(spent, 3)
        test_files = {n.split("::", 1)[0] for n in run.collected}
        library = {f for (f, _q), tests in tm.functions.items()
                   if f not in test_files and tests - {IMPORT}}
        if not library:
            why = tm.problem or "no test executed a function of the repository's own files"
            return MapResult(None, run, f"the tracing run recorded nothing ({why})")
        return MapResult(tm, run)
    finally:
        os.unlink(path)
