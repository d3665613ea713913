"""Setting a repo up for forging and checking: its record and copy, its environment, its
baseline and test map, the worker trees and the validator on them.

Shared by the forge pipeline, its stages, ``verify``, ``doctor``, the CLI and the benches, so it
lives apart from ``engine.forge.run`` (which only runs the pipeline) and none of them import back.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from engine.baseline import (
    DEFAULT_RUNS,
    DEFAULT_TIMEOUT,
    MapResult,
    mark_unstable,
    require_passing,
    run_baseline,
    run_test_map,
)
from engine.environments.base import Environment
from engine.environments.detect import detect_recipe
from engine.environments.factory import make_environment
from engine.errors import BugfoundryError, UsageError
from engine.instances import EnvironmentRecord
from engine.logs import Log, quiet
from engine.models import Baseline, Recipe, RepoRecord
from engine.repos import ensure_copy, make_worker_tree
from engine.store import Store
from engine.testmap import TestMap
from engine.validation.grading import ValidationConfig, timeout_for
from engine.validation.imports import IMPORT_CACHE, ImportCache, tree_blobs
from engine.validation.selection import Planner
from engine.validation.validator import Validator
from engine.workspace import Workspace


def get_repo(store: Store, name: str) -> RepoRecord:
    rec = store.get_repo(name)
    if rec is None:
        known = ", ".join(r.name for r in store.list_repos()) or "none yet"
        raise UsageError(f"no repo named {name!r} in this workspace (known: {known}).\n"
                         "Add it first with: bugfoundry repo add SOURCE --name NAME")
    return rec


def open_repo(ws: Workspace, store: Store, name: str, log: Log = quiet) -> RepoRecord:
    """``get_repo`` for commands that read the workspace copy: a deleted or damaged copy is
    restored from the recorded source at the recorded commit (said in one ``log`` line)."""
    rec = get_repo(store, name)
    if ws.elsewhere(rec.path, "repos") is not None:  # never the other workspace's copy
        adopt_copies(ws, store, log)
        rec = get_repo(store, name)
    return ensure_copy(ws, rec, log)


def adopt_copies(ws: Workspace, store: Store, log: Log = quiet) -> list[RepoRecord]:
    """Point the repo records at this workspace's own copies (``<home>/repos/NAME``). A
    workspace copied or moved keeps the old absolute paths in its database, and would read
    (and write) the other workspace's copies; each record moved is said in one ``log`` line
    and returned as it was. Environments built there are rebuilt on first use
    (``ensure_environment``)."""
    moved = [r for r in store.list_repos() if ws.elsewhere(r.path, "repos") is not None]
    store.relocate_repos(ws.repos_dir, moved)
    for rec in moved:
        here = ws.repo_path(rec.name)
        log(f"repo {rec.name}: its record pointed into another workspace "
            f"({ws.elsewhere(rec.path, 'repos')}; this one was copied or moved from there); "
            f"it now uses this workspace's copy {here}")
        if not here.exists():  # the database was copied without its repos/
            try:
                ensure_copy(ws, replace(rec, path=str(here)), log)
            except BugfoundryError as exc:  # said; a command that needs the copy fails later
                log(" ".join(str(exc).splitlines()))
    return moved


def built_elsewhere(ws: Workspace, stored: EnvironmentRecord | None) -> Path | None:
    """The other workspace a repo's environment was last built in (None: this one). A venv
    copied from there still imports that workspace's repo copy (its editable install)."""
    return ws.elsewhere(stored.root, "envs") if stored is not None else None


def usable_cores() -> int:
    """The cores this process may run on (a container's or ``taskset``'s share, not the
    host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(asked: int | None, force: bool = False, log: Log = quiet) -> int:
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
                       wheelhouse: Path | None = None, log: Log = quiet,
                       rebuild: bool = False) -> tuple[Environment, Recipe]:
    """Detect the recipe (or replay the stored one) and build the repo's one environment.

    ``backend`` None means the repo's current one (the last built; venv for a new repo).
    ``base_image`` and ``wheelhouse`` configure a docker build (and are remembered).
    """
    stored = store.get_environment(repo.name)
    backend = backend or (stored.backend if stored else "venv")
    recipe = stored.recipe if stored and not rebuild else detect_recipe(Path(repo.path))
    env = repo_environment(ws, repo, backend, recipe, base_image=base_image,
                           wheelhouse=wheelhouse)
    other = built_elsewhere(ws, stored)
    if other is not None and backend == "venv" and env.is_built() and not rebuild:
        log(f"the venv of {repo.name} was built in another workspace ({other}; this one was "
            "copied or moved from there) and imports its files: rebuilding it here from its "
            "stored recipe")
        env.remove()  # this workspace's copy of it; the other workspace's is never touched
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
        if stored is None or stored.backend != backend or other is not None:
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
                    timeout: float = DEFAULT_TIMEOUT, log: Log = quiet,
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
    by = {"probe": "probes", "monitoring": "sys.monitoring", "settrace": "sys.settrace"}
    log(f"test map: {len(tm.functions)} functions executed by {len(tm.tests)} tests, "
        f"recorded in {tm.seconds:.2f}s" + (f" by {by[tm.tracer]}" if tm.tracer in by else "")
        + (f" ({tm.problem}; reclaimed)" if tm.problem else ""))


def build_validator(ws: Workspace, repo: RepoRecord, env: Environment, recipe: Recipe,
                    baseline: Baseline, testmap: TestMap | None, *, mode: str = "auto",
                    workers: int = 1, timeout: float | None = None,
                    log: Log = quiet) -> Validator:
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
    blobs = tree_blobs(root)
    planner = Planner(root, baseline, testmap, sorted(blobs), recipe.source_roots, blobs=blobs,
                      import_cache=ImportCache(ws.cache_dir / IMPORT_CACHE))
    return Validator(env, recipe, baseline,
                     worker_trees(ws, repo, workers, base, generated=generated), config,
                     planner, log=log,
                     remake=lambda tree: make_worker_tree(repo, tree, base, generated))


def base_tree(ws: Workspace, repo: RepoRecord, commit: str, *, generated: Path | None
              ) -> Path:
    """The read-only tree at another commit: its baseline runs and its planner reads there."""
    return make_worker_tree(repo, ws.worker_path(repo.name, "base"), commit, generated)
