"""The store's side of agreement: shared labels, per-curator progress, the disagreement
filter and the open and settled disputes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from engine.agreement import disagreements, pairwise
from engine.store import BrowseFilter, Store
from tests.fakes import populate


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "x.duckdb")
    yield s
    s.close()


def test_shared_labels_progress_and_disputed_filter(store: Store) -> None:
    a, b, c, d, e = populate(store, 5)
    store.record_decision(a, "ann", "accept", realism="realistic", seconds_spent=2.0)
    store.record_decision(a, "bob", "accept", realism="plausible")  # realism dispute
    store.record_decision(b, "ann", "reject")
    store.record_decision(b, "bob", "accept")  # decision dispute
    store.record_decision(c, "ann", "skip")
    store.record_decision(c, "bob", "reject")  # a skip abstains: not a dispute
    store.record_decision(d, "ann", "accept")  # only ann: not shared
    store.record_decision(e, "bob", "reject")
    store.record_decision(e, "ann", "accept")
    store.undo("ann")  # takes back ann's accept on e: e is no longer shared

    labels = store.shared_labels()
    assert sorted({lab.instance_id for lab in labels}) == sorted([a, b, c])
    (pair,) = pairwise(labels)
    assert (pair.a, pair.b, pair.shared, pair.decision.n, pair.realism.n) == (
        "ann", "bob", 3, 2, 1)

    disputed = {x.instance_id for x in disagreements(labels)}
    assert disputed == {a, b}
    # The SQL filter applies exactly the same rule as the pure function.
    f = BrowseFilter(curator="ann", disagreement=True)
    assert store.count(f) == 2
    assert {r.instance_id for r in store.browse(f)} == disputed
    assert {r.decision for r in store.browse(f)} == {"accept", "reject"}  # ann's view

    by_bob = BrowseFilter(curator="ann", labelled_by="bob")
    assert {r.instance_id for r in store.browse(by_bob)} == {a, b, c, e}
    assert store.count(replace(by_bob, disagreement=True)) == 2
    assert store.count(BrowseFilter(curator="ann", labelled_by="cy")) == 0

    prog = {p.curator: p for p in store.curator_progress()}
    assert (prog["ann"].decided, prog["ann"].accepted, prog["ann"].rejected,
            prog["ann"].skipped, prog["ann"].tagged) == (4, 2, 1, 1, 1)
    assert (prog["bob"].decided, prog["bob"].accepted, prog["bob"].rejected) == (4, 2, 2)
    assert prog["ann"].seconds_spent == 2.0 and prog["ann"].last_at is not None

    # Disputes are accept vs reject only (a is a realism disagreement): open until settled.
    assert {r.instance_id for r in store.browse(BrowseFilter(disputed=True))} == {b}
    assert store.count(BrowseFilter(settled=True)) == 0
    store.set_final(b, "cy", "reject")
    assert store.count(BrowseFilter(disputed=True)) == 0
    assert {r.instance_id for r in store.browse(BrowseFilter(settled=True))} == {b}
    assert store.count(BrowseFilter(disagreement=True)) == 2  # settled or not


def test_find_instance_ids(store: Store) -> None:
    ids = populate(store, 12)
    found = store.find_instance_ids("FUNC", limit=50)
    assert found == []  # ids hold the modifier and hash, not the function name
    needle = ids[3].rsplit("__", 1)[1]
    assert store.find_instance_ids(needle.upper()) == [ids[3]]
    assert len(store.find_instance_ids("demo", limit=5)) == 5
