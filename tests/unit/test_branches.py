"""Instance branches: a real git repo, one fast-import stream, commits checked with git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from engine.dataset.branches import BranchRequest, valid_branch, write_branches
from engine.diffs import file_patch, make_patch
from tests.gitrepo import GitRepo

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout


def test_each_instance_becomes_swesmith_branch_and_a_snapshot(tmp_path: Path) -> None:
    """Per instance: clean -> bug -> F2P test files removed on refs/heads/<id> (SWE-smith
    checks out the branch, then HEAD~1), and a parentless snapshot of the buggy tree; neutral
    messages, reproducible shas."""
    repo = GitRepo(tmp_path / "src")
    first = repo.commit("first", {"pkg/calc.py": CALC, "run.sh": "#!/bin/sh\necho hi\n",
                                  "old.txt": "bye\n", "tests/test_calc.py": "def test(): pass\n"})
    os.chmod(repo.path / "run.sh", 0o755)
    repo.git("add", "run.sh")
    second = repo.commit("second", {"README": "x\n"})
    edit = make_patch("pkg/calc.py", CALC, CALC.replace("a + b", "a - b"))
    multi = (make_patch("run.sh", "#!/bin/sh\necho hi\n", "#!/bin/sh\necho ho\n")
             + file_patch("new.py", None, "X = 1\n") + file_patch("old.txt", "bye\n", None))
    requests = [BranchRequest("proj.1.edit", second, edit, ("tests/test_calc.py",)),
                BranchRequest("proj.1.multi", second, multi),
                BranchRequest("proj.0.old_base", first, edit),
                BranchRequest("bad name", second, edit),
                BranchRequest("proj.1.misfit", second,
                              make_patch("pkg/calc.py", "nothing like it\n", "else\n"))]
    dest = tmp_path / "out" / "proj.git"
    result = write_branches(repo.path, dest, requests)
    assert set(result.shas) == {"proj.1.edit", "proj.1.multi", "proj.0.old_base"}
    assert set(result.failed) == {"bad name", "proj.1.misfit"}
    for iid, c in result.shas.items():
        assert _git(dest, "rev-parse", f"refs/heads/{iid}").strip() == c.tip
        assert _git(dest, "rev-parse", f"refs/heads/{iid}~1").strip() == c.bug
        assert _git(dest, "rev-parse", f"refs/snapshots/{iid}").strip() == c.snapshot
        # the snapshot holds the buggy tree and has no parent to diff against
        assert _git(dest, "rev-parse", f"{c.snapshot}^{{tree}}") == _git(
            dest, "rev-parse", f"{c.bug}^{{tree}}")
        assert _git(dest, "log", "--format=%P", "-1", c.snapshot).strip() == ""
        messages = _git(dest, "log", "--format=%s", f"{c.tip}~2..{c.tip}").split("\n")
        assert messages[:2] == ["Remove tests", "Update files"]
    edit_c = result.shas["proj.1.edit"]
    assert _git(dest, "rev-parse", f"{edit_c.bug}^").strip() == second
    assert _git(dest, "rev-parse", f"{result.shas['proj.0.old_base'].bug}^").strip() == first
    assert _git(dest, "show", f"{edit_c.bug}:pkg/calc.py") == CALC.replace("a + b", "a - b")
    # The second commit removes exactly the FAIL_TO_PASS test files.
    assert _git(dest, "diff", "--name-status", edit_c.bug, edit_c.tip).split() == [
        "D", "tests/test_calc.py"]
    multi_sha = result.shas["proj.1.multi"].bug
    assert _git(dest, "show", f"{multi_sha}:new.py") == "X = 1\n"
    assert "old.txt" not in _git(dest, "ls-tree", "--name-only", multi_sha).split()
    assert _git(dest, "ls-tree", multi_sha, "run.sh").split()[0] == "100755"  # mode kept
    # The same requests again (into a fresh repo) give the same commits.
    again = write_branches(repo.path, tmp_path / "again" / "proj.git", requests)
    assert again.shas == result.shas


def test_branch_names() -> None:
    assert valid_branch("sample.5f2532d4.pr_mirror_route_b__ec8077f3")
    assert valid_branch("django__django-11099") and valid_branch("a/b")
    for bad in ("", "a b", "a..b", "x.lock", "-x", ".x", "x.", "a~1", "a:b", "a@{b", "a/.b"):
        assert not valid_branch(bad), bad
