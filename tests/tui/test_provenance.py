"""The review pane says where a PR mirror or a combination came from."""

from __future__ import annotations

from dataclasses import replace

from engine.instances import InstanceDetail
from tests.records import detail
from tui.widgets import metadata_text, provenance_line


def _rec(meta: dict) -> InstanceDetail:
    return detail(repo="sample", base_commit="5f2532d44f" + "0" * 30, strategy="pr_mirror",
                  modifier="route_b", file="ledgerkit/interest.py", entity="compound_amount",
                  lines_changed=2, files_changed=1, validation_seconds=1.0,
                  fail_to_pass=["tests/test_interest.py::test_long_term"], pass_to_pass=[],
                  meta=meta, problem_statement="Fix compound_amount()")


def test_pr_mirror_and_combine_provenance() -> None:
    mirror = {"route": "b", "apply": "fix_commit", "fix_commit": "5f2532d44f" + "1" * 30,
              "base_commit": "5f2532d44f" + "1" * 30, "subject": "Fix compound_amount()"}
    line = provenance_line(mirror)
    assert "route b (fix_commit)" in line and "fix 5f2532d44f" in line and "base 5f2532d44f" in line
    assert "route b" in metadata_text(_rec(mirror)).plain
    combined = {"components": ["i1", "i2"], "scope": "file", "group": "pkg/a.py",
                "f2p_relation": "union"}
    assert provenance_line(combined) == (
        "combined (file pkg/a.py) from i1, i2; FAIL_TO_PASS vs theirs: union\n")
    assert provenance_line({"seed": 3}) == ""


def test_a_commit_message_statement_is_checked_for_leaks_and_comes_first() -> None:
    patch = ("diff --git a/ledgerkit/interest.py b/ledgerkit/interest.py\n"
             "--- a/ledgerkit/interest.py\n+++ b/ledgerkit/interest.py\n@@ -37 +37 @@\n"
             "-    growth = (1 + rate) ** (periods * years)\n"
             "+    growth = (1 + rate) ** periods * years\n")
    rec = replace(_rec({"statement_source": "commit message"}), patch=patch,
                  problem_statement="Fix compound_amount\n\nIt computed `growth = (1 + rate) "
                                    "** periods * years`; test_long_term caught it.")
    lines = metadata_text(rec).plain.splitlines()
    assert lines[1] == "Problem statement  (from the fix's commit message)"
    assert "⚠ leaks: quotes `growth = (1 + rate) ** periods * years`" in lines
    assert "⚠ leaks: names the failing test test_long_term" in lines
    clean = replace(rec, problem_statement="Compound interest is wrong for multi-year terms.")
    assert not any(ln.startswith("⚠") for ln in metadata_text(clean).plain.splitlines())
