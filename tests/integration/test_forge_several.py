"""Several repos in one forge (``forge A B``, ``forge --all``): each repo gets the validated
set a forge of it alone gets, a killed run resumes, a repo that fails says why and the others'
results stand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.cli.main import main
from tests.gitrepo import GitRepo
from tests.integration.conftest import SAMPLE_MAX, add_repo, validated_set
from tests.integration.test_shards import _kill_after
from tests.shapes import core_repo

pytestmark = pytest.mark.integration

MAX = str(SAMPLE_MAX)


def several(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["forge", *argv, "--max", MAX, "--workers", "2", "--json"])
    return code, json.loads(capsys.readouterr().out)


def same_as_alone(ws: Path, sample_max_ws: Path, core_alone_ws: Path) -> None:
    for name, alone in (("sample", sample_max_ws), ("core", core_alone_ws)):
        want_reasons, want = validated_set(alone / "bugfoundry.duckdb", name)
        got_reasons, got = validated_set(ws / "bugfoundry.duckdb", name)
        assert got_reasons == want_reasons and want, name
        assert {k: v for k, v in got.items() if k in got_reasons} == want, name


def test_two_repos_in_one_forge_equal_each_alone(
        tmp_path: Path, sample_bundle: Path, core_source: Path, sample_max_ws: Path,
        core_alone_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "two"
    add_repo(ws, sample_bundle, "sample")
    add_repo(ws, core_source, "core")
    # Killed (-9) in the second repo: each verdict was committed as it arrived, so the rerun
    # resumes (the first repo has nothing left, the second what was not judged yet).
    _kill_after(["forge", "sample", "core", "--max", MAX, "--workers", "2",
                 "--workspace", str(ws)], SAMPLE_MAX + 2)
    code, out = several(capsys, "sample", "core", "--workspace", str(ws))
    assert code == 0, out
    assert [r["repo"] for r in out["repos"]] == ["sample", "core"]
    first, second = (r["summary"] for r in out["repos"])
    assert first["already_done"] == SAMPLE_MAX and first["validated_now"] == 0
    assert second["already_done"] >= 2 and second["validated_now"] >= 1
    assert all(r["error"] is None and r["summary"]["kept_total"] for r in out["repos"])
    total = out["total"]
    assert total["forged"] == total["repos"] == 2 and total["failed"] == 0
    assert total["kept"] == sum(r["summary"]["kept_total"] for r in out["repos"])
    same_as_alone(ws, sample_max_ws, core_alone_ws)

    # Repos that cannot be forged (one's copy and source are gone, no test of the other
    # passes) say why; the others are forged (here: resumed, nothing left to run) and the
    # exit code says some failed.
    gone_src = tmp_path / "gone-src"
    core_repo(gone_src)
    add_repo(ws, gone_src, "gone")
    shutil.rmtree(gone_src)
    shutil.rmtree(ws / "repos" / "gone")
    GitRepo(tmp_path / "red").commit("red", {
        "redpkg/__init__.py": "def add(a, b):\n    return a - b\n",
        "tests/test_add.py": "from redpkg import add\n\n\ndef test_add():\n"
                             "    assert add(1, 2) == 3\n",
        "setup.py": "from setuptools import setup\nsetup(name='redpkg', version='0.1', "
                    "packages=['redpkg'])\n"})
    add_repo(ws, tmp_path / "red", "red")
    capsys.readouterr()
    code = main(["forge", "--all", "--max", MAX, "--workspace", str(ws)])
    out_text, err = capsys.readouterr()
    assert code == 1
    assert "forge gone: FAILED: the workspace copy of gone is missing" in out_text
    assert "forge red: FAILED: no test passes on the clean repo" in out_text
    assert "forged sample with procedural" in out_text and "forged core" in out_text
    assert "total: 2 of 4 repos forged" in out_text
    assert "failed: gone" in out_text and "failed: red" in out_text
    assert "forge: gone:" in err and "forge: red:" in err
    same_as_alone(ws, sample_max_ws, core_alone_ws)


def test_repo_lists_are_checked_before_anything_runs(
        tmp_path: Path, sample_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    add_repo(ws, sample_bundle, "sample")
    for argv, said in ((["sample", "typo"], "no repo named 'typo'"),
                       (["--all", "sample"], "name no repo with it"),
                       ([], "forge needs a repo"),
                       (["sample", "sample", "--prepare"], "take one repo")):
        capsys.readouterr()
        assert main(["forge", *argv, "--workspace", str(ws)]) == 2, argv
        assert said in capsys.readouterr().err, argv
    assert not (ws / "envs" / "sample").exists()  # nothing was built
