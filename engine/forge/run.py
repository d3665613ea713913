"""Forge: the pipeline end to end for one repo (env -> baseline -> candidates -> validation).

Resumable by construction: candidates are generated deterministically (same arguments, same
candidate ids), each verdict is committed as it arrives, and a rerun validates only candidates
that have no verdict yet. Setting the repo up (environment, baseline, validator) is
``engine.forge.setup``; the stages after the first are ``engine.forge.stages``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.entities import read_source
from engine.environments.base import Environment
from engine.errors import UsageError
from engine.forge.prune import Pruner
from engine.forge.setup import ensure_baseline, ensure_environment, open_repo, resolve_workers
from engine.forge.stages import ForgeHooks, ForgeOptions, ForgeRun, combine_stage, mirror_stage
from engine.forge.summary import ForgeSummary
from engine.lm.client import LMClient, LMSettings
from engine.logs import Log
from engine.models import Candidate, Recipe, RepoRecord
from engine.store import Store
from engine.validation.selection import MODES
from engine.workspace import Workspace


@dataclass(frozen=True)
class Stage:
    """One strategy of ``forge --strategy``, described once.

    ``needs_lm``: it cannot run without a model; ``uses_lm``: it uses one when one is
    configured (PR mirroring's route c). A ``pooled`` strategy makes candidates for the first
    batch, validated together with the other pooled ones; any other has its own ``run``,
    after the first batch, in this registry's order (combine builds on what came before).
    """

    name: str
    needs_lm: bool = False
    uses_lm: bool = False
    pooled: bool = False
    run: Callable[[ForgeRun], None] | None = None


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("procedural", pooled=True),
    Stage("lm_modify", needs_lm=True, pooled=True),
    Stage("lm_rewrite", needs_lm=True, pooled=True),
    Stage("pr_mirror", uses_lm=True, run=mirror_stage),
    Stage("combine", run=combine_stage),
)}
IMPLEMENTED_STRATEGIES = tuple(STAGES)
POOLED = tuple(s.name for s in STAGES.values() if s.pooled)


def parse_strategies(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError("--strategy needs at least one name, e.g. --strategy procedural.")
    for n in names:
        if n not in STAGES:
            raise UsageError(f"unknown strategy {n!r}; choose from "
                             f"{', '.join(STAGES)}.")
    return list(dict.fromkeys(names))


def needs_lm(strategies: Sequence[str], lm: LMSettings | None = None) -> bool:
    """Does this run need a model? Yes when a strategy cannot run without one, or when one
    that can use a model (route c) runs and ``lm`` names a model."""
    chosen = [STAGES[s] for s in strategies]
    return any(s.needs_lm for s in chosen) or (
        lm is not None and bool(lm.model) and any(s.uses_lm for s in chosen))


def lm_settings_for(strategies: Sequence[str], load: Callable[[], LMSettings]
                    ) -> LMSettings | None:
    """The model settings for a run (the CLI's flags and config, the TUI's config): read
    only when some strategy needs or can use a model, so a broken ``config.toml`` does not
    stop a procedural forge."""
    if any(STAGES[s].needs_lm or STAGES[s].uses_lm for s in strategies):
        return load()
    return None


def generate_candidates(repo: RepoRecord, strategies: Sequence[str], seed: int,
                        max_candidates: int | None, *,
                        covered_lines: dict[str, set[int]] | None = None,
                        stats: dict[str, int] | None = None,
                        extra: Sequence[Candidate] = (),
                        weights: dict[str, float] | None = None,
                        skipped: dict[str, int] | None = None,
                        first: set[str] | frozenset[str] = frozenset(),
                        exclude: set[str] | frozenset[str] = frozenset(),
                        modifiers: Sequence[str] | None = None) -> list[Candidate]:
    """All strategies' candidates, interleaved across modifiers, first ``max_candidates``
    worth a run.

    With ``covered_lines`` (from the baseline's test map) only code some test executes is
    mutated; ``stats`` receives how many entities were seen and skipped. ``extra`` holds
    candidates made elsewhere (the LM strategies, which need the store and a client).
    ``weights`` (per ``strategy/modifier``, see ``engine.realism.gate.modifier_weights``)
    interleave the modifiers in proportion instead of evenly. Candidates that provably cannot
    be kept (``engine.forge.prune``: unexecuted lines, code identical to the original or to an
    earlier candidate) are left out before ``max_candidates`` is counted, and counted per
    reason in ``skipped``. Candidates whose id is in ``first`` come before the others; those
    in ``exclude`` (judged by another run) are left out before ``max_candidates`` is counted.
    ``modifiers`` restricts the procedural ones to those names (default: all).
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
                                         modifiers=modifiers, covered_lines=covered_lines,
                                         stats=stats):
                add(c)
    for c in extra:
        add(c)
    ordered = _interleave(buckets, weights or {})
    if exclude:
        ordered = [c for c in ordered if c.candidate_id not in exclude]
    if first:
        ordered.sort(key=lambda c: c.candidate_id not in first)  # stable
    root = Path(repo.path)
    pruner = Pruner(lambda rel: read_source(root / rel), covered_lines)
    kept = list(pruner.keep(ordered, max_candidates))
    if skipped is not None:
        skipped.update(pruner.skipped)
    return kept


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



def forge(ws: Workspace, store: Store, repo_name: str, strategies: Sequence[str],
          options: ForgeOptions | None = None, hooks: ForgeHooks | None = None) -> ForgeSummary:
    """Run the whole pipeline for one repo; safe to interrupt and rerun.

    Stages, each validated before the next starts (see ``STAGES``): procedural and LM
    candidates; PR mirrors (route a, then b for the fixes a did not recover, then c through
    ``undo``, or through the model in ``lm`` when one is configured); combinations of every
    validated single-entity bug. The LM strategies' answers are cached in the store, so a
    rerun with the same arguments sends no request.
    """
    start = time.monotonic()
    opts = options or ForgeOptions()
    hooks = hooks or ForgeHooks()
    repo = open_repo(ws, store, repo_name, hooks.log)
    client = (LMClient(opts.lm or LMSettings(), seed=opts.seed)  # a shard asks no model
              if needs_lm(strategies, opts.lm) and not opts.stored_only else None)
    sharded = opts.prepare or opts.stored_only
    if sharded and any(not STAGES[s].pooled for s in strategies):
        raise UsageError(f"--prepare and --shard run only {', '.join(POOLED)}: pr_mirror "
                         "and combine build on merged verdicts.\nRun them after bugfoundry "
                         f"merge, on one machine: bugfoundry forge {repo_name} "
                         "--strategy pr_mirror")
    if opts.validation not in MODES:
        raise UsageError(f"unknown validation mode {opts.validation!r}; choose from "
                         f"{', '.join(MODES)}.")
    env, recipe = ensure_environment(ws, store, repo, backend=opts.backend, log=hooks.log)
    try:
        with _start(ws, store, repo, env, recipe, strategies, client, opts, hooks) as run:
            _stages(run, strategies)
        summary = run.summary
        _fill_totals(store, summary, run.selected)
        summary.elapsed = round(time.monotonic() - start, 2)
        if summary.validated_now:
            summary.seconds_per_candidate = round(store.mean_validation_seconds(repo.name), 3)
        return summary
    finally:
        env.close()  # containers go; the image and the venv stay


def _start(ws: Workspace, store: Store, repo: RepoRecord, env: Environment, recipe: Recipe,
           strategies: Sequence[str], client: LMClient | None, opts: ForgeOptions,
           hooks: ForgeHooks) -> ForgeRun:
    """The baseline (reused or run), the summary's first figures and the run's record."""
    log = hooks.log
    # --ray: --workers counts the cluster's slots, not this machine's cores
    workers = resolve_workers(opts.workers, opts.force_workers or opts.ray is not None, log)
    baseline = ensure_baseline(ws, store, repo, env, recipe, runs=opts.baseline_runs,
                               timeout=opts.baseline_timeout, log=log)
    summary = ForgeSummary(repo.name, list(strategies), baseline_tests=len(baseline.tests),
                           baseline_passing=len(baseline.passing),
                           baseline_flaky=len(baseline.flaky), validation=opts.validation,
                           backend=env.backend, baseline_unstable=len(baseline.unstable),
                           map_problem=store.test_map_problem(baseline.baseline_id) or "")
    testmap = store.load_test_map(baseline.baseline_id)
    summary.mapped_functions = len(testmap.functions) if testmap else 0
    run_id = store.start_run(repo.name, strategies, opts.seed, opts.max_candidates, workers,
                             {"timeout": opts.timeout, "baseline_runs": opts.baseline_runs,
                              "validation": opts.validation})
    run = ForgeRun(ws=ws, store=store, repo=repo, env=env, recipe=recipe, baseline=baseline,
                   testmap=testmap, summary=summary, run_id=run_id, workers=workers,
                   options=opts, hooks=hooks, client=client)
    if opts.min_realism is not None:
        from engine.realism.gate import RealismGate

        run.gate = RealismGate(store, repo.name, Path(repo.path), opts.min_realism, log)
    return run


def _stages(run: ForgeRun, strategies: Sequence[str]) -> None:
    """The pooled strategies' first batch, then every other chosen stage in registry order
    (each only if the run was not stopped). A shard (``stored_only``) validates the
    stored candidates instead; ``prepare`` stops before validating anything."""
    if run.options.stored_only:
        run.validate(run.store.stored_candidates(run.repo.name, strategies))
        run.finish()
        return
    pooled = [s for s in strategies if STAGES[s].pooled]  # as asked: the LM order counts
    if pooled:
        _first_batch(run, pooled)
    for stage in STAGES.values():
        if (stage.name in strategies and stage.run is not None and not run.stopped
                and not run.options.prepare):
            stage.run(run)
    run.finish()


def _first_batch(run: ForgeRun, pooled: Sequence[str]) -> None:
    """Procedural and LM candidates, interleaved across modifiers, validated together."""
    log, opts, repo, summary = run.log, run.options, run.repo, run.summary
    log("forging candidates ...")
    stats: dict[str, int] = {}
    covered = run.testmap.covered_lines if run.testmap else None
    lm_wanted = [s for s in pooled if STAGES[s].needs_lm]
    extra = (_lm_candidates(run.client, run.store, repo, lm_wanted, len(pooled), opts.seed,
                            opts.max_candidates, covered, summary, log)
             if lm_wanted and run.client is not None else [])
    from engine.realism.gate import modifier_weights, yield_prior

    # The repo's verdicts so far weigh the modifiers; what an earlier run with this seed judged
    # goes first, so a rerun of the same command resumes the same candidates though the weights
    # moved, while a new seed samples afresh: another seed's verdicts are left out before
    # ``--max`` counts (a one-site candidate's id does not depend on the seed, so a new seed
    # would otherwise mostly redraw them and validate few new ones).
    weights = (modifier_weights if opts.prefer_realistic else yield_prior)(run.store, repo.name)
    judged = run.store.done_candidate_ids(repo.name, seed=opts.seed)
    other = run.store.done_candidate_ids(repo.name) - judged
    if opts.retry_timeouts:  # those are to be validated again, whichever seed drew them
        other -= set(run.store.timeout_details(repo.name))
    if other:
        log(f"{len(other)} candidates judged by runs with other seeds are left out")
    selected = generate_candidates(repo, [s for s in pooled if s == "procedural"], opts.seed,
                                   opts.max_candidates, covered_lines=covered, stats=stats,
                                   extra=extra, weights=weights, skipped=summary.skipped,
                                   first=judged, exclude=other, modifiers=opts.modifiers)
    summary.entities = stats.get("entities", 0)
    summary.entities_uncovered = stats.get("uncovered", 0)
    summary.entities_arid = stats.get("arid", 0)
    if summary.entities:
        log(f"entities: {summary.entities} seen, {summary.entities_uncovered} skipped as "
            f"never executed by a test, {summary.entities_arid} skipped as arid")
    if summary.skipped:
        log("candidates skipped before validation: " + ", ".join(
            f"{n} {why}" for why, n in sorted(summary.skipped.items())))
    if not selected and "procedural" in pooled:
        log(f"procedural: no candidates: {summary._procedural_zero()}")
    if opts.prepare:
        run.store_only(selected)
    else:
        run.validate(selected)


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
