"""Fix-commit mining: message heuristics, path classes, diff splitting, skips on a real repo."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from engine.diffs import file_patch, reverse_patch
from engine.errors import RepoError, UsageError
from engine.mining import (
    FixCommit,
    MiningConfig,
    classify_path,
    fix_diff,
    fix_signal,
    issue_refs,
    judge,
    load_issues,
    mine,
    problem_statement,
    split_patch,
    statement_for,
)
from tests.gitrepo import GitRepo


@pytest.mark.parametrize(("rel", "kind"), [
    ("pkg/mod.py", "source"), ("src/pkg/sub/mod.py", "source"), ("mod.py", "source"),
    ("tests/test_mod.py", "test"), ("pkg/tests/helpers.py", "test"), ("test_x.py", "test"),
    ("pkg/mod_test.py", "test"), ("conftest.py", "test"), ("tests/data/x.json", "test"),
    ("tests.py", "test"), ("pkg/test.py", "source"), ("pkg/mod_tests.py", "test"),
    ("docs/conf.py", "other"), ("setup.py", "other"), ("README.md", "other"),
    ("CHANGES.rst", "other"), (".github/x.py", "other"), ("pkg/data.json", "other"),
])
def test_classify_path(rel: str, kind: str) -> None:
    assert classify_path(rel) == kind


@pytest.mark.parametrize(("subject", "body", "signal"), [
    ("Fix off-by-one in pagination", "", "subject"),
    ("fixes crash when input is empty", "", "subject"),
    ("Handle bug in parser", "", "subject"),
    ("Regression: sort order", "", "subject"),
    ("Round halves up (closes #3)", "", "issue_ref"),
    ("Round halves up", "Resolves: org/repo#12", "issue_ref"),
    ("Merge pull request #40 from a/branch", "Crash on empty input fixed", "pr_body"),
    ("Add CSV import", "", ""),
    ("Prefix handling for paths", "", ""),  # "fix" inside a word is no fix
    ("Add debug logging", "", ""),
    ("Merge pull request #41 from a/feature", "Add a feature", ""),
])
def test_fix_signal(subject: str, body: str, signal: str) -> None:
    assert fix_signal(subject, body) == signal


def test_issue_refs() -> None:
    assert issue_refs("Fix x (closes #7)\n\nAlso fixes #9 and Closes org/r#7") == [7, 9]
    assert issue_refs("see #5 for context") == []


def test_problem_statement_drops_trailers_and_pr_boilerplate() -> None:
    text = problem_statement(
        "Fix retry() returning None (closes #14)",
        "When all attempts failed the loop ended.\n\nCloses #14\nSigned-off-by: A <a@b>\n")
    assert text == "Fix retry() returning None\n\nWhen all attempts failed the loop ended."
    merged = problem_statement("Merge pull request #40 from a/fix-empty",
                               "Crash on empty input\n\nThe parser indexed [0].\n\nFixes #39")
    assert merged == "Crash on empty input\n\nThe parser indexed [0]."
    assert problem_statement("Fix typo (#123)", "") == "Fix typo"


SOURCE_DIFF = ("diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n"
               "@@ -1 +1 @@\n-a = 1\n+a = 2\n")
TEST_DIFF = ("diff --git a/tests/test_m.py b/tests/test_m.py\nnew file mode 100644\n"
             "--- /dev/null\n+++ b/tests/test_m.py\n@@ -0,0 +1 @@\n+def test(): pass\n")
DOC_DIFF = "diff --git a/CHANGES.md b/CHANGES.md\n--- a/CHANGES.md\n+++ b/CHANGES.md\n" \
           "@@ -1 +1,2 @@\n x\n+- fixed a\n"


def test_split_patch_keeps_each_half_a_valid_diff() -> None:
    halves = split_patch(TEST_DIFF + SOURCE_DIFF + DOC_DIFF)
    assert halves == {"source": SOURCE_DIFF, "test": TEST_DIFF, "other": DOC_DIFF}
    assert split_patch("") == {"source": "", "test": "", "other": ""}


def _commit(**kw: object) -> FixCommit:
    return FixCommit("s", "p", "commit", str(kw.pop("subject", "Fix it")), "", "", **kw)


@pytest.mark.parametrize(("numstat", "config", "skip"), [
    ([("1", "1", "pkg/a.py"), ("3", "0", "tests/test_a.py")], MiningConfig(), ""),
    ([("1", "1", "pkg/a.py")], MiningConfig(), "no_test_change"),
    ([("3", "0", "tests/test_a.py"), ("1", "0", "README.md")], MiningConfig(), "no_source_change"),
    ([("-", "-", "pkg/logo.png"), ("1", "1", "pkg/a.py"), ("1", "0", "tests/t.py")],
     MiningConfig(), "binary"),
    ([("-", "-", "pkg/logo.png"), ("1", "1", "pkg/a.py"), ("1", "0", "tests/t.py")],
     MiningConfig(allow_binary=True), ""),
    ([(str(1), "1", f"pkg/m{k}.py") for k in range(3)] + [("1", "0", "tests/t.py")],
     MiningConfig(max_source_files=2), "too_many_files"),
    ([("400", "200", "pkg/a.py"), ("1", "0", "tests/t.py")], MiningConfig(), "too_many_lines"),
])
def test_judge_skips(numstat: list[tuple[str, str, str]], config: MiningConfig,
                     skip: str) -> None:
    assert judge(_commit(), numstat, config).skip == skip


def test_judge_message_filter_is_configurable() -> None:
    rows = [("1", "1", "pkg/a.py"), ("1", "0", "tests/t.py")]
    assert judge(_commit(subject="Add a"), rows, MiningConfig()).skip == "not_a_fix"
    assert judge(_commit(subject="Add a"), rows,
                 MiningConfig(require_fix_message=False)).skip == ""
    for subject in ("Fix flake8 issues", "Fix typo in docs", "fix mypy findings",
                    "Fix CI on 3.13", "Fix long lines", "Fixes #79 -- PEP-8 violations"):
        assert judge(_commit(subject=subject), rows, MiningConfig()).skip == "cosmetic"
    assert judge(_commit(subject="Fix black box test"), rows,
                 MiningConfig(require_fix_message=False)).skip == ""


@pytest.fixture()
def history(tmp_path: Path) -> GitRepo:
    """root; a fix; a feature; a PR (branch with a fix, merged); a binary fix; a plain merge."""
    g = GitRepo(tmp_path / "r")
    g.commit("Initial", {"pkg/m.py": "def f():\n    return 1\n", "tests/test_m.py": "x = 1\n"})
    g.commit("Fix f() (closes #2)", {"pkg/m.py": "def f():\n    return 2\n",
                                     "tests/test_m.py": "x = 2\n"})
    g.commit("Add g", {"pkg/g.py": "def g():\n    return 1\n", "tests/test_g.py": "y = 1\n"})
    g.git("checkout", "-q", "-b", "topic")
    g.commit("Fix g for empty input", {"pkg/g.py": "def g():\n    return 0\n",
                                       "tests/test_g.py": "y = 0\n"})
    g.git("checkout", "-q", "main")
    g.commit("Tweak docs", {"README.md": "r\n"})
    g.git("merge", "-q", "--no-ff", "topic", "-m", "Merge pull request #5 from me/topic",
          "-m", "Fix g for empty input")
    g.commit("Fix icon bug", {"pkg/icon.png": b"\x89PNG\x00\x01", "pkg/m.py":
                              "def f():\n    return 3\n", "tests/test_m.py": "x = 3\n"})
    g.git("checkout", "-q", "-b", "other")
    g.commit("Fix docs typo", {"README.md": "R\n"})
    g.git("checkout", "-q", "main")
    g.git("merge", "-q", "--no-ff", "other", "-m", "Merge branch 'other'")
    return g


def test_mine_a_real_history(history: GitRepo) -> None:
    commits = {c.subject: c for c in mine(history.path)}
    assert commits["Initial"].skip == "root_commit"
    fix = commits["Fix f() (closes #2)"]
    assert (fix.skip, fix.kind, fix.issues, fix.signal) == ("", "commit", [2], "subject")
    assert fix.source_files == ["pkg/m.py"] and fix.test_files == ["tests/test_m.py"]
    assert commits["Add g"].skip == "not_a_fix"
    pr = commits["Merge pull request #5 from me/topic"]
    assert (pr.skip, pr.kind, pr.pr, pr.signal) == ("", "merge", 5, "pr_body")
    assert pr.source_files == ["pkg/g.py"]
    inner = commits["Fix g for empty input"]
    assert inner.skip == "in_merged_pr" and "#5" in inner.skip_detail
    assert commits["Fix icon bug"].skip == "binary"
    assert commits["Merge branch 'other'"].skip == "not_a_pr_merge"
    assert commits["Tweak docs"].skip == "not_a_fix"
    assert statement_for(pr) == ("Fix g for empty input", "commit message")
    assert statement_for(fix, {2: "f returns 1\n\nit should return 2"}) == (
        "f returns 1\n\nit should return 2", "issue #2")
    halves = split_patch(fix_diff(history.path, pr))
    assert "+    return 0" in halves["source"] and "y = 0" in halves["test"]


def test_mine_refuses_a_non_repo(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="not a git repository"):
        mine(tmp_path)


def test_load_issues(tmp_path: Path) -> None:
    p = tmp_path / "issues.json"
    p.write_text(json.dumps([{"number": 3, "title": "Bad rounding", "body": "2.345 -> 2.34"}]))
    assert load_issues(p) == {3: "Bad rounding\n\n2.345 -> 2.34"}
    p.write_text('{"number": 4, "title": "t"}\n{"number": 5, "body": "b"}\n')
    assert load_issues(p) == {4: "t", 5: "b"}
    p.write_text("[{")
    with pytest.raises(UsageError, match="not JSON"):
        load_issues(p)
    p.write_text('[{"title": "no number"}]')
    with pytest.raises(UsageError, match="issue 1 has no integer 'number'"):
        load_issues(p)
    with pytest.raises(UsageError, match="cannot read"):
        load_issues(tmp_path / "missing.json")


def test_created_and_deleted_file_diffs_apply_with_git(tmp_path: Path) -> None:
    g = GitRepo(tmp_path / "r")
    g.commit("init", {"a.py": "a\n"})
    create = file_patch("pkg/new.py", None, "x = 1\n")
    delete = file_patch("a.py", "a\n", None)
    for patch in (create, delete):
        subprocess.run(["git", "apply", "-"], cwd=g.path, input=patch, text=True, check=True)
    assert (g.path / "pkg/new.py").read_text() == "x = 1\n" and not (g.path / "a.py").exists()
    for patch in (create, delete):
        subprocess.run(["git", "apply", "-"], cwd=g.path, input=reverse_patch(patch),
                       text=True, check=True)
    assert (g.path / "a.py").read_text() == "a\n" and not (g.path / "pkg/new.py").exists()
