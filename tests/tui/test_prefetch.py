"""The review screen's read-ahead cache: a background cursor, invalidation, no stale copies."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
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


def test_duplicate_map_is_cached_until_instances_change(store: Store, tmp_path: Path,
                                                          monkeypatch) -> None:
    """The second start reads the duplicate map from the workspace cache (no SQL pass over
    every diff); a new instance makes the cache stale."""
    ids = populate(store, 4)
    original = store.get_instance(ids[0])
    assert original is not None
    store.import_instances([replace(original, instance_id=ids[0] + "_again",
                                    candidate_id="again")])
    cache_file = tmp_path / "cache" / "duplicates.json"
    first = DetailCache(store, cache_file=cache_file)
    first.find_duplicates()
    first.wait_idle()
    first.close()
    assert first.duplicates == {ids[0] + "_again": ("exact", ids[0])}
    assert cache_file.is_file()

    def no_sql(self: Store) -> dict:  # noqa: ARG001
        raise AssertionError("the cached map should have been used")

    monkeypatch.setattr(Store, "duplicate_map", no_sql)
    second = DetailCache(store, cache_file=cache_file)
    second.find_duplicates()
    second.wait_idle()
    second.close()
    assert second.duplicates == first.duplicates
    populate(store, 2, repo="other")  # new instances: stale, so computed again
    with pytest.raises(AssertionError, match="cached map"):
        store.duplicate_map()  # (still the stand-in: a recompute would be seen)
    monkeypatch.undo()
    third = DetailCache(store, cache_file=cache_file)
    third.find_duplicates()
    third.wait_idle()
    third.close()
    assert third.duplicates == first.duplicates
    assert json.loads(cache_file.read_text())["stamp"] == store.instances_stamp()
