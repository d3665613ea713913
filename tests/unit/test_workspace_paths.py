"""A workspace copied or moved keeps the old absolute paths in its database: which paths lie in
another workspace, and the repo records pointed back at this one's own copies."""

from __future__ import annotations

from pathlib import Path

from engine.forge.setup import adopt_copies
from engine.models import RepoRecord
from engine.store import Store
from engine.workspace import Workspace


def test_elsewhere_names_the_other_workspace_root(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "b")
    assert ws.elsewhere(ws.repo_path("x"), "repos") is None
    assert ws.elsewhere(ws.env_path("x") / "docker", "envs") is None
    assert ws.elsewhere(tmp_path / "a" / "repos" / "x", "repos") == tmp_path / "a"
    # a root that itself holds a directory named repos: the last one counts
    assert ws.elsewhere("/srv/repos/ws/repos/x", "repos") == Path("/srv/repos/ws")
    assert ws.elsewhere(tmp_path / "a" / "envs" / "x" / "docker", "envs") == tmp_path / "a"
    assert ws.elsewhere("/elsewhere/x", "repos") == Path("/elsewhere")


def test_adopt_copies_points_records_here_and_says_so(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "copy")
    said: list[str] = []
    with Store.open(tmp_path / "x.duckdb") as store:
        store.add_repo(RepoRecord("a", "src", "path", "c0", str(tmp_path / "orig/repos/a")))
        store.add_repo(RepoRecord("b", "src", "path", "c1", str(ws.repo_path("b"))))
        moved = adopt_copies(ws, store, said.append)
        assert [r.name for r in moved] == ["a"]
        assert {r.name: r.path for r in store.list_repos()} == {
            "a": str(ws.repo_path("a")), "b": str(ws.repo_path("b"))}
        assert adopt_copies(ws, store, said.append) == []  # once
    assert f"another workspace ({tmp_path / 'orig'};" in said[0]
    # the database came without its repos/: the copy is restored from the recorded source,
    # here a source that does not exist, which is said in one more line
    assert len(said) == 2 and "src" in said[1], said
