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

import queue
import random
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
    MISSING,
    Baseline,
    Candidate,
    Recipe,
    TestRun,
    Verdict,
)
from engine.repos import reset_tree
from engine.validation.confirm import Confirmer, write_files
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

RETRY_SCALE = 2.0  # a timed-out candidate runs again alone, with this many times the budget
RETRIED_ALONE = "retried alone"  # in the detail of every verdict that was


@dataclass
class Worker:
    """One private tree, and the warm fork server collected in it (started on first use)."""

    tree: Path
    servers: dict[str, ForkServer | WarmServer] = field(default_factory=dict)  # by kind
    off: dict[str, str] = field(default_factory=dict)  # kind -> why it is off on this worker


class Validator(Confirmer):
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
        # Why the hot or reload path handed a candidate on to a new pytest session, by kind
        # (``reload:conftest``, ``reload:import``, ...): what keeps import-time changes warm.
        self.fallbacks: dict[str, int] = {}
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
        # A function-body change leaves the rest of its module the original's, tree for tree
        # (``shapes``): compiling the statements the child compiles checks it whole.
        cut = {s.rel: s.source for s in plan.swaps if s.units and not s.classes}
        for rel, text in plan.patched.items():
            if rel.endswith(".py") and text is not None:
                try:
                    compile(cut.get(rel, text), rel, "exec", dont_inherit=True)
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
            with self._lock:
                self.fallbacks[exc.kind] = self.fallbacks.get(exc.kind, 0) + 1
            return None
        self._charge_forked("hot_children", res.cpu)
        if res.setup_cpu:
            self._server_setup(res.setup_cpu, 0)
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
        # The server's own start-up (interpreter, pytest, collection): paid once per forge,
        # reaped into our CPU only at ``close`` (which leaves it out of ``servers``).
        self._server_setup(float(server.info.get("cpu", 0.0)))
        return server

    def _server_setup(self, seconds: float, count: int = 1) -> None:
        self.cpu.add("server_setup", seconds, count)
        self.cpu.add("_setup_unreaped", seconds, 0)

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
            write_files(tree, plan.patched)
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
            self._charge_forked(phase, runner.last_cpu, 0)  # the run is counted above
        return run

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

    def backlog(self) -> int:
        """Verdicts finished and not yet yielded: none, each is yielded as it finishes (a
        Ray pool's answer lets the forge commit a burst in one transaction)."""
        return 0

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
        setup = self.cpu.seconds.pop("_setup_unreaped", 0.0)
        self.cpu.add("servers", process_cpu() - at - forked - setup, 0)
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
