"""Instance details read ahead of the curator, on one background thread with its own cursor.

Reading one instance's detail costs ~10 ms at 50k instances (no index on the id; every table
is scanned), which alone would eat a fifth of the next-instance budget. While the curator
reads instance k, this thread reads k+1, k-1, k+2 ... into a small LRU, so ``n`` finds its
detail ready. DuckDB connections are not shared across threads: the thread uses its own
``Store.reader()`` (a cursor: same database, own transaction context). A decision invalidates the
instance's entry, and a generation counter keeps an in-flight read from putting back a copy
older than that decision.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engine.instances import InstanceDetail
from engine.store import DatabaseError, Store

Detail = InstanceDetail


def _load_duplicates(path: Path | None, stamp: str) -> dict[str, tuple[str, str]] | None:
    """The cached duplicate map when it was computed over the same instances, else None."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("stamp") != stamp:
        return None
    return {k: (v[0], v[1]) for k, v in data.get("duplicates", {}).items()}


def _save_duplicates(path: Path | None, stamp: str, found: dict[str, tuple[str, str]]) -> None:
    """Write the cache atomically; a read-only workspace just goes without."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"stamp": stamp, "duplicates": found}), encoding="utf-8")
        os.replace(tmp, path)


def _warm_imports() -> None:
    import importlib

    for name in ("tui.review", "tui.modals", "tui.panes"):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        importlib.import_module("tui.panes").highlight_code("x = 1\n")  # builds the lexer


class DetailCache:
    """An LRU of ``Store.instance_detail`` results, filled ahead by one reader thread."""

    def __init__(self, store: Store, size: int = 64, cache_file: Path | None = None,
                 on_duplicates: Callable[[], None] | None = None) -> None:
        self.store = store
        self.on_duplicates = on_duplicates  # called on the reader thread once they are known
        # The duplicate map of the last start, reused while no instance was added (2-3 s of
        # SQL at 50k instances otherwise, on every start).
        self.cache_file = cache_file
        self.size = size
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Detail] = OrderedDict()
        self._generation: dict[str, int] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._reader: Store | None = None  # touched only by the pool's thread
        # Duplicate bug -> (exact|near, the instance it duplicates); None until computed on
        # the reader thread (hashing every diff takes about a second at 50k instances).
        self.duplicates: dict[str, tuple[str, str]] | None = None

    def get(self, instance_id: str) -> Detail | None:
        """The detail, from the cache or read now on the caller's thread."""
        with self._lock:
            rec = self._entries.get(instance_id)
            if rec is not None:
                self._entries.move_to_end(instance_id)
                self.hits += 1
                return rec
            gen = self._generation.get(instance_id, 0)
        self.misses += 1
        rec = self.store.instance_detail(instance_id)
        if rec is not None:
            self._put(instance_id, rec, gen)
        return rec

    def invalidate(self, instance_id: str) -> None:
        """Forget an instance whose decisions changed."""
        with self._lock:
            self._entries.pop(instance_id, None)
            self._generation[instance_id] = self._generation.get(instance_id, 0) + 1

    def invalidate_all(self) -> None:
        """Forget every cached instance (an export stored statements for some of them)."""
        with self._lock:
            for iid in self._entries:
                self._generation[iid] = self._generation.get(iid, 0) + 1
            self._entries.clear()

    def prefetch(self, instance_ids: Sequence[str]) -> None:
        """Queue reads of the ids not cached yet, in the given order (most wanted first)."""
        with self._lock:
            todo = [(i, self._generation.get(i, 0)) for i in dict.fromkeys(instance_ids)
                    if i not in self._entries]
        if todo:
            self._submit(self._read, todo)

    def find_duplicates(self) -> None:
        """(Re)compute ``duplicates`` on the reader thread (at start and after a forge)."""
        self._submit(self._find_duplicates)

    def warm_imports(self) -> None:
        """Import the review's modules on the reader thread (~0.5 s: panes, modals,
        highlighting), so the first Enter after start does not pay for them."""
        self._submit(_warm_imports)

    def _find_duplicates(self) -> None:
        with contextlib.suppress(DatabaseError):  # the store is closing
            reader = self._store()
            stamp = reader.instances_stamp()
            found = _load_duplicates(self.cache_file, stamp)
            if found is None:
                found = reader.duplicate_map()
                _save_duplicates(self.cache_file, stamp, found)
            self.duplicates = found
        if self.on_duplicates is not None and self.duplicates is not None:
            self.on_duplicates()

    def _submit(self, fn: Any, *args: Any) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bf-prefetch")
        self._pool.submit(fn, *args)

    def _store(self) -> Store:
        if self._reader is None:
            self._reader = self.store.reader()
        return self._reader

    def _read(self, todo: list[tuple[str, int]]) -> None:
        try:
            reader = self._store()
            for instance_id, gen in todo:
                with self._lock:
                    if instance_id in self._entries:
                        continue
                rec = reader.instance_detail(instance_id)
                if rec is not None:
                    self._put(instance_id, rec, gen)
        except DatabaseError:
            pass  # the store is closing; a miss reads on demand

    def _put(self, instance_id: str, rec: Detail, gen: int) -> None:
        with self._lock:
            if self._generation.get(instance_id, 0) != gen:
                return  # a decision arrived while this was read: the copy is stale
            self._entries[instance_id] = rec
            self._entries.move_to_end(instance_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def wait_idle(self) -> None:
        """Block until queued reads are done (tests and benchmarks)."""
        if self._pool is not None:
            self._pool.submit(lambda: None).result()

    def close(self) -> None:
        """Stop the reader thread and release its cursor (before the store closes)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
