"""Validation: apply a candidate in a private tree, run the tests, keep it if a passing test fails.

Each worker thread owns one work tree (a clone of the pinned commit) and resets it between
candidates, so no two candidates ever share a tree. Threads only run subprocesses; verdicts go
back to the caller's thread, which is the one that writes to the store.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from engine.models import BAD_OUTCOMES, PASSED, Baseline, Candidate, Recipe, TestRun, Verdict
from engine.repos import reset_tree
from engine.testrun import failure_text, run_pytest

if TYPE_CHECKING:
    from engine.environments.base import Environment

# Every verdict has one of these reasons; the store keeps it, `status` and `forge` report it.
DROP_REASONS: dict[str, str] = {
    "kept": "at least one stable passing test failed with the bug (FAIL_TO_PASS >= 1)",
    "empty_patch": "the diff changes nothing",
    "unsafe_path": "the diff touches a path outside the repository",
    "did_not_apply": "the diff does not apply to the pinned commit",
    "does_not_parse": "a changed Python file no longer parses",
    "no_test_failed": "every stable test still passes (or only flaky tests failed)",
    "timeout": "the test run exceeded the per-candidate timeout (the bug hangs)",
    "run_error": "pytest itself could not run (usage or internal error)",
    "not_reproducible": "the failures did not reproduce when re-run with tracebacks",
}

_DIFF_PATH_RE = re.compile(r"^(?:---|\+\+\+) (?:[ab]/)?(.+?)\s*$")
MAX_FAILURE_TEXTS = 40


@dataclass
class ValidationConfig:
    timeout: float = 60.0  # seconds per candidate; forge derives it from the baseline
    tb: str = "short"


def timeout_for(baseline: Baseline, override: float | None = None) -> float:
    """A bug that makes the suite much slower than the clean run is treated as hanging."""
    if override:
        return override
    return max(10.0, 4.0 * baseline.seconds + 5.0)


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


def grade(baseline: Baseline, run: TestRun) -> tuple[list[str], list[str]]:
    """FAIL_TO_PASS and PASS_TO_PASS over the baseline's stable passing tests (pure).

    A test that errors or vanishes (collection broke) counts as failing, unlike SWE-smith,
    which silently drops import-breaking bugs.
    """
    f2p, p2p = [], []
    for nid in sorted(baseline.passing):
        status = run.status(nid)
        if status in BAD_OUTCOMES:
            f2p.append(nid)
        elif status == PASSED:
            p2p.append(nid)
    return f2p, p2p


class Validator:
    """Validates candidates on a pool of private work trees, one thread per tree."""

    def __init__(self, env: Environment, recipe: Recipe, baseline: Baseline,
                 trees: list[Path], config: ValidationConfig) -> None:
        self.env = env
        self.recipe = recipe
        self.baseline = baseline
        self.trees = trees
        self.config = config
        self._free: queue.Queue[Path] = queue.Queue()
        for t in trees:
            self._free.put(t)
        self._stop = threading.Event()

    # ------------------------------------------------------------------ one candidate
    def validate(self, cand: Candidate, tree: Path) -> Verdict:
        start = time.monotonic()
        verdict = self._validate(cand, tree)
        verdict.duration = round(time.monotonic() - start, 3)
        verdict.worker = tree.name
        return verdict

    def _validate(self, cand: Candidate, tree: Path) -> Verdict:
        cid = cand.candidate_id
        paths = patch_paths(cand.patch)
        if not paths or not cand.patch.strip():
            return Verdict(cid, False, "empty_patch")
        bad = unsafe_paths(paths)
        if bad:
            return Verdict(cid, False, "unsafe_path", ", ".join(bad))
        reset_tree(tree)
        try:
            applied = _git_apply(tree, cand.patch)
            if applied:
                return Verdict(cid, False, "did_not_apply", applied)
            for rel in paths:
                target = tree / rel
                if rel.endswith(".py") and target.exists():
                    try:
                        compile(target.read_bytes(), rel, "exec")
                    except (SyntaxError, ValueError) as exc:
                        return Verdict(cid, False, "does_not_parse", f"{rel}: {exc}")
            run = run_pytest(self.env, tree, self.recipe, None, timeout=self.config.timeout,
                             tb="no")
            verdict = self.judge(cid, run)
            if verdict.kept:
                verdict = self.confirm(verdict, tree)
        finally:
            reset_tree(tree)
        return verdict

    def confirm(self, verdict: Verdict, tree: Path) -> Verdict:
        """Re-run the first F2P tests with tracebacks on (the bug still applied).

        The verdict run uses ``--tb=no`` because formatting hundreds of tracebacks costs more
        than the tests; this second, small run yields the output a curator reads and proves
        the failures reproduce. F2P tests that pass here are non-deterministic and dropped.
        """
        subset = verdict.fail_to_pass[:MAX_FAILURE_TEXTS]
        run = run_pytest(self.env, tree, self.recipe, subset, timeout=self.config.timeout,
                         tb=self.config.tb)
        unstable = {n for n in subset if run.status(n) == PASSED}
        f2p = [n for n in verdict.fail_to_pass if n not in unstable]
        if not f2p:
            return Verdict(verdict.candidate_id, False, "not_reproducible",
                           f"{len(subset)} failing tests passed when re-run",
                           tests_run=verdict.tests_run)
        verdict.fail_to_pass = f2p
        verdict.failures = {n: failure_text(run, n)[-3000:] for n in f2p[:MAX_FAILURE_TEXTS]}
        if unstable:
            verdict.detail += f"; {len(unstable)} non-reproducible failures removed"
        return verdict

    def judge(self, cid: str, run: TestRun) -> Verdict:
        f2p, p2p = grade(self.baseline, run)
        ran = sorted(run.outcomes)
        if run.timed_out:
            done = sum(1 for n in f2p if run.status(n) != "missing")
            return Verdict(cid, False, "timeout",
                           f"killed after {self.config.timeout:.0f}s; {done} tests had "
                           "already failed", tests_run=ran)
        if not run.outcomes and run.exit_code in (3, 4) and not run.collection_errors:
            return Verdict(cid, False, "run_error", run.output_tail[-1000:], tests_run=ran)
        if not f2p:
            return Verdict(cid, False, "no_test_failed", f"{len(p2p)} tests passed",
                           pass_to_pass=p2p, tests_run=ran)
        failures = {n: failure_text(run, n)[-3000:] for n in f2p[:MAX_FAILURE_TEXTS]}
        return Verdict(cid, True, "kept", f"{len(f2p)} FAIL_TO_PASS, {len(p2p)} PASS_TO_PASS",
                       fail_to_pass=f2p, pass_to_pass=p2p, tests_run=ran, failures=failures)

    # ------------------------------------------------------------------ many candidates
    def run(self, candidates: Iterable[Candidate],
            on_start: Callable[[Candidate], None] | None = None
            ) -> Iterator[tuple[Candidate, Verdict]]:
        """Yield (candidate, verdict) as they finish; at most one candidate per tree at a time.

        Stopping the generator (Ctrl-C in the caller, ``close()``) cancels what has not
        started and kills running test processes, so nothing half-done is ever reported.
        """
        pending = iter(candidates)
        workers = len(self.trees)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bf-validate") as pool:
            running: dict[Future[Verdict], Candidate] = {}
            try:
                while True:
                    while len(running) < workers:
                        cand = next(pending, None)
                        if cand is None:
                            break
                        if on_start:
                            on_start(cand)
                        running[pool.submit(self._task, cand)] = cand
                    if not running:
                        return
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        cand = running.pop(fut)
                        yield cand, fut.result()
            finally:
                self._stop.set()
                for fut in running:
                    fut.cancel()
                if running:
                    self.env.terminate_all()

    def _task(self, cand: Candidate) -> Verdict:
        tree = self._free.get()
        try:
            return self.validate(cand, tree)
        finally:
            self._free.put(tree)


def _git_apply(tree: Path, patch: str) -> str:
    """Apply with ``git apply``; returns "" on success, else git's first error line."""
    res = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=tree, input=patch,
                         capture_output=True, text=True, timeout=60)
    if res.returncode == 0:
        return ""
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    return lines[0][:500] if lines else f"git apply exited {res.returncode}"
