"""Bad input: a one- or two-line error, a non-zero exit, and nothing lost."""

from __future__ import annotations

import functools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli.main import main
from tests.conftest import SAMPLE_BUNDLE

pytestmark = pytest.mark.integration


def _fail(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    assert code != 0, err
    lines = err.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("bugfoundry: error: ")]
    assert len(starts) == 1, err  # progress lines may come first; the error is the tail
    error = lines[starts[0]:]
    assert 1 <= len(error) <= 2, err
    return "\n".join(error)


def _git_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(textwrap.dedent(text))
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"],
    ):
        subprocess.run(["git", *args], cwd=path, check=True)
    return path


PYPROJECT = """
[project]
name = "{name}"
version = "0.1.0"
dependencies = {deps}
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"
"""


def test_not_a_repo(tmp_path: Path, capsys) -> None:
    ws = str(tmp_path / "ws")
    (tmp_path / "empty").mkdir()
    err = _fail(capsys, "repo", "add", str(tmp_path / "empty"), "--workspace", ws)
    assert "not a git repository" in err
    err = _fail(capsys, "repo", "add", str(tmp_path / "nope"), "--workspace", ws)
    assert "does not exist" in err


def test_unreachable_url(tmp_path: Path, capsys) -> None:
    err = _fail(
        capsys,
        "repo",
        "add",
        "https://127.0.0.1:9/org/proj.git",
        "--workspace",
        str(tmp_path / "ws"),
    )
    assert "could not clone" in err


def test_repo_without_tests(tmp_path: Path, capsys) -> None:
    src = _git_repo(
        tmp_path / "notests",
        {"pkg/__init__.py": "X = 1\n", "pyproject.toml": PYPROJECT.format(name="pkg", deps="[]")},
    )
    err = _fail(capsys, "repo", "add", str(src), "--workspace", str(tmp_path / "ws"))
    assert "has no tests" in err


def test_unknown_strategy(tmp_path: Path, capsys) -> None:
    err = _fail(
        capsys,
        "forge",
        "x",
        "--strategy",
        "procedural,telepathy",
        "--workspace",
        str(tmp_path / "ws"),
    )
    assert "unknown strategy 'telepathy'" in err


def test_baseline_that_fails(tmp_path: Path, capsys) -> None:
    src = _git_repo(
        tmp_path / "red",
        {
            "redpkg/__init__.py": "def add(a, b):\n    return a - b\n",
            "tests/test_add.py": "from redpkg import add\n\ndef test_add():\n"
            "    assert add(1, 2) == 3\n",
            "pyproject.toml": PYPROJECT.format(name="redpkg", deps="[]"),
        },
    )
    ws = str(tmp_path / "ws")
    assert main(["repo", "add", str(src), "--workspace", ws]) == 0
    err = _fail(capsys, "forge", "red", "--workspace", ws)
    assert "no test passes on the clean repo" in err and "1 failed" in err


def test_install_that_fails(tmp_path: Path, capsys) -> None:
    src = _git_repo(
        tmp_path / "broken",
        {
            "brokenpkg/__init__.py": "X = 1\n",
            "tests/test_x.py": "def test_x():\n    assert True\n",
            "pyproject.toml": PYPROJECT.format(
                name="brokenpkg", deps='["bugfoundry-no-such-package-xyz==9.9.9"]'
            ),
        },
    )
    ws = str(tmp_path / "ws")
    assert main(["repo", "add", str(src), "--workspace", ws]) == 0
    err = _fail(capsys, "forge", "broken", "--workspace", ws)
    assert "could not install" in err
    assert "bugfoundry-no-such-package-xyz" in err  # the installer's own words


def test_second_writer_is_refused_while_forging(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from engine.store import Store; "
            "s = Store.open(__import__('pathlib').Path(sys.argv[1])); print('ready', flush=True); "
            "time.sleep(60)",
            str(ws / "bugfoundry.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        res = subprocess.run(
            [sys.executable, "-m", "engine.cli", "status", "--workspace", str(ws)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 2
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 2 and f"process {holder.pid}" in lines[0]
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------------- the bad-input table
# Every case: a non-zero exit, at most two ``bugfoundry: error:`` lines naming the problem
# (``expect``) and the fix, no traceback, nothing written outside the workspace, no partial
# output left behind. ``{ws}`` is the case's workspace, ``{tmp}`` its own directory (the
# current directory is ``{tmp}/cwd``, so a default workspace would show up there too).

SAMPLE_COMMIT = "6505d5f8a4feaddd1a018af2da381c26fad4119b"  # data/sample.bundle's HEAD
MONEY = "ledgerkit/money.py"


def _money_patch(path: str = MONEY) -> str:
    """A bug diff for the sample repo (``path`` lets a case name another file)."""
    return (f"--- a/{path}\n+++ b/{path}\n@@ -1,3 +1,3 @@\n"
            '-"""Decimal-backed money values with currency-aware rounding."""\n'
            '+"""Decimal-backed money values, with currency-aware rounding."""\n'
            " \n from __future__ import annotations\n")


def _row(iid: str = "sample.6505d5f8.imported__00000001", **over: object) -> dict:
    row = {"instance_id": iid, "repo": "sample", "base_commit": SAMPLE_COMMIT,
           "patch": _money_patch(), "FAIL_TO_PASS": ["tests/test_money.py::test_x"],
           "PASS_TO_PASS": ["tests/test_money.py::test_y"]}
    row.update(over)
    return row


def _write_rows(name: str, *rows: dict) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return setup


def _write_bytes(name: str, data: bytes) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / name).write_bytes(data)
    return setup


def _junk_parquet(tmp: Path) -> None:
    """Parquet's magic at both ends, junk between: sniffing the magic alone is not enough."""
    (tmp / "junk.parquet").write_bytes(b"PAR1" + random.Random(7).randbytes(6000) + b"PAR1")


def _file(name: str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / name).write_text("not a directory\n")
    return setup


def _dir(name: str, *, with_file: bool = True) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / name).mkdir()
        if with_file:
            (tmp / name / "keep.txt").write_text("the user's file\n")
    return setup


def _damaged(how: str) -> Callable[[Path], None]:
    """A real workspace database, then truncated or overwritten in the middle."""
    def setup(tmp: Path) -> None:
        from engine.models import RepoRecord
        from engine.store import Store

        db = tmp / "ws" / "bugfoundry.duckdb"
        db.parent.mkdir()
        with Store.open(db) as store:
            store.add_repo(RepoRecord("sample", "src", "path", SAMPLE_COMMIT, "/nowhere", ""))
        size = db.stat().st_size
        with open(db, "r+b") as fh:
            if how == "truncated":
                fh.truncate(size // 2)
            else:
                fh.seek(size // 2)
                fh.write(random.Random(3).randbytes(16384))
    return setup


def _immutable(tmp: Path) -> None:
    """A file even root cannot replace: immutable when chattr works here, else a FIFO."""
    path = tmp / "locked.jsonl"
    path.write_text("{}\n")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        path.unlink()
        os.mkfifo(path)


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    expect: str  # a substring of the error (case-insensitive)
    setup: Callable[[Path], None] | None = None
    ws: str = "empty"  # "empty": a new workspace; "prepared": a copy of one with instances;
    #                    "given": the argv names it (no --workspace added)
    entry: str = "engine"  # or "tui": the bugfoundry-tui console script


def _cases() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    # Workspace paths, for every command that opens one.
    every = [("status",), ("repo", "ls"), ("instances",), ("show", "x"), ("dedup",),
             ("export", "--format", "swesmith", "-o", "{tmp}/o.jsonl"),
             ("import", "{tmp}/rows.jsonl"), ("verify", "{tmp}/rows.jsonl"),
             ("forge", "sample"), ("baseline", "sample"), ("env", "ls"),
             ("env", "build", "sample"), ("env", "rm", "sample"), ("mine", "sample"),
             ("statements", "sample", "--mode", "template"), ("realism",),
             ("repo", "add", "{tmp}/nowhere"), ("disputes",), ("agreement",),
             ("assign", "--curators", "a,b"), ("adjudicate", "x", "accept", "--curator", "c"),
             ("blindtest", "status"), ("forge", "sample", "--shard", "0/2"),
             ("merge", "{tmp}/rows.jsonl")]
    rows = _write_rows("rows.jsonl", _row())
    for argv in every:
        name = "-".join(a for a in argv[:2] if not a.startswith(("{", "-")))
        name += "-shard" if "--shard" in argv else ""
        add(Case(f"ws-file-{name}", (*argv, "--workspace", "{tmp}/wsfile"), "is a file",
                 lambda t, r=rows: (_file("wsfile")(t), r(t)), "given"))
        add(Case(f"db-truncated-{name}", argv, "bugfoundry doctor",
                 lambda t, r=rows: (_damaged("truncated")(t), r(t))))
        add(Case(f"db-overwritten-{name}", argv, "bugfoundry doctor",
                 lambda t, r=rows: (_damaged("overwritten")(t), r(t))))
    add(Case("ws-file-tui", ("tui", "--workspace", "{tmp}/wsfile"), "is a file",
             _file("wsfile"), "given", "tui"))
    add(Case("db-truncated-tui", ("tui",), "bugfoundry doctor", _damaged("truncated"),
             entry="tui"))
    add(Case("db-overwritten-tui", ("tui",), "bugfoundry doctor", _damaged("overwritten"),
             entry="tui"))
    add(Case("ws-empty-tui", ("tui", "--workspace", ""), "--workspace is empty", None, "given",
             "tui"))
    for argv in (("status",), ("repo", "ls"), ("instances",)):
        add(Case(f"ws-under-proc-{argv[-1]}", (*argv, "--workspace", "/proc/self/bf-ws"),
                 "cannot create the workspace", None, "given"))
        add(Case(f"ws-under-file-{argv[-1]}", (*argv, "--workspace", "{tmp}/wsfile/ws"),
                 "not a directory", _file("wsfile"), "given"))
        add(Case(f"ws-empty-{argv[-1]}", (*argv, "--workspace", ""), "--workspace is empty",
                 None, "given"))
    # Numbers out of range.
    for flag, value, expect in (("--max", "0", ">= 1"), ("--max", "-5", ">= 1"),
                                ("--workers", "0", ">= 1"), ("--workers", "-2", ">= 1"),
                                ("--timeout", "0", "> 0"), ("--timeout", "-1", "> 0"),
                                ("--timeout", "nan", "> 0"), ("--seed", "abc", "integer"),
                                ("--baseline-runs", "0", ">= 1"),
                                ("--baseline-timeout", "-3", "> 0"),
                                ("--combine-max", "0", ">= 1"), ("--pr-max-files", "-1", ">= 1"),
                                ("--pr-history", "-1", ">= 0"),
                                ("--lm-concurrency", "0", ">= 1"), ("--max-cost", "-1", ">= 0"),
                                ("--workers", "many", "integer")):
        add(Case(f"forge{flag}={value}", ("forge", "sample", f"{flag}={value}"), expect))
    add(Case("forge-strategy-unknown", ("forge", "sample", "--strategy", "telepathy"),
             "unknown strategy"))
    add(Case("forge-modifiers-unknown", ("forge", "sample", "--modifiers", "wrong_name,nope"),
             "unknown procedural modifier(s): nope"))
    add(Case("forge-unknown-repo", ("forge", "nosuch"), "no repo named 'nosuch'", None,
             "prepared"))
    add(Case("baseline-runs=0", ("baseline", "sample", "--runs", "0"), ">= 1"))
    add(Case("baseline-unknown-repo", ("baseline", "nosuch"), "no repo named", None, "prepared"))
    add(Case("instances-limit=-1", ("instances", "--limit", "-1"), ">= 1"))
    add(Case("instances-limit=x", ("instances", "--limit", "x"), "integer"))
    add(Case("dedup-show=-1", ("dedup", "--show", "-1"), ">= 0"))
    add(Case("verify-max=0", ("verify", "{tmp}/rows.jsonl", "--max", "0"), ">= 1", rows))
    add(Case("verify-max=-5", ("verify", "{tmp}/rows.jsonl", "--max", "-5"), ">= 1", rows))
    add(Case("statements-max=0", ("statements", "sample", "--max", "0"), ">= 1"))
    add(Case("statements-unknown-repo", ("statements", "nosuch", "--mode", "template"),
             "no repo named", None, "prepared"))
    add(Case("mine-unknown-repo", ("mine", "nosuch"), "no repo named", None, "prepared"))
    add(Case("mine-pr-max-lines=0", ("mine", "sample", "--pr-max-lines", "0"), ">= 1"))
    add(Case("env-build-unknown-repo", ("env", "build", "nosuch"), "no repo named", None,
             "prepared"))
    add(Case("env-rm-unknown-repo", ("env", "rm", "nosuch"), "no repo named", None, "prepared"))
    add(Case("show-unknown-id", ("show", "nosuch"), "no instance 'nosuch'", None, "prepared"))
    add(Case("realism-unknown-repo", ("realism", "nosuch"), "no repo named", None, "prepared"))
    # Sources.
    add(Case("repo-add-missing-path", ("repo", "add", "{tmp}/nowhere"), "does not exist"))
    add(Case("repo-add-plain-file", ("repo", "add", "{tmp}/plain.txt"), "it is a file",
             _file("plain.txt")))
    add(Case("repo-add-empty-dir", ("repo", "add", "{tmp}/empty"), "not a git repository",
             _dir("empty", with_file=False)))
    add(Case("repo-add-junk-bundle", ("repo", "add", "{tmp}/junk.bundle"),
             "could not read the bundle", _write_bytes("junk.bundle", b"not a bundle\n" * 50)))
    add(Case("repo-add-no-such-url", ("repo", "add", "file:///nonexistent/bf/repo.git"),
             "could not clone file:///nonexistent/bf/repo.git: "))
    add(Case("repo-add-refused-url", ("repo", "add", "https://127.0.0.1:9/org/p.git"),
             "could not clone https://127.0.0.1:9/org/p.git: "))
    add(Case("repo-add-bad-pypi", ("repo", "add", "pypi:requests"), "pypi:NAME==VERSION"))
    add(Case("repo-add-commit-option", ("repo", "add", "{bundle}", "--commit=--orphan=x"),
             "must not start with '-'"))
    add(Case("repo-add-commit-missing", ("repo", "add", "{bundle}", "--commit", "deadbeef"),
             "has no commit 'deadbeef'"))
    for name in ("-evil", "a/b", "..", "../x", "x..y"):
        add(Case(f"repo-add-name={name}", ("repo", "add", "{bundle}", f"--name={name}"),
                 "cannot be used as a repo name"))
    add(Case("repo-add-same-name-other-source", ("repo", "add", "{tmp}/other.bundle",
                                                 "--name", "sample"),
             "already exists", lambda t: shutil.copy(SAMPLE_BUNDLE, t / "other.bundle"),
             "prepared"))
    # Export outputs.
    ex = ("export", "--format", "swesmith", "--split", "all")
    add(Case("export-o-empty", (*ex, "-o", ""), "-o is empty", None, "prepared"))
    add(Case("export-o-under-file", (*ex, "-o", "{tmp}/f/o.jsonl"), "not a directory",
             _file("f"), "prepared"))
    add(Case("export-o-under-proc", (*ex, "-o", "/proc/self/o.jsonl"), "cannot write",
             None, "prepared"))
    add(Case("export-o-dir-under-proc", (*ex, "-o", "/proc/self/bf-out"), "cannot write",
             None, "prepared"))
    add(Case("export-o-deep-under-file", (*ex, "-o", "{tmp}/f/no/such/o.jsonl"),
             "is not a directory", _file("f"), "prepared"))  # missing parents are created
    add(Case("export-o-is-dir-force", (*ex, "-o", "{tmp}/d.jsonl", "--force"), "is a directory",
             _dir("d.jsonl"), "prepared"))
    add(Case("export-o-foreign-dir-force", (*ex, "-o", "{tmp}/mine", "--force"),
             "not a bugfoundry export", _dir("mine"), "prepared"))
    add(Case("export-o-exists", (*ex, "-o", "{tmp}/o.jsonl"), "pass --force",
             _file("o.jsonl"), "prepared"))
    add(Case("export-o-immutable-force", (*ex, "-o", "{tmp}/locked.jsonl", "--force"),
             "cannot write", _immutable, "prepared"))
    for cmd in ("import", "verify"):
        add(Case(f"{cmd}-empty-name", (cmd, ""), "file to read is empty", None, "prepared"))
        add(Case(f"{cmd}-foreign-dir", (cmd, "{tmp}/d"), "no such file", _dir("d"), "prepared"))
    add(Case("export-format-bogus", ("export", "--format", "csv", "-o", "{tmp}/o.csv"),
             "invalid choice"))
    add(Case("export-repo-id-bad", (*ex, "-o", "{tmp}/o.jsonl", "--repo-id", "a/b/c/d"),
             "repo-id", None, "prepared"))
    # Files to import and verify.
    rnd = random.Random(11)
    junk: list[tuple[str, Callable[[Path], None], str]] = [
        ("empty", _write_bytes("in.jsonl", b""), "no rows"),
        ("blank-lines", _write_bytes("in.jsonl", b"\n\n  \n"), "no rows"),
        ("random-4k", _write_bytes("in.jsonl", rnd.randbytes(4096)), "not a JSON lines"),
        ("random-4k-nosuffix", _write_bytes("in", rnd.randbytes(4096)), "not a JSON lines"),
        ("random-8m", _write_bytes("in.jsonl", rnd.randbytes(8 << 20)), "not a JSON lines"),
        ("random-parquet", _write_bytes("in.parquet", rnd.randbytes(4096)), "not a Parquet"),
        ("junk-parquet", _junk_parquet, "not a Parquet"),
        ("json-array", _write_bytes("in.jsonl", b'[{"a": 1}]\n'), "JSON object"),
        ("missing-fields", _write_rows("in.jsonl", {"instance_id": "x"}), "missing repo"),
        ("missing-file", lambda t: None, "no such file"),
    ]
    for what, setup, expect in junk:
        target = ("{tmp}/junk.parquet" if what == "junk-parquet" else
                  "{tmp}/in" if what.endswith("nosuffix") else
                  "{tmp}/in.parquet" if what == "random-parquet" else "{tmp}/in.jsonl")
        for cmd in ("import", "verify"):
            add(Case(f"{cmd}-{what}", (cmd, target), expect, setup, "prepared"))
    bad_rows = [
        ("repo-not-here", _row(repo="elsewhere"), "repo 'elsewhere' is not in this workspace"),
        ("repo-traversal", _row(repo="../../x"), "repo '../../x' is not in this workspace"),
        ("base-commit-option", _row(base_commit="--orphan=evilbranch"),
         "base_commit must be a commit sha"),
        ("absolute-patch-path", _row(patch=_money_patch("/etc/passwd")), "unsafe path"),
        ("dotdot-patch-path", _row(patch=_money_patch("../outside.py")), "unsafe path"),
        ("test-id-option", _row(FAIL_TO_PASS=["--rootdir=/"]), "must not start with '-'"),
    ]
    for what, row, expect in bad_rows:
        for cmd in ("import", "verify"):
            add(Case(f"{cmd}-row-{what}", (cmd, "{tmp}/in.jsonl"), expect,
                     _write_rows("in.jsonl", row), "prepared"))
    # Curating as a team.
    one = "sample.6505d5f8.imported__00000001"
    add(Case("adjudicate-unknown-id", ("adjudicate", "nosuch", "accept", "--curator", "cy"),
             "no instance 'nosuch'", None, "prepared"))
    add(Case("adjudicate-bad-decision", ("adjudicate", one, "skip", "--curator", "cy"),
             "invalid choice", None, "prepared"))
    add(Case("adjudicate-unknown-reason", ("adjudicate", one, "reject", "--curator", "cy",
                                           "--reason", "bogus"),
             "unknown reject reason 'bogus'", None, "prepared"))
    add(Case("adjudicate-reason-on-accept", ("adjudicate", one, "accept", "--curator", "cy",
                                             "--reason", "trivial"),
             "--reason goes with reject", None, "prepared"))
    add(Case("adjudicate-undo-nothing", ("adjudicate", one, "undo", "--curator", "cy"),
             "no final decision", None, "prepared"))
    add(Case("assign-overlap-too-big", ("assign", "--curators", "ann", "--overlap", "2"),
             "needs at least 2 curators", None, "prepared"))
    add(Case("assign-overlap=0", ("assign", "--curators", "ann,bob", "--overlap", "0"),
             ">= 1"))
    add(Case("assign-no-curators", ("assign", "--curators", ","), "needs curators", None,
             "prepared"))
    add(Case("assign-unknown-repo", ("assign", "--curators", "a,b", "--repo", "nosuch"),
             "no repo named", None, "prepared"))
    add(Case("instances-decision-bogus", ("instances", "--decision", "maybe"),
             "invalid choice"))
    add(Case("curation-toml-broken", ("guidelines",), "cannot be read",
             _write_bytes("ws/curation.toml", b"overlap = \n"), "prepared"))
    add(Case("curation-toml-bad-reasons", ("assign", "--curators", "a,b"),
             "reason ids must differ", _write_bytes(
                 "ws/curation.toml", b"[[reasons]]\nid = 'x'\n[[reasons]]\nid = 'x'\n"),
             "prepared"))
    # Realism report outputs.
    add(Case("realism-html-under-file", ("realism", "--html", "{tmp}/f/r.html"),
             "not a directory", _file("f"), "prepared"))
    add(Case("realism-html-under-proc", ("realism", "--html", "/proc/self/r.html"),
             "cannot write", None, "prepared"))
    add(Case("realism-html-empty", ("realism", "--html", ""), "--html is empty", None,
             "prepared"))
    add(Case("realism-png-dir", ("realism", "--png", "{tmp}/d"), "is a directory",
             _dir("d"), "prepared"))
    # The blind test.
    add(Case("blindtest-new-no-real", ("blindtest", "new"), "--strategy pr_mirror", None,
             "prepared"))
    add(Case("blindtest-new-unknown-repo", ("blindtest", "new", "--repo", "nosuch"),
             "no repo named", None, "prepared"))
    add(Case("blindtest-new-share=1.5", ("blindtest", "new", "--real-share", "1.5"),
             "between 0 and 1"))
    add(Case("blindtest-new-share=half", ("blindtest", "new", "--real-share", "half"),
             "like 0.5 or 50%"))
    add(Case("blindtest-new-items=0", ("blindtest", "new", "--items", "0"), ">= 1"))
    add(Case("blindtest-report-no-session", ("blindtest", "report"), "blindtest new", None,
             "prepared"))
    add(Case("blindtest-report-session=0", ("blindtest", "report", "--session", "0"), ">= 1"))
    add(Case("blindtest-report-out-dir", ("blindtest", "report", "--out", "{tmp}/d"),
             "is a directory", _dir("d"), "prepared"))
    add(Case("blindtest-report-format", ("blindtest", "report", "--format", "pdf"),
             "invalid choice"))
    _shard_cases(add)
    return cases


def _shard_cases(add: Callable[[Case], None]) -> None:
    """forge --prepare / --shard and merge (issue 21)."""
    add(Case("shard-index-too-big", ("forge", "sample", "--shard", "2/2"), "below 2"))
    add(Case("shard-not-i-of-n", ("forge", "sample", "--shard", "half"), "is not I/N"))
    add(Case("shard-and-prepare", ("forge", "sample", "--shard", "0/2", "--prepare"),
             "two steps"))
    add(Case("shard-file-alone", ("forge", "sample", "--shard-file", "{tmp}/s.duckdb"),
             "give --shard"))
    add(Case("shard-unprepared", ("forge", "sample", "--shard", "0/2"), "not prepared", None,
             "prepared"))
    add(Case("shard-unknown-repo", ("forge", "nosuch", "--shard", "0/2"), "no repo named",
             None, "prepared"))
    add(Case("prepare-pr-mirror", ("forge", "sample", "--prepare", "--strategy", "pr_mirror"),
             "run only", None, "prepared"))
    add(Case("ray-and-shard", ("forge", "sample", "--ray", "--shard", "0/2"),
             "give one of them"))
    add(Case("ray-shard-zero", ("forge", "sample", "--ray", "--ray-shard", "0"), "--ray-shard"))
    add(Case("merge-missing", ("merge", "{tmp}/nope.duckdb"), "no shard file", None,
             "prepared"))
    add(Case("merge-empty-dir", ("merge", "{tmp}/d"), "no shard file", _dir("d"), "prepared"))
    add(Case("merge-junk", ("merge", "{tmp}/junk.duckdb"), "cannot read the shard file",
             _write_bytes("junk.duckdb", b"not duckdb" * 100), "prepared"))
    add(Case("merge-own-database", ("merge", "{ws}/bugfoundry.duckdb"), "not a shard",
             None, "prepared"))


CASES = _cases()
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \"", re.M)


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for p in root.rglob("*"):
        if p.is_symlink() or not p.is_dir():
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
        else:
            out[str(p.relative_to(root)) + "/"] = (0, 0)
    return out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the sample repo (no environment) and two imported instances."""
    ws = tmp_path_factory.mktemp("prepared-ws")
    assert main(["repo", "add", str(SAMPLE_BUNDLE), "--name", "sample",
                 "--workspace", str(ws)]) == 0
    rows = ws.parent / "prepared-rows.jsonl"
    rows.write_text(json.dumps(_row()) + "\n" + json.dumps(
        _row("sample.6505d5f8.imported__00000002", FAIL_TO_PASS=["tests/test_money.py::t2"]))
        + "\n")
    assert main(["import", str(rows), "--workspace", str(ws)]) == 0
    return ws


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 80 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, prepared: Path, capsys,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.cli import main as tui_main

    cwd, scratch = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    scratch.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TMPDIR", str(scratch))  # temporary files of this case land here
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.delenv("BUGFOUNDRY_HOME", raising=False)
    ws = tmp_path / "ws"
    if case.ws == "prepared":
        shutil.copytree(prepared, ws, symlinks=True)
    if case.setup is not None:
        case.setup(tmp_path)
    subst = {"{ws}": str(ws), "{tmp}": str(tmp_path), "{bundle}": str(SAMPLE_BUNDLE)}
    argv = [functools.reduce(lambda a, kv: a.replace(*kv), subst.items(), arg)
            for arg in case.argv]
    if case.ws != "given":
        argv += ["--workspace", str(ws)]
    before = _tree(tmp_path)
    capsys.readouterr()
    try:
        code = (tui_main if case.entry == "tui" else main)(argv)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        if (tmp_path / "locked.jsonl").is_file():
            subprocess.run(["chattr", "-i", str(tmp_path / "locked.jsonl")], check=False)
    err = capsys.readouterr().err
    assert not TRACEBACK.search(err), err
    assert code not in (0, None), err
    lines = err.strip().splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("bugfoundry: error: ")]
    assert len(starts) == 1, err  # progress lines may come first; the error is the tail
    error = "\n".join(lines[starts[0]:])
    assert len(lines) - starts[0] <= 2, err
    assert case.expect.lower() in error.lower(), error
    assert error.split(case.expect, 1)[-1].strip(" '\n"), f"no reason given: {error}"
    after = _tree(tmp_path)
    mine = ("ws/", "tmp/")  # the workspace, and the scratch directory checked above
    new = sorted(k for k in set(after) - set(before) if not k.startswith(mine))
    changed = sorted(k for k in set(before) & set(after)
                     if before[k] != after[k] and not k.startswith(mine))
    assert not new and not changed, (new, changed)  # nothing outside the workspace
    assert not list(scratch.iterdir())  # no temporary file or directory left


def test_one_row_with_an_absolute_path_costs_no_other_instance_its_branch(
        prepared: Path, tmp_path: Path) -> None:
    """An instance stored before import refused such rows: its diff creates ``/tmp/...``.
    git fast-import takes every instance of a repo in one stream, so that one path used to
    fail the stream and every instance went out without its branch."""
    from engine.dataset.rows import instance_from_row
    from engine.store import Store

    ws = tmp_path / "ws"
    shutil.copytree(prepared, ws, symlinks=True)
    creates = "--- /dev/null\n+++ b//tmp/bf-evil-created.py\n@@ -0,0 +1 @@\n+X = 1\n"
    evil = _row("sample.6505d5f8.imported__0000000e", patch=_money_patch() + creates)
    with Store.open(ws / "bugfoundry.duckdb") as store:
        assert store.import_instances([instance_from_row(evil, "old-import", "sample")]) == 1
    out = tmp_path / "out.jsonl"
    assert main(["export", "--format", "swesmith", "--split", "all", "--dedup", "none",
                 "-o", str(out), "--workspace", str(ws)]) == 0
    manifest = json.loads((tmp_path / ".out.jsonl.bugfoundry" / "manifest.json").read_text())
    branches = manifest["branches"]
    assert branches["without_branch"] == 1, branches
    assert "outside the repo" in next(iter(branches["without_branch_examples"].values()))
    heads = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/heads/"],
                           cwd=branches["repositories"]["sample"], capture_output=True,
                           text=True, check=True).stdout.split()
    assert len([h for h in heads if "imported__" in h]) == 2, heads  # the two good ones
    assert not Path("/tmp/bf-evil-created.py").exists()


def test_a_worker_tree_removed_mid_run_is_made_again(sample_ws: Path) -> None:
    """Deleting ``work/<repo>/<k>`` while a forge runs (a cleanup, by hand) used to end the
    run in a traceback at the next candidate; the tree is now cloned again."""
    from engine.forge.setup import build_validator, ensure_baseline, ensure_environment, get_repo
    from engine.models import Candidate
    from engine.store import Store
    from engine.workspace import Workspace

    ws = Workspace.open(sample_ws)
    with Store.open(ws.db_path) as store:
        repo = get_repo(store, "sample")
        env, recipe = ensure_environment(ws, store, repo)
        baseline = ensure_baseline(ws, store, repo, env, recipe)
        validator = build_validator(ws, repo, env, recipe, baseline,
                                    store.load_test_map(baseline.baseline_id), workers=1)
    old = "        return CURRENCY_EXPONENTS[currency.upper()]\n"
    patch = (f"--- a/{MONEY}\n+++ b/{MONEY}\n@@ -20,3 +20,3 @@\n"
             '     """Return the number of decimal places used by ``currency``."""\n'
             f"     try:\n-{old}+{old.rstrip()} + 1\n")
    cand = Candidate("sample", "procedural", "handmade", patch, file=MONEY)
    try:
        first = validator.validate(cand)
        tree = validator.workers[0].tree
        shutil.rmtree(tree)
        again = validator.validate(cand)
        assert (tree / ".git").is_dir()
    finally:
        validator.close()
    assert first.kept, first
    assert again.kept and again.fail_to_pass == first.fail_to_pass, again
