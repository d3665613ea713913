"""Forge: the pipeline end to end for one repo (env -> baseline -> candidates -> validation).

Resumable by construction: candidates are generated deterministically (same arguments, same
candidate ids), each verdict is committed as it arrives, and a rerun validates only candidates
that have no verdict yet.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.baseline import (
    DEFAULT_RUNS,
    DEFAULT_TIMEOUT,
    MapResult,
    mark_unstable,
    require_passing,
    run_baseline,
    run_test_map,
)
from engine.environments.base import Environment, make_environment
from engine.environments.detect import detect_recipe
from engine.errors import UsageError
from engine.lm.client import LMClient, LMSettings
from engine.mining import MiningConfig
from engine.models import Baseline, Candidate, Recipe, RepoRecord, Verdict
from engine.repos import ensure_copy, make_worker_tree
from engine.selection import MODES, Planner
from engine.store import Store
from engine.strategies.combine import CombineConfig
from engine.strategies.pr_mirror import Undo
from engine.testmap import TestMap
from engine.validation import ValidationConfig, Validator, list_tree_files, timeout_for
from engine.workspace import Workspace

IMPLEMENTED_STRATEGIES = ("procedural", "lm_modify", "lm_rewrite", "pr_mirror", "combine")
LM_STRATEGIES = ("lm_modify", "lm_rewrite")

Log = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


def parse_strategies(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError("--strategy needs at least one name, e.g. --strategy procedural.")
    for n in names:
        if n not in IMPLEMENTED_STRATEGIES:
            raise UsageError(f"unknown strategy {n!r}; choose from "
                             f"{', '.join(IMPLEMENTED_STRATEGIES)}.")
    return list(dict.fromkeys(names))


def get_repo(store: Store, name: str) -> RepoRecord:
    rec = store.get_repo(name)
    if rec is None:
        known = ", ".join(r.name for r in store.list_repos()) or "none yet"
        raise UsageError(f"no repo named {name!r} in this workspace (known: {known}).\n"
                         "Add it first with: bugfoundry repo add SOURCE --name NAME")
    return rec


def open_repo(ws: Workspace, store: Store, name: str, log: Log = _quiet) -> RepoRecord:
    """``get_repo`` for commands that read the workspace copy: a deleted or damaged copy is
    restored from the recorded source at the recorded commit (said in one ``log`` line)."""
    return ensure_copy(ws, get_repo(store, name), log)


def usable_cores() -> int:
    """The cores this process may run on (a container's or ``taskset``'s share, not the
    host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(asked: int | None, force: bool = False, log: Log = _quiet) -> int:
    """Validation workers: the cores by default, and never more than the cores unless the
    user insists; more workers than cores only slow each test run until hanging-looking
    timeouts drop real bugs (``--workers 1000`` ran 30 workers on 2 cores)."""
    cores = usable_cores()
    if not asked:
        return cores
    if asked > cores and not force:
        log(f"--workers {asked}: using {cores}, the number of cores; --force-workers to "
            "insist")
        return cores
    return max(1, asked)


def env_root(ws: Workspace, repo_name: str, backend: str) -> Path:
    """Where a backend keeps the repo's environment (venv: the venv; docker: image metadata)."""
    root = ws.env_path(repo_name)
    return root if backend == "venv" else root / backend


def repo_environment(ws: Workspace, repo: RepoRecord, backend: str, recipe: Recipe, *,
                     base_image: str | None = None, wheelhouse: Path | None = None
                     ) -> Environment:
    """The repo's environment object for ``backend`` and ``recipe`` (built or not)."""
    return make_environment(backend, env_root(ws, repo.name, backend), Path(repo.path), recipe,
                            cache_dir=Path(os.environ.get("UV_CACHE_DIR")
                                           or ws.cache_dir / "uv"),
                            base_image=base_image, wheelhouse=wheelhouse)


def ensure_environment(ws: Workspace, store: Store, repo: RepoRecord, *,
                       backend: str | None = None, base_image: str | None = None,
                       wheelhouse: Path | None = None, log: Log = _quiet,
                       rebuild: bool = False) -> tuple[Environment, Recipe]:
    """Detect the recipe (or replay the stored one) and build the repo's one environment.

    ``backend`` None means the repo's current one (the last built; venv for a new repo).
    ``base_image`` and ``wheelhouse`` configure a docker build (and are remembered).
    """
    stored = store.get_environment(repo.name)
    backend = backend or (stored["backend"] if stored else "venv")
    recipe = stored["recipe"] if stored and not rebuild else detect_recipe(Path(repo.path))
    env = repo_environment(ws, repo, backend, recipe, base_image=base_image,
                           wheelhouse=wheelhouse)
    if rebuild or not env.is_built():
        log(f"building the {backend} environment for {repo.name} ...")
        for note in recipe.notes:
            log(f"  recipe: {note}")
        start = time.monotonic()
        env.build(log=log)
        store.save_environment(repo.name, backend, recipe, str(env.root),
                               round(time.monotonic() - start, 2))
    else:
        if not env.generated_dir.is_dir():  # built before generated files were kept
            env.save_generated()
        if stored is None or stored["backend"] != backend:
            store.save_environment(repo.name, backend, recipe, str(env.root), 0.0)
    return env, recipe


def worker_trees(ws: Workspace, repo: RepoRecord, n: int, base: str | None = None, *,
                 generated: Path | None) -> list[Path]:
    """``n`` private trees at the pinned commit, or at ``base`` (trees of their own, so the
    pinned ones keep their warm state), with the environment's ``generated`` files."""
    return [make_worker_tree(repo, ws.worker_path(repo.name, k if base is None else f"base-{k}"),
                             base, generated) for k in range(n)]


def ensure_baseline(ws: Workspace, store: Store, repo: RepoRecord, env: Environment,
                    recipe: Recipe, *, runs: int = DEFAULT_RUNS,
                    timeout: float = DEFAULT_TIMEOUT, log: Log = _quiet,
                    fresh: bool = False) -> Baseline:
    """Reuse the stored baseline for this commit and recipe, or run a new one with its map.

    The tracing run that makes the map collects the suite once more, so a test id that it
    does not collect is unstable too. A map that cannot be made is remembered with its reason
    and said at every forge (validation then runs the whole suite).
    """
    existing = None if fresh else store.latest_baseline(repo.name, repo.commit, env.backend)
    tree = make_worker_tree(repo, ws.worker_path(repo.name, 0), generated=env.generated_dir)
    env.session_args(tree)  # probes the environment: a broken one is refused before any run
    if existing is not None:
        baseline = existing
        if store.test_map_problem(baseline.baseline_id) is None:  # traced by no run yet
            _save_map(store, baseline, _trace(env, tree, recipe, baseline, timeout, log), log)
    else:
        baseline = run_baseline(env, tree, recipe, repo.name, repo.commit, runs=runs,
                                timeout=timeout, log=log)
        traced = _trace(env, tree, recipe, baseline, timeout, log)
        if traced.run.collected:
            mark_unstable(baseline, traced.run)
        require_passing(baseline)
        store.save_baseline(baseline, recipe.hash, env.backend)
        log(f"baseline: {len(baseline.passing)}/{len(baseline.tests)} tests pass stably "
            f"({_excluded(baseline)}), suite {baseline.seconds:.2f}s")
        _save_map(store, baseline, traced, log)
    problem = store.test_map_problem(baseline.baseline_id)
    if problem:
        log(f"no test map: {problem}; every candidate runs the whole suite")
    return baseline


def _excluded(baseline: Baseline) -> str:
    flaky, unstable = len(baseline.flaky), len(baseline.unstable)
    text = f"{flaky} flaky quarantined"
    return text + (f", {unstable} with test ids that change between runs excluded"
                   if unstable else "")


def _trace(env: Environment, tree: Path, recipe: Recipe, baseline: Baseline, timeout: float,
           log: Log) -> MapResult:
    return run_test_map(env, tree, recipe, timeout=max(timeout, 10 * baseline.seconds), log=log)


def _save_map(store: Store, baseline: Baseline, traced: MapResult, log: Log) -> None:
    tm = traced.testmap
    if tm is None:
        store.save_test_map_problem(baseline.baseline_id, traced.problem)
        return
    store.save_test_map(baseline.baseline_id, tm)
    log(f"test map: {len(tm.functions)} functions executed by {len(tm.tests)} tests, "
        f"traced in {tm.seconds:.2f}s" + (f" ({tm.problem}; reclaimed)" if tm.problem else ""))


def generate_candidates(repo: RepoRecord, strategies: Sequence[str], seed: int,
                        max_candidates: int | None, *,
                        covered_lines: dict[str, set[int]] | None = None,
                        stats: dict[str, int] | None = None,
                        extra: Sequence[Candidate] = (),
                        weights: dict[str, float] | None = None) -> list[Candidate]:
    """All strategies' candidates, interleaved across modifiers, first ``max_candidates``.

    With ``covered_lines`` (from the baseline's test map) only code some test executes is
    mutated; ``stats`` receives how many entities were seen and skipped. ``extra`` holds
    candidates made elsewhere (the LM strategies, which need the store and a client).
    ``weights`` (per ``strategy/modifier``, see ``engine.realism.gate.modifier_weights``)
    interleave the modifiers in proportion instead of evenly.
    """
    from engine.strategies import procedural

    buckets: dict[str, list[Candidate]] = {}
    seen: set[str] = set()

    def add(c: Candidate) -> None:
        if c.candidate_id not in seen:
            seen.add(c.candidate_id)
            buckets.setdefault(f"{c.strategy}/{c.modifier}", []).append(c)

    for strategy in strategies:
        if strategy == "procedural":
            for c in procedural.generate(repo.name, Path(repo.path), seed=seed,
                                         covered_lines=covered_lines, stats=stats):
                add(c)
    for c in extra:
        add(c)
    ordered = _interleave(buckets, weights or {})
    return ordered[:max_candidates] if max_candidates else ordered


def _interleave(buckets: dict[str, list[Candidate]], weights: dict[str, float]
                ) -> list[Candidate]:
    """Smooth weighted round-robin over the buckets (plain round-robin with equal weights),
    so a --max sample keeps every modifier represented; unknown modifiers weigh the mean."""
    names = sorted(buckets)
    if not weights:  # plain round-robin: the order every earlier run used
        queues_rr = [list(buckets[n]) for n in names]
        out: list[Candidate] = []
        while any(queues_rr):
            for q in queues_rr:
                if q:
                    out.append(q.pop(0))
        return out
    known = [weights[n] for n in names if n in weights]
    default = sum(known) / len(known) if known else 1.0
    w = {n: max(weights.get(n, default), 1e-6) for n in names}
    queues = {n: list(buckets[n]) for n in names}
    current = dict.fromkeys(names, 0.0)
    ordered: list[Candidate] = []
    while True:
        live = [n for n in names if queues[n]]
        if not live:
            return ordered
        total = sum(w[n] for n in live)
        for n in live:
            current[n] += w[n]
        pick = max(live, key=lambda n: (current[n], -names.index(n)))
        current[pick] -= total
        ordered.append(queues[pick].pop(0))


def build_validator(ws: Workspace, repo: RepoRecord, env: Environment, recipe: Recipe,
                    baseline: Baseline, testmap: TestMap | None, *, mode: str = "auto",
                    workers: int = 1, timeout: float | None = None,
                    log: Log = _quiet) -> Validator:
    """A validator on ``workers`` private trees of the baseline's commit (forge, bench, tests).

    For another commit than the pinned one (PR mirror route b) the planner reads the original
    texts from a tree checked out at that commit.
    """
    base = None if baseline.commit == repo.commit else baseline.commit
    config = ValidationConfig(mode=mode, timeout=timeout,
                              full_timeout=timeout_for(baseline, timeout),
                              suite_seconds=baseline.seconds,
                              slowest_test=max((t.duration for t in baseline.tests.values()),
                                               default=0.0))
    generated = env.generated_dir
    root = Path(repo.path) if base is None else base_tree(ws, repo, base, generated=generated)
    planner = Planner(root, baseline, testmap, list_tree_files(root), recipe.source_roots)
    return Validator(env, recipe, baseline,
                     worker_trees(ws, repo, workers, base, generated=generated), config,
                     planner, log=log,
                     remake=lambda tree: make_worker_tree(repo, tree, base, generated))


def base_tree(ws: Workspace, repo: RepoRecord, commit: str, *, generated: Path | None
              ) -> Path:
    """The read-only tree at another commit: its baseline runs and its planner reads there."""
    return make_worker_tree(repo, ws.worker_path(repo.name, "base"), commit, generated)


@dataclass
class ForgeSummary:
    repo: str
    strategies: list[str]
    candidates: int = 0  # selected for this run
    already_done: int = 0  # had a verdict before this run started (resume)
    validated_now: int = 0
    kept_now: int = 0
    kept_total: int = 0  # among the selected candidates, after this run
    dropped_total: int = 0
    drop_reasons: dict[str, int] = field(default_factory=dict)
    yield_rate: float = 0.0
    elapsed: float = 0.0
    seconds_per_candidate: float = 0.0
    baseline_tests: int = 0
    baseline_passing: int = 0
    baseline_flaky: int = 0
    backend: str = "venv"  # the environment the tests ran in: venv | docker
    validation: str = "auto"  # what was asked: auto | cold | full
    paths: dict[str, int] = field(default_factory=dict)  # verdicts per hot/cold/full/none
    hot_off: list[str] = field(default_factory=list)  # fork/warm servers that could not start, why
    entities: int = 0  # source entities seen by the procedural strategy
    entities_uncovered: int = 0  # skipped: no test executes them
    entities_arid: int = 0  # skipped: stubs, __repr__, overloads, protocols
    mapped_functions: int = 0  # functions the test map saw executed (0 = no map)
    lm: dict[str, Any] = field(default_factory=dict)  # per LM strategy: asked, cached, cost, ...
    # pr_mirror: commits scanned, fix commits, skipped per reason, recovered per route, ...
    mirror: dict[str, Any] = field(default_factory=dict)
    combine: dict[str, Any] = field(default_factory=dict)  # inputs, per kind, F2P relations
    interrupted: bool = False
    baseline_unstable: int = 0  # tests excluded because their ids change between runs
    map_problem: str = ""  # why there is no test map (every candidate runs the whole suite)
    timeouts_retried: int = 0  # stored timeouts validated again (forge --retry-timeouts)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "nothing_forged": self.nothing_forged()}

    def nothing_forged(self) -> str:
        """Why this run forged nothing, in one line ("" when it kept something, or was
        interrupted): a forge that ends with no instance must never look like success."""
        if self.kept_total or self.interrupted:
            return ""
        if self.candidates:
            top = ", ".join(f"{n} {r}" for r, n in list(self.drop_reasons.items())[:3])
            first = next(iter(self.drop_reasons), "")
            return (f"none of the {self.candidates} candidates was kept ({top})"
                    + (f"; {ZERO_HINTS[first]}" if first in ZERO_HINTS else ""))
        why: list[str] = []
        if "procedural" in self.strategies:
            why.append(f"procedural: {self._procedural_zero()}")
        for strategy, d in self.lm.items():
            why.append(f"{strategy}: {d.get('candidates', 0)} candidates from "
                       f"{d.get('targets', 0)} target functions")
        if "pr_mirror" in self.strategies:
            m = self.mirror
            why.append(f"pr_mirror: {m.get('fix_commits', 0)} fix commits in "
                       f"{m.get('commits_scanned', 0)} commits scanned")
        if "combine" in self.strategies:
            why.append(f"combine: {self.combine.get('inputs', 0)} validated single-entity bugs "
                       "to combine (it needs 2 in one file or module)")
        return "no candidates: " + "; ".join(why)

    def _procedural_zero(self) -> str:
        if not self.entities:
            return ("no function or class found in the library source (tests, docs, "
                    "examples and packaging files are never mutated)")
        skipped = self.entities_uncovered + self.entities_arid
        if skipped >= self.entities:
            text = (f"all {self.entities} functions and classes skipped: "
                    f"{self.entities_uncovered} never executed by a test, "
                    f"{self.entities_arid} arid")
            if self.map_problem:
                return text + f" (the test map is empty: {self.map_problem})"
            if self.entities_uncovered:  # not one non-arid function ran
                text += ("; the tests ran none of the library's code in the work tree: they "
                         "may import another copy of it (an installed package, or a source "
                         "directory the recipe does not put on the path)")
            return text
        return "no mutation site in the code the tests execute"


# The first thing to try when every candidate of a run was dropped for this reason.
ZERO_HINTS = {
    "no_test_failed": "the tests do not notice these changes; try more candidates (--max) "
                      "or another --seed",
    "timeout": "the tests hang or are slow with these changes; try a larger --timeout",
    "did_not_apply": "the candidates do not apply to the pinned commit",
    "not_reproducible": "the failures depend on chance or test order; see `bugfoundry "
                        "status` for the drop details",
    "run_error": "pytest could not run; check the environment with `bugfoundry baseline "
                 "REPO --fresh`",
}


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
    ``backend`` None uses the repo's current environment.
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


@dataclass(frozen=True)
class ForgeHooks:
    """How a caller follows a forge and stops it (the CLI's progress bar, the TUI's worker).

    ``should_stop`` is polled after each verdict (the TUI's cancel key): when it returns True,
    running test processes are killed and every verdict stored so far is kept.
    """

    log: Log = _quiet
    on_total: Callable[[int, int], None] | None = None
    on_verdict: Callable[[Candidate, Verdict], None] | None = None
    should_stop: Callable[[], bool] | None = None


def forge(ws: Workspace, store: Store, repo_name: str, strategies: Sequence[str],
          options: ForgeOptions | None = None, hooks: ForgeHooks | None = None) -> ForgeSummary:
    """Run the whole pipeline for one repo; safe to interrupt and rerun.

    Stages, each validated before the next starts: procedural and LM candidates; PR mirrors
    (route a, then b for the fixes a did not recover, then c through ``undo``, or through the
    model in ``lm`` when one is configured); combinations of every validated single-entity bug.
    The LM strategies' answers are cached in the store, so a rerun with the same arguments
    sends no request.
    """
    start = time.monotonic()
    opts = options or ForgeOptions()
    hooks = hooks or ForgeHooks()
    repo = open_repo(ws, store, repo_name, hooks.log)
    # The LM strategies need a model; PR mirroring's route c uses one when it is configured.
    wants_lm = any(s in LM_STRATEGIES for s in strategies) or (
        "pr_mirror" in strategies and opts.lm is not None and bool(opts.lm.model))
    client = LMClient(opts.lm or LMSettings(), seed=opts.seed) if wants_lm else None
    if opts.validation not in MODES:
        raise UsageError(f"unknown validation mode {opts.validation!r}; choose from "
                         f"{', '.join(MODES)}.")
    env, recipe = ensure_environment(ws, store, repo, backend=opts.backend, log=hooks.log)
    try:
        return _forge(ws, store, repo, env, recipe, strategies, start, client, opts, hooks)
    finally:
        env.close()  # containers go; the image and the venv stay


def _forge(ws: Workspace, store: Store, repo: RepoRecord, env: Environment, recipe: Recipe,
           strategies: Sequence[str], start: float, client: LMClient | None,
           opts: ForgeOptions, hooks: ForgeHooks) -> ForgeSummary:
    from engine.stages import ForgeRun, combine_stage, mirror_stage

    log = hooks.log
    lm_wanted = [s for s in strategies if s in LM_STRATEGIES]
    max_candidates, seed = opts.max_candidates, opts.seed
    workers = resolve_workers(opts.workers, opts.force_workers, log)
    baseline = ensure_baseline(ws, store, repo, env, recipe, runs=opts.baseline_runs,
                               timeout=opts.baseline_timeout, log=log)
    summary = ForgeSummary(repo.name, list(strategies), baseline_tests=len(baseline.tests),
                           baseline_passing=len(baseline.passing),
                           baseline_flaky=len(baseline.flaky), validation=opts.validation,
                           backend=env.backend, baseline_unstable=len(baseline.unstable),
                           map_problem=store.test_map_problem(baseline.baseline_id) or "")
    testmap = store.load_test_map(baseline.baseline_id)
    summary.mapped_functions = len(testmap.functions) if testmap else 0
    run_id = store.start_run(repo.name, strategies, seed, max_candidates, workers,
                             {"timeout": opts.timeout, "baseline_runs": opts.baseline_runs,
                              "validation": opts.validation})
    run = ForgeRun(ws, store, repo, env, recipe, baseline, testmap, summary, run_id, workers,
                   opts.timeout, opts.validation, log, hooks.on_total, hooks.on_verdict,
                   hooks.should_stop)
    run.retry_timeouts = opts.retry_timeouts
    if opts.min_realism is not None:
        from engine.realism.gate import RealismGate

        run.gate = RealismGate(store, repo.name, Path(repo.path), opts.min_realism, log)
    first = [s for s in strategies if s == "procedural" or s in LM_STRATEGIES]
    if first:
        log("forging candidates ...")
        stats: dict[str, int] = {}
        covered = testmap.covered_lines if testmap else None
        extra = _lm_candidates(client, store, repo, lm_wanted, len(first), seed,
                               max_candidates, covered, summary, log) if lm_wanted else []
        weights = None
        if opts.prefer_realistic:
            from engine.realism.gate import modifier_weights

            weights = modifier_weights(store, repo.name)
        selected = generate_candidates(repo, [s for s in first if s == "procedural"], seed,
                                       max_candidates, covered_lines=covered, stats=stats,
                                       extra=extra, weights=weights)
        summary.entities = stats.get("entities", 0)
        summary.entities_uncovered = stats.get("uncovered", 0)
        summary.entities_arid = stats.get("arid", 0)
        if summary.entities:
            log(f"entities: {summary.entities} seen, {summary.entities_uncovered} skipped as "
                f"never executed by a test, {summary.entities_arid} skipped as arid")
        if not selected and "procedural" in first:
            log(f"procedural: no candidates: {summary._procedural_zero()}")
        run.validate(selected)
    if "pr_mirror" in strategies and not run.stopped:
        undo = opts.undo
        if undo is None and client is not None:
            from engine.lm.undo import make_undo

            undo = make_undo(client, store, repo.name)
        mirror_stage(run, config=opts.mining or MiningConfig(), max_commits=max_candidates,
                     undo=undo, issues=opts.issues, baseline_runs=opts.baseline_runs,
                     baseline_timeout=opts.baseline_timeout)
    if "combine" in strategies and not run.stopped:
        combine_stage(run, replace(opts.combine or CombineConfig(), seed=seed), max_candidates)
    run.finish()
    _fill_totals(store, summary, run.selected)
    summary.elapsed = round(time.monotonic() - start, 2)
    if summary.validated_now:
        summary.seconds_per_candidate = round(
            store.mean_validation_seconds(repo.name), 3)
    return summary


def _lm_candidates(client: LMClient, store: Store, repo: RepoRecord, wanted: Sequence[str],
                   n_strategies: int, seed: int, max_candidates: int | None,
                   covered: dict[str, set[int]] | None, summary: ForgeSummary,
                   log: Log) -> list[Candidate]:
    """Ask the model (or the cache) for each LM strategy's share of ``--max``."""
    from engine.strategies import lm as lm_strategy

    limit = (-(-max_candidates // n_strategies) if max_candidates
             else lm_strategy.DEFAULT_LIMIT)
    out: list[Candidate] = []
    for strategy in wanted:
        st = lm_strategy.LMForgeStats()
        out += lm_strategy.generate(repo.name, Path(repo.path), strategy, client, store,
                                    seed=seed, limit=limit, covered_lines=covered, stats=st,
                                    log=log)
        summary.lm[strategy] = st.to_dict()
        d = summary.lm[strategy]
        log(f"{strategy}: {d['candidates']} candidates from {d['targets']} functions "
            f"({d['cached']} cached, {d['requested']} requested, ${d['cost']:.4f}; "
            f"rejected {sum(d['rejected'].values())}, failed {sum(d['failed'].values())})")
        if st.batch.budget_stopped:
            log("LM budget spent: the remaining LM strategies are skipped")
            break
    return out


def _fill_totals(store: Store, summary: ForgeSummary, selected: list[str]) -> None:
    ids = set(selected)
    reasons: Counter[str] = Counter()
    for cid, reason in store.verdict_reasons(summary.repo):
        if cid in ids:
            reasons[reason] += 1
    summary.kept_total = reasons.pop("kept", 0)
    summary.dropped_total = sum(reasons.values())
    summary.drop_reasons = dict(reasons.most_common())
    judged = summary.kept_total + summary.dropped_total
    summary.yield_rate = round(summary.kept_total / judged, 4) if judged else 0.0
