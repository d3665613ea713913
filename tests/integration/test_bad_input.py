"""Bad input: a one- or two-line error, a non-zero exit, and nothing lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.cli import main

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
