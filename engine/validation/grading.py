"""What a verdict is made of, apart from running anything: the drop reasons, a diff's paths,
FAIL_TO_PASS and PASS_TO_PASS graded from a test run, the failure texts kept, and the time
budget of each run (pure functions; ``engine.validation.validator`` runs the processes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from engine.models import BAD_OUTCOMES, FAILED, MISSING, PASSED, XFAILED, Baseline, TestRun
from engine.validation.selection import Plan
from engine.validation.testrun import failure_text

# Every verdict has one of these reasons; the store keeps it, `status` and `forge` report it.
DROP_REASONS: dict[str, str] = {
    "kept": "at least one stable passing test failed with the bug (FAIL_TO_PASS >= 1)",
    "empty_patch": "the diff changes nothing",
    "unsafe_path": "the diff touches a path outside the repository",
    "did_not_apply": "the diff does not apply to the pinned commit",
    "does_not_parse": "a changed Python file no longer parses",
    "no_test_failed": "every stable test still passes (or only flaky tests failed)",
    "low_realism": "validated, but its realism score is below forge --min-realism",
    "timeout": "one test ran far past its own baseline time, or the test run exceeded the "
               "per-candidate timeout, again when retried alone with twice the budget "
               "(the bug hangs)",
    "memory": "the test run hit the sandbox's memory limit (the bug allocates without end)",
    "run_error": "pytest itself could not run (usage or internal error)",
    "not_reproducible": "the failures did not reproduce in a fresh interpreter (chance, "
                        "hash seed, test order)",
}

_DIFF_PATH_RE = re.compile(r"^(?:---|\+\+\+) (?:[ab]/)?(.+?)\s*$")
FULL_FAILURE_TEXTS = 100  # tracebacks kept whole; later failures keep their last lines
# A test that runs HANG_FACTOR times its baseline duration plus HANG_GRACE seconds hangs: the
# run is killed then (pytest_support/bugfoundry_watch.py), not when the whole budget is gone.
HANG_FACTOR = 5.0
HANG_GRACE = 2.0
# The same test's CPU budget: HANG_FACTOR x its baseline duration + HANG_CPU_GRACE CPU seconds.
# Load slows wall time, not CPU time, so the grace is small and not stretched by load: a bug
# that spins in a loop is stopped after a quarter CPU second, not 2 s (x load) of wall time.
HANG_CPU_GRACE = 0.25
# Baseline outcomes whose duration timed the test's body (a skipped test's did not).
TIMED_OUTCOMES = frozenset({PASSED, FAILED, XFAILED})


@dataclass
class ValidationConfig:
    mode: str = "auto"  # auto (hot where possible) | cold | full (see selection.py)
    timeout: float | None = None  # fixed seconds per run; None scales with the plan
    tb: str = "short"
    full_timeout: float = 60.0  # the whole suite's timeout (forge derives it from the baseline)
    suite_seconds: float = 1.0  # one clean full-suite run (start-up + collection bound)
    slowest_test: float = 0.0  # the slowest baseline test (a session fixture's set-up lands there)
    scale: float = 1.0  # every budget times this (RETRY_SCALE while a timeout is retried alone)
    hang_factor: float = HANG_FACTOR  # per-test limit: factor x baseline duration + grace;
    hang_grace: float = HANG_GRACE  # a factor of 0 turns the per-test watch off
    hang_cpu_grace: float = HANG_CPU_GRACE  # the CPU budget's grace; 0 turns that budget off


@dataclass(frozen=True)
class HangLimits:
    """Per-test hang limits for one validator (see ``hang_limits``)."""

    # nodeid -> (call-phase limit, baseline duration[, call-phase CPU limit])
    tests: dict[str, tuple[float, ...]]
    allowance: float  # added in setup and teardown: a shared fixture's cost lands there

    def write(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"allowance": self.allowance, "tests": self.tests}, fh)


def hang_limits(baseline: Baseline, config: ValidationConfig, load: float = 1.0) -> HangLimits:
    """Each test's hang limit: ``hang_factor`` x its baseline duration + ``hang_grace``, times
    the budget's scale and the load (workers per core, when above 1: tests slow down when more
    of them share a core than the baseline had); and its CPU limit, ``hang_factor`` x the
    duration + ``hang_cpu_grace``, times the scale only (the duration is wall time, never less
    than the CPU the test used). Only tests the baseline timed whole and that behave the same
    every run are watched; any other keeps the whole-run budget (pure)."""
    if config.hang_factor <= 0:
        return HangLimits({}, 0.0)
    stretch = config.scale * max(1.0, load)

    def limit(duration: float) -> tuple[float, ...]:
        wall = round((config.hang_factor * duration + config.hang_grace) * stretch, 3)
        if config.hang_cpu_grace <= 0:
            return (wall, duration)
        cpu = (config.hang_factor * duration + config.hang_cpu_grace) * config.scale
        return (wall, duration, round(cpu, 3))

    tests = {nid: limit(t.duration) for nid, t in baseline.tests.items()
             if t.outcome in TIMED_OUTCOMES and not t.flaky and not t.unstable_id}
    return HangLimits(tests, round(config.slowest_test * stretch, 3))


def timeout_for(baseline: Baseline, override: float | None = None) -> float:
    """A bug that makes the suite much slower than the clean run is treated as hanging."""
    if override:
        return override
    return max(10.0, 4.0 * baseline.seconds + 5.0)


def plan_timeout(plan: Plan, config: ValidationConfig) -> float:
    """Seconds a run may take: scaled on the selected tests' baseline time (mutmut uses
    (estimate + 1 s) x 15; this is tighter), so a hung candidate costs seconds, not minutes.
    The cold path adds one interpreter start and collection (bounded by the clean suite)."""
    if config.timeout:
        return config.timeout * config.scale
    if plan.mode == "full":
        return config.full_timeout * config.scale
    # + the per-test grace: a hung test meets its own limit (wall, or CPU when it spins)
    # before the whole-run budget, and is dropped at once instead of retried alone
    grace = config.hang_grace if config.hang_factor > 0 else 0.0
    scaled = max(1.0, 1.0 + config.slowest_test, 5.0 * plan.estimate + 1.0) + grace
    if plan.mode == "cold":
        return max(10.0, 2.0 * config.suite_seconds + scaled) * config.scale
    return scaled * config.scale


def patch_paths(patch: str) -> list[str]:
    paths: list[str] = []
    for line in patch.splitlines():
        m = _DIFF_PATH_RE.match(line)
        if m and m.group(1) != "/dev/null" and m.group(1) not in paths:
            paths.append(m.group(1))
    return paths


def unsafe_paths(paths: Iterable[str]) -> list[str]:
    bad = []
    for p in paths:
        pp = PurePosixPath(p)
        if pp.is_absolute() or ".." in pp.parts or (pp.parts and pp.parts[0] == ".git"):
            bad.append(p)
    return bad


def grade(baseline: Baseline, run: TestRun,
          selected: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """FAIL_TO_PASS and PASS_TO_PASS over the baseline's stable passing tests (pure).

    A test that errors or vanishes (collection broke) counts as failing, unlike SWE-smith,
    which silently drops import-breaking bugs. With ``selected`` (the tests that were run),
    passing tests outside it keep their baseline outcome: they never executed the change.
    """
    chosen = None if selected is None else set(selected)
    f2p, p2p = [], []
    for nid in sorted(baseline.passing):
        if chosen is not None and nid not in chosen:
            p2p.append(nid)
            continue
        status = run.status(nid)
        if status in BAD_OUTCOMES:
            f2p.append(nid)
        elif status == PASSED:
            p2p.append(nid)
    return f2p, p2p


def vanished(baseline: Baseline, run: TestRun, selected: Sequence[str] | None = None
             ) -> list[str]:
    """Stable passing tests the run should have reported and did not, with nothing (no
    collection error, no crash) to explain it: neither F2P nor P2P (pure)."""
    names = baseline.passing if selected is None else set(selected) & baseline.passing
    return sorted(n for n in names if run.status(n) == MISSING)


def failure_texts(run: TestRun, tests: Sequence[str]) -> dict[str, str]:
    """Every failing test's text: whole tracebacks for the first ones, the last lines after
    (a run that fails hundreds of tests is read by its first failures)."""
    out = {}
    for i, nid in enumerate(tests):
        text = failure_text(run, nid)
        out[nid] = text[-3000:] if i < FULL_FAILURE_TEXTS else "\n".join(
            text.strip().splitlines()[-3:])[-600:]
    return out
