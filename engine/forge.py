"""Forge: the pipeline end to end for one repo (env -> baseline -> candidates -> validation).

Resumable by construction: candidates are generated deterministically (same arguments, same
candidate ids), each verdict is committed as it arrives, and a rerun validates only candidates
that have no verdict yet. Setting the repo up (environment, baseline, validator) is
``engine.setup``; the stages after the first are ``engine.stages``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from engine.baseline import DEFAULT_RUNS, DEFAULT_TIMEOUT
from engine.environments.base import Environment
from engine.errors import UsageError
from engine.lm.client import LMClient, LMSettings
from engine.mining import MiningConfig
from engine.models import Candidate, Recipe, RepoRecord, Verdict
from engine.selection import MODES
from engine.setup import Log, ensure_baseline, ensure_environment, open_repo, quiet, resolve_workers
from engine.stages import ForgeRun, combine_stage, mirror_stage
from engine.store import Store
from engine.strategies.combine import CombineConfig
from engine.strategies.pr_mirror import Undo
from engine.summary import ForgeSummary
from engine.workspace import Workspace

IMPLEMENTED_STRATEGIES = ("procedural", "lm_modify", "lm_rewrite", "pr_mirror", "combine")
LM_STRATEGIES = ("lm_modify", "lm_rewrite")


def parse_strategies(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError("--strategy needs at least one name, e.g. --strategy procedural.")
    for n in names:
        if n not in IMPLEMENTED_STRATEGIES:
            raise UsageError(f"unknown strategy {n!r}; choose from "
                             f"{', '.join(IMPLEMENTED_STRATEGIES)}.")
    return list(dict.fromkeys(names))


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

    log: Log = quiet
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
