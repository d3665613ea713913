"""Per-test hang limits: how each is computed, when the watch says a test is overdue, and a
real watcher process killing a run whose test is past its limit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.environments.base import PLUGIN_DIR
from engine.models import FAILED, PASSED, SKIPPED, XFAILED, Baseline, BaselineTest
from engine.pytest_support.bugfoundry_watch import Watch
from engine.validation.grading import ValidationConfig, hang_limits
from engine.validation.testrun import parse_report


def _baseline() -> Baseline:
    tests = [BaselineTest("t.py::fast", PASSED, 0.02), BaselineTest("t.py::slow", PASSED, 1.5),
             BaselineTest("t.py::red", FAILED, 0.4), BaselineTest("t.py::xf", XFAILED, 0.1),
             BaselineTest("t.py::skip", SKIPPED, 0.0),
             BaselineTest("t.py::flaky", PASSED, 0.1, flaky=True),
             BaselineTest("t.py::moving", PASSED, 0.1, unstable_id=True)]
    return Baseline("b", "r", "c", 2, {t.nodeid: t for t in tests}, 3.0)


def test_a_limit_is_factor_times_the_baseline_plus_grace() -> None:
    limits = hang_limits(_baseline(), ValidationConfig(slowest_test=1.5))
    # (wall limit, baseline, CPU limit): the CPU budget has a grace of 0.25 s, not 2 s
    assert limits.tests == {"t.py::fast": (2.1, 0.02, 0.35), "t.py::slow": (9.5, 1.5, 7.75),
                            "t.py::red": (4.0, 0.4, 2.25), "t.py::xf": (2.5, 0.1, 0.75)}
    # Skipped (its body never ran), flaky and unstable ids keep the whole-run budget only.
    assert limits.allowance == 1.5  # setup and teardown: a shared fixture may land there


def test_limits_stretch_with_the_budget_scale_and_the_load_and_can_be_off() -> None:
    config = ValidationConfig(slowest_test=1.0, hang_factor=3.0, hang_grace=1.0, scale=2.0)
    limits = hang_limits(_baseline(), config, load=4.0)  # 8 workers on 2 cores
    # load stretches the wall limit only: a loaded core slows wall time, not CPU time
    assert limits.tests["t.py::slow"] == ((3.0 * 1.5 + 1.0) * 2.0 * 4.0, 1.5,
                                          (3.0 * 1.5 + 0.25) * 2.0)
    assert limits.allowance == 8.0
    assert hang_limits(_baseline(), config, load=0.5).tests["t.py::slow"][0] == 11.0
    assert hang_limits(_baseline(), ValidationConfig(hang_factor=0)).tests == {}
    assert hang_limits(_baseline(), ValidationConfig(hang_cpu_grace=0)).tests["t.py::xf"] == (
        2.5, 0.1)  # no CPU budget


def test_the_watch_stops_a_test_past_its_cpu_budget_before_its_wall_limit() -> None:
    watch = Watch({"a": (10.0, 0.1, 1.0)}, allowance=5.0)
    watch.feed({"event": "start", "nodeid": "a", "at": 100.0, "cpu": 3.0})
    watch.feed({"event": "test", "nodeid": "a", "when": "setup", "outcome": "passed",
                "at": 100.5, "cpu": 3.2})
    assert watch.cpu_deadline() == 4.2  # from the call phase's start: the CPU limit alone
    assert watch.overdue(101.0, cpu=4.1) is None
    assert watch.overdue(101.0) is None  # no CPU reading: the wall clock alone
    hung = watch.overdue(101.2, cpu=4.3)
    assert hung is not None and hung["clock"] == "cpu"
    assert (hung["cpu"], hung["limit"], hung["seconds"]) == (1.3, 1.0, 1.2)
    watch.feed({"event": "start", "nodeid": "b", "at": 102.0})  # a record without CPU stamps
    assert watch.cpu_deadline() is None


def test_the_watch_times_each_phase_of_the_running_test() -> None:
    watch = Watch({"a": (2.0, 0.1)}, allowance=5.0)
    assert watch.deadline() is None and watch.overdue(1e9) is None
    watch.feed({"event": "start", "nodeid": "a", "at": 100.0})
    assert watch.deadline() == 107.0  # setup: the limit and the fixture allowance
    assert watch.overdue(106.9) is None
    watch.feed({"event": "test", "nodeid": "a", "when": "setup", "outcome": "passed",
                "at": 101.0})
    assert watch.deadline() == 103.0  # call: the limit alone, from the end of setup
    hung = watch.overdue(104.5)
    assert hung == {"event": "hung", "nodeid": "a", "phase": "call", "seconds": 4.5,
                    "limit": 2.0, "baseline": 0.1}
    watch.feed({"event": "test", "nodeid": "a", "when": "call", "outcome": "failed",
                "at": 102.0})
    assert watch.deadline() == 109.0  # teardown (session fixtures end here)
    watch.feed({"event": "test", "nodeid": "a", "when": "teardown", "outcome": "passed",
                "at": 102.5})
    assert watch.deadline() is None
    watch.feed({"event": "start", "nodeid": "new", "at": 103.0})  # no baseline time
    assert watch.deadline() is None and watch.overdue(1e9) is None


def test_a_hung_record_names_the_test() -> None:
    rep = parse_report([json.dumps({"event": "start", "nodeid": "a"}),
                        json.dumps({"event": "hung", "nodeid": "a", "phase": "call",
                                    "seconds": 12.3, "limit": 2.1, "baseline": 0.02})])
    assert rep.hung is not None
    assert (rep.hung.nodeid, rep.hung.seconds, rep.hung.baseline) == ("a", 12.3, 0.02)


def _watched(tmp_path: Path, limit: list[float], body: str, loop: str
             ) -> tuple[subprocess.CompletedProcess[str], Path]:
    """A process (its own group, as every run has) starts the watcher with ``limit`` for test
    ``t::x``, runs ``body``, reports that test's start, then ``loop``s: it must be killed."""
    report, limits = tmp_path / "report.jsonl", tmp_path / "limits.json"
    limits.write_text(json.dumps({"allowance": 0.0, "tests": {"t::x": limit}}))
    script = (
        "import json, subprocess, sys, time\n"
        "import bugfoundry_watch\n"
        f"out = open({str(report)!r}, 'a', buffering=1)\n"
        f"bugfoundry_watch.start({str(report)!r}, {str(limits)!r})\n"
        f"{body}"
        "rec = {'event': 'start', 'nodeid': 't::x', 'at': time.time(), "
        "'cpu': time.process_time()}\n"
        "out.write(json.dumps(rec) + '\\n')\n"
        f"while True:\n    {loop}\n")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, start_new_session=True,
                          env={**os.environ, "PYTHONPATH": str(PLUGIN_DIR)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert time.monotonic() - started < 10
    return proc, report


def test_a_real_watcher_stops_a_spinning_test_by_its_cpu(tmp_path: Path) -> None:
    """A test that spins in a loop is stopped once it used its CPU budget (0.3 s), long
    before its wall-clock limit (60 s); the hung record says it was the CPU."""
    _proc, report = _watched(tmp_path, [60.0, 0.01, 0.3], "", "pass")
    hung = json.loads(report.read_text().splitlines()[-1])
    assert hung["event"] == "hung" and hung["clock"] == "cpu"
    assert 0.3 <= hung["cpu"] < 2.0 and hung["limit"] == 0.3
    rep = parse_report(report.read_text().splitlines())
    assert rep.hung is not None and rep.hung.cpu == hung["cpu"]


def test_a_real_watcher_kills_the_whole_run(tmp_path: Path) -> None:
    """A process that reports a test start and then sleeps is killed with the sleeping helper
    it started, and the report says which test hung (wall clock: sleeping costs no CPU)."""
    proc, report = _watched(tmp_path, [0.3, 0.01, 30.0],
                            "helper = subprocess.Popen(['sleep', '60'])\n"
                            "print(helper.pid, flush=True)\n", "time.sleep(60)")
    records = [json.loads(x) for x in report.read_text().splitlines()]
    assert records[-1]["event"] == "hung" and records[-1]["nodeid"] == "t::x"
    assert "clock" not in records[-1]
    assert records[-1]["seconds"] >= 0.3
    helper = int(proc.stdout.split()[0])
    time.sleep(0.1)
    try:  # the helper died with the group (a zombie until init reaps it counts as gone)
        state = Path(f"/proc/{helper}/stat").read_text().split()[2]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z"), state
