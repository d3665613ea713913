"""Curation decisions: append-only events, derived state, undo/redo, keyset browsing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from engine.store import BrowseFilter, Store
from tests.fakes import populate


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "x.duckdb")
    yield s
    s.close()


def _state(store: Store, iid: str, curator: str = "ann"):
    states = store.current_decisions(curator, [iid])
    return states[0] if states else None


def test_decisions_fold_into_current_state(store: Store) -> None:
    a, b = populate(store, 2)
    store.record_decision(a, "ann", "accept", seconds_spent=3.0)
    store.record_decision(a, "ann", "tag", realism="plausible", clarity=2)
    store.record_decision(a, "ann", "reject", note="too easy", seconds_spent=1.5)
    st = _state(store, a)
    assert (st.decision, st.realism, st.clarity, st.note) == ("reject", "plausible", 2, "too easy")
    assert st.seconds_spent == 4.5 and st.events == 3
    assert _state(store, b) is None
    store.record_decision(a, "bob", "accept")
    assert {s.curator for s in store.current_decisions(instance_ids=[a])} == {"ann", "bob"}
    assert len(store.decision_events()) == 4  # nothing is ever updated in place


def test_record_decision_validates(store: Store) -> None:
    (a,) = populate(store, 1)
    with pytest.raises(ValueError):
        store.record_decision(a, "ann", "maybe")
    with pytest.raises(ValueError):
        store.record_decision(a, "ann", "tag", realism="real")
    with pytest.raises(ValueError):
        store.record_decision(a, "ann", "tag", clarity=4)
    with pytest.raises(ValueError):
        store.record_decision("nope", "ann", "accept")
    with pytest.raises(ValueError):
        store.record_decision(a, "", "accept")
    assert store.decision_events() == []


def test_undo_redo_stack_semantics(store: Store) -> None:
    a, b, c = populate(store, 3)
    e1 = store.record_decision(a, "ann", "accept")
    e2 = store.record_decision(b, "ann", "reject")
    store.record_decision(c, "bob", "accept")  # another curator's events are never touched
    u1 = store.undo("ann")
    assert (u1.target_event_id, u1.instance_id) == (e2, b)
    assert _state(store, b) is None
    assert store.undo("ann").target_event_id == e1
    assert store.undo("ann") is None  # nothing left
    assert store.current_decisions("ann") == []
    r = store.redo("ann")  # re-applies the latest undone: a
    assert (r.target_event_id, r.instance_id) == (e1, a)
    assert _state(store, a).decision == "accept" and _state(store, b) is None
    assert store.undo("ann").target_event_id == e1  # undo takes back what redo re-applied
    assert store.redo("ann").target_event_id == e1
    assert store.redo("ann").target_event_id == e2
    assert store.redo("ann") is None
    assert _state(store, b).decision == "reject"
    assert _state(store, c, "bob").decision == "accept"


def test_new_decision_clears_redo(store: Store) -> None:
    a, b = populate(store, 2)
    store.record_decision(a, "ann", "accept")
    store.undo("ann")
    store.record_decision(b, "ann", "skip")
    assert store.redo("ann") is None
    assert _state(store, a) is None and _state(store, b).decision == "skip"


def test_undo_of_a_tag_keeps_the_decision(store: Store) -> None:
    (a,) = populate(store, 1)
    store.record_decision(a, "ann", "accept", realism="realistic")
    store.record_decision(a, "ann", "tag", realism="artificial")
    store.undo("ann")
    st = _state(store, a)
    assert (st.decision, st.realism) == ("accept", "realistic")


def test_state_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    with Store.open(db) as s:
        a, b = populate(s, 2)
        s.record_decision(a, "ann", "accept", realism="plausible")
        s.record_decision(b, "ann", "reject")
        s.undo("ann")
    with Store.open(db) as s:
        assert [(x.instance_id, x.decision) for x in s.current_decisions("ann")] == [
            (a, "accept")
        ]
        assert s.redo("ann").instance_id == b


def _all_pages(store: Store, f: BrowseFilter, sort: str, desc: bool, page: int) -> list[str]:
    out, key = [], None
    while True:
        rows = store.browse(f, sort, desc, key, page)
        out += [r.instance_id for r in rows]
        if len(rows) < page:
            return out
        key = rows[-1].key


@pytest.mark.parametrize("sort", ["instance_id", "n_f2p", "strategy", "decision", "realism"])
@pytest.mark.parametrize("desc", [False, True])
def test_keyset_pages_cover_everything_once(store: Store, sort: str, desc: bool) -> None:
    ids = populate(store, 23)
    for k, iid in enumerate(ids[:9]):
        store.record_decision(iid, "ann", ("accept", "reject", "skip")[k % 3],
                              realism=("realistic", None, "artificial")[k % 3])
    f = BrowseFilter(curator="ann")
    paged = _all_pages(store, f, sort, desc, 4)
    assert sorted(paged) == sorted(ids) and len(paged) == len(set(paged))
    assert paged == [r.instance_id for r in store.browse(f, sort, desc, None, 100)]
    keys = [r.sk for r in store.browse(f, sort, desc, None, 100)]
    assert keys == sorted(keys, reverse=desc)


def test_filters_and_count(store: Store) -> None:
    ids = populate(store, 12)
    store.record_decision(ids[0], "ann", "accept", realism="realistic")
    store.record_decision(ids[1], "ann", "reject")
    store.record_decision(ids[2], "bob", "accept")
    f = BrowseFilter(curator="ann")
    assert store.count(f) == 12
    assert store.count(replace(f, decision="undecided")) == 10
    assert store.count(replace(f, decision="decided")) == 2
    assert [r.instance_id for r in store.browse(replace(f, decision="accept"))] == [ids[0]]
    assert store.count(replace(f, realism="realistic")) == 1
    assert store.count(replace(f, realism="untagged")) == 11
    assert store.count(replace(f, curator="bob", decision="accept")) == 1
    assert store.count(replace(f, modifier="op_swap")) == 4
    assert store.count(replace(f, text="FUNC_11")) == 1  # case-insensitive, over the function
    assert store.count(replace(f, text="mod3.py")) == 2  # ... and the file
    assert store.count(replace(f, repo="other")) == 0
    row = store.browse(replace(f, text="func_0"))[0]
    assert (row.decision, row.realism, row.n_f2p) == ("accept", "realistic", 1)
    with pytest.raises(ValueError):
        store.browse(f, sort="patch")


def test_instance_detail(store: Store) -> None:
    (a,) = populate(store, 1)
    store.record_decision(a, "ann", "accept")
    d = store.instance_detail(a)
    assert d.patch.startswith("diff --git") and d.failures
    assert d.environment.backend == "venv"
    assert d.baseline.runs == 2
    assert [s.decision for s in d.decisions] == ["accept"]
    assert store.instance_detail("nope") is None
