"""Pure logic: folding plugin reports, baseline flake detection, F2P/P2P grading."""

from __future__ import annotations

import json

from engine.baseline import fold_runs
from engine.models import ERROR, FAILED, MISSING, PASSED, SKIPPED, XFAILED, TestOutcome, TestRun
from engine.testrun import parse_report
from engine.validation import grade, patch_paths, unsafe_paths


def _lines(*records: dict) -> list[str]:
    return [json.dumps(r) for r in records]


def _t(nid: str, when: str, outcome: str, **kw) -> dict:
    return {"event": "test", "nodeid": nid, "when": when, "outcome": outcome, "duration": 0.1, **kw}


def test_parse_report_folds_phases_subtests_and_missing() -> None:
    lines = _lines(
        {"event": "collected", "nodeids": ["a", "b", "c", "d", "e", "f", "g"]},
        _t("a", "setup", "passed"),
        _t("a", "call", "passed"),
        _t("a", "teardown", "passed"),
        _t("b", "setup", "passed"),
        _t("b", "call", "failed", message="assert 1 == 2"),
        _t("c", "setup", "failed", message="fixture boom"),
        _t("d", "setup", "passed"),
        _t("d", "call", "passed"),
        _t("d", "call", "failed", message="subtest i=3 failed"),  # a failing subtest
        _t("e", "setup", "passed"),
        _t("e", "call", "skipped", xfail=True),
        _t("f", "setup", "skipped"),
    ) + ["{truncated"]
    outcomes, collected, errors, finished = parse_report(lines)
    status = {k: v.outcome for k, v in outcomes.items()}
    assert status == {
        "a": PASSED,
        "b": FAILED,
        "c": ERROR,
        "d": FAILED,
        "e": XFAILED,
        "f": SKIPPED,
        "g": MISSING,
    }
    assert "assert 1 == 2" in outcomes["b"].message
    assert "subtest i=3" in outcomes["d"].message
    assert not finished and not errors and len(collected) == 7


def _run(**status: str) -> TestRun:
    return TestRun({k: TestOutcome(k, v, 0.1) for k, v in status.items()}, 0, 1.0)


def test_fold_runs_quarantines_flaky() -> None:
    b = fold_runs(
        "r", "c", [_run(a=PASSED, b=PASSED, c=FAILED), _run(a=PASSED, b=FAILED, c=FAILED)]
    )
    assert b.passing == {"a"} and b.flaky == {"b"}
    assert b.tests["c"].outcome == FAILED and not b.tests["c"].flaky


def test_grade_counts_errors_and_vanished_tests_as_failures() -> None:
    b = fold_runs("r", "c", [_run(a=PASSED, b=PASSED, c=PASSED, d=PASSED, e=PASSED)] * 2)
    run = _run(a=PASSED, b=FAILED, c=ERROR, e=SKIPPED)  # d vanished (collection broke)
    f2p, p2p = grade(b, run)
    assert f2p == ["b", "c", "d"] and p2p == ["a"]


def test_grade_ignores_flaky_tests() -> None:
    b = fold_runs("r", "c", [_run(a=PASSED, b=PASSED), _run(a=PASSED, b=FAILED)])
    assert grade(b, _run(a=PASSED, b=FAILED)) == ([], ["a"])


def test_patch_paths_and_unsafe() -> None:
    patch = "--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -1 +1 @@\n-x\n+y\n"
    assert patch_paths(patch) == ["pkg/m.py"]
    assert unsafe_paths(["pkg/m.py", "../etc/passwd", "/abs.py", ".git/config"]) == [
        "../etc/passwd",
        "/abs.py",
        ".git/config",
    ]
