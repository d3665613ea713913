"""What an export counts and writes: outcomes, realism ties, statements that give the fix
away (pure parts; the integration tests export the real sample workspace)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from engine.cli.main import main
from engine.dataset.leaks import find_leaks
from engine.dataset.selection import Resolved, outcome_of, row_summary, select
from engine.dataset.statements import statement_for_export
from engine.store import Statement, Store
from engine.store.curation import DecisionState
from tests.fakes import make_workspace, populate
from tests.records import instance

# The bug diff of a PR-mirror instance: the fix put the parentheses in, the bug takes them out.
GROWTH = ("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n"
          " def grow(x, periods_per_year, years):\n"
          "-    return x ** (periods_per_year * years)\n"
          "+    return x ** periods_per_year * years\n"
          "     # compounded\n")
COMMIT_MESSAGE = ("Fix compound growth\n\nThe growth factor was written as "
                  "`x ** periods_per_year * years`, which multiplies after raising.")


def _state(curator: str, decision: str | None, realism: str | None = None) -> DecisionState:
    return DecisionState("i", curator, decision, realism, None, None, None, None, 0.0,
                         datetime(2026, 1, 1), 1)


def test_outcomes_keep_disputes_apart_from_accepts() -> None:
    assert outcome_of(["accept", "accept"]) == "accept"
    assert outcome_of(["accept", "reject"]) == "disputed"
    assert outcome_of(["reject", "skip"]) == "reject"
    assert outcome_of(["skip"]) == "skip" and outcome_of([]) == "undecided"


def test_a_realism_tie_exports_no_label() -> None:
    tie = row_summary(Resolved("i", [_state("ann", "accept", "plausible"),
                                     _state("bob", "accept", "realistic")]))
    assert tie["realism"] is None and tie["realism_tie"] is True
    assert tie["realism_votes"] == {"plausible": 1, "realistic": 1}
    two_one = row_summary(Resolved("i", [_state("ann", "accept", "plausible"),
                                         _state("bob", None, "plausible"),
                                         _state("cy", "accept", "realistic")]))
    assert two_one["realism"] == "plausible" and two_one["realism_tie"] is False


def test_leak_check_catches_a_statement_that_spells_out_the_fix() -> None:
    assert find_leaks(COMMIT_MESSAGE, GROWTH) == [
        "spells out the changed code `x ** periods_per_year * years`"]
    # Naming the function or an input is no leak; code in unchanged lines neither.
    assert find_leaks("`grow(100, 12, 2)` returns a far larger value than expected for "
                      "`years=2`.", GROWTH) == []
    swap = GROWTH.replace("(periods_per_year * years)", "a < b").replace(
        "periods_per_year * years\n", "a <= b\n")
    assert find_leaks("The comparison uses `<=` where it needs `<`.", swap) == [
        "names the change: `<` / `<=`"]


def test_export_replaces_a_leaking_statement_and_fills_an_empty_one() -> None:
    mirror = instance(patch=GROWTH, problem_statement=COMMIT_MESSAGE, entity="grow",
                      file="m.py", strategy="pr_mirror",
                      meta={"statement_source": "commit message"},
                      failures={"t.py::test_grow": "E   assert 1e+30 == 1.27"},
                      fail_to_pass=["t.py::test_grow"])
    chosen = statement_for_export(mirror, None)
    assert chosen.source == "offline:template" and chosen.replaced
    assert "periods_per_year" not in chosen.text and "`grow`" in chosen.text
    assert statement_for_export(mirror, None, fill=False).source == "pr_mirror:commit message"
    empty = instance(patch=GROWTH, problem_statement=None, entity="grow", file="m.py")
    assert statement_for_export(empty, None).text.strip()
    assert statement_for_export(empty, None, fill=False).source == "none"


def test_offline_statement_from_the_failing_test(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("def test_grow():\n    assert grow(1.01, 12, 2) == 1.27\n")
    rec = instance(patch=GROWTH, problem_statement=None, entity="grow", file="m.py",
                   failures={"t.py::test_grow": "E   assert 1.2697 == 1.27"},
                   fail_to_pass=["t.py::test_grow"])
    chosen = statement_for_export(rec, tmp_path)
    assert chosen.source == "offline:tests"
    assert "grow(1.01, 12, 2)" in chosen.text and "test_grow" not in chosen.text
    assert "periods_per_year" not in chosen.text


def test_two_curators_and_an_adjudicator_export_exactly_the_final_decisions(
        tmp_path: Path) -> None:
    with Store.open(tmp_path / "x.duckdb") as store:
        a, b, c, d = populate(store, 4)
        for iid in (a, b, c):  # three disputes
            store.record_decision(iid, "ann", "accept")
            store.record_decision(iid, "bob", "reject", reasons=["tests-wrong"])
        store.record_decision(d, "ann", "accept")
        store.record_decision(d, "bob", "accept")
        store.set_final(a, "cy", "accept", note="the tests are right")
        store.set_final(b, "cy", "reject", reasons=["tests-wrong"])
        store.set_final(d, "cy", "reject", reasons=["trivial"])  # overrides two accepts
        for rule in ("accept-no-reject", "any-accept", "unanimous"):
            got = select(store, "curated", None, rule, "none")
            chosen = {r.instance_id for r in got.chosen}
            # Settled ones follow the final decision whatever the rule; the open dispute (c)
            # goes out only under a rule that lets one accept win.
            assert chosen == ({a, c} if rule == "any-accept" else {a}), rule
            assert got.decisions == {"accept": 1, "reject": 2, "disputed": 1}
        summary = row_summary(next(r for r in got.chosen if r.instance_id == a))
        assert summary["final"] == {"decision": "accept", "adjudicator": "cy"}
        assert summary["decisions"] == {"ann": "accept", "bob": "reject"}
        assert summary["reasons"] == {"bob": ["tests-wrong"]}


def test_an_export_stores_the_statements_it_writes(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Offline statements written for rows without one (or with a leaking one) are stored,
    so ``show`` and the review read them and the next export writes nothing new; a stored
    statement that holds is kept."""
    home = tmp_path / "ws"
    empty, leaking, clean, undecided = make_workspace(home, 4)
    with Store.open(home / "bugfoundry.duckdb") as store:
        for iid in (empty, leaking, clean):
            store.record_decision(iid, "ann", "accept")
        store.save_statement(Statement(leaking, "lm", "It now runs `return a - b + 1`.", "m"))
        store.save_statement(Statement(clean, "lm", "`func_2` gives wrong sums.\n", "m"))

    def export(name: str) -> tuple[list[dict], dict, str]:
        out = tmp_path / f"{name}.jsonl"
        assert main(["export", "--format", "swesmith", "-o", str(out),
                     "--workspace", str(home)]) == 0
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        manifest = json.loads((tmp_path / f".{name}.jsonl.bugfoundry" / "manifest.json")
                              .read_text())
        return rows, manifest["statements"], capsys.readouterr().out

    rows, statements, said = export("one")
    assert statements["stored_in_workspace"] == 2
    assert "2 offline ones written now, stored in the workspace" in said
    with Store.open(home / "bugfoundry.duckdb") as store:
        stored = store.latest_statements()
        shown = store.instance_detail(empty)
    assert (stored[empty].kind, stored[leaking].kind, stored[clean].kind) == (
        "template", "template", "lm")
    assert stored[clean].text == "`func_2` gives wrong sums.\n"
    assert not stored[leaking].leaks and "a - b" not in stored[leaking].text
    assert undecided not in stored  # not exported: untouched
    assert shown is not None and shown.problem_statement == stored[empty].text
    by_id = {r["bugfoundry_id"]: r for r in rows}
    assert by_id[empty]["problem_statement"] == stored[empty].text
    assert by_id[empty]["problem_statement_source"] == "offline:template"

    assert main(["show", empty, "--json", "--workspace", str(home)]) == 0
    assert json.loads(capsys.readouterr().out)["problem_statement"] == stored[empty].text
    again, statements, said = export("two")
    assert statements["stored_in_workspace"] == 0 and "stored in the workspace" not in said
    assert [(r["bugfoundry_id"], r["problem_statement"], r["problem_statement_source"])
            for r in again] == [(r["bugfoundry_id"], r["problem_statement"],
                                 r["problem_statement_source"]) for r in rows]
