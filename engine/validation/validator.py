"""Validation: run the tests that can see a candidate, keep it if a stable passing test fails.

Each worker thread owns one work tree (a clone of the pinned commit) and, for the hot path, one
warm fork server collected in that tree (``forkserver.py``). ``selection.py``
plans each candidate: hot (fork, swap the changed functions in, run the covering tests), cold
(diff on disk, a fresh pytest on the covering tests), full (diff on disk, the whole suite) or
none (no test executes the change). A candidate is kept only if it holds the way a harness
checks it: its FAIL_TO_PASS tests, run alone in a fresh pytest session with the diff on disk
and another hash seed (forked from a pytest-only server, or a new interpreter), fail again
(with tracebacks, the text a curator reads); a test that drew on unseeded randomness must
fail in every one of several repetitions. Threads only run
processes; verdicts go back to the caller's thread, which is the one that writes to the store.
Grading a run and the time budgets are ``engine/validation/grading.py``. A validator serves many
``run`` calls (every stage of a forge) with the same fork servers; its owner closes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import random
import subprocess
import threading
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.diffs import PatchError
from engine.environments.sandbox import memory_problem
from engine.errors import RepoError
from engine.logs import Log, quiet
from engine.models import (
    BAD_OUTCOMES,
    MISSING,
    PASSED,
    Baseline,
    Candidate,
    Recipe,
    TestRun,
    Verdict,
)
from engine.repos import reset_tree
from engine.validation.cpu import CpuSplit, process_cpu
from engine.validation.forkserver import ConfirmServer, ForkServer, HotUnavailable, WarmServer
from engine.validation.grading import (
    ValidationConfig,
    failure_texts,
    grade,
    patch_paths,
    plan_timeout,
    unsafe_paths,
    vanished,
)
from engine.validation.hangs import LimitFiles, hang_detail
from engine.validation.selection import Plan, Planner
from engine.validation.testrun import failure_text, last_line, run_pytest

if TYPE_CHECKING:
    from engine.environments.base import Environment

CHANCE_REPEATS = 8  # repetitions a test that drew on randomness must fail, every one
CONFIRM_ROUNDS = 3  # confirming runs of ever smaller FAIL_TO_PASS sets before giving up
RETRY_SCALE = 2.0  # a timed-out candidate runs again alone, with this many times the budget
RETRIED_ALONE = "retried alone"  # in the detail of every verdict that was


@dataclass
class Worker:
    """One private tree, and the warm fork server collected in it (started on first use)."""

    tree: Path
    servers: dict[str, ForkServer | WarmServer] = field(default_factory=dict)  # by kind
    off: dict[str, str] = field(default_factory=dict)  # kind -> why it is off on this worker


class Validator:
    """Validates candidates on a pool of private work trees, one thread per tree."""

    def __init__(self, env: Environment, recipe: Recipe, baseline: Baseline,
                 trees: list[Path], config: ValidationConfig, planner: Planner,
                 log: Log = quiet,
                 remake: Callable[[Path], object] | None = None) -> None:
        self.env = env
        self.remake = remake  # re-creates a worker's tree that was deleted mid-run
        self.recipe = recipe
        self.baseline = baseline
        self.config = config
        self.planner = planner
        self.log = log
        self.workers = [Worker(t) for t in trees]
        self._free: queue.Queue[Worker] = queue.Queue()
        for w in self.workers:
            self._free.put(w)
        self._lock = threading.Lock()
        # One pool for the validator's life: a fork server dies with the thread that started it
        # (PDEATHSIG), so a pool per ``run`` killed every server at the end of each stage.
        self._pool: ThreadPoolExecutor | None = None
        self.paths: dict[str, int] = {}  # verdicts per path (hot / cold / full / none)
        # FAIL_TO_PASS sets already run alone on the clean tree (many bugs share one set)
        self._clean: dict[tuple[str, ...], TestRun] = {}
        self._clean_seed = random.SystemRandom().randrange(1, 2**32 - 1)
        self.limits = LimitFiles(baseline, config, len(self.workers), env)
        self.cpu = CpuSplit()  # where the CPU went, by phase (exact with one worker)

    # ------------------------------------------------------------------ one candidate
    def validate(self, cand: Candidate, worker: Worker | None = None) -> Verdict:
        worker = worker or self.workers[0]
        start = time.monotonic()
        if not (worker.tree / ".git").is_dir():
            self._remade(worker)
        try:
            verdict = self._validate(cand, worker)
        except OSError:  # e.g. git or pytest started in a directory that is gone
            if (worker.tree / ".git").is_dir():
                raise
            self._remade(worker)
            verdict = self._validate(cand, worker)
        if verdict.reason == "timeout":  # what escaped the group kill must not linger
            self.env.reap(worker.tree)
        verdict.duration = round(time.monotonic() - start, 3)
        verdict.worker = worker.tree.name
        with self._lock:
            self.paths[verdict.path or "checks"] = self.paths.get(verdict.path or "checks", 0) + 1
        return verdict

    def _remade(self, worker: Worker) -> None:
        """A worker's scratch tree was deleted (by hand, a cleanup) while the run went on:
        its servers ran in it and go; the tree is made again (or a clear error)."""
        if self.remake is None:
            raise RepoError(f"the work tree {worker.tree} was removed during the run.\n"
                            "Rerun the command: every finished result is saved.")
        self.log(f"work tree {worker.tree} was removed; making it again")
        for server in worker.servers.values():
            server.close()
        worker.servers.clear()
        worker.off.clear()
        self.remake(worker.tree)

    def _validate(self, cand: Candidate, worker: Worker) -> Verdict:
        cid = cand.candidate_id
        paths = patch_paths(cand.patch)
        if not paths or not cand.patch.strip():
            return Verdict(cid, False, "empty_patch")
        bad = unsafe_paths(paths)
        if bad:
            return Verdict(cid, False, "unsafe_path", ", ".join(bad))
        try:
            plan = self.planner.plan(cand.patch, self.config.mode)
        except PatchError as exc:
            return Verdict(cid, False, "did_not_apply", str(exc)[:500])
        for rel, text in plan.patched.items():
            if rel.endswith(".py") and text is not None:
                try:
                    compile(text, rel, "exec", dont_inherit=True)
                except (SyntaxError, ValueError) as exc:
                    return Verdict(cid, False, "does_not_parse", f"{rel}: {exc}")
        if plan.mode == "none":
            return Verdict(cid, False, "no_test_failed", plan.reason,
                           pass_to_pass=sorted(self.baseline.passing), path="none")
        if plan.mode == "hot" or plan.reload:
            verdict = self._hot(cid, plan, worker)
            if verdict is not None:
                return verdict
            plan.mode = "cold"  # the hot path could not answer: same tests, fresh process
        return self._on_disk(cid, plan, worker)

    def _hot(self, cid: str, plan: Plan, worker: Worker) -> Verdict | None:
        server = self._started(worker, ForkServer)
        if not isinstance(server, ForkServer):
            return None
        assert plan.tests is not None
        try:
            res = server.run(plan.tests, plan.swaps, timeout=plan_timeout(plan, self.config),
                             limits=self.limits.current(),
                             reload={r: t for r, t in plan.patched.items() if t is not None}
                             if plan.reload else None)
        except HotUnavailable as exc:
            self.log(f"hot path unavailable for {cid} ({exc}); using the cold path")
            return None
        self.cpu.add("hot_children", res.cpu)
        self.cpu.add("_forked", res.cpu, 0)
        verdict = self.judge(cid, res.run, plan)
        verdict.path, verdict.cpu = "reload" if plan.reload else "hot", res.cpu
        return self.confirm(verdict, plan, worker) if verdict.kept else verdict

    def _started(self, worker: Worker, kind: type[ForkServer] | type[WarmServer]
                 ) -> ForkServer | WarmServer | None:
        """The worker's server of this kind, started on first use; None (and remembered as
        off for this worker) when it cannot start."""
        name = kind.kind
        if name in worker.off:
            return None
        server = worker.servers.get(name)
        if server is not None and server.alive:
            return server
        server = kind(self.env, worker.tree, self.recipe,
                      startup_timeout=max(120.0, 5 * self.config.suite_seconds),
                      hash_seed=self._clean_seed if kind is ConfirmServer else 0)
        try:
            reset_tree(worker.tree)
            with self.cpu.phase("server_starts"):
                server.start()
        except HotUnavailable as exc:
            worker.off[name] = str(exc)
            self.log(f"{name} off on {worker.tree.name}: {exc}")
            return None
        worker.servers[name] = server
        return server

    def _on_disk(self, cid: str, plan: Plan, worker: Worker) -> Verdict:
        """Cold path: the diff on disk and a fresh pytest session. In ``auto`` mode the
        session is forked from a pre-imported pytest (the warm server) when one runs."""
        tree = worker.tree
        timeout = plan_timeout(plan, self.config)
        started = (self._started(worker, WarmServer)
                   if self.config.mode == "auto" and plan.mode == "cold" else None)
        warm = started if isinstance(started, WarmServer) else None
        if warm is not None and set(plan.patched) & set(warm.info.get("loaded", ())):
            warm = None  # the server already imported a changed file: only a new process sees it
        reset_tree(tree)
        try:
            _write_files(tree, plan.patched)
            limits = self.limits.current()
            # A whole-suite run must still fail the tests of a module that no longer imports.
            expected = sorted(self.baseline.passing) if plan.tests is None else ()
            try:
                run = self._pytest("warm_runs" if warm else f"{plan.mode}_runs", tree,
                                   plan.tests, timeout=timeout, tb="no", runner=warm,
                                   limits=limits, expected=expected)
            except HotUnavailable as exc:
                self.log(f"warm path unavailable for {cid} ({exc}); using a new process")
                warm = None
                run = self._pytest(f"{plan.mode}_runs", tree, plan.tests, timeout=timeout,
                                   tb="no", limits=limits, expected=expected)
            verdict = self.judge(cid, run, plan)
            verdict.path = "warm" if warm is not None else plan.mode
            verdict.cpu = warm.last_cpu if isinstance(warm, WarmServer) else 0.0
        finally:
            reset_tree(tree)
        return self.confirm(verdict, plan, worker) if verdict.kept else verdict

    def _pytest(self, phase: str, tree: Path, tests: list[str] | None, *,
                runner: WarmServer | None = None, **kw: Any) -> TestRun:
        """``run_pytest``, its CPU charged to ``phase`` (a warm child's from its server)."""
        with self.cpu.phase(phase):
            run = run_pytest(self.env, tree, self.recipe, tests, runner=runner, **kw)
        if runner is not None:
            self.cpu.add(phase, runner.last_cpu, 0)
            self.cpu.add("_forked", runner.last_cpu, 0)
        return run

    def _confirming(self, phase: str, worker: Worker, tests: list[str],
                    patched: dict[str, str | None], **kw: Any) -> TestRun:
        """A confirming run of ``tests`` on the tree as it is (``patched`` on disk, or clean
        when empty): in ``auto`` mode a child of the worker's confirm server (a fresh pytest
        session at the validator's non-zero hash seed, the project imported anew from disk),
        unless that server imported a changed file itself; else a new interpreter at
        ``hash_seed``."""
        server = self._started(worker, ConfirmServer) if self.config.mode == "auto" else None
        _write_files(worker.tree, patched)  # again: a server's first start resets the tree
        if isinstance(server, ConfirmServer) and not (
                set(patched) & set(server.info.get("loaded", ()))):
            try:
                return self._pytest(phase, worker.tree, tests, runner=server, **kw)
            except HotUnavailable as exc:
                self.log(f"confirm server unavailable ({exc}); using a new process")
        return self._pytest(phase, worker.tree, tests, **kw)

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
        unseeded randomness (or Hypothesis) runs again ``CHANCE_REPEATS`` times with fresh
        randomness and stays only if it fails every time.

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
                reset_tree(tree)
                _write_files(tree, plan.patched)
                run = self._confirming("confirm_bug", worker, current, plan.patched,
                                       timeout=timeout, tb=self.config.tb, hash_seed=seeds[0],
                                       extra_env={"BUGFOUNDRY_TRACK_CHANCE": "1"})
                if run.timed_out:
                    return self._dropped(verdict, "timeout", f"the confirming run in a fresh "
                                         f"interpreter was killed after {timeout:.0f}s")
                failing = self._holding(current, run, plan, worker, timeout, seeds, why)
                if failing == current or not failing:
                    settled = bool(failing)
                    break
                current = failing
        finally:
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
            _write_files(worker.tree, plan.patched)  # (_clean_alone reset the tree)
        chancy = [n for n in failing if n in run.chance]
        if chancy:
            again = self._pytest("confirm_chance", worker.tree, chancy,
                                 timeout=timeout * CHANCE_REPEATS, tb="no", hash_seed=seeds[1],
                                 extra_env={"BUGFOUNDRY_REPEAT": str(CHANCE_REPEATS)})
            lucky = {n for n in chancy if again.status(n) not in BAD_OUTCOMES
                     or again.repeats.get(n, (0, 0))[1] < CHANCE_REPEATS}
            failing = [n for n in failing if n not in lucky]
            _count(why, f"passed in one of {CHANCE_REPEATS} repetitions (chance)", len(lucky))
        return failing

    def _clean_alone(self, worker: Worker, tests: list[str], timeout: float) -> TestRun:
        """``tests`` run alone, in this order, on the clean tree, in a fresh pytest session
        (``_confirming``; cached: the clean tree is the same for every candidate)."""
        key = tuple(tests)
        with self._lock:
            known = self._clean.get(key)
        if known is not None:
            return known
        reset_tree(worker.tree)
        run = self._confirming("confirm_clean", worker, tests, {}, timeout=timeout, tb="no",
                               hash_seed=self._clean_seed)
        if not run.timed_out:
            with self._lock:
                self._clean[key] = run
        return run

    @staticmethod
    def _dropped(verdict: Verdict, reason: str, detail: str) -> Verdict:
        return Verdict(verdict.candidate_id, False, reason, detail,
                       tests_run=verdict.tests_run, path=verdict.path, cpu=verdict.cpu)

    def judge(self, cid: str, run: TestRun, plan: Plan | None = None) -> Verdict:
        selected = plan.tests if plan is not None else None
        f2p, p2p = grade(self.baseline, run, selected)
        ran = sorted(n for n, o in run.outcomes.items() if o.outcome != MISSING)
        if run.timed_out:
            done = sum(1 for n in f2p if run.status(n) != MISSING)
            if run.hung is not None:  # the per-test watch: not retried (see ``run``)
                return Verdict(cid, False, "timeout", hang_detail(run.hung, done),
                               tests_run=ran, hung=run.hung.nodeid)
            limit = plan_timeout(plan, self.config) if plan else self.config.full_timeout
            return Verdict(cid, False, "timeout",
                           f"killed after {limit:.0f}s; {done} tests had already failed",
                           tests_run=ran)
        if not ran and not run.collect_messages and run.exit_code != 5:
            why = last_line(run.output_tail) or f"exit code {run.exit_code}"
            return Verdict(cid, False, "run_error",
                           f"pytest reported no test (exit code {run.exit_code}): {why}",
                           tests_run=ran)
        memory = memory_problem(getattr(self.env, "memory_limit", None),
                                [failure_text(run, n) for n in f2p])
        if memory:
            return Verdict(cid, False, "memory", memory, tests_run=ran)
        lost = vanished(self.baseline, run, selected)
        note = f"; {len(lost)} selected tests were not reported (ids changed?)" if lost else ""
        if not f2p:
            return Verdict(cid, False, "no_test_failed", f"{len(p2p)} tests passed{note}",
                           pass_to_pass=p2p, tests_run=ran)
        return Verdict(cid, True, "kept", f"{len(f2p)} FAIL_TO_PASS, {len(p2p)} PASS_TO_PASS"
                       f"{note}", fail_to_pass=f2p, pass_to_pass=p2p, tests_run=ran,
                       failures=failure_texts(run, f2p),
                       collection_errors=dict(run.collect_messages))

    # ------------------------------------------------------------------ many candidates
    def run(self, candidates: Iterable[Candidate],
            on_start: Callable[[Candidate], None] | None = None
            ) -> Generator[tuple[Candidate, Verdict], None, None]:
        """Yield (candidate, verdict) as they finish; at most one candidate per tree at a time.

        Stopping the generator (Ctrl-C in the caller, ``close()``) cancels what has not
        started and kills running test processes, so nothing half-done is ever reported.

        A candidate that timed out is held back: once every other one is done, it runs again
        alone (no other test process on the machine's cores) with ``RETRY_SCALE`` times the
        budget, and only a second timeout drops it. Tests slowed by load then no longer
        pass for hangs (on 2 cores, 30 workers stored real bugs as ``timeout``). A candidate
        stopped by the per-test watch (one test ``hang_factor`` times its own baseline time
        and ``hang_grace`` seconds over, the factor already stretched by workers per core)
        is dropped at once: load does not slow one test that much.
        """
        pending = iter(candidates)
        workers = len(self.workers)
        timed_out: list[tuple[Candidate, Verdict]] = []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bf-validate")
        pool = self._pool
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
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    cand = running.pop(fut)
                    verdict = fut.result()
                    if verdict.reason == "timeout" and not verdict.hung:
                        timed_out.append((cand, verdict))
                    else:
                        yield cand, verdict
            for cand, first in timed_out:
                fut = pool.submit(self._alone, cand, first)
                running[fut] = cand
                verdict = fut.result()
                running.pop(fut)
                yield cand, verdict
        finally:
            for fut in running:
                fut.cancel()
            if running:
                self.env.terminate_all()
                wait(running)  # the pool outlives this run: let its threads come back

    def close(self) -> None:
        """Stop the fork servers (their CPU time is then accounted to this process), then the
        threads that started them.

        ``run`` leaves them up, so one validator serves every stage of a forge; its owner
        closes it once, at the end (``with`` the validator, or ``ForgeRun``)."""
        at = process_cpu()
        for w in self.workers:
            for server in w.servers.values():
                server.close()
            w.servers.clear()
        # reaped now: the servers' own CPU (start-up, collection, forking) and their children's
        forked = self.cpu.seconds.pop("_forked", 0.0)
        self.cpu.add("servers", process_cpu() - at - forked, 0)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.limits.remove()

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _alone(self, cand: Candidate, first: Verdict) -> Verdict:
        """``cand`` validated again while nothing else runs, with ``RETRY_SCALE`` times the
        budget; the verdict's detail says so (and what the first run saw)."""
        self.config.scale = RETRY_SCALE
        try:
            verdict = self._task(cand)
        finally:
            self.config.scale = 1.0
        first_run = (f"the first run, among {len(self.workers)} worker(s), was "
                     f"{first.detail.split(';')[0]}")
        if verdict.reason == "timeout":
            verdict.detail += f"; {RETRIED_ALONE} with {RETRY_SCALE:g}x the budget ({first_run})"
        else:
            verdict.detail += (f"; timed out at first, held when {RETRIED_ALONE} with "
                               f"{RETRY_SCALE:g}x the budget ({first_run})")
        verdict.duration = round(verdict.duration + first.duration, 3)
        return verdict

    def _task(self, cand: Candidate) -> Verdict:
        worker = self._free.get()
        try:
            return self.validate(cand, worker)
        finally:
            self._free.put(worker)


def _count(why: dict[str, int], what: str, n: int) -> None:
    if n:
        why[what] = why.get(what, 0) + n


def _seeds(candidate_id: str) -> tuple[int, int]:
    """Two non-zero hash seeds of the candidate's own (not 0, the verdict run's): the check
    is repeatable for a candidate and differs between candidates."""
    digest = hashlib.sha256(candidate_id.encode()).digest()
    return (1 + int.from_bytes(digest[:4], "big") % (2**32 - 2),
            1 + int.from_bytes(digest[4:8], "big") % (2**32 - 2))


def _write_files(tree: Path, patched: dict[str, str | None]) -> None:
    for rel, text in patched.items():
        target = tree / rel
        if text is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def list_tree_files(root: Path) -> list[str]:
    """Tracked files of the pinned checkout (what the import graph resolves against)."""
    res = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, timeout=120)
    return [f for f in res.stdout.decode(errors="replace").split("\0") if f]
