"""Replay exported instances in the repo's environment: does each one hold?

For every row: make the buggy state in a private work tree. Our exports name the instance's
branch commit in ``base_commit``: it is fetched from the export's branch repos
(``PATH.repos``) and checked out, exactly as a harness would; without them, ``clean_commit``
plus the bug diff. Other rows: ``base_commit`` plus ``bug_patch`` or the SWE-smith ``patch``
(the bug). Then ``test_patch`` when there is one.
With the bug, every FAIL_TO_PASS test must fail. Then apply the fix (the SWE-bench ``patch``, or
the SWE-smith bug diff reversed): every FAIL_TO_PASS and PASS_TO_PASS test must pass. External
SWE-bench rows (no ``bug_patch``) are replayed the same way, their ``base_commit`` being the
buggy state already.
"""

from __future__ import annotations

import random
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.dataset.importing import SHA_RE, check_rows, read_rows, repo_in
from engine.dataset.rows import bug_patch
from engine.diffs import reverse_patch
from engine.environments import sandbox
from engine.environments.base import Environment
from engine.errors import UsageError
from engine.forge.setup import ensure_environment, get_repo
from engine.generated import keep_args
from engine.logs import Log, quiet
from engine.models import BAD_OUTCOMES, PASSED, Recipe, TestRun
from engine.repos import ensure_copy, make_worker_tree, reset_tree
from engine.store import Store
from engine.validation.testrun import run_pytest
from engine.workspace import Workspace


@dataclass
class RowCheck:
    instance_id: str
    ok: bool
    f2p_failing_with_bug: int = 0
    f2p: int = 0
    passing_with_fix: int = 0
    tests_with_fix: int = 0
    start: str = ""  # how the buggy state was made: "branch" (checked out), or a diff applied
    fixed_run: str = ""  # "own", or "shared": an earlier row's run of the very same fixed tree
    problems: list[str] = field(default_factory=list)


def load_rows(path: Path, store: Store) -> list[dict[str, Any]]:
    """The rows to replay, each of a repo in this workspace and with nothing that git or
    pytest could read as an option (else a numbered error, nothing replayed)."""
    rows = read_rows(path, store)
    repos = {r.name for r in store.list_repos()}
    check_rows(path, rows, repos, "verify")
    for row in rows:  # the workspace's name for the row's repo, resolved once
        row["bugfoundry_repo"] = repo_in(row, repos)
    return rows


def foreign_rows(store: Store, rows: list[dict[str, Any]]) -> list[str]:
    """Ids of the rows this workspace did not forge: unknown ids, imported instances, and
    rows whose bug differs from the stored one. Their patches are someone else's code."""
    out = []
    for row in rows:
        rec = store.get_instance(str(row.get("bugfoundry_id") or row["instance_id"]))
        if (rec is None or rec.meta.get("imported_from")
                or rec.patch != bug_patch(row)[0]):
            out.append(str(row["instance_id"]))
    return out


def guard_foreign(store: Store, rows: list[dict[str, Any]], where: str,
                  log: Log) -> tuple[list[str], str]:
    """Say how the rows from elsewhere are isolated (returned too, for the summary);
    refuse to run them on the bare host unless the user turned the sandbox off on purpose."""
    foreign = foreign_rows(store, rows)
    if not foreign:
        return foreign, ""
    envs = {row_repo(r): store.get_environment(row_repo(r)) for r in rows
            if str(r["instance_id"]) in foreign}
    what = f"{len(foreign)} of {len(rows)} rows did not come from this workspace"
    if all(e and e.backend == "docker" for e in envs.values()):
        note = "their tests run in docker containers (no network)"
        log(f"verify: {what}: {note}")
        return foreign, note
    box = sandbox.current()
    note = box.describe()
    if box.active:
        log(f"verify: {what}: {note}")
    elif box.settings.mode == "off":
        note = "their patches ran UNSANDBOXED on this host (--sandbox off)"
        log(f"bugfoundry: warning: {what}: {note}")
    else:
        raise UsageError(f"{where}: {what} and no sandbox can be made here ({box.why})\n"
                         "build the repo's environment with --backend docker "
                         "(bugfoundry env build REPO --backend docker), or pass --sandbox off "
                         "to run their patches on this host anyway")
    return foreign, note


def _fix(row: dict[str, Any]) -> str:
    """The diff that fixes the buggy state: SWE-bench's ``patch``, or SWE-smith's reversed."""
    if "bug_patch" in row or "environment_setup_commit" in row:
        return row["patch"]
    return reverse_patch(row["patch"])


def _start(row: dict[str, Any], tree: Path, branches: Path | None) -> tuple[str, str, str]:
    """(commit to check out, bug diff still to apply on it, how the buggy state was made)."""
    base = row.get("base_commit") or ""
    bug = row["bug_patch"] or "" if "bug_patch" in row else row["patch"]
    clean = row.get("clean_commit")
    if clean:  # our exports: base_commit is the snapshot, or the branch's bug commit
        if base != clean and branches is not None and _fetch_instance(row, tree, branches, base):
            return base, "", "branch"
        return clean, bug, "clean commit + bug diff"
    if "bug_patch" in row:  # our SWE-bench rows before instance branches
        return base, bug, "base_commit + bug_patch"
    if "environment_setup_commit" in row:  # an external SWE-bench row: base is buggy
        return base, "", "base_commit"
    return base, bug, "base_commit + patch"  # SWE-smith rows: patch is the bug


def row_repo(row: dict[str, Any]) -> str:
    """The workspace repo a row belongs to (``load_rows`` resolved it)."""
    return str(row.get("bugfoundry_repo") or row["repo"])


def _fetch_instance(row: dict[str, Any], tree: Path, branches: Path, base: str) -> bool:
    """Fetch the instance's refs (its snapshot, its branch) from the export's branch repos;
    whether ``base`` is now there to check out (a sha only: never an option)."""
    mirror = (branches / f"{row_repo(row)}.git").resolve()  # git runs in the work tree
    iid = row["instance_id"]
    if not mirror.is_dir() or not re.fullmatch(r"[0-9a-f]{40}", base):
        return False
    for ref in (f"refs/snapshots/{iid}", f"refs/heads/{iid}"):
        _git(tree, "fetch", "-q", "--no-tags", str(mirror), ref)
    return not _git(tree, "cat-file", "-e", f"{base}^{{commit}}")


def _git(tree: Path, *args: str, stdin: str | None = None) -> str:
    res = subprocess.run(["git", *args], cwd=tree, input=stdin, capture_output=True, text=True,
                         timeout=120)
    if res.returncode:
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        return lines[0] if lines else f"git {args[0]} exited {res.returncode}"
    return ""


def verify_rows(ws: Workspace, store: Store, rows: list[dict[str, Any]], *,
                timeout: float = 600.0, log: Log = quiet,
                branches: Path | None = None, share: bool = True) -> Iterator[RowCheck]:
    """Replay each row; ``branches`` is the export's ``PATH.repos`` (instance branches), so
    the buggy state is checked out as a harness would; without it the bug diff is applied.

    With the fix applied, most rows of a repo leave the very same tree (the clean commit):
    with ``share`` its tests run once per distinct tree (identified by git's tree hash) and
    the outcomes serve every row whose tests they include, instead of one near-full suite
    run per row.
    """
    envs: dict[str, tuple[Environment, Recipe, Path]] = {}
    fixed_runs: dict[tuple[str, str], TestRun] = {}
    orders: dict[tuple[str, str], Callable[[list[str]], list[str]]] = {}
    for row in rows:
        check = RowCheck(row["instance_id"], True, f2p=len(row["FAIL_TO_PASS"]))
        repo = get_repo(store, row_repo(row))
        if repo.name not in envs:
            ensure_copy(ws, repo, log)
            env, recipe = ensure_environment(ws, store, repo, log=log)
            tree = make_worker_tree(repo, ws.worker_path(repo.name, "verify"),
                                    generated=env.generated_dir)
            envs[repo.name] = (env, recipe, tree)
        env, recipe, tree = envs[repo.name]
        reset_tree(tree)
        base, bug, check.start = _start(row, tree, branches)
        base = base or repo.commit
        if not SHA_RE.fullmatch(base):  # load_rows refused it; callers may skip load_rows
            check.ok = False
            check.problems.append(f"base_commit {base[:40]!r} is not a commit sha")
            yield check
            continue
        fix = _fix(row)
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
            order = _suite_order(store, repo.name, row.get("clean_commit") or base, orders)
            # One list in the suite's order: a P2P test may pass only before an F2P one
            # (six's test_lazy checks a module is not imported yet), as a harness runs them.
            f2p, both = order(f2p), order(f2p + p2p)
            seed = random.SystemRandom().randrange(1, 2**32 - 1)  # any hash seed must do
            _git(tree, "add", "-A")  # the row's files, so what the tests write can be cleaned
            buggy = run_pytest(env, tree, recipe, f2p, timeout=timeout, tb="no", hash_seed=seed)
            # A harness grades the fix in a fresh checkout: nothing the buggy run wrote stays.
            _git(tree, "clean", "-q", "-f", "-d", "-x", *keep_args(tree))
            still = [t for t in f2p if buggy.status(t) not in BAD_OUTCOMES]
            check.f2p_failing_with_bug = len(f2p) - len(still)
            if still:
                check.ok = False
                how = "pass" if buggy.status(still[0]) == PASSED else "do not fail"
                check.problems.append(f"{len(still)} FAIL_TO_PASS {how} with the bug "
                                      f"(hash seed {seed}): {still[0]}")
            err = _git(tree, "apply", "--whitespace=nowarn", "-", stdin=fix)
            if err:
                check.ok = False
                check.problems.append(f"could not apply the fix: {err}")
            else:
                key = (repo.name, _tree_hash(tree))
                fixed = fixed_runs.get(key) if share and key[1] else None
                if fixed is not None and set(both) <= set(fixed.outcomes):
                    check.fixed_run = "shared"
                else:
                    fixed = run_pytest(env, tree, recipe, both, timeout=timeout,
                                       tb="no", hash_seed=seed)
                    fixed_runs[key] = fixed
                    check.fixed_run = "own"
                bad = [t for t in both if fixed.status(t) != PASSED]
                check.tests_with_fix = len(both)
                check.passing_with_fix = check.tests_with_fix - len(bad)
                if bad:
                    check.ok = False
                    check.problems.append(f"{len(bad)} tests fail with the fix: {bad[0]}")
        # Back to the pinned commit, the generated files too (a base_commit may track one).
        make_worker_tree(repo, tree, generated=env.generated_dir)
        yield check


def _suite_order(store: Store, repo: str, commit: str,
                 cache: dict[tuple[str, str], Callable[[list[str]], list[str]]]
                 ) -> Callable[[list[str]], list[str]]:
    """How to order a row's tests: as the clean suite ran them when this workspace has a
    baseline at that commit (a test may rely on an earlier one), else as the row lists them."""
    key = (repo, commit)
    if key not in cache:
        baseline = store.latest_baseline(repo, commit) if commit else None
        cache[key] = baseline.ordered if baseline is not None else list
    return cache[key]


def _tree_hash(tree: Path) -> str:
    """Git's hash of the work tree's tracked and new files ("" when git cannot say)."""
    if _git(tree, "add", "-A"):
        return ""
    res = subprocess.run(["git", "write-tree"], cwd=tree, capture_output=True, text=True,
                         timeout=120)
    return res.stdout.strip() if res.returncode == 0 else ""


def check_dict(check: RowCheck) -> dict[str, Any]:
    return asdict(check)
