"""Per-test hang watch: stop a test run as soon as one test runs far past its own baseline time.

Runs inside the *target* repo's interpreter (standard library only). The engine writes a limits
file (``$BUGFOUNDRY_LIMITS``, JSON: ``{"allowance": s, "tests": {nodeid: [limit, baseline]}}``);
``start`` forks a small watcher process that follows the reporter's JSON lines
(``bugfoundry_report``: each test's start and phase reports carry a wall-clock ``at``). When
the running test is past its limit, the watcher appends a ``hung`` record (which test, how long
it ran, its baseline) and kills the run's process group, which every caller makes for the run
alone (``run_process``'s new session, or a forked child's ``setpgid``).

A process rather than a thread: a thread would be visible to the tests (``threading.
active_count()``) and could not run while C code holds the GIL. The call phase gets the
test's limit; setup and teardown get ``allowance`` more, since a session or module fixture's
cost lands on whichever test comes first (or last) in this run, not where the baseline saw it.
A test without a limit (new, unknown, skipped or flaky in the baseline) is not watched.

A limit may carry a second, CPU budget (a third number: CPU seconds of the run's process in the
phase, from the reporter's ``cpu`` stamps and ``/proc``). A test spinning in a loop burns CPU at
once, while a loaded machine slows wall time, not CPU time; so the CPU budget needs no load
stretch and only a small grace, and a spinning test is stopped after a fraction of a second
of CPU instead of seconds of wall time. Without ``/proc`` only the wall-clock limit holds.
"""

import contextlib
import json
import os
import signal
import time
import warnings

POLL = 0.5  # seconds between looks at the report while nothing is due sooner


class Watch:
    """Which test is running, in which phase since when, and whether it is overdue (pure)."""

    def __init__(self, limits, allowance=0.0):
        self.limits = limits  # nodeid -> (limit, baseline[, CPU limit]) in seconds
        self.allowance = float(allowance)
        self.current = None
        self.phase = ""
        self.since = 0.0
        self.began = 0.0
        self.cpu_since = None  # the run's process CPU when the phase began (None: unknown)
        self.cpu_began = None

    def feed(self, record):
        event = record.get("event")
        at = float(record.get("at") or 0.0)
        cpu = record.get("cpu")
        cpu = float(cpu) if cpu is not None else None
        if event == "start":
            self.current, self.phase, self.since, self.began = record.get("nodeid"), "setup", at, at
            self.cpu_since = self.cpu_began = cpu
        elif event == "test" and record.get("nodeid") == self.current:
            when = record.get("when")
            if when == "setup":  # a failed or skipped setup goes straight to teardown
                self.phase = "call" if record.get("outcome") == "passed" else "teardown"
            elif when == "call":  # (each subtest's report restarts the clock: lenient)
                self.phase = "teardown"
            else:
                self.current = None
            self.since, self.cpu_since = at, cpu
        elif event == "finished":
            self.current = None

    def deadline(self):
        """When the running test is overdue (wall clock), or None when nothing is watched."""
        if self.current is None or self.current not in self.limits or not self.since:
            return None
        limit = float(self.limits[self.current][0])
        return self.since + limit + (0.0 if self.phase == "call" else self.allowance)

    def cpu_deadline(self):
        """The process CPU time at which the running test is overdue, or None."""
        if self.current is None or self.cpu_since is None:
            return None
        limit = self.limits.get(self.current)
        if limit is None or len(limit) < 3:
            return None
        return self.cpu_since + float(limit[2]) + (0.0 if self.phase == "call"
                                                   else self.allowance)

    def overdue(self, now, cpu=None):
        """The ``hung`` record when the running test is past its deadline (wall clock, or
        with ``cpu`` the process CPU time), else None."""
        due = self.deadline()
        if due is None:
            return None
        limit, baseline = self.limits[self.current][:2]
        hung = {"event": "hung", "nodeid": self.current, "phase": self.phase,
                "seconds": round(now - self.began, 3), "limit": float(limit),
                "baseline": float(baseline)}
        if now >= due:
            return hung
        cpu_due = self.cpu_deadline()
        if cpu is None or cpu_due is None or cpu < cpu_due:
            return None
        used = cpu - (self.cpu_began if self.cpu_began is not None else self.cpu_since)
        return {**hung, "clock": "cpu", "cpu": round(used, 3),
                "limit": float(self.limits[self.current][2])}


def process_cpu(pid):
    """CPU seconds (user + system) of process ``pid`` from ``/proc``, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def load_limits(path):
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return Watch({k: tuple(v) for k, v in data.get("tests", {}).items()},
                 data.get("allowance", 0.0))


def _follow(report, watch, parent):
    """The watcher's loop: read new report lines, sleep until the next deadline (at most
    ``POLL``); returns the ``hung`` record, or None once the watched process is gone."""
    buf = b""
    fd = os.open(report, os.O_RDONLY)
    while os.getppid() == parent:
        chunk = os.read(fd, 1 << 16)
        while chunk:
            buf += chunk
            chunk = os.read(fd, 1 << 16)
        *lines, buf = buf.split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError):
                watch.feed(json.loads(line))
        now = time.time()
        cpu_due = watch.cpu_deadline()
        cpu = process_cpu(parent) if cpu_due is not None else None
        hung = watch.overdue(now, cpu)
        if hung is not None:
            return hung
        due = watch.deadline()
        wait = min(POLL, due - now) if due is not None else POLL
        if cpu is not None:  # one thread burns at most a CPU second per second
            wait = min(wait, cpu_due - cpu)
        time.sleep(max(0.02, wait))
    return None


def start(report, limits_path):
    """Fork the watcher for this process's run (call it where the tests will run, after the
    reporter opened ``report``). Does nothing when the limits cannot be read."""
    try:
        watch = load_limits(limits_path)
    except (OSError, ValueError):
        return
    if not watch.limits:
        return
    parent = os.getpid()
    with warnings.catch_warnings():  # 3.12 warns on fork() with threads; the child is tiny
        warnings.simplefilter("ignore")
        pid = os.fork()
    if pid:
        return
    code = 0
    try:  # pragma: no cover - runs in the forked watcher
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # never hold the run's pipes open
            os.dup2(null, fd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        hung = _follow(report, watch, parent)
        if hung is not None:
            fd = os.open(report, os.O_WRONLY | os.O_APPEND)
            os.write(fd, (json.dumps(hung) + "\n").encode())
            os.close(fd)
            os.killpg(os.getpgrp(), signal.SIGKILL)  # the run's own group, this watcher too
    except BaseException:  # noqa: BLE001, S110 - the watcher must always reach os._exit
        code = 1
    finally:
        os._exit(code)
