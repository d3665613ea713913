"""Pure logic: folding plugin reports, baseline flake detection, F2P/P2P grading."""

from __future__ import annotations

import json

from engine.baseline import fold_runs
from engine.models import ERROR, FAILED, MISSING, PASSED, SKIPPED, XFAILED, TestOutcome, TestRun
from engine.validation.grading import grade, patch_paths, unsafe_paths, vanished
from engine.validation.testrun import covering_error, parse_report, settle


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
    rep = parse_report(lines)
    outcomes = settle(rep, None, timed_out=False, died=False)
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
    assert not rep.finished and not rep.collect_errors and len(rep.collected) == 7


def test_parse_report_gives_each_test_its_cpu_not_its_sleeps() -> None:
    """A test's CPU runs from its start to its last phase's end; a test that sleeps has a long
    duration and little CPU (the bench's floor adds CPU, not wall time); old reports without
    CPU figures read as 0."""
    rep = parse_report(_lines(
        {"event": "start", "nodeid": "sleepy", "cpu": 2.0},
        _t("sleepy", "setup", "passed", cpu=2.01),
        _t("sleepy", "call", "passed", cpu=2.05, duration=1.5),
        _t("sleepy", "teardown", "passed", cpu=2.06),
        {"event": "start", "nodeid": "busy", "cpu": 2.06},
        _t("busy", "call", "passed", cpu=2.56, duration=0.5),
        {"event": "start", "nodeid": "old"},
        _t("old", "call", "passed"),
    ))
    cpu = {n: o.cpu for n, o in rep.outcomes.items()}
    assert cpu == {"sleepy": 0.06, "busy": 0.5, "old": 0.0}
    assert rep.outcomes["sleepy"].duration == 1.7


def test_settle_fails_a_missing_test_only_with_evidence() -> None:
    """An absent id is a failure only when a collection error covers it or its process died
    while it ran; otherwise (an id that changed) it is neither failing nor passing."""
    rep = parse_report(_lines(
        {"event": "collect_error", "nodeid": "tests/test_broken.py", "message": "E TypeError"},
        {"event": "collect_error", "nodeid": "tests/sub/conftest.py", "message": "E boom"},
        {"event": "collected", "nodeids": ["tests/test_ok.py::test_a", "tests/test_ok.py::t_b"]},
        {"event": "start", "nodeid": "tests/test_ok.py::test_a"},
        _t("tests/test_ok.py::test_a", "setup", "passed"),
        _t("tests/test_ok.py::test_a", "call", "passed"),
        _t("tests/test_ok.py::test_a", "teardown", "passed"),
        {"event": "start", "nodeid": "tests/test_ok.py::t_b"},
    ))
    wanted = ["tests/test_broken.py::test_x", "tests/test_broken.py::C::test_y",
              "tests/sub/test_deep.py::test_z", "tests/test_ok.py::test_a",
              "tests/test_ok.py::t_b", "tests/test_other.py::test_param[<obj at 0x7f>]"]
    died = settle(rep, wanted, timed_out=False, died=True)
    assert {k: v.outcome for k, v in died.items()} == {
        "tests/test_broken.py::test_x": ERROR, "tests/test_broken.py::C::test_y": ERROR,
        "tests/sub/test_deep.py::test_z": ERROR, "tests/test_ok.py::test_a": PASSED,
        "tests/test_ok.py::t_b": ERROR,  # it was running when the process died
        "tests/test_other.py::test_param[<obj at 0x7f>]": MISSING,
    }
    assert "TypeError" in died["tests/test_broken.py::test_x"].message
    killed = settle(rep, wanted, timed_out=True, died=False)
    assert killed["tests/test_ok.py::t_b"].outcome == MISSING
    assert covering_error("tests/test_broken.py::test_x", {"": "session"}) == ""
    assert covering_error("tests/test_brokenx.py::t", {"tests/test_broken.py": "e"}) is None
    assert covering_error("pkg/sub/test_a.py::t", {"pkg/__init__.py": "e"}) == "pkg/__init__.py"
    assert covering_error("pkg/sub/test_a.py::t", {"pkg/sub": "e"}) == "pkg/sub"


def _run(**status: str) -> TestRun:
    return TestRun({k: TestOutcome(k, v, 0.1) for k, v in status.items()}, 0, 1.0)


def test_fold_runs_quarantines_flaky() -> None:
    b = fold_runs(
        "r", "c", [_run(a=PASSED, b=PASSED, c=FAILED), _run(a=PASSED, b=FAILED, c=FAILED)]
    )
    assert b.passing == {"a"} and b.flaky == {"b"}
    assert b.tests["c"].outcome == FAILED and not b.tests["c"].flaky


def test_grade_counts_errors_not_vanished_tests_as_failures() -> None:
    b = fold_runs("r", "c", [_run(a=PASSED, b=PASSED, c=PASSED, d=PASSED, e=PASSED)] * 2)
    run = _run(a=PASSED, b=FAILED, c=ERROR, e=SKIPPED)  # d vanished, nothing explains it
    f2p, p2p = grade(b, run)
    assert f2p == ["b", "c"] and p2p == ["a"]
    assert vanished(b, run) == ["d"]


def test_fold_runs_excludes_unstable_ids_and_says_so() -> None:
    """Ids collected in one run and not another are unstable, not flaky; the tracing run's
    collection counts too."""
    b = fold_runs("r", "c", [_run(a=PASSED, b=PASSED, **{"p[<o 0x1>]": PASSED}),
                             _run(a=PASSED, b=PASSED, **{"p[<o 0x2>]": PASSED})],
                  also=[TestRun({}, 0, 0.0, collected=["a", "p[<o 0x1>]", "p[<o 0x2>]"])])
    assert b.passing == {"a"}
    assert b.unstable == {"b", "p[<o 0x1>]", "p[<o 0x2>]"} and not b.flaky
    # Same ids, other parameters behind one of them (ids by position over a set).
    r1, r2 = _run(**{"s[s0]": PASSED, "s[s1]": PASSED}), _run(**{"s[s0]": PASSED,
                                                                 "s[s1]": PASSED})
    r1.fingerprints, r2.fingerprints = {"s[s0]": "aa", "s[s1]": "bb"}, {"s[s0]": "aa",
                                                                      "s[s1]": "cc"}
    assert fold_runs("r", "c", [r1, r2]).passing == {"s[s0]"}


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
