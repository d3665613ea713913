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
        self.limits = limits  # nodeid -> (limit, baseline) in seconds
        self.allowance = float(allowance)
        self.current = None
        self.phase = ""
        self.since = 0.0
        self.began = 0.0

    def feed(self, record):
        event = record.get("event")
        at = float(record.get("at") or 0.0)
        if event == "start":
            self.current, self.phase, self.since, self.began = record.get("nodeid"), "setup", at, at
        elif event == "test" and record.get("nodeid") == self.current:
            when = record.get("when")
            if when == "setup":  # a failed or skipped setup goes straight to teardown
                self.phase = "call" if record.get("outcome") == "passed" else "teardown"
            elif when == "call":  # (each subtest's report restarts the clock: lenient)
                self.phase = "teardown"
            else:
                self.current = None
            self.since = at
        elif event == "finished":
            self.current = None

    def deadline(self):
        """When the running test is overdue (wall clock), or None when nothing is watched."""
        if self.current is None or self.current not in self.limits or not self.since:
            return None
        limit = float(self.limits[self.current][0])
        return self.since + limit + (0.0 if self.phase == "call" else self.allowance)

    def overdue(self, now):
        """The ``hung`` record when the running test is past its deadline, else None."""
        due = self.deadline()
        if due is None or now < due:
            return None
        limit, baseline = self.limits[self.current]
        return {"event": "hung", "nodeid": self.current, "phase": self.phase,
                "seconds": round(now - self.began, 3), "limit": float(limit),
                "baseline": float(baseline)}


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
        hung = watch.overdue(now)
        if hung is not None:
            return hung
        due = watch.deadline()
        time.sleep(min(POLL, max(0.02, due - now)) if due is not None else POLL)
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
