"""A workspace copied (``cp -a``) or moved keeps the old absolute paths in its database, and its
venv's editable install imports the old repo copy. ``doctor`` names that; every command points
the records at the workspace's own copies, ``forge`` rebuilds the venv here; the original
workspace is never touched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.store import Store
from tests.conftest import SAMPLE_BUNDLE
from tests.integration.conftest import doctor_json, doctor_problems

pytestmark = pytest.mark.integration


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (symlinks as links) with its size and mtime."""
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in root.rglob("*") if not p.is_dir() or p.is_symlink()}


def _mentions(venv: Path, text: str) -> list[str]:
    """The venv's install files (.pth, editable finders, direct_url.json) naming ``text``."""
    site = next(venv.glob("lib/python*/site-packages"))
    return [p.name for p in site.rglob("*") if p.is_file() and p.suffix in (".pth", ".py", ".json")
            and text in p.read_text(errors="replace")]


def _recorded(ws: Path) -> tuple[str, str]:
    with Store.open(ws / "bugfoundry.duckdb", read_only=True) as store:
        repo, env = store.get_repo("sample"), store.get_environment("sample")
    assert repo is not None and env is not None
    return repo.path, env.root


@pytest.fixture(scope="module")
def built_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the sample repo, its venv and baseline (no candidates yet)."""
    ws = tmp_path_factory.mktemp("orig") / "ws"
    w = ["--workspace", str(ws)]
    assert main(["repo", "add", str(SAMPLE_BUNDLE), "--name", "sample", *w]) == 0
    assert main(["baseline", "sample", *w]) == 0
    return ws


def test_a_copied_workspace_is_named_by_doctor_and_forges_with_its_own_files(
        built_ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built_ws, copy, symlinks=True)
    before = _files(built_ws)
    # The defect, as it stands in the copy: records and the editable install name the original.
    old_repo = str(built_ws / "repos" / "sample")
    assert _recorded(copy)[0] == old_repo
    assert _mentions(copy / "envs" / "sample" / "venv", old_repo)

    code, report = doctor_json(capsys, copy)
    problems = doctor_problems(report)
    assert code == 1 and not report["ok"]
    assert problems["repo sample"] == (f"recorded at {old_repo}, in another workspace "
                                       f"({built_ws}): this one was copied or moved from there")
    assert problems["environment sample"].startswith(f"built in another workspace ({built_ws};")
    # its work tree borrows the original copy's objects: validation clones it again
    assert problems["work_tree sample/0"] == "not a readable clone of the repo copy"
    assert len(problems) == 3, problems

    capsys.readouterr()
    assert main(["forge", "sample", "--max", "3", "--workers", "1", "--workspace",
                 str(copy)]) == 0
    said = capsys.readouterr().err
    assert f"it now uses this workspace's copy {copy / 'repos' / 'sample'}" in said
    assert "was built in another workspace" in said and "rebuilding it here" in said
    assert _recorded(copy) == (str(copy / "repos" / "sample"), str(copy / "envs" / "sample"))
    venv = copy / "envs" / "sample" / "venv"
    assert not _mentions(venv, str(built_ws)), "the rebuilt venv still names the original"
    assert _mentions(venv, str(copy / "repos" / "sample"))

    code, report = doctor_json(capsys, copy)
    assert code == 0 and report["ok"], doctor_problems(report)
    assert _files(built_ws) == before, "the original workspace was changed"
    with Store.open(built_ws / "bugfoundry.duckdb", read_only=True) as store:
        assert store.instance_ids(repo="sample") == []  # the copy's forge stayed in the copy


def test_a_moved_workspace_is_repaired_bydoctor_json(
        built_ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(built_ws, tmp_path / "was", symlinks=True)
    (tmp_path / "was").rename(moved)  # the old place no longer exists (mv)
    code, report = doctor_json(capsys, moved, "--repair")
    assert code == 0 and report["ok"], doctor_problems(report)
    repaired = {f"{c['kind']} {c['subject']}": c["repaired"] for c in report["checks"]
                if c["repaired"]}
    assert set(repaired) == {"repo sample", "environment sample", "work_tree sample/0"}, repaired
    assert _recorded(moved) == (str(moved / "repos" / "sample"), str(moved / "envs" / "sample"))
    assert not (tmp_path / "was").exists()  # nothing re-created at the old place
    code, report = doctor_json(capsys, moved)
    assert code == 0 and doctor_problems(report) == {}, doctor_problems(report)
