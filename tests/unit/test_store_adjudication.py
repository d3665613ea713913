"""Adjudication, reasons, guidelines versions and assignment on a real DuckDB store."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.store import BrowseFilter, Store
from tests.fakes import populate


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "x.duckdb")
    yield s
    s.close()


def test_final_decision_settles_a_dispute_and_undo_reopens_it(store: Store) -> None:
    a, b, c = populate(store, 3)
    store.record_decision(a, "ann", "accept", note="looks real")
    store.record_decision(a, "bob", "reject", reasons=["tests-wrong"], note="tests too broad",
                          guidelines_version="sha256:abc")
    store.record_decision(b, "ann", "accept", realism="plausible")
    store.record_decision(b, "bob", "accept", realism="artificial")  # realism only: no dispute
    store.record_decision(c, "ann", "skip")
    store.record_decision(c, "bob", "reject")  # a skip abstains
    assert [d.instance_id for d in store.disputes()] == [a]
    (d,) = store.disputes()
    assert d.disputed and d.final is None
    bob = next(s for s in d.decisions if s.curator == "bob")
    assert (bob.decision, bob.reasons, bob.note, bob.guidelines_version) == (
        "reject", ("tests-wrong",), "tests too broad", "sha256:abc")
    assert store.count(BrowseFilter(curator="cy", decision="disputed")) == 1

    eid = store.set_final(a, "cy", "reject", note="tests check another thing",
                          reasons=["tests-wrong"])
    assert store.disputes() == []  # the queue empties as disputes are settled
    assert store.count(BrowseFilter(curator="cy", decision="disputed")) == 0
    cur = store.curation_of(a)
    assert cur is not None and cur.conflict and not cur.disputed
    assert (cur.final.decision, cur.final.adjudicator, cur.final.event_id,
            cur.final.reasons) == ("reject", "cy", eid, ("tests-wrong",))
    # The adjudicator's event is not one of their curator decisions, nor anyone's label.
    assert store.current_decisions("cy") == []
    assert {lab.curator for lab in store.shared_labels()} == {"ann", "bob"}
    assert store.decision_events()[-1].role == "adjudicator"
    detail = store.instance_detail(a)  # what the review screen reads, prefetched
    assert detail is not None and detail.final == cur.final and len(detail.decisions) == 2

    res = store.resolved_decisions("any-accept")
    assert (res[a].decision, res[a].source, res[a].disputed) == ("reject", "final", True)
    assert (res[b].decision, res[b].source) == ("accept", "any-accept")
    assert res[c].decision == "reject"

    u = store.undo("cy", instance_id=a, role="adjudicator")
    assert u is not None and u.target_event_id == eid
    assert store.curation_of(a).final is None
    assert [x.instance_id for x in store.disputes()] == [a]  # back in the queue
    assert store.resolved_decisions("any-accept")[a].decision == "accept"
    assert store.redo("cy").target_event_id == eid
    assert store.curation_of(a).final.decision == "reject"
    # A later final by another adjudicator wins; undoing it restores the earlier one.
    store.set_final(a, "dan", "accept")
    assert store.final_decisions()[a].adjudicator == "dan"
    store.undo("dan")
    assert store.final_decisions()[a].decision == "reject"


def test_set_final_and_reasons_validate(store: Store) -> None:
    (a,) = populate(store, 1)
    for bad in (lambda: store.set_final(a, "cy", "skip"),
                lambda: store.set_final(a, "", "accept"),
                lambda: store.set_final("nope", "cy", "accept"),
                lambda: store.set_final(a, "cy", "accept", reasons=["trivial"]),
                lambda: store.record_decision(a, "ann", "accept", reasons=["trivial"])):
        with pytest.raises(ValueError):
            bad()
    assert store.decision_events() == []


def test_reasons_follow_the_latest_decision(store: Store) -> None:
    (a,) = populate(store, 1)
    store.record_decision(a, "ann", "reject", reasons=["duplicate", "trivial"])
    store.record_decision(a, "ann", "tag", realism="artificial")  # a tag keeps the reasons
    assert store.current_decisions("ann")[0].reasons == ("duplicate", "trivial")
    store.record_decision(a, "ann", "accept")  # an accept has none
    assert store.current_decisions("ann")[0].reasons == ()
    store.undo("ann")
    assert store.current_decisions("ann")[0].reasons == ("duplicate", "trivial")


def test_decision_counts_and_resolved_filter(store: Store) -> None:
    a, b, c, d = populate(store, 4)
    store.record_decision(a, "ann", "accept")
    store.record_decision(a, "bob", "reject")
    store.record_decision(b, "ann", "accept")
    store.record_decision(c, "ann", "skip")
    n = store.decision_counts()
    assert (n.instances, n.undecided, n.disputed, n.settled) == (4, 1, 1, 0)
    assert n.resolved == {"accept": 1, "reject": 1, "skip": 1}
    store.set_final(a, "cy", "accept")
    n = store.decision_counts()
    assert (n.disputed, n.settled, n.final) == (0, 1, {"accept": 1})
    assert n.resolved == {"accept": 2, "skip": 1}
    ids = lambda v: {r.instance_id for r in store.browse(BrowseFilter(resolved=v))}  # noqa: E731
    assert ids("accept") == {a, b} and ids("skip") == {c} and ids("undecided") == {d}
    assert ids("reject") == set()


def test_assignment_is_balanced_deterministic_and_queued(store: Store) -> None:
    ids = populate(store, 7)
    store.record_decision(ids[0], "ann", "accept")  # decided: not assigned again
    batch = store.assign(["ann", "bob", "cy"], 2)
    assert (batch.instances, batch.overlap) == (6, 2)
    assert batch.per_curator == {"ann": 4, "bob": 4, "cy": 4}
    assigned = store.assigned_curators()
    assert ids[0] not in assigned
    assert all(len(cs) == 2 and len(set(cs)) == 2 for cs in assigned.values())
    queue = {r.instance_id for r in store.browse(BrowseFilter(curator="bob",
                                                             assigned_to="bob"))}
    assert len(queue) == 4 and queue == {i for i, cs in assigned.items() if "bob" in cs}
    store.record_decision(sorted(queue)[0], "bob", "reject")
    q = {x.curator: x for x in store.curator_queues()}
    assert (q["bob"].assigned, q["bob"].decided, q["bob"].remaining) == (4, 1, 3)
    # Again: nothing new to assign; new instances go first to the shortest queues.
    assert store.assign(["ann", "bob", "cy"], 2).instances == 0
    assert store.assigned_curators() == assigned
    first = min(populate(store, 9, repo="other"))
    more = store.assign(["ann", "bob", "cy"], 1, repo="other")
    assert more.instances == 9 and sum(more.per_curator.values()) == 9
    assert store.assigned_curators([first])[first] == ("bob",)  # bob decided one: shortest
    open_queues = [q.remaining for q in store.curator_queues()]
    assert max(open_queues) - min(open_queues) <= 1  # balanced over both batches
    # --reassign takes every undecided instance again (the one bob decided stays out).
    again = store.assign(["ann", "bob"], 1, reassign=True)
    assert again.batch > more.batch and again.instances == 6 + 9 - 1
    assert store.assigned_curators()[sorted(queue)[0]] == assigned[sorted(queue)[0]]
    assert set(store.assigned_curators()[ids[1]]) <= {"ann", "bob"}
    with pytest.raises(UsageError):
        store.assign(["ann"], 2)
    assert store.curation_of(ids[1]).assigned == store.assigned_curators()[ids[1]]

def test_a_version_8_workspace_migrates_and_keeps_its_decisions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.store.core as core

    path = tmp_path / "old.duckdb"
    monkeypatch.setattr(core, "MIGRATIONS", core.MIGRATIONS[:8])
    monkeypatch.setattr(core, "SCHEMA_VERSION", 8)
    with Store.open(path) as old:
        a, b = populate(old, 2)
        # What the previous version wrote: the twelve columns, positionally.
        old.con.execute("INSERT INTO decisions VALUES (nextval('decision_seq'), ?, 'ann', "
                        "'reject', 'artificial', NULL, NULL, NULL, 'bad', 1.0, NULL, now())",
                        [a])
        old.con.execute("INSERT INTO decisions VALUES (nextval('decision_seq'), ?, 'bob', "
                        "'accept', NULL, NULL, NULL, NULL, NULL, 1.0, NULL, now())", [a])
    monkeypatch.undo()
    with Store.open(path) as new:
        assert new.schema_version() == core.SCHEMA_VERSION
        ann = new.current_decisions("ann")[0]
        assert (ann.decision, ann.realism, ann.note, ann.reasons) == (
            "reject", "artificial", "bad", ())
        assert [d.instance_id for d in new.disputes()] == [a]
        new.set_final(a, "cy", "accept")
        assert new.undo("ann").instance_id == a  # the old event undoes like a new one
        assert [e.role for e in new.decision_events()] == [
            "curator", "curator", "adjudicator", "curator"]
