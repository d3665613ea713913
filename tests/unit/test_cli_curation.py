"""The curation commands end to end through ``engine.cli.main`` on a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.store import Store
from tests.fakes import make_workspace


@pytest.fixture()
def ws(tmp_path: Path) -> tuple[Path, list[str]]:
    home = tmp_path / "ws"
    ids = make_workspace(home, 4)
    with Store.open(home / "bugfoundry.duckdb") as s:
        s.record_decision(ids[0], "ann", "accept", realism="realistic", clarity=1)
        s.record_decision(ids[0], "bob", "reject", reasons=["tests-wrong"], note="too broad")
        s.record_decision(ids[1], "ann", "accept")
        s.record_decision(ids[1], "bob", "accept")
        s.record_decision(ids[2], "ann", "skip")
    return home, ids


def run(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv, "--workspace", str(home)])
    out = capsys.readouterr()
    return code, out.out, out.err


def js(capsys: pytest.CaptureFixture[str], home: Path, *argv: str):
    code, out, err = run(capsys, home, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_disputes_adjudicate_undo_and_show(ws, capsys) -> None:
    home, ids = ws
    (d,) = js(capsys, home, "disputes")
    assert d["instance_id"] == ids[0] and d["disputed"]
    assert {x["curator"]: x["reasons"] for x in d["decisions"]} == {
        "ann": [], "bob": ["tests-wrong"]}
    code, out, err = run(capsys, home, "adjudicate", ids[0], "reject", "--curator", "cy",
                         "--reason", "2", "--note", "tests check another thing")
    assert code == 0 and "final reject by cy" in out, err
    assert js(capsys, home, "disputes") == []  # the queue empties
    shown = js(capsys, home, "show", ids[0])["curation"]
    assert shown["final"]["decision"] == "reject" and shown["final"]["reasons"] == [
        "tests-wrong"]
    assert shown["final"]["guidelines_version"].startswith("sha256:")
    assert (home / "guidelines.md").is_file()  # written from the default on first use
    ann = next(x for x in shown["decisions"] if x["curator"] == "ann")
    assert (ann["decision"], ann["realism"], ann["rubric"]["clarity"]) == (
        "accept", "realistic", 1)
    code, out, _ = run(capsys, home, "show", ids[0])
    assert "final: reject by cy (tests-wrong)" in out and "bob: reject (tests-wrong)" in out
    code, out, _ = run(capsys, home, "adjudicate", ids[0], "undo", "--curator", "cy")
    assert code == 0 and "disputed again" in out
    assert [d["instance_id"] for d in js(capsys, home, "disputes")] == [ids[0]]
    code, _, err = run(capsys, home, "adjudicate", ids[0], "undo", "--curator", "cy")
    assert code == 2 and "no final decision" in err


def test_instances_filters_and_json(ws, capsys) -> None:
    home, ids = ws
    ids_of = lambda *a: sorted(r["instance_id"] for r in js(capsys, home, "instances", *a))  # noqa: E731
    assert ids_of() == sorted(ids)
    assert ids_of("--decision", "disputed") == [ids[0]]
    assert ids_of("--decision", "accept") == [ids[1]]  # accept-no-reject: ids[0] is out
    assert ids_of("--decision", "reject") == [ids[0]]
    assert ids_of("--decision", "skip") == [ids[2]]
    assert ids_of("--decision", "undecided") == [ids[3]]
    assert ids_of("--decision", "accept", "--curator", "ann") == sorted(ids[:2])
    assert ids_of("--decision", "undecided", "--curator", "bob") == sorted(ids[2:])
    assert ids_of("--curator", "bob") == sorted(ids[:2])
    run(capsys, home, "adjudicate", ids[0], "accept", "--curator", "cy")
    assert ids_of("--decision", "accept") == sorted(ids[:2])  # the final decision first
    assert ids_of("--decision", "disputed") == []
    (row,) = [r for r in js(capsys, home, "instances") if r["instance_id"] == ids[0]]
    assert row["curation"]["final"]["adjudicator"] == "cy"
    assert len(row["curation"]["decisions"]) == 2
    code, out, err = run(capsys, home, "instances", "--decision", "accept", "--curator", "bob")
    assert code == 0 and ids[1] in out and "[ann accept, bob accept]" in out
    assert err.strip() == "1 instance"


def test_status_counts_decisions(ws, capsys) -> None:
    home, ids = ws
    cur = js(capsys, home, "status")["curation"]
    assert (cur["instances"], cur["undecided"], cur["disputed"], cur["settled"]) == (4, 1, 1, 0)
    assert cur["resolved"] == {"accept": 1, "reject": 1, "skip": 1}
    per = {c["curator"]: c for c in cur["curators"]}
    assert (per["ann"]["decided"], per["ann"]["accept"], per["ann"]["skip"]) == (3, 2, 1)
    run(capsys, home, "adjudicate", ids[0], "accept", "--curator", "cy")
    run(capsys, home, "assign", "--curators", "ann,bob", "--overlap", "1")
    cur = js(capsys, home, "status")["curation"]
    assert (cur["disputed"], cur["settled"], cur["final"], cur["adjudicators"]) == (
        0, 1, {"accept": 1}, {"cy": 1})
    assert sum(c["assigned"] for c in cur["curators"]) == 1  # one undecided instance
    code, out, _ = run(capsys, home, "status")
    assert "disputed 0, settled 1, final accept 1" in out


def test_assign_queues_and_agreement(ws, capsys) -> None:
    home, ids = ws
    (home / "curation.toml").write_text('overlap = 2\n[[reasons]]\nid = "meh"\nkey = "m"\n')
    batch = js(capsys, home, "assign", "--curators", "ann,bob,cy")
    assert (batch["instances"], batch["overlap"]) == (1, 2)  # only ids[3] is undecided
    queued = {q["curator"] for q in batch["queues"]}
    assert len(queued) == 2
    for name in queued:
        assert [r["instance_id"] for r in js(capsys, home, "instances", "--assigned-to",
                                             name)] == [ids[3]]
    g = js(capsys, home, "guidelines")
    assert [r["id"] for r in g["reasons"]] == ["meh"] and g["overlap"] == 2
    code, _, err = run(capsys, home, "adjudicate", ids[0], "reject", "--curator", "cy",
                       "--reason", "tests-wrong")
    assert code == 2 and "unknown reject reason 'tests-wrong'" in err
    rep = js(capsys, home, "agreement")
    assert rep["curators"] == ["ann", "bob"]
    assert (rep["decision"]["items"], rep["decision"]["ratings"]) == (2, 4)
    assert rep["decision"]["fleiss_kappa"] == pytest.approx(-1 / 3)
    assert rep["decision"]["krippendorff_alpha"] == pytest.approx(0.0)
    (m,) = rep["decision"]["confusion"]
    assert m["labels"] == ["accept", "reject", "skip"] and m["matrix"][0] == [1, 1, 0]
    code, out, _ = run(capsys, home, "agreement")
    assert "Fleiss' kappa -0.333" in out and "ann (rows) x bob (columns)" in out


def test_bad_curation_toml_is_a_two_line_error(ws, capsys) -> None:
    home, ids = ws
    (home / "curation.toml").write_text("overlap = 0\n")
    code, _, err = run(capsys, home, "assign", "--curators", "a,b")
    assert code == 2 and "overlap must be an integer >= 1" in err
    assert len(err.strip().splitlines()) == 2
