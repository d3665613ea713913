"""The forge's stages after the first: PR mirroring (routes a, b, c) and combine.

``ForgeRun`` is the bookkeeping every stage shares: it stores a batch of candidates, validates
the ones with no verdict yet (resume), commits each verdict as it arrives and answers with every
candidate's reason, so a later stage can build on an earlier one (route b for the fixes route a
did not recover; combinations of the bugs validated so far).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from engine.baseline import DEFAULT_RUNS, DEFAULT_TIMEOUT, run_baseline
from engine.errors import BaselineError, EnvironmentBrokenError
from engine.forge.setup import base_tree, build_validator
from engine.forge.summary import ForgeSummary
from engine.lm.client import LMClient, LMSettings
from engine.logs import Log, quiet
from engine.mining import FixCommit, MiningConfig, mine
from engine.models import Baseline, Candidate, Recipe, RepoRecord, Verdict
from engine.store import Store
from engine.strategies.combine import CombineConfig, combinations, f2p_relation
from engine.strategies.pr_mirror import NO_LM, Attempt, Mirror, Undo, outside_roots
from engine.testmap import TestMap
from engine.validation.validator import RETRIED_ALONE, Validator
from engine.workspace import Workspace

RUN_ERROR_LIMIT = 5  # run errors before any other verdict that stop a forge
RUN_ERROR_STREAK = 25  # consecutive run errors that stop it at any point
COMMIT_BATCH = 200  # verdicts committed in one transaction at most (a Ray driver's backlog)

if TYPE_CHECKING:
    from engine.environments.base import Environment
    from engine.forge.ray_pool import RayPool
    from engine.realism.gate import RealismGate


class Pool(Protocol):
    """What validates a batch for the forge: the local ``Validator`` or a ``RayPool``."""

    paths: dict[str, int]

    @property
    def workers(self) -> Sequence[Any]: ...  # each with ``off``: why a server is off

    def run(self, candidates: Iterable[Candidate]
            ) -> Generator[tuple[Candidate, Verdict], None, None]: ...

    def backlog(self) -> int: ...  # verdicts finished and waiting to be yielded

    def close(self) -> None: ...


@dataclass(frozen=True)
class ForgeOptions:
    """What to forge and how: the CLI's ``forge`` options (the TUI's forge form fills these).

    ``max_candidates`` caps each stage (fix commits for pr_mirror). ``lm`` gives the LM
    strategies their model, endpoint and budget (PR mirroring's route c uses it when set);
    ``undo`` replaces it for route c. ``workers`` is capped by the cores unless
    ``force_workers``; ``retry_timeouts`` validates again the candidates an earlier run
    stored as ``timeout`` (older runs did not retry them alone). ``min_realism`` drops kept
    synthetic candidates scoring below it (``low_realism``); ``prefer_realistic`` samples
    modifiers in proportion to how well their bugs validate and score in this repo so far.
    ``modifiers`` restricts the procedural strategy to those names.
    ``backend`` None uses the repo's current environment. ``prepare`` stores the first
    batch's candidates and validates none (``forge --prepare``, before shards);
    ``stored_only`` generates none and validates the stored candidates without a verdict
    (a shard, on its shard file). ``ray`` (an address, "" for a local Ray) validates on
    Ray actors instead of the local pool, in shards of at most ``ray_shard`` candidates;
    ``ray_registry`` (docker) is where nodes lacking the repo's image pull it from.
    """

    max_candidates: int | None = None
    seed: int = 0
    workers: int | None = None
    force_workers: bool = False  # more workers than cores, as asked
    retry_timeouts: bool = False  # re-validate the candidates stored as timeout
    timeout: float | None = None
    validation: str = "auto"
    baseline_runs: int = DEFAULT_RUNS
    baseline_timeout: float = DEFAULT_TIMEOUT
    backend: str | None = None
    mining: MiningConfig | None = None
    undo: Undo | None = None
    issues: dict[int, str] | None = None
    combine: CombineConfig | None = None
    lm: LMSettings | None = None
    min_realism: float | None = None
    prefer_realistic: bool = False
    modifiers: tuple[str, ...] | None = None  # procedural modifiers to use (None: all)
    prepare: bool = False
    stored_only: bool = False
    ray: str | None = None  # forge --ray [ADDRESS]: "" a local Ray, None no Ray
    ray_shard: int = 100  # candidates per shard sent to a Ray actor
    ray_registry: str = ""  # docker: nodes lacking the image pull it from HOST/PREFIX
    ray_share: bool = False  # the cluster is shared with other repos' forges: give slots back


@dataclass(frozen=True)
class ForgeHooks:
    """How a caller follows a forge and stops it (the CLI's progress bar, the TUI's worker).

    ``should_stop`` is polled after each verdict (the TUI's cancel key): when it returns True,
    running test processes are killed and every verdict stored so far is kept.
    """

    log: Log = quiet
    on_total: Callable[[int, int], None] | None = None
    on_verdict: Callable[[Candidate, Verdict], None] | None = None
    should_stop: Callable[[], bool] | None = None


@dataclass
class ForgeRun:
    """One forge run's shared state: where to validate, what was selected, the options and
    hooks it was started with, and the head validator every stage shares.

    The head validator (its trees and warm fork servers) lives for the whole run: use the run
    as a context manager (``with ForgeRun(...) as run``), which closes it once at the end,
    on error and on Ctrl-C too.
    """

    ws: Workspace
    store: Store
    repo: RepoRecord
    env: Environment
    recipe: Recipe
    baseline: Baseline
    testmap: TestMap | None
    summary: ForgeSummary
    run_id: str
    workers: int  # options.workers, capped by the cores
    options: ForgeOptions = field(default_factory=ForgeOptions)
    hooks: ForgeHooks = field(default_factory=ForgeHooks)
    client: LMClient | None = None  # the model, when a stage uses one
    gate: RealismGate | None = None  # forge --min-realism: drops low-scoring synthetic bugs
    selected: list[str] = field(default_factory=list)  # candidate ids, every stage
    _head: Validator | None = None
    _ray: RayPool | None = None
    _ran_ok: bool = False  # some candidate of this run got a verdict other than run_error
    _paths: Counter[str] = field(default_factory=Counter)
    _off: set[str] = field(default_factory=set)

    def __enter__(self) -> ForgeRun:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the head validator's fork servers (once, at the end of the run)."""
        if self._head is not None:
            self._head.close()
        if self._ray is not None:
            self._ray.close()

    @property
    def log(self) -> Log:
        return self.hooks.log

    @property
    def stopped(self) -> bool:
        """Interrupted, or asked to stop (polled between verdicts and between base checks)."""
        if not self.summary.interrupted and self._stop_asked():
            self.summary.interrupted = True
        return self.summary.interrupted

    def _stop_asked(self) -> bool:
        return self.hooks.should_stop is not None and self.hooks.should_stop()

    def head_validator(self, todo: int) -> Validator:
        """The validator at the pinned commit (built once, on as many trees as work needs)."""
        if self._head is None:
            mode = self.options.validation
            self._head = build_validator(
                self.ws, self.repo, self.env, self.recipe, self.baseline, self.testmap,
                mode=mode, workers=min(self.workers, max(1, todo)),
                timeout=self.options.timeout, log=self.log)
            self.log(f"validating on {len(self._head.workers)} workers ({mode} "
                     f"validation{'' if self.testmap else ', no test map'}) ...")
        return self._head

    def head_pool(self, todo: int) -> Pool:
        """What validates at the pinned commit: the head validator, or with ``--ray`` the
        actors of a Ray cluster (started once, on as many slots as it has CPUs)."""
        if self.options.ray is None:
            return self.head_validator(todo)
        if self._ray is None:
            from engine.forge.ray_pool import RayPool

            self._ray = RayPool(
                self.ws, self.repo, self.env.backend, self.recipe, self.baseline, self.testmap,
                mode=self.options.validation, timeout=self.options.timeout,
                address=self.options.ray, slots=self.options.workers,
                shard=self.options.ray_shard, registry=self.options.ray_registry,
                release_idle=self.options.ray_share, log=self.log)
            self.log(f"validating on {len(self._ray.workers)} Ray actors ("
                     f"{self.options.ray or 'local Ray'}, shards of at most "
                     f"{self._ray.shard} candidates) ...")
        return self._ray

    @contextmanager
    def _validator(self, baseline: Baseline, todo: int) -> Iterator[Pool]:
        """The head pool (kept open for the next stage), or a validator for another commit's
        ``baseline`` (route b), closed when its batch is done."""
        if baseline is self.baseline:
            yield self.head_pool(todo)
            return
        with build_validator(self.ws, self.repo, self.env, self.recipe, baseline, None,
                             mode=self.options.validation, workers=1,
                             timeout=self.options.timeout, log=self.log) as validator:
            yield validator

    def store_only(self, cands: Sequence[Candidate]) -> None:
        """Store ``cands`` as selected by this run and validate none (``forge --prepare``:
        the shards validate them)."""
        self.store.add_candidates(self.run_id, cands)
        done = self.store.done_candidate_ids(self.repo.name)
        self.selected.extend(c.candidate_id for c in cands)
        self.summary.candidates += len(cands)
        self.summary.already_done += sum(c.candidate_id in done for c in cands)

    def validate(self, cands: Sequence[Candidate], baseline: Baseline | None = None,
                 before_record: Callable[[Candidate, Verdict], None] | None = None
                 ) -> dict[str, str]:
        """Store ``cands``, validate those with no verdict yet (against ``baseline``, default
        the pinned one) and return every candidate's reason ("kept" or why it was dropped)."""
        baseline = baseline or self.baseline
        self.store.add_candidates(self.run_id, cands)
        self._stored_timeouts(cands)
        known = dict(self.store.verdict_reasons(self.repo.name))
        reasons = {c.candidate_id: known[c.candidate_id] for c in cands
                   if c.candidate_id in known}
        todo = [c for c in cands if c.candidate_id not in reasons]
        self.selected.extend(c.candidate_id for c in cands)
        self.summary.candidates += len(cands)
        self.summary.already_done += len(cands) - len(todo)
        if self.hooks.on_total:
            self.hooks.on_total(self.summary.candidates, self.summary.already_done)
        if not todo or self.stopped:
            return reasons
        with self._validator(baseline, len(todo)) as validator:
            self._run(validator, todo, baseline, reasons, before_record)
        return reasons

    def _run(self, validator: Pool, todo: list[Candidate], baseline: Baseline,
             reasons: dict[str, str],
             before_record: Callable[[Candidate, Verdict], None] | None) -> None:
        """Validate ``todo`` and commit each verdict as it arrives (into ``reasons`` too)."""
        results = validator.run(todo)
        held: list[tuple[Candidate, Verdict]] = []  # run errors not stored yet (see below)
        batch: list[tuple[Candidate, Verdict]] = []  # arrived together: one commit

        def record(cand: Candidate, verdict: Verdict) -> None:
            if before_record is not None:
                before_record(cand, verdict)
            batch.append((cand, verdict))
            if len(batch) >= COMMIT_BATCH or not validator.backlog():
                flush()

        def flush() -> None:
            """Commit the verdicts that arrived while others were waiting in one transaction
            (the local pool hands them one at a time: one commit each, as before)."""
            if not batch:
                return
            self.store.record_results(batch, baseline)
            for cand, verdict in batch:
                reasons[cand.candidate_id] = verdict.reason
                self.summary.validated_now += 1
                self.summary.kept_now += int(verdict.kept)
                if self.hooks.on_verdict:
                    self.hooks.on_verdict(cand, verdict)
            batch.clear()

        try:
            for cand, raw in results:
                verdict = (self.gate.judge(cand, raw)
                           if self.gate is not None and cand.strategy != "pr_mirror" else raw)
                if verdict.reason == "run_error":
                    # pytest itself failed: the environment may be broken. Such verdicts are
                    # held back, so a run stopped here leaves those candidates to retry.
                    held.append((cand, verdict))
                    self._check_run_errors(held)
                    continue
                self._ran_ok = True
                for pair in held:
                    record(*pair)
                held.clear()
                record(cand, verdict)
                if self._stop_asked():
                    self.summary.interrupted = True
                    break
            else:
                if held:
                    self._check_run_errors(held, final=True)
                for pair in held:
                    record(*pair)
        except KeyboardInterrupt:
            self.summary.interrupted = True
        finally:
            flush()
            results.close()
            self._paths.update(validator.paths)
            validator.paths.clear()
            self._off |= {f"{kind}: {why}" for w in validator.workers
                          for kind, why in w.off.items()}

    def _stored_timeouts(self, cands: Sequence[Candidate]) -> None:
        """With ``retry_timeouts``, forget the stored ``timeout`` verdicts of ``cands`` (they
        are validated again, each timeout retried alone); without, say how many were stored
        by older runs that never retried them alone (overload may have made them)."""
        stored = self.store.timeout_details(self.repo.name)
        ids = [c.candidate_id for c in cands if c.candidate_id in stored]
        if not ids:
            return
        if self.options.retry_timeouts:
            n = self.store.forget_timeouts(self.repo.name, ids)
            self.summary.timeouts_retried += n
            self.log(f"--retry-timeouts: validating again {n} candidates stored as timeout")
            return
        older = sum(RETRIED_ALONE not in stored[i] for i in ids)
        if older:
            self.log(f"{older} candidates were stored as timeout by an older run that did not "
                     "retry them alone (load may have slowed them); forge --retry-timeouts "
                     "validates them again")

    def _check_run_errors(self, held: list[tuple[Candidate, Verdict]],
                          final: bool = False) -> None:
        """Stop the forge when pytest cannot run at all: the first verdicts of a run (or a
        long streak of them) all being run errors means the environment, not the
        candidates, is at fault."""
        first = not self._ran_ok
        if (first and (len(held) >= RUN_ERROR_LIMIT or final)) or len(held) >= RUN_ERROR_STREAK:
            detail = held[0][1].detail.splitlines()[0][:300] if held[0][1].detail else ""
            raise EnvironmentBrokenError(
                f"pytest could not run for {len(held)} candidates in a row in the "
                f"{self.env.backend} environment of {self.repo.name}: {detail}\n"
                f"Check it with: bugfoundry baseline {self.repo.name} --fresh (or rebuild it: "
                f"bugfoundry env build {self.repo.name} --rebuild); nothing was stored for them.")

    def finish(self) -> None:
        self.summary.paths = dict(sorted(self._paths.items()))
        self.summary.hot_off = sorted(self._off)


# ---------------------------------------------------------------------- PR mirroring
class Bases:
    """Route b's question: can the repo's environment run the tests at a fix commit?

    The answer is a baseline at that commit (flake-checked like the pinned one, stored, reused
    on resume) in which at least one of the fix's own tests passes; a commit the environment
    cannot run is remembered (``base_checks``) so it is not run again.
    """

    def __init__(self, run: ForgeRun, runs: int, timeout: float) -> None:
        self.run = run
        self.runs = runs
        # An old commit that hangs should cost minutes at most, not the whole-suite budget.
        self.timeout = min(timeout, max(60.0, 10 * run.baseline.seconds + 30))
        self.baselines: dict[str, Baseline] = {}

    def check(self, commit: FixCommit) -> str:
        r = self.run
        outside = outside_roots(commit.source_files, r.recipe.source_roots)
        if outside:
            return (f"the layout changed: {outside[0]} is outside the environment's source "
                    f"roots ({', '.join(r.recipe.source_roots)})")
        stored = r.store.base_check(r.repo.name, commit.sha, r.recipe.hash)
        if stored is not None and not stored[0]:
            return stored[1]
        baseline = r.store.latest_baseline(r.repo.name, commit.sha, backend=r.env.backend)
        if baseline is None:
            tree = base_tree(r.ws, r.repo, commit.sha, generated=r.env.generated_dir)
            r.log(f"route b: baseline at {commit.sha[:10]} ({commit.subject[:50]}) ...")
            try:
                baseline = run_baseline(r.env, tree, r.recipe, r.repo.name, commit.sha,
                                        runs=self.runs, timeout=self.timeout)
            except BaselineError as exc:
                why = ("the environment cannot run the tests there: "
                       + "; ".join(str(exc).splitlines()[:2]))
                r.store.save_base_check(r.repo.name, commit.sha, r.recipe.hash, False, why)
                return why
            r.store.save_baseline(baseline, r.recipe.hash, r.env.backend)
            r.store.save_base_check(r.repo.name, commit.sha, r.recipe.hash, True,
                                    baseline_id=baseline.baseline_id)
        self.baselines[commit.sha] = baseline
        ran = [n for n in baseline.tests if n.split("::", 1)[0] in commit.test_files]
        if not any(n in baseline.passing for n in ran):
            return (f"none of the fix's tests passes at its own commit "
                    f"({len(ran)} ran, {len(baseline.passing)}/{len(baseline.tests)} pass)")
        return ""


def mirror_stage(run: ForgeRun) -> None:
    """Mine the fix commits and recover each by the cheapest route whose candidate is kept.

    Route c undoes a fix through ``options.undo``, else through the run's model (if any).
    """
    start = time.monotonic()
    repo, opts = run.repo, run.options
    undo = opts.undo
    if undo is None and run.client is not None:
        from engine.lm.undo import make_undo

        undo = make_undo(run.client, run.store, repo.name)
    commits = mine(Path(repo.path), repo.commit, opts.mining or MiningConfig())
    fixes = [c for c in commits if not c.skip][:opts.max_candidates or None]
    report = run.summary.mirror
    report.update(commits_scanned=len(commits), fix_commits=len([c for c in commits
                                                                  if not c.skip]),
                  attempted=len(fixes), skipped=dict(Counter(c.skip for c in commits
                                                             if c.skip).most_common()))
    run.log(f"pr_mirror: {report['fix_commits']} fix commits in {len(commits)} commits; "
            f"trying {len(fixes)}")
    bases = Bases(run, opts.baseline_runs, opts.baseline_timeout)
    mirror = Mirror(repo, base_check=bases.check, undo=undo, issues=opts.issues)
    attempts = [mirror.attempt(c) for c in fixes]
    # Route a: every candidate at the pinned commit, validated together.
    _route(run, attempts, "a", mirror.route_a)
    # Route b: one base commit at a time, each with its own baseline.
    for at in [a for a in attempts if not a.route]:
        if run.stopped:
            break
        cand = mirror.route_b(at)
        if cand is not None:
            _settle(at, "b", cand, run.validate([cand], bases.baselines[at.commit.sha]))
    _route(run, [a for a in attempts if not a.route], "c", mirror.route_c)
    recovered = Counter(a.route for a in attempts if a.route)
    report["recovered"] = {r: recovered.get(r, 0) for r in "abc"}
    report["unrecovered"] = dict(Counter(_last_failure(a) for a in attempts
                                         if not a.route).most_common())
    report["commits"] = [{"sha": a.commit.sha, "subject": a.commit.subject,
                          "route": a.route, "failed": a.failed} for a in attempts]
    report["seconds"] = round(time.monotonic() - start, 2)


def _route(run: ForgeRun, attempts: list[Attempt], route: str,
           make: Callable[[Attempt], Candidate | None]) -> None:
    if run.stopped or not attempts:
        return
    pairs = [(at, cand) for at in attempts if (cand := make(at)) is not None]
    reasons = run.validate([cand for _, cand in pairs])
    for at, cand in pairs:
        _settle(at, route, cand, reasons)


def _settle(at: Attempt, route: str, cand: Candidate, reasons: dict[str, str]) -> None:
    reason = reasons.get(cand.candidate_id, "not validated (interrupted)")
    if reason == "kept":
        at.route = route
    else:
        at.failed[route] = f"candidate dropped: {reason}"


def _last_failure(at: Attempt) -> str:
    """The short reason a fix was not recovered: the last route's that was really tried
    (route c without an LM says nothing), without detail."""
    tried = [(r, why) for r, why in at.failed.items() if why != NO_LM] or list(
        at.failed.items()) or [("-", "not tried")]
    route, why = tried[-1]
    return f"{route}: {why.split(':')[0]}"


# ---------------------------------------------------------------------- combine
def combine_stage(run: ForgeRun) -> None:
    """Combine the validated single-entity bugs at the pinned commit, then re-validate."""
    config = replace(run.options.combine or CombineConfig(), seed=run.options.seed)
    max_candidates = run.options.max_candidates
    comps = run.store.combinable_instances(run.repo.name, run.repo.commit)
    root = Path(run.repo.path)

    def read(rel: str) -> str | None:
        path = root / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None

    cands = combinations(comps, run.repo.name, config, read)[:max_candidates or None]
    run.log(f"combine: {len(comps)} validated single-entity bugs -> {len(cands)} combinations "
            f"({', '.join(config.scopes)})")
    f2p = {c.instance_id: list(c.f2p) for c in comps}

    def relate(cand: Candidate, verdict: Verdict) -> None:
        if verdict.kept:
            cand.meta["f2p_relation"] = f2p_relation(
                verdict.fail_to_pass, [f2p.get(i, []) for i in cand.meta["components"]])

    reasons = run.validate(cands, before_record=relate)
    per_kind: dict[str, dict[str, int]] = {}
    for cand in cands:
        row = per_kind.setdefault(cand.modifier, {"candidates": 0, "kept": 0})
        row["candidates"] += 1
        row["kept"] += int(reasons.get(cand.candidate_id) == "kept")
    relations = Counter(r.get("f2p_relation") for r in run.store.instance_metas(
        [c.candidate_id for c in cands if reasons.get(c.candidate_id) == "kept"]))
    run.summary.combine = {"inputs": len(comps), "kinds": per_kind,
                           "f2p_relations": dict(relations.most_common())}
