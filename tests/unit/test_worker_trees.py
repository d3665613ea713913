"""Work trees on real git repos: the build's generated files, and trees whose copy changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import generated
from engine.errors import RepoError
from engine.models import RepoRecord
from engine.repos import add_repo, copy_problem, ensure_copy, make_worker_tree, reset_tree
from engine.workspace import Workspace
from tests.gitrepo import GitRepo

VERSION = "src/pkg/_version.py"
FILES = {"src/pkg/__init__.py": "from ._version import version\n",
         "tests/test_pkg.py": "def test_it():\n    pass\n",
         ".gitignore": "_version.py\n"}


def test_which_untracked_files_are_generated_sources() -> None:
    roots = ["src"]
    assert generated.is_generated_source("src/pkg/_version.py", roots)
    assert generated.is_generated_source("src/pkg/sub/_gen.py", roots)
    assert not generated.is_generated_source("src/pkg/_speedups.so", roots)  # not Python
    assert not generated.is_generated_source("docs/_version.py", roots)  # outside the roots
    for rel in ("src/build/lib/pkg/x.py", "src/pkg.egg-info/x.py", "src/pkg/__pycache__/x.py",
                "src/.eggs/x.py", "src/dist/x.py", "src/.tox/x.py", "src/../x.py"):
        assert not generated.is_generated_source(rel, roots), rel
    assert generated.is_generated_source("pkg/_version.py", ["."])
    assert generated.select(["src/a.py", "src/b.py", "src/a.py"], ["src/b.py"], roots) == [
        "src/a.py"]


def _copy(tmp_path: Path) -> tuple[Workspace, GitRepo, RepoRecord]:
    """A source repo and its workspace copy, added the way ``repo add`` does."""
    ws = Workspace.open(tmp_path / "ws")
    src = GitRepo(tmp_path / "src")
    src.commit("one", FILES)
    return ws, src, add_repo(ws, str(src.path))


def _generated_dir(tmp_path: Path, text: str = "version = '1.0'\n") -> Path:
    gen = tmp_path / "env" / "generated"
    (gen / VERSION).parent.mkdir(parents=True, exist_ok=True)
    (gen / VERSION).write_text(text)
    return gen


def test_generated_files_reach_the_tree_and_survive_resets(tmp_path: Path) -> None:
    ws, _src, rec = _copy(tmp_path)
    gen = _generated_dir(tmp_path)
    tree = make_worker_tree(rec, ws.worker_path(rec.name, 0), generated=gen)
    assert (tree / VERSION).read_text() == "version = '1.0'\n"
    assert generated.kept(tree) == [VERSION]
    (tree / "src/pkg/stray.py").write_text("x = 1\n")
    (tree / "src/pkg/__init__.py").write_text("broken\n")
    reset_tree(tree)
    assert (tree / VERSION).is_file() and not (tree / "src/pkg/stray.py").exists()
    assert (tree / "src/pkg/__init__.py").read_text() == FILES["src/pkg/__init__.py"]
    # A rebuild that generates something else: the tree follows, the old file goes.
    shutil.rmtree(gen)
    other = tmp_path / "env" / "generated"
    (other / "src/pkg/_other.py").parent.mkdir(parents=True)
    (other / "src/pkg/_other.py").write_text("y = 2\n")
    make_worker_tree(rec, tree, generated=other)
    assert not (tree / VERSION).exists() and (tree / "src/pkg/_other.py").is_file()
    assert generated.kept(tree) == ["src/pkg/_other.py"]


def test_a_commit_that_tracks_the_file_keeps_its_own(tmp_path: Path) -> None:
    """PR-mirror base trees sit at other commits; one that tracks the file keeps its text."""
    ws, src, _ = _copy(tmp_path)
    tracked = src.commit("track the version", {".gitignore": "", VERSION: "version = 'old'\n"})
    src.commit("untrack it", {VERSION: None, ".gitignore": "_version.py\n"})
    rec = add_repo(ws, str(src.path), name="pkg2")
    gen = _generated_dir(tmp_path)
    base = make_worker_tree(rec, ws.worker_path(rec.name, "base"), tracked, gen)
    assert (base / VERSION).read_text() == "version = 'old'\n"
    assert generated.kept(base) == []
    reset_tree(base)
    assert (base / VERSION).read_text() == "version = 'old'\n"
    make_worker_tree(rec, base, generated=gen)  # back at the pinned commit
    assert (base / VERSION).read_text() == "version = '1.0'\n"
    assert generated.kept(base) == [VERSION]


def test_a_deleted_copy_is_restored_at_its_commit(tmp_path: Path) -> None:
    ws, src, rec = _copy(tmp_path)
    tree = make_worker_tree(rec, ws.worker_path(rec.name, 0))
    src.commit("later", {"src/pkg/more.py": "z = 3\n"})  # the source moved on
    damages = {"missing": shutil.rmtree,
               "missing its .git": lambda p: shutil.rmtree(p / ".git")}
    for problem, damage in damages.items():
        damage(Path(rec.path))
        assert copy_problem(rec) == problem
        said: list[str] = []
        ensure_copy(ws, rec, said.append)
        assert copy_problem(rec) == ""
        assert said == [f"workspace copy of {rec.name} was {problem}; restored from "
                        f"{rec.source} at {rec.commit[:8]}"]
        assert not (Path(rec.path) / "src/pkg/more.py").exists()
        assert make_worker_tree(rec, tree) == tree  # the old tree works again
    assert add_repo(ws, str(src.path), existing=rec) == rec  # same source: nothing to do


def test_a_tree_that_lost_its_copy_is_cloned_again(tmp_path: Path) -> None:
    ws, _src, rec = _copy(tmp_path)
    tree = make_worker_tree(rec, ws.worker_path(rec.name, 0))
    (tree / ".git" / "objects" / "info" / "alternates").write_text("/nonexistent/objects\n")
    assert make_worker_tree(rec, tree) == tree
    alternates = (tree / ".git" / "objects" / "info" / "alternates").read_text().strip()
    assert Path(alternates).resolve() == (Path(rec.path) / ".git" / "objects").resolve()
    assert (tree / "src/pkg/__init__.py").is_file()


def test_restoring_says_what_went_wrong(tmp_path: Path) -> None:
    ws, src, rec = _copy(tmp_path)
    shutil.rmtree(rec.path)
    shutil.rmtree(src.path)
    with pytest.raises(RepoError) as err:
        ensure_copy(ws, rec)
    lines = str(err.value).splitlines()
    assert len(lines) == 2 and "could not be restored" in lines[0] and "does not exist" in lines[0]
    # A plain directory (snapshot source) whose files changed cannot give the same commit.
    plain = tmp_path / "plain"
    for rel, text in {**FILES, "pyproject.toml": "[project]\nname = 'pkg'\n"}.items():
        (plain / rel).parent.mkdir(parents=True, exist_ok=True)
        (plain / rel).write_text(text)
    snap = add_repo(ws, str(plain), name="plain")
    (plain / "src/pkg/__init__.py").write_text("changed = True\n")
    shutil.rmtree(snap.path)
    with pytest.raises(RepoError, match=f"not the recorded {snap.commit[:8]}"):
        ensure_copy(ws, snap)
