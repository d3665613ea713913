"""Forked children of the fork server and the warm server: set-up and a deadline-bound wait.

Runs inside the target repo's interpreter; standard library only.
"""

import contextlib
import os
import resource
import select
import signal
import time


def enter_child(timeout):
    """First steps of a forked child: its own process group (so the parent can kill whatever
    the tests start), default Ctrl-C, and a CPU rlimit of twice the wall-clock budget."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    limit = int(timeout * 2) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 1))


def wait_child(pid, timeout):
    """Wait for ``pid`` up to ``timeout`` seconds; kill its group when over. Returns
    (timed_out, wait status, rusage)."""
    timed_out = False
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        ready, _, _ = select.select([fd], [], [], timeout)
        os.close(fd)
        timed_out = not ready
    else:  # pragma: no cover - kernels without pidfd
        deadline = time.monotonic() + timeout
        while True:
            got, status, usage = os.wait4(pid, os.WNOHANG)
            if got:
                _killgroup(pid)
                return False, status, usage
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.002)
    if timed_out:
        _killgroup(pid)
    _pid, status, usage = os.wait4(pid, 0)
    _killgroup(pid)  # stray grandchildren the tests started
    return timed_out, status, usage


def _killgroup(pid):
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(pid, signal.SIGKILL)


