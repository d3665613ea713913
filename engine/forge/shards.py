"""One shard of a prepared forge, on a machine of its own (a batch job's array task).

``forge --prepare`` has stored, in the workspace, the environment's recipe, the baseline and
its test map, and the candidates; the shard reads them (the workspace database opened
read-only, so any number of shards start together), copies its share into its shard file
(``engine.store.shards``) and validates there with the ordinary forge, in worker trees of its
own beside that file. Nothing is recomputed per shard: no baseline, no test map, no candidate
generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path

from engine.errors import UsageError
from engine.forge.run import forge
from engine.forge.stages import ForgeHooks, ForgeOptions
from engine.forge.summary import ForgeSummary
from engine.shards import ShardSpec, default_shard_file
from engine.store import DatabaseLocked, Store
from engine.workspace import Workspace


@dataclass
class ShardRun:
    """What one shard did: its forge summary and the file it wrote."""

    spec: ShardSpec
    path: Path
    pending: int  # candidates of this shard without a verdict when it started
    summary: ForgeSummary


def forge_shard(ws: Workspace, repo_name: str, spec: ShardSpec, strategies: Sequence[str],
                options: ForgeOptions | None = None, hooks: ForgeHooks | None = None,
                path: Path | None = None) -> ShardRun:
    """Validate shard ``spec`` of the candidates ``forge --prepare`` stored for
    ``repo_name``, committing each verdict to the shard file ``path`` (default
    ``<workspace>/shards/<repo>.<I>-of-<N>.duckdb``); rerun on the same file to resume."""
    opts = options or ForgeOptions()
    hooks = hooks or ForgeHooks()
    if not ws.db_path.is_file():
        raise UsageError(f"no workspace database at {ws.db_path}: a shard reads the workspace "
                         "that was prepared.\nPrepare it first: bugfoundry forge "
                         f"{repo_name} --prepare, and give its directory as --workspace.")
    # A damaged workspace is said as such (the shard reads only a few of its tables); one a
    # forge or the TUI holds is read through a snapshot of what it has committed.
    with suppress(DatabaseLocked):
        Store.open(ws.db_path, read_only=True).close()
    path = path or default_shard_file(ws.home, repo_name, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Store.open(path) as store:
        seed = store.seed_shard(ws.db_path, repo_name, spec, strategies)
        if not seed.repo_found:
            raise UsageError(f"no repo named {repo_name!r} in the workspace {ws.home} "
                             f"(known: {', '.join(seed.known) or 'none yet'}).\nPrepare it "
                             f"first: bugfoundry forge {repo_name} --prepare")
        _require_prepared(store, repo_name, opts.backend)
        hooks.log(f"shard {spec} of {repo_name}: {seed.pending} candidates to validate, "
                  f"verdicts to {path}")
        # Worker trees of its own, beside its file (shards may share one workspace volume).
        summary = forge(replace(ws, scratch=path.with_suffix(".work")), store, repo_name,
                        strategies, replace(opts, stored_only=True, prepare=False), hooks)
    return ShardRun(spec, path, seed.pending, summary)


def _require_prepared(store: Store, repo_name: str, backend: str | None) -> None:
    """A shard never runs the baseline itself: N machines would each run it (and each get
    their own flaky set). Refuse when ``forge --prepare`` has not stored one."""
    repo = store.get_repo(repo_name)
    env = store.get_environment(repo_name)
    assert repo is not None  # seeded
    backend = backend or (env.backend if env else "venv")
    if env is None or store.latest_baseline(repo_name, repo.commit, backend) is None:
        raise UsageError(f"{repo_name} is not prepared for shards: the workspace has no "
                         f"{backend} baseline at {repo.commit[:10]}.\nRun once, before the "
                         f"shards: bugfoundry forge {repo_name} --prepare [--max N ...]")
