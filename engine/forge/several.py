"""Forging several repos in one run: ``forge A B ...`` and ``forge --all``.

Each repo goes through the same pipeline as a forge of that repo alone (``engine.forge.run``),
on one open database: the one DuckDB writer (this process) commits each repo's verdicts as they
arrive, so a killed run resumes where it stopped (the repos already forged have nothing left to
validate). On this machine's pool the repos run one after another (the pool has every core).
With ``--ray`` every repo validates on the same cluster, connected once (``ray_pool.connect``),
and two repos are forged at a time, each in a thread on its own cursor of the store: while one
repo's last shards hold some slots, the next one makes its environment, baseline and candidates,
and its actors take each slot the first one gives back (``ForgeOptions.ray_share``), so the
cluster does not idle between repos.

A repo that fails (its copy and source gone, its environment does not build, no test passes)
is reported with its error and the run goes on with the next: the others' results stand, and
the outcome says something failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from engine.errors import BugfoundryError, UsageError
from engine.forge.run import forge
from engine.forge.stages import ForgeHooks, ForgeOptions
from engine.forge.summary import ForgeSummary
from engine.logs import Log, quiet
from engine.store import Store
from engine.workspace import Workspace

AT_ONCE = 2  # repos forged at the same time on a Ray cluster


@dataclass
class RepoOutcome:
    """One repo of the run: its summary, or why it failed."""

    repo: str
    summary: ForgeSummary | None = None
    error: str = ""
    started: float = 0.0  # seconds into the run
    finished: float = 0.0

    def problem(self) -> str:
        """Why this repo counts as a failure ("" when it forged something)."""
        if self.error:
            return self.error
        return self.summary.nothing_forged() if self.summary is not None else "not run"

    def to_dict(self) -> dict[str, Any]:
        return {"repo": self.repo, "error": self.error or None, "started": self.started,
                "finished": self.finished,
                "summary": self.summary.to_dict() if self.summary is not None else None}


@dataclass
class SeveralForge:
    """What a several-repo forge did: each repo's outcome, in order, and the totals."""

    outcomes: list[RepoOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not started: the run was stopped
    elapsed: float = 0.0

    @property
    def interrupted(self) -> bool:
        return any(o.summary is not None and o.summary.interrupted for o in self.outcomes)

    @property
    def failed(self) -> list[RepoOutcome]:
        return [o for o in self.outcomes if o.error]

    def totals(self) -> dict[str, Any]:
        done = [o.summary for o in self.outcomes if o.summary is not None]
        kept = sum(s.kept_total for s in done)
        judged = kept + sum(s.dropped_total for s in done)
        return {"repos": len(self.outcomes) + len(self.skipped), "forged": len(done),
                "failed": len(self.failed), "candidates": sum(s.candidates for s in done),
                "validated_now": sum(s.validated_now for s in done),
                "kept": kept, "dropped": judged - kept,
                "yield": round(kept / judged, 4) if judged else 0.0,
                "elapsed": self.elapsed}

    def to_dict(self) -> dict[str, Any]:
        return {"repos": [o.to_dict() for o in self.outcomes], "skipped": self.skipped,
                "interrupted": self.interrupted, "total": self.totals()}


def repo_names(store: Store, asked: Sequence[str], every: bool) -> list[str]:
    """The repos to forge: those named (each once, in order), or with ``every`` all of the
    workspace's. A name the workspace does not know is refused before anything runs (a typo
    must not cost a long run its last repo)."""
    known = [r.name for r in store.list_repos()]
    if every:
        if asked:
            raise UsageError("forge --all forges every repo of the workspace: name no repo "
                             "with it.\ne.g. bugfoundry forge --all, or bugfoundry forge A B")
        if not known:
            raise UsageError("forge --all: this workspace has no repo yet.\n"
                             "Add one first with: bugfoundry repo add SOURCE")
        return known
    if not asked:
        raise UsageError("forge needs a repo: name one or several, or give --all.\n"
                         "e.g. bugfoundry forge mylib, or bugfoundry forge --all")
    unknown = [n for n in dict.fromkeys(asked) if n not in known]
    if unknown:
        raise UsageError(f"no repo named {', '.join(map(repr, unknown))} in this workspace "
                         f"(known: {', '.join(known) or 'none yet'}).\n"
                         "Add it first with: bugfoundry repo add SOURCE --name NAME")
    return list(dict.fromkeys(asked))


After = Callable[[Store, str, ForgeSummary], None]


def at_once(options: ForgeOptions, count: int) -> int:
    """How many repos are forged at the same time: two on a Ray cluster (while one repo's
    last shards hold a few slots, the next one's environment and baseline are made and its
    shards take the slots as they free up), one on this machine's pool (it has every core)."""
    return min(AT_ONCE, count) if options.ray is not None else 1


def forge_several(ws: Workspace, store: Store, names: Sequence[str], strategies: Sequence[str],
                  options: ForgeOptions, hooks: Callable[[str], ForgeHooks], *,
                  after: After | None = None,
                  on_outcome: Callable[[RepoOutcome], None] | None = None,
                  log: Log = quiet) -> SeveralForge:
    """Forge ``names`` (see the module docstring). ``hooks(name)`` gives each repo's progress
    hooks; ``after`` runs on each forged repo (problem statements), with the store of the
    thread that forged it; ``on_outcome`` hears each repo's outcome, in ``names``' order."""
    start = time.monotonic()
    result = SeveralForge()
    if options.ray is not None:
        from engine.forge.ray_pool import connect

        connect(options.ray)  # once for every repo: a bad address stops the run here
    if at_once(options, len(names)) > 1:
        _together(ws, store, names, strategies, options, hooks, after, on_outcome, log, result)
    else:
        for i, name in enumerate(names):
            log(f"forging {name} ({i + 1} of {len(names)}) ...")
            outcome = _one(ws, store, name, strategies, options, hooks(name), after, start)
            if _heard(result, outcome, on_outcome):
                result.skipped = list(names[i + 1:])
                break
    result.elapsed = round(time.monotonic() - start, 2)
    return result


def _together(ws: Workspace, store: Store, names: Sequence[str], strategies: Sequence[str],
              options: ForgeOptions, hooks: Callable[[str], ForgeHooks], after: After | None,
              on_outcome: Callable[[RepoOutcome], None] | None, log: Log,
              result: SeveralForge) -> None:
    """``AT_ONCE`` repos at a time, each in a thread on its own cursor of the store; their
    Ray pools give a slot back to the cluster as soon as it has no shard left."""
    stop = threading.Event()
    shared = replace(options, ray_share=True)
    begun = time.monotonic()

    def one(name: str) -> RepoOutcome:
        asked = hooks(name)
        wanted = asked.should_stop
        mine = replace(asked, should_stop=lambda: stop.is_set() or bool(wanted and wanted()))
        log(f"forging {name} ...")
        cursor = store.reader()
        try:
            return _one(ws, cursor, name, strategies, shared, mine, after, begun)
        finally:
            cursor.close()

    with ThreadPoolExecutor(max_workers=at_once(options, len(names)),
                            thread_name_prefix="bf-repo") as pool:
        futures = [pool.submit(one, name) for name in names]
        try:
            for i, future in enumerate(futures):
                if _heard(result, future.result(), on_outcome):
                    stop.set()
                    result.skipped = [n for n, f in zip(names[i + 1:], futures[i + 1:],
                                                        strict=True) if f.cancel()]
                    for f in futures[i + 1:]:
                        if not f.cancelled():
                            _heard(result, f.result(), on_outcome)
                    break
        except BaseException:  # Ctrl-C: the running forges stop after their next verdict
            stop.set()
            for f in futures:
                f.cancel()
            raise


def _one(ws: Workspace, store: Store, name: str, strategies: Sequence[str],
         options: ForgeOptions, hooks: ForgeHooks, after: After | None,
         begun: float) -> RepoOutcome:
    """One repo's forge; what goes wrong in it is its outcome's error, not the run's."""
    outcome = RepoOutcome(name, started=round(time.monotonic() - begun, 2))
    try:
        outcome.summary = forge(ws, store, name, strategies, options, hooks)
        if after is not None and not outcome.summary.interrupted:
            after(store, name, outcome.summary)
    except BugfoundryError as exc:
        outcome.error = str(exc).removeprefix(f"{name}: ")  # said beside the name anyway
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - one repo's crash must not stop the others
        outcome.error = f"{type(exc).__name__}: {exc}"
    outcome.finished = round(time.monotonic() - begun, 2)
    return outcome


def _heard(result: SeveralForge, outcome: RepoOutcome,
           on_outcome: Callable[[RepoOutcome], None] | None) -> bool:
    """Record ``outcome``; True when the run was stopped in it (the rest is not started)."""
    result.outcomes.append(outcome)
    if on_outcome is not None:
        on_outcome(outcome)
    return outcome.summary is not None and outcome.summary.interrupted
