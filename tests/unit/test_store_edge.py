"""The store's edge on a real DuckDB file: worker cursors, and DuckDB's exceptions leaving the
store as bugfoundry errors (the CLI and the TUI catch nothing else)."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from engine.errors import BugfoundryError, StoreError
from engine.models import RepoRecord
from engine.store import DatabaseError, Store, StoreClosed
from engine.store.edge import guarded


def _repo(name: str) -> RepoRecord:
    return RepoRecord(name, "src", "git", "c0ffee", f"/nowhere/{name}")


def test_a_reader_shares_the_database_on_its_own_cursor(tmp_path: Path) -> None:
    with Store.open(tmp_path / "x.duckdb") as owner:
        owner.add_repo(_repo("a"))
        seen: list[str] = []

        def work() -> None:  # a worker thread, as the TUI's screens run them
            with owner.reader() as reader:
                seen.extend(r.name for r in reader.list_repos())
                reader.add_repo(_repo("b"))  # the TUI's forge writes through its cursor

        t = threading.Thread(target=work)
        t.start()
        t.join(30)
        assert seen == ["a"]
        # Closing the reader closed its cursor only: the owner still reads, and sees "b".
        assert [r.name for r in owner.list_repos()] == ["a", "b"]
        reader = owner.reader()
        assert reader.path == owner.path and reader.con is not owner.con
        reader.close()
        with pytest.raises(StoreClosed):
            reader.list_repos()
        assert owner.get_repo("a") is not None


def test_a_closed_store_raises_a_store_error_not_duckdbs(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "x.duckdb")
    store.close()
    with pytest.raises(StoreClosed) as err:
        store.list_repos()
    assert isinstance(err.value, BugfoundryError) and not isinstance(err.value, duckdb.Error)
    assert str(tmp_path / "x.duckdb") in str(err.value) and "closed" in str(err.value)
    assert isinstance(err.value.__cause__, duckdb.ConnectionException)


def test_a_failing_query_is_the_damaged_database_error(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    with Store.open(db) as store:
        store.con.execute("DROP TABLE repos")  # what a damaged block looks like to a query
        with pytest.raises(DatabaseError) as err:
            store.list_repos()
    assert isinstance(err.value, StoreError) and isinstance(err.value.__cause__, duckdb.Error)
    first, advice = str(err.value).splitlines()
    assert str(db) in first and "is damaged" in first and "repos" in first
    assert advice == (f"Run: bugfoundry doctor --workspace {tmp_path}  (it salvages what can "
                      "still be read into a new file; nothing has been changed)")


def test_an_unreadable_snapshot_leaves_no_copy_behind(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    db.write_bytes(b"not a database" * 100)
    before = set(Path(tempfile.gettempdir()).glob("bugfoundry-snapshot-*"))
    with pytest.raises(DatabaseError, match="is damaged"):
        Store.snapshot(db)
    after = set(Path(tempfile.gettempdir()).glob("bugfoundry-snapshot-*"))
    assert after == before


def test_a_generator_method_cannot_slip_past_the_edge() -> None:
    class Leaky:
        path = Path("x")

        def rows(self) -> Iterator[int]:
            yield 1

    with pytest.raises(TypeError, match="Leaky.rows is a generator"):
        guarded(Leaky)
