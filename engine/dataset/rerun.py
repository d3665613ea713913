"""Re-run one instance's FAIL_TO_PASS tests with its bug applied (the review's ``t``).

It makes the buggy state as ``bugfoundry verify`` does (the repo's environment, a private
work tree at the instance's commit, the bug diff applied with git) and runs the tests with
pytest's long tracebacks and ``-vv``, so assertion diffs come out whole where the stored
output (kept short at validation, where speed matters) was cut. The TUI calls it in a thread
worker on its own store cursor (``tui.rerun``).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field

from engine.forge.setup import ensure_environment, get_repo
from engine.models import BAD_OUTCOMES
from engine.repos import ensure_copy, make_worker_tree, reset_tree
from engine.store import Store
from engine.validation.testrun import failure_text, run_pytest
from engine.workspace import Workspace

TREE = "review"  # the work tree's name under work/<repo>/ (validation workers use numbers)


@dataclass
class Rerun:
    """What one re-run found: each test's outcome and its full failure text."""

    instance_id: str
    outcomes: dict[str, str] = field(default_factory=dict)  # nodeid -> passed/failed/...
    texts: dict[str, str] = field(default_factory=dict)  # nodeid -> failure output
    collection_errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    problem: str = ""  # why the tests could not run at all ("" when they ran)

    @property
    def still_failing(self) -> int:
        return sum(1 for o in self.outcomes.values() if o in BAD_OUTCOMES)

    def summary(self) -> str:
        if self.problem:
            return f"re-run failed: {self.problem}"
        n = len(self.outcomes)
        return (f"re-run: {self.still_failing} of {n} FAIL_TO_PASS fail with the bug "
                f"({self.seconds:.1f} s)")


def rerun_fail_to_pass(ws: Workspace, store: Store, instance_id: str,
                       timeout: float = 300.0) -> Rerun:
    """Run ``instance_id``'s FAIL_TO_PASS with its bug applied; never raises for a test or
    git failure (``Rerun.problem`` says what went wrong)."""
    out = Rerun(instance_id)
    rec = store.get_instance(instance_id)
    if rec is None:
        out.problem = f"no instance {instance_id} in this workspace"
        return out
    started = time.monotonic()
    repo = get_repo(store, rec.repo)
    ensure_copy(ws, repo)
    env, recipe = ensure_environment(ws, store, repo)
    tree = make_worker_tree(repo, ws.worker_path(repo.name, TREE), commit=rec.base_commit,
                            generated=env.generated_dir)
    try:
        reset_tree(tree)
        applied = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=tree,
                                 input=rec.patch, capture_output=True, text=True, timeout=120)
        if applied.returncode:
            out.problem = "could not apply the bug: " + (applied.stderr.strip().splitlines()
                                                         or ["git apply failed"])[0]
            return out
        tests = list(rec.fail_to_pass)
        run = run_pytest(env, tree, recipe, tests, timeout=timeout, tb="long",
                         extra_args=["-vv"])
        out.outcomes = {t: run.status(t) for t in tests}
        out.texts = {t: failure_text(run, t) for t in tests if run.status(t) in BAD_OUTCOMES}
        out.collection_errors = dict(run.collect_messages)
        if run.timed_out:
            out.problem = f"the run passed its {timeout:.0f} s budget"
    finally:
        reset_tree(tree)
        out.seconds = time.monotonic() - started
    return out
