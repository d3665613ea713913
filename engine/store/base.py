"""What every part of ``Store`` shares: the connection, transactions, one-value queries.

The mixins that make up ``Store`` derive from ``StoreBase`` so the type checker knows what
``self`` holds; a mixin that calls another mixin's method declares it under
``TYPE_CHECKING`` (the combined ``Store`` provides it at run time).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from engine.store.edge import DatabaseError


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first value of the first row of ``sql``: for aggregates and RETURNING, which
    always yield a row; a query that yields none is a DatabaseError naming it."""
    row = con.execute(sql, list(params)).fetchone()
    if row is None:
        raise DatabaseError(f"the query {sql[:80]!r} returned no row (one was expected)")
    return row[0]


def now() -> datetime:
    """The time every store row is stamped with: UTC, naive (DuckDB's TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)


class StoreBase:
    """The connection and path of the workspace database, and its transactions."""

    con: duckdb.DuckDBPyConnection
    path: Path

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """``scalar`` on this store's connection."""
        return scalar(self.con, sql, params)
