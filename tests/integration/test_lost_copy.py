"""A deleted workspace copy (``<workspace>/repos/NAME``): restored, or a clear error."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.cli.main import main
from tests.gitrepo import GitRepo

pytestmark = pytest.mark.integration

FILES = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "tally"
        version = "0.1"
    """,
    "tally.py": """
        def total(xs):
            out = 0
            for x in xs:
                out += x
            return out


        def biggest(xs):
            best = None
            for x in xs:
                if best is None or x > best:
                    best = x
            return best


        def count_if(xs, pred):
            return sum(1 for x in xs if pred(x))
    """,
    "tests/test_tally.py": """
        from tally import biggest, count_if, total


        def test_total():
            assert total([1, 2, 3]) == 6
            assert total([]) == 0


        def test_biggest():
            assert biggest([3, 9, 2]) == 9
            assert biggest([]) is None


        def test_count_if():
            assert count_if([1, 2, 3, 4], lambda x: x % 2 == 0) == 2
    """,
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def forged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, dict]:
    """(source, workspace, the forge's summary) after a first forge."""
    src = GitRepo(tmp_path / "tally")
    src.commit("init", {k: textwrap.dedent(v).lstrip() for k, v in FILES.items()})
    ws = tmp_path / "ws"
    assert _run(capsys, "repo", "add", str(src.path), "--workspace", str(ws))[0] == 0
    code, out, err = _run(capsys, "forge", "tally", "--max", "6", "--workers", "1",
                          "--workspace", str(ws), "--json")
    assert code == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["kept_total"] >= 1
    return src.path, ws, summary


def _instances(capsys: pytest.CaptureFixture[str], ws: Path) -> list[str]:
    code, out, _ = _run(capsys, "instances", "--repo", "tally", "--workspace", str(ws), "--json")
    assert code == 0
    return sorted(i["instance_id"] for i in json.loads(out))


def _restored(err: str, src: Path, ws: Path, problem: str = "missing") -> None:
    """The command said, in one line, that it restored the copy, and it is at that commit."""
    said = [ln for ln in err.splitlines() if "workspace copy of tally" in ln]
    assert len(said) == 1, err
    prefix = f"workspace copy of tally was {problem}; restored from {src} at "
    assert said[0].startswith(prefix), err
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ws / "repos" / "tally",
                          capture_output=True, text=True, check=True).stdout
    assert head.startswith(said[0].removeprefix(prefix)) and len(said[0]) == len(prefix) + 8


def test_forge_restores_a_deleted_copy(forged: tuple[Path, Path, dict],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    src, ws, first = forged
    before = _instances(capsys, ws)
    shutil.rmtree(ws / "repos" / "tally")
    code, out, err = _run(capsys, "forge", "tally", "--max", "6", "--workers", "1",
                          "--workspace", str(ws), "--json")
    assert code == 0, err[-2000:]
    _restored(err, src, ws)
    again = json.loads(out)
    assert again["already_done"] == again["candidates"] == first["candidates"]
    assert _instances(capsys, ws) == before
    # The work trees (clones sharing the copy's objects) validate new candidates as before.
    code, out, err = _run(capsys, "forge", "tally", "--max", "12", "--workers", "1",
                          "--workspace", str(ws), "--json")
    assert code == 0 and json.loads(out)["validated_now"] > 0, err[-2000:]


def test_every_command_that_reads_the_copy_restores_it(
        forged: tuple[Path, Path, dict], capsys: pytest.CaptureFixture[str]) -> None:
    src, ws, _ = forged
    copy = ws / "repos" / "tally"
    def empty() -> None:
        for p in copy.iterdir():
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()

    damages: list[tuple[str, Callable[[], None]]] = [
        ("missing", lambda: shutil.rmtree(copy)),
        ("missing its .git", lambda: shutil.rmtree(copy / ".git")),
        ("missing", empty),
    ]
    commands = [["repo", "add", str(src)], ["baseline", "tally"], ["env", "build", "tally"],
                ["mine", "tally"]]
    for i, argv in enumerate(commands):
        problem, damage = damages[i % len(damages)]
        damage()
        code, _out, err = _run(capsys, *argv, "--workspace", str(ws))
        assert code == 0, (argv, err[-2000:])
        _restored(err, src, ws, problem)
    # An export replays (verify) with the copy gone.
    export = ws.parent / "out.jsonl"
    code, _out, err = _run(capsys, "export", "--format", "swesmith", "--split", "all", "-o",
                           str(export), "--workspace", str(ws))
    assert code == 0, err
    shutil.rmtree(copy)
    code, out, err = _run(capsys, "verify", str(export), "--max", "1", "--workspace", str(ws))
    assert code == 0, out + err[-2000:]
    _restored(err, src, ws)


def test_a_copy_that_cannot_be_restored_is_a_clear_error(
        forged: tuple[Path, Path, dict], capsys: pytest.CaptureFixture[str]) -> None:
    src, ws, _ = forged
    shutil.rmtree(ws / "repos" / "tally")
    shutil.rmtree(src)
    for argv in (["forge", "tally", "--max", "6"], ["repo", "add", str(src)]):
        code, _out, err = _run(capsys, *argv, "--workspace", str(ws))
        assert code == 2, err
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 2, err
        assert lines[0].startswith("bugfoundry: error: the workspace copy of tally is missing "
                                   "and could not be restored"), err
        assert f"{src} does not exist" in lines[0]
        assert "bugfoundry repo add" in lines[1]


def test_a_relative_source_is_recorded_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """``repo add tally`` from the source's parent: the record names the absolute path, so
    a lost copy is restored from any working directory."""
    from engine.forge.setup import get_repo
    from engine.repos import ensure_copy
    from engine.store import Store
    from engine.workspace import Workspace

    src = GitRepo(tmp_path / "tally")
    src.commit("init", {k: textwrap.dedent(v).lstrip() for k, v in FILES.items()})
    ws = tmp_path / "ws"
    monkeypatch.chdir(tmp_path)
    assert _run(capsys, "repo", "add", "tally", "--workspace", str(ws))[0] == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    shutil.rmtree(ws / "repos" / "tally")
    workspace = Workspace.open(str(ws))
    with Store.open(workspace.db_path) as store:
        rec = get_repo(store, "tally")
        assert rec.source == str(src.path)
        ensure_copy(workspace, rec)
    assert (ws / "repos" / "tally" / "tally.py").is_file()
    # Adding it again by the relative path it was first added with is the same repo.
    monkeypatch.chdir(tmp_path)
    assert _run(capsys, "repo", "add", "tally", "--workspace", str(ws))[0] == 0
