"""Files the environment build writes into the source (setuptools-scm's version file).

A package that imports a git-ignored ``_version.py`` written at build time must import in
every work tree the engine tests in, before and after the tree is reset.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.generated import kept, listing
from engine.repos import reset_tree
from tests.scmrepo import VERSION_FILE, scm_repo

pytestmark = pytest.mark.integration


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    return json.loads(out.out)


@pytest.mark.parametrize("key", ["version_file", "write_to"])
def test_setuptools_scm_version_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     key: str) -> None:
    src = scm_repo(tmp_path / "scmpkg", key)
    ws = tmp_path / "ws"
    _run(capsys, "repo", "add", str(src), "--workspace", str(ws))
    summary = _run(capsys, "forge", "scmpkg", "--strategy", "procedural", "--max", "10",
                   "--workers", "2", "--workspace", str(ws))
    assert summary["baseline_passing"] == summary["baseline_tests"] == 6
    assert summary["kept_total"] >= 1, summary["drop_reasons"]
    # The environment keeps what its build generated; every tree has it and resets keep it.
    assert listing(ws / "envs" / "scmpkg" / "generated") == [VERSION_FILE]
    trees = [p for p in (ws / "work" / "scmpkg").iterdir() if (p / ".git").exists()]
    assert trees
    for tree in trees:
        assert kept(tree) == [VERSION_FILE]
        (tree / "stray.py").write_text("x = 1\n")
        reset_tree(tree)
        assert (tree / VERSION_FILE).is_file() and not (tree / "stray.py").exists(), tree
    # The cold path resets the tree and starts a new pytest for every candidate.
    cold = _run(capsys, "forge", "scmpkg", "--strategy", "procedural", "--max", "16",
                "--validation", "cold", "--workers", "1", "--workspace", str(ws))
    assert cold["paths"].get("cold", 0) >= 1 and cold["kept_total"] >= 1, cold
    # It is never part of a candidate's diff.
    for inst in _run(capsys, "instances", "--repo", "scmpkg", "--workspace", str(ws)):
        assert "_version.py" not in inst["patch"]
