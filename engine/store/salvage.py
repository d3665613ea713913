"""A damaged database: which tables still read, and a copy of every row that does.

DuckDB checks a checksum on every block it reads, so a file truncated or overwritten in the
middle often still opens (its catalog is intact) while a table whose blocks were hit fails on
the first query that reads them. ``read_tables`` reads every column of every row once, to name
the tables that fail. ``salvage`` copies what still reads into a new file made by this
version's migrations: a whole table when it reads, else ranges of rows (by ``rowid``; DuckDB
skips the blocks outside a range), halved down to single rows around the damage. The damaged
file is only ever opened read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from engine.errors import StoreError
from engine.store.base import scalar
from engine.store.core import StoreCore
from engine.store.schema import SCHEMA_VERSION

CHUNK = 2048  # rows per range when a table does not read whole
SKIPPED = {"meta"}  # the new file's migrations write its own
# Tables that only make sense whole, recomputed by the next forge when left empty (a test map
# or a baseline missing rows would misgrade every candidate).
DERIVED = (("baselines", "baseline_tests"), ("test_maps", "test_functions", "test_lines"))


@dataclass(frozen=True)
class TableRead:
    table: str
    rows: int | None  # None: the table cannot be read whole
    error: str = ""


@dataclass
class Salvaged:
    table: str
    rows: int = 0  # copied into the new file
    lost: int = 0  # single rows that could not be read
    whole: bool = True  # the table read in one piece
    dropped: bool = False  # left empty: part of a group that did not read whole (DERIVED)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _open_damaged(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise StoreError(f"{path} cannot be opened at all ({_first_line(exc)}); nothing in it "
                         "can be read back.\nMove it aside to start afresh.") from None


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
                       "ORDER BY table_name", [catalog]).fetchall()
    return [r[0] for r in rows]


def read_tables(path: Path) -> list[TableRead]:
    """Every table of the database at ``path`` read in full (each value once): its row
    count, or the error that reading it raised. ``StoreError`` when the file cannot be
    opened at all."""
    con = _open_damaged(path)
    try:
        out = []
        catalog = scalar(con, "SELECT current_database()")
        for table in _tables(con, catalog):
            try:
                n = scalar(con, f'SELECT count(hash("{table}")) FROM "{table}"')
                out.append(TableRead(table, int(n)))
            except duckdb.Error as exc:
                out.append(TableRead(table, None, _first_line(exc)))
        return out
    except duckdb.Error as exc:
        raise StoreError(f"{path} cannot be read ({_first_line(exc)}).") from None
    finally:
        con.close()


def salvage(path: Path, dest: Path) -> list[Salvaged]:
    """Copy every row of ``path`` that still reads into the new database ``dest`` (which must
    not exist); ``path`` is opened read-only and never written."""
    if dest.exists():
        raise StoreError(f"{dest} already exists; it is never overwritten.")
    with StoreCore.open(dest):  # this version's schema, empty
        pass
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH '{_quoted(dest)}' AS main_db")
        try:
            con.execute(f"ATTACH '{_quoted(path)}' AS damaged (READ_ONLY)")
        except duckdb.Error as exc:
            raise StoreError(f"{path} cannot be opened at all ({_first_line(exc)}); nothing "
                             "in it can be read back.") from None
        _check_version(con, path)
        ours = set(_tables(con, "main_db"))
        out = [_copy_table(con, t) for t in _tables(con, "damaged")
               if t in ours and t not in SKIPPED]
        _drop_partial(con, out)
        _advance_sequences(con)
        con.execute("DETACH damaged")
        con.execute("CHECKPOINT main_db")
        return out
    except BaseException:
        con.close()
        dest.unlink(missing_ok=True)
        raise
    finally:
        con.close()


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _check_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        row = con.execute("SELECT max(CAST(value AS INTEGER)) FROM damaged.meta "
                          "WHERE key = 'schema_version'").fetchone()
    except duckdb.Error:
        return  # unreadable: the columns are matched by name anyway
    if row and row[0] is not None and int(row[0]) > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer bugfoundry (schema {row[0]}); "
                         "salvage it with that version.")


def _copy_table(con: duckdb.DuckDBPyConnection, table: str) -> Salvaged:
    result = Salvaged(table)
    insert = f'INSERT INTO main_db."{table}" BY NAME SELECT * FROM damaged."{table}"'
    try:
        result.rows = scalar(con, insert)
        return result
    except duckdb.Error:
        result.whole = False
    try:
        top = scalar(con, f'SELECT max(rowid) FROM damaged."{table}"')
    except duckdb.Error:
        return result  # not even its row ids read: nothing can be copied
    rows = _Rows(con, table)
    pos, end = 0, (top if top is not None else -1) + 1
    while pos < end:
        bad = rows.first_bad(pos, end)
        if bad > pos:
            result.rows += scalar(con, insert + " WHERE rowid >= ? AND rowid < ?", [pos, bad])
        if bad == end:
            break
        pos = rows.first_good(bad, end)
        result.lost += pos - bad
    return result


class _Rows:
    """Where a table's unreadable rows are, by binary search on ``rowid`` ranges: damage
    comes in blocks, so each damaged stretch costs a few dozen queries, not one per row."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        self.con = con
        self.sql = (f'SELECT count(hash("{table}")) FROM damaged."{table}" '
                    "WHERE rowid >= ? AND rowid < ?")

    def reads(self, lo: int, hi: int) -> bool:
        try:
            self.con.execute(self.sql, [lo, hi]).fetchone()
            return True
        except duckdb.Error:
            return False

    def first_bad(self, lo: int, end: int) -> int:
        """The first row at or after ``lo`` that does not read (``end`` when all do)."""
        if self.reads(lo, end):
            return end
        good, bad = lo, end  # [lo, good) reads, [lo, bad) does not
        while bad - good > 1:
            mid = (good + bad) // 2
            if self.reads(lo, mid):
                good = mid
            else:
                bad = mid
        return good

    def first_good(self, bad: int, end: int) -> int:
        """The first row after the unreadable ``bad`` that reads (``end`` when none does):
        single rows probed at doubling steps, then halved back."""
        step, last_bad = 1, bad
        while last_bad + step < end and not self.reads(last_bad + step, last_bad + step + 1):
            last_bad += step
            step *= 2
        hi = min(last_bad + step, end)
        if hi == end and not self.reads(end - 1, end):
            return end
        while hi - last_bad > 1:
            mid = (last_bad + hi) // 2
            if self.reads(mid, mid + 1):
                hi = mid
            else:
                last_bad = mid
        return hi


def _drop_partial(con: duckdb.DuckDBPyConnection, copied: list[Salvaged]) -> None:
    by_name = {t.table: t for t in copied}
    for group in DERIVED:
        tables = [by_name[n] for n in group if n in by_name]
        if all(t.whole for t in tables):
            continue
        for t in tables:
            con.execute(f'DELETE FROM main_db."{t.table}"')
            t.dropped = True


def _advance_sequences(con: duckdb.DuckDBPyConnection) -> None:
    """Curation events are numbered by ``decision_seq`` and assignment batches by
    ``assignment_seq``: each starts after the salvaged ones."""
    for seq, sql in (("decision_seq", "SELECT max(event_id) FROM main_db.decisions"),
                     ("assignment_seq", "SELECT max(batch) FROM main_db.assignments")):
        top = scalar(con, sql)
        if top:
            con.execute(f"DROP SEQUENCE main_db.{seq}")
            con.execute(f"CREATE SEQUENCE main_db.{seq} START {int(top) + 1}")
