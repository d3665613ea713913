"""Baseline: run the clean repo's suite several times, quarantine flaky tests.

Only tests that pass in every run can become FAIL_TO_PASS or PASS_TO_PASS; a test whose outcome
changes between runs is flaky and never used, so a flaky test can never fake a bug.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import BaselineError
from engine.models import PASSED, Baseline, BaselineTest, Recipe, TestRun
from engine.testmap import TestMap, load_map_file
from engine.testrun import last_line, run_pytest

if TYPE_CHECKING:
    from engine.environments.base import Environment

DEFAULT_RUNS = 2
DEFAULT_TIMEOUT = 1800.0


def fold_runs(repo: str, commit: str, runs: list[TestRun]) -> Baseline:
    """Combine several runs into per-test stable outcomes (pure; unit-tested)."""
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
        durations = [run.outcomes[nid].duration for run in runs if nid in run.outcomes]
        tests[nid] = BaselineTest(
            nodeid=nid,
            outcome=outcomes[0],
            duration=round(statistics.median(durations), 6) if durations else 0.0,
            flaky=len(set(outcomes)) > 1,
            outcomes=outcomes,
        )
    seconds = statistics.median([r.duration for r in runs]) if runs else 0.0
    return Baseline(uuid.uuid4().hex[:12], repo, commit, len(runs), tests, round(seconds, 3))


def run_baseline(
    env: Environment,
    tree: Path,
    recipe: Recipe,
    repo: str,
    commit: str,
    *,
    runs: int = DEFAULT_RUNS,
    timeout: float = DEFAULT_TIMEOUT,
    log: Callable[[str], None] = lambda s: None,
) -> Baseline:
    """Run the suite ``runs`` times on a clean tree; refuse a repo with no passing test."""
    results: list[TestRun] = []
    for i in range(max(2, runs)):
        log(f"baseline run {i + 1}/{max(2, runs)} ...")
        run = run_pytest(env, tree, recipe, None, timeout=timeout, tb="short")
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
    baseline = fold_runs(repo, commit, results)
    if not baseline.passing:
        statuses: dict[str, int] = {}
        for t in baseline.tests.values():
            statuses[t.outcome] = statuses.get(t.outcome, 0) + 1
        counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        first = next((t for t in results[0].outcomes.values() if t.outcome != PASSED), None)
        hint = _error_line(first.message) if first and first.message else (
            last_line(results[0].output_tail) or "(no output)")
        raise BaselineError(
            f"{repo}: no test passes on the clean repo ({counts}); nothing can be validated.\n"
            f"first failure: {hint}"
        )
    return baseline


def _error_line(text: str) -> str:
    """pytest's own "E   ..." line (the assertion or exception), else the last line."""
    for ln in text.splitlines():
        if ln.startswith("E "):
            return ln[1:].strip()[:240]
    return last_line(text) or "(no output)"


def run_test_map(env: Environment, tree: Path, recipe: Recipe, *, timeout: float,
                 log: Callable[[str], None] = lambda s: None) -> TestMap | None:
    """One more run of the clean suite under the tracing plugin; None when it cannot finish.

    Kept apart from the flake-check runs because tracing slows tests down, which could make a
    timing-sensitive test look flaky.
    """
    fd, path = tempfile.mkstemp(prefix="bf-map-", suffix=".json", dir=env.scratch_dir)
    os.close(fd)
    try:
        log("mapping which tests execute which code ...")
        run = run_pytest(env, tree, recipe, None, timeout=timeout, tb="no",
                         extra_args=["-p", "bugfoundry_map"],
                         extra_env={"BUGFOUNDRY_MAP": path})
        if run.timed_out or os.path.getsize(path) == 0:
            log("test map: the tracing run did not finish; every candidate will run the "
                "whole suite")
            return None
        return load_map_file(Path(path), round(run.duration, 3))
    finally:
        os.unlink(path)
