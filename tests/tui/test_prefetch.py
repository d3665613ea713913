"""The review screen's read-ahead cache: a background cursor, invalidation, no stale copies."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from engine.store import Store
from tests.fakes import populate
from tui.prefetch import DetailCache


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "x.duckdb")
    yield s
    s.close()


def test_prefetch_reads_ahead_on_its_own_thread(store: Store) -> None:
    ids = populate(store, 6)
    cache = DetailCache(store, size=4)
    seen_threads: set[str] = set()
    real = Store.instance_detail

    def spy(self: Store, iid: str):  # noqa: ANN202
        seen_threads.add(threading.current_thread().name)
        return real(self, iid)

    try:
        Store.instance_detail = spy  # type: ignore[method-assign]
        cache.prefetch(ids[:3])
        cache.wait_idle()
        assert all(cache.get(i).instance_id == i for i in ids[:3])
        assert (cache.hits, cache.misses) == (3, 0)
        assert seen_threads and all(t.startswith("bf-prefetch") for t in seen_threads)
        assert cache.get(ids[5]).instance_id == ids[5] and cache.misses == 1
        cache.prefetch(ids)  # more than fit: the LRU keeps the last ones
        cache.wait_idle()
        assert len(cache._entries) == 4
    finally:
        Store.instance_detail = real  # type: ignore[method-assign]
        cache.close()
    assert cache.get("nope") is None


def test_a_decision_invalidates_and_a_stale_read_is_dropped(store: Store) -> None:
    (a,) = populate(store, 1)
    cache = DetailCache(store)
    try:
        assert cache.get(a).decisions == []
        store.record_decision(a, "ann", "accept")
        assert cache.get(a).decisions == []  # cached: the caller must invalidate
        cache.invalidate(a)
        assert [d.decision for d in cache.get(a).decisions] == ["accept"]
        # A read that started before a decision must not put its older copy back.
        gen = cache._generation.get(a, 0)
        cache.invalidate(a)
        cache._put(a, {"instance_id": a, "decisions": []}, gen)
        assert a not in cache._entries
    finally:
        cache.close()
