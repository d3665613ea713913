"""Confirming a kept candidate the way a harness checks it (``Confirmer.confirm``).

The verdict run may be a forked child with swapped code, at hash seed 0, among other tests;
a candidate is kept only if its FAIL_TO_PASS tests, run alone in a fresh pytest session with
the diff on disk and another hash seed, fail again, pass alone on the clean tree, and, when
they drew on unseeded randomness, fail in every repetition. A mixin of ``Validator``, which
owns the workers, the servers and the clean-run cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.logs import Log
from engine.models import BAD_OUTCOMES, PASSED, Baseline, Recipe, TestRun, Verdict
from engine.repos import reset_tree
from engine.validation.cpu import CpuSplit
from engine.validation.forkserver import ConfirmServer, ForkServer, HotUnavailable, WarmServer
from engine.validation.grading import (
    FULL_FAILURE_TEXTS,
    ValidationConfig,
    failure_texts,
    plan_timeout,
)
from engine.validation.selection import Plan

if TYPE_CHECKING:
    from engine.environments.base import Environment
    from engine.validation.validator import Worker

CHANCE_REPEATS = 8  # repetitions a test that drew on randomness must fail, every one
CONFIRM_ROUNDS = 3  # confirming runs of ever smaller FAIL_TO_PASS sets before giving up
TREE_PHASE = "confirm_tree"  # CPU of writing the bug and resetting the tree for confirming


class Confirmer:
    """The confirming half of ``Validator`` (see the module docstring)."""

    env: Environment
    recipe: Recipe
    baseline: Baseline
    config: ValidationConfig
    log: Log
    cpu: CpuSplit
    _lock: threading.Lock
    _clean: dict[tuple[str, ...], TestRun]
    _clean_seed: int

    if TYPE_CHECKING:
        def _started(self, worker: Worker, kind: type[ForkServer] | type[WarmServer]
                     ) -> ForkServer | WarmServer | None: ...

        def _pytest(self, phase: str, tree: Path, tests: list[str] | None, *,
                    runner: WarmServer | None = None, **kw: Any) -> TestRun: ...

    def _confirming(self, phase: str, worker: Worker, tests: list[str],
                    patched: dict[str, str | None], **kw: Any) -> TestRun:
        """A confirming run of ``tests`` on the tree as it is (``patched`` on disk, or clean
        when empty): in ``auto`` mode a child of the worker's confirm server (a fresh pytest
        session at the validator's non-zero hash seed, the project imported anew from disk),
        unless that server imported a changed file itself; else a new interpreter at
        ``hash_seed``."""
        server = self._started(worker, ConfirmServer) if self.config.mode == "auto" else None
        with self.cpu.phase(TREE_PHASE):
            write_files(worker.tree, patched)  # again: a server's first start resets the tree
        run = None
        if isinstance(server, ConfirmServer) and not (
                set(patched) & set(server.info.get("loaded", ()))):
            try:
                run = self._pytest(phase, worker.tree, tests, runner=server, **kw)
            except HotUnavailable as exc:
                self.log(f"confirm server unavailable ({exc}); using a new process")
        if run is None:
            run = self._pytest(phase, worker.tree, tests, **kw)
        self.cpu.ran(phase, {n: run.repeats.get(n, (1, 0))[0] or 1 for n in tests})
        return run

    def confirm(self, verdict: Verdict, plan: Plan, worker: Worker) -> Verdict:
        """Keep the candidate only if it holds as a harness would see it.

        The verdict run may be a forked child with swapped code, at hash seed 0, among other
        tests. Here the FAIL_TO_PASS tests run alone in a fresh pytest session that imports
        the project anew with the diff on disk, at another hash seed, as ``bugfoundry
        verify`` and a harness's no-op check run them (in ``auto`` mode a child of a server
        that pre-imported only pytest and its plugins, ``_confirming``; else a new
        interpreter); this run's tracebacks are what the curator reads. A test that passes here, or
        is not reported, depends on chance or on test order and is not FAIL_TO_PASS; so is a
        test that fails the same way without the bug when these tests run alone on the clean
        tree (it needs an earlier test of the suite). A test that failed but drew on
        unseeded randomness (or Hypothesis) must fail in ``CHANCE_REPEATS`` runs with fresh
        randomness (this confirming run and ``CHANCE_REPEATS - 1`` repetitions) to stay.

        Dropping a test changes what the others run after (tomlkit: an encoder left
        registered by a dropped test made a later one fail), so the smaller set runs again,
        until the set that is kept is exactly a set that was run and failed whole.
        """
        tree = worker.tree
        current = self.baseline.ordered(verdict.fail_to_pass)
        seeds = _seeds(verdict.candidate_id)
        why: dict[str, int] = {}
        settled = False
        try:
            for _round in range(CONFIRM_ROUNDS):
                timeout = self._confirm_timeout(current, plan)
                with self.cpu.phase(TREE_PHASE):
                    reset_tree(tree)
                    write_files(tree, plan.patched)
                run = self._confirming("confirm_bug", worker, current, plan.patched,
                                       timeout=timeout, tb=self.config.tb, hash_seed=seeds[0],
                                       extra_env={"BUGFOUNDRY_TRACK_CHANCE": "1",
                                                  "BUGFOUNDRY_FULL_REPORTS":
                                                  str(FULL_FAILURE_TEXTS)})
                if run.timed_out:
                    return self._dropped(verdict, "timeout", f"the confirming run in a fresh "
                                         f"interpreter was killed after {timeout:.0f}s")
                failing = self._holding(current, run, plan, worker, timeout, seeds, why)
                if failing == current or not failing:
                    settled = bool(failing)
                    break
                current = failing
        finally:
            with self.cpu.phase(TREE_PHASE):
                reset_tree(tree)
        f2p = verdict.fail_to_pass
        dropped = len(f2p) - len(current) if settled else len(f2p)
        reasons = ", ".join(f"{n} {what}" for what, n in why.items() if n)
        if not settled:
            return self._dropped(verdict, "not_reproducible",
                                 f"none of {len(f2p)} FAIL_TO_PASS tests held in a fresh "
                                 f"interpreter: {reasons or 'the set did not settle'}")
        verdict.fail_to_pass = sorted(current)
        verdict.failures = failure_texts(run, current)
        verdict.collection_errors = {w: t[-6000:] for w, t in run.collect_messages.items()}
        verdict.detail = f"{len(current)} FAIL_TO_PASS, {len(verdict.pass_to_pass)} PASS_TO_PASS"
        if dropped:
            verdict.detail += (f"; {dropped} failures did not hold in a fresh interpreter "
                               f"({reasons}) and are not FAIL_TO_PASS")
        return verdict

    def _confirm_timeout(self, tests: list[str], plan: Plan) -> float:
        known = sum(self.baseline.tests[n].duration for n in tests if n in self.baseline.tests)
        return max(10.0 * self.config.scale, 2.0 * self.config.suite_seconds
                   + plan_timeout(Plan("cold", "", tests, known), self.config))

    def _holding(self, tests: list[str], run: TestRun, plan: Plan, worker: Worker,
                 timeout: float, seeds: tuple[int, int], why: dict[str, int]) -> list[str]:
        """Of ``tests`` (run with the bug in ``run``), those that failed, pass alone on the
        clean tree, and, when they drew on chance, fail in every repetition; ``why`` counts
        the others by reason. Leaves the bug on disk."""
        failing = [n for n in tests if run.status(n) in BAD_OUTCOMES]
        _count(why, "passed with the bug", len(tests) - len(failing))
        if failing:
            clean = self._clean_alone(worker, failing, timeout)
            held = [n for n in failing if clean.status(n) == PASSED]
            _count(why, "failed without the bug too, run alone", len(failing) - len(held))
            failing = held
            with self.cpu.phase(TREE_PHASE):
                write_files(worker.tree, plan.patched)  # (_clean_alone reset the tree)
        chancy = [n for n in failing if n in run.chance]
        if chancy:
            # ``run`` drew fresh randomness too and they failed in it: it is the first of the
            # CHANCE_REPEATS runs each must fail, so the others come here.
            more = CHANCE_REPEATS - 1
            again = self._confirming("confirm_chance", worker, chancy, plan.patched,
                                     timeout=timeout * more, tb="no", hash_seed=seeds[1],
                                     extra_env={"BUGFOUNDRY_REPEAT": str(more)})
            lucky = {n for n in chancy if again.status(n) not in BAD_OUTCOMES
                     or again.repeats.get(n, (0, 0))[1] < more}
            failing = [n for n in failing if n not in lucky]
            _count(why, f"passed in one of {CHANCE_REPEATS} runs (chance)", len(lucky))
        return failing

    def _clean_alone(self, worker: Worker, tests: list[str], timeout: float) -> TestRun:
        """``tests`` run alone, in this order, on the clean tree (cached: the clean tree is
        the same for every candidate).

        In ``auto`` mode a child of the worker's fork server runs them: the clean suite is
        collected there and nothing has run, so a test that needs an earlier test of the
        suite fails as it would alone, and the test modules are imported as in the harness's
        run with the fix (FAIL_TO_PASS with PASS_TO_PASS); it costs a fork and the tests,
        not a pytest session. Else a fresh session (``_confirming``)."""
        key = tuple(tests)
        with self._lock:
            known = self._clean.get(key)
        if known is not None:
            return known
        with self.cpu.phase(TREE_PHASE):
            reset_tree(worker.tree)
        run = self._forked_clean(worker, tests, timeout)
        if run is None:
            run = self._confirming("confirm_clean", worker, tests, {}, timeout=timeout,
                                   tb="no", hash_seed=self._clean_seed)
        if not run.timed_out:
            with self._lock:
                self._clean[key] = run
        return run

    def _forked_clean(self, worker: Worker, tests: list[str], timeout: float
                      ) -> TestRun | None:
        """``tests`` alone in a child of the worker's fork server, nothing swapped; None
        when no fork server serves (not ``auto``, or it cannot start or answer)."""
        server = self._started(worker, ForkServer) if self.config.mode == "auto" else None
        if not isinstance(server, ForkServer):
            return None
        try:
            res = server.run(tests, [], timeout=timeout)
        except HotUnavailable as exc:
            self.log(f"fork server unavailable for a clean run ({exc}); using a new session")
            return None
        self._charge_forked("confirm_clean", res.cpu)
        self.cpu.ran("confirm_clean", dict.fromkeys(tests, 1))
        return res.run

    def _charge_forked(self, phase: str, seconds: float, count: int = 1) -> None:
        """A forked child's CPU: the fork server reaped it, so it reaches our CPU only when
        the server is reaped (``_forked`` keeps it out of the servers' own share there)."""
        self.cpu.add(phase, seconds, count)
        self.cpu.add("_forked", seconds, 0)

    @staticmethod
    def _dropped(verdict: Verdict, reason: str, detail: str) -> Verdict:
        return Verdict(verdict.candidate_id, False, reason, detail,
                       tests_run=verdict.tests_run, path=verdict.path, cpu=verdict.cpu)


def _count(why: dict[str, int], what: str, n: int) -> None:
    if n:
        why[what] = why.get(what, 0) + n


def _seeds(candidate_id: str) -> tuple[int, int]:
    """Two non-zero hash seeds of the candidate's own (not 0, the verdict run's): the check
    is repeatable for a candidate and differs between candidates."""
    digest = hashlib.sha256(candidate_id.encode()).digest()
    return (1 + int.from_bytes(digest[:4], "big") % (2**32 - 2),
            1 + int.from_bytes(digest[4:8], "big") % (2**32 - 2))


def write_files(tree: Path, patched: dict[str, str | None]) -> None:
    for rel, text in patched.items():
        target = tree / rel
        if text is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
