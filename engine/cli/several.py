"""``bugfoundry forge A B ...`` and ``forge --all``: the several-repo run's report (each repo's
summary as it finishes, the failures, a total); the loop itself is ``engine.forge.several``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.cli.common import dump_json, to_stderr
from engine.cli.progress import Progress, print_summary, sandbox_note
from engine.forge.several import (
    After,
    RepoOutcome,
    SeveralForge,
    at_once,
    forge_several,
    repo_names,
)
from engine.forge.stages import ForgeHooks, ForgeOptions
from engine.store import Store
from engine.workspace import Workspace


def run_several(args: argparse.Namespace, ws: Workspace, store: Store,
                strategies: Sequence[str], options: ForgeOptions,
                after: After) -> int:
    """Forge every repo asked for; exit 0 when each forged something, 130 when stopped,
    1 when some repo failed or forged nothing."""
    names = repo_names(store, args.repos, args.all)
    together = at_once(options, len(names)) > 1
    bars: dict[str, Progress] = {}

    def hooks(name: str) -> ForgeHooks:
        # Repos forged at the same time: plain lines, each naming its repo (no bar).
        bar = Progress(enabled=sys.stderr.isatty() and not together,
                       prefix=f"{name}: " if together else "")
        bars[name] = bar
        return ForgeHooks(log=bar.log, on_total=bar.start, on_verdict=bar.advance)

    def heard(outcome: RepoOutcome) -> None:
        if outcome.repo in bars:
            bars.pop(outcome.repo).stop()
        if args.json:
            return
        if outcome.summary is not None:
            print_summary(outcome.summary)
            print(f"  {sandbox_note(outcome.summary.backend)}")
        else:
            print(f"forge {outcome.repo}: FAILED: {outcome.error}")
        sys.stdout.flush()

    result = forge_several(ws, store, names, strategies, options, hooks, after=after,
                           on_outcome=heard, log=to_stderr)
    if args.json:
        dump_json(result.to_dict())
    else:
        print_total(result)
    if result.interrupted:
        return 130
    problems = [(o.repo, o.problem()) for o in result.outcomes if o.problem()]
    for repo, why in problems:
        to_stderr(f"forge: {repo}: {why.splitlines()[0]}")
    return 1 if problems else 0


def print_total(result: SeveralForge) -> None:
    t = result.totals()
    print(f"total: {t['forged']} of {t['repos']} repos forged, {t['candidates']} candidates, "
          f"{t['kept']} validated, yield {t['yield']:.1%}, elapsed {t['elapsed']:.1f}s")
    for o in result.failed:
        print(f"  failed: {o.repo}: {o.error.splitlines()[0]}")
    if result.skipped:
        print(f"  not started (the run was stopped): {', '.join(result.skipped)}")
