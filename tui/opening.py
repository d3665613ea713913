"""Opening the workspace database for the TUI, read-only when another process holds it.

DuckDB lets one process open the file read-write, and while it does, no other process can
open it at all, not even with ``read_only=True`` (checked: the read-only open fails with the
same lock error, ``DatabaseLocked``). So when the database is held, the TUI tries a read-only
open (it works once the holder is gone) and otherwise browses ``Store.snapshot``, a copy in a
temporary directory: clearly labelled, with every decision key disabled.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.errors import StoreError
from engine.store import DatabaseLocked, Store


@dataclass(frozen=True)
class ReadOnly:
    """Why the store is read-only, and the snapshot copy being browsed (if any)."""

    holder: str  # "process 1234" (DuckDB names the PID) or "another process"
    snapshot: Path | None = None
    taken_at: datetime | None = None

    @property
    def banner(self) -> str:
        what = (f"a snapshot taken at {self.taken_at:%H:%M:%S}" if self.snapshot and
                self.taken_at else "the database")
        return (f"READ-ONLY: the workspace database is in use by {self.holder} (a forge or "
                f"another TUI). Browsing {what}; decisions are disabled.")

    @property
    def notice(self) -> str:
        return (f"Decisions are disabled: {self.holder} holds the workspace database. "
                "Close it (or wait for its forge), then reopen the TUI to curate.")

    def cleanup(self) -> None:
        """Delete the snapshot's temporary directory."""
        if self.snapshot is not None:
            shutil.rmtree(self.snapshot.parent, ignore_errors=True)


def open_for_tui(db_path: Path) -> tuple[Store, ReadOnly | None]:
    """The store read-write; else read-only; else a read-only snapshot copy.

    Errors other than "held by another process" (a corrupt file, a newer schema) propagate.
    """
    try:
        return Store.open(db_path), None
    except DatabaseLocked as exc:
        holder = exc.holder
    try:
        return Store.open(db_path, read_only=True), ReadOnly(holder)
    except DatabaseLocked:
        pass
    taken_at = datetime.now()
    try:
        store = Store.snapshot(db_path)
    except StoreError:
        raise StoreError(
            f"the workspace database {db_path} is in use by {holder}, and a snapshot copy "
            "could not be read (it was being written).\nTry again, or close that process."
        ) from None
    return store, ReadOnly(holder, store.path, taken_at)
