"""The store's edge: DuckDB's exceptions become bugfoundry errors here, once.

Nothing outside ``engine.store`` imports duckdb or touches a connection (a layout test holds
this), so callers catch ``StoreError`` and its kinds below, never ``duckdb.Error``:

* ``DatabaseLocked``: another process holds the file (DuckDB lets one process open it, and
  then no other, not even read-only); its pid and command are read from DuckDB's message
  here, so no caller parses error text.
* ``DatabaseError``: a query failed on a file that opened: a damaged file (truncated,
  overwritten in the middle) often opens and fails at its first read of a broken block.
* ``StoreClosed``: a worker thread's query after the store was closed (the app is exiting).

``guarded`` wraps every public method of the ``Store`` facade so a DuckDB exception raised by
any query leaves the store already translated; the store's own code below the facade still
sees (and may catch) DuckDB's exceptions.
"""

from __future__ import annotations

import functools
import inspect
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from engine.errors import StoreError

# DuckDB 1.x-2.x: 'Could not set lock on file "...": Conflicting lock is held in
# /usr/bin/python3.12 (PID 1234) ...' (older versions name the PID only).
_PID_RE = re.compile(r"PID (\d+)")
_COMMAND_RE = re.compile(r"held in (.+?) \(PID \d+\)")


class DatabaseError(StoreError):
    """A query on the workspace database failed (a damaged file, most often); the message
    names the file and says to run ``bugfoundry doctor``."""


class StoreClosed(DatabaseError):
    """The store's connection was closed while a worker thread still used it."""


class DatabaseLocked(StoreError):
    """Another process (a forge or the TUI) holds the workspace database."""

    def __init__(self, path: Path, pid: int | None = None, command: str | None = None) -> None:
        self.path = Path(path)
        self.pid = pid
        self.command = command  # the holder's executable, as DuckDB names it
        super().__init__(
            f"the workspace database {path} is in use by {self.holder} "
            "(a forge or the TUI).\nWait for it to finish or close it, or pass "
            "--workspace DIR to use another workspace.")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.pid, self.command))

    @property
    def holder(self) -> str:
        """``process N`` when DuckDB named the PID, else ``another process``."""
        return f"process {self.pid}" if self.pid is not None else "another process"


def damaged(path: Path, exc: BaseException) -> DatabaseError:
    """The two-line answer to a workspace database that cannot be read (truncated, overwritten
    in the middle): which file, what DuckDB said, and what to run."""
    said = (str(exc).splitlines() or [type(exc).__name__])[0]
    return DatabaseError(
        f"the workspace database {path} is damaged and cannot be read ({said[:160]}).\n"
        f"Run: bugfoundry doctor --workspace {path.parent}  (it salvages what can still be "
        "read into a new file; nothing has been changed)")


def open_error(path: Path, exc: duckdb.Error) -> StoreError:
    """What a failed ``duckdb.connect`` means for the user: held, damaged, or unopenable."""
    msg = str(exc)
    if isinstance(exc, duckdb.IOException):
        if "lock" in msg.lower():
            pid = _PID_RE.search(msg)
            command = _COMMAND_RE.search(msg)
            return DatabaseLocked(path, int(pid.group(1)) if pid else None,
                                  command.group(1) if command else None)
        if not Path(path).is_file():
            return StoreError(f"cannot open {path}: {msg.splitlines()[0]}")
    return damaged(Path(path), exc)


def query_error(path: Path, exc: duckdb.Error) -> StoreError:
    """A query's DuckDB exception as the bugfoundry error callers catch."""
    if isinstance(exc, duckdb.ConnectionException):
        said = (str(exc).splitlines() or ["closed"])[0]
        return StoreClosed(f"the workspace database {path} is closed ({said[:160]}).")
    return damaged(Path(path), exc)


def snapshot_copy(path: Path) -> Path:
    """Copy the database file and its write-ahead log (which a read-only open replays) into a
    fresh temporary directory; returns the copy's path."""
    tmp = Path(tempfile.mkdtemp(prefix="bugfoundry-snapshot-"))
    copy = tmp / path.name
    shutil.copyfile(path, copy)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
    return copy


_F = TypeVar("_F", bound=Callable[..., Any])


def _translating(fn: _F) -> _F:
    @functools.wraps(fn)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except duckdb.Error as exc:
            raise query_error(self.path, exc) from exc

    return method  # type: ignore[return-value]


_C = TypeVar("_C", bound=type)


def guarded(cls: _C) -> _C:
    """``cls`` with every public instance method translating DuckDB's exceptions.

    Class methods (``open``, ``snapshot``) translate their own errors. A generator's body
    runs after the wrapper returned, so a public generator method is refused here."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        raw = inspect.getattr_static(cls, name)
        if inspect.isgeneratorfunction(raw):
            raise TypeError(f"{cls.__name__}.{name} is a generator: its DuckDB errors would "
                            "escape the store's edge; return a list instead")
        if inspect.isfunction(raw):
            setattr(cls, name, _translating(raw))
    return cls
