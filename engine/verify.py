"""Replay exported instances in the repo's environment: does each one hold?

For every row: check out ``base_commit`` in a private work tree, apply ``bug_patch`` (our
SWE-bench rows) or the SWE-smith ``patch`` (the bug), and ``test_patch`` when there is one.
With the bug, every FAIL_TO_PASS test must fail. Then apply the fix (the SWE-bench ``patch``, or
the SWE-smith bug diff reversed): every FAIL_TO_PASS and PASS_TO_PASS test must pass. External
SWE-bench rows (no ``bug_patch``) are replayed the same way, their ``base_commit`` being the
buggy state already.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.diffs import reverse_patch
from engine.errors import UsageError
from engine.forge import ensure_environment, get_repo
from engine.importing import REQUIRED, read_rows
from engine.models import PASSED
from engine.repos import make_worker_tree, reset_tree
from engine.store import Store
from engine.testrun import run_pytest
from engine.workspace import Workspace


@dataclass
class RowCheck:
    instance_id: str
    ok: bool
    f2p_failing_with_bug: int = 0
    f2p: int = 0
    passing_with_fix: int = 0
    tests_with_fix: int = 0
    problems: list[str] = field(default_factory=list)


def load_rows(path: Path, store: Store) -> list[dict[str, Any]]:
    """The rows to replay; a row without the fields replaying needs is a numbered error."""
    rows = read_rows(path, store)
    for n, row in enumerate(rows, 1):
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise UsageError(f"{path}: row {n} lacks {', '.join(missing)}")
    return rows


def _patches(row: dict[str, Any]) -> tuple[str, str]:
    """(bug diff to apply on base_commit, fix diff to apply on the buggy state)."""
    if "bug_patch" in row:  # our SWE-bench rows
        return row["bug_patch"] or "", row["patch"]
    if "environment_setup_commit" in row:  # an external SWE-bench row: base is buggy
        return "", row["patch"]
    return row["patch"], reverse_patch(row["patch"])  # SWE-smith: patch is the bug


def _git(tree: Path, *args: str, stdin: str | None = None) -> str:
    res = subprocess.run(["git", *args], cwd=tree, input=stdin, capture_output=True, text=True,
                         timeout=120)
    if res.returncode:
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        return lines[0] if lines else f"git {args[0]} exited {res.returncode}"
    return ""


def verify_rows(ws: Workspace, store: Store, rows: list[dict[str, Any]], *,
                timeout: float = 600.0, log: Callable[[str], None] = lambda s: None
                ) -> Iterator[RowCheck]:
    envs: dict[str, Any] = {}
    for row in rows:
        check = RowCheck(row["instance_id"], True, f2p=len(row["FAIL_TO_PASS"]))
        repo = get_repo(store, row["repo"])
        if repo.name not in envs:
            env, recipe = ensure_environment(ws, store, repo, log=log)
            tree = make_worker_tree(repo, ws.worker_path(repo.name, "verify"))
            envs[repo.name] = (env, recipe, tree)
        env, recipe, tree = envs[repo.name]
        reset_tree(tree)
        base = row.get("base_commit") or repo.commit
        bug, fix = _patches(row)
        steps = [("check out base_commit", ["checkout", "-q", "--force", base], None),
                 ("apply the bug", ["apply", "--whitespace=nowarn", "-"], bug),
                 ("apply test_patch", ["apply", "--whitespace=nowarn", "-"],
                  row.get("test_patch") or "")]
        for what, args, stdin in steps:
            err = _git(tree, *args, stdin=stdin) if stdin is None or stdin else ""
            if err:
                check.ok = False
                check.problems.append(f"could not {what}: {err}")
        if check.ok:
            f2p, p2p = list(row["FAIL_TO_PASS"]), list(row["PASS_TO_PASS"])
            buggy = run_pytest(env, tree, recipe, f2p, timeout=timeout, tb="no")
            still = [t for t in f2p if buggy.status(t) == PASSED]
            check.f2p_failing_with_bug = len(f2p) - len(still)
            if still:
                check.ok = False
                check.problems.append(f"{len(still)} FAIL_TO_PASS pass with the bug: {still[0]}")
            err = _git(tree, "apply", "--whitespace=nowarn", "-", stdin=fix)
            if err:
                check.ok = False
                check.problems.append(f"could not apply the fix: {err}")
            else:
                fixed = run_pytest(env, tree, recipe, f2p + p2p, timeout=timeout, tb="no")
                bad = [t for t in f2p + p2p if fixed.status(t) != PASSED]
                check.tests_with_fix = len(f2p) + len(p2p)
                check.passing_with_fix = check.tests_with_fix - len(bad)
                if bad:
                    check.ok = False
                    check.problems.append(f"{len(bad)} tests fail with the fix: {bad[0]}")
        _git(tree, "checkout", "-q", "--force", repo.commit)
        reset_tree(tree)
        yield check


def check_dict(check: RowCheck) -> dict[str, Any]:
    return asdict(check)
