"""Process management for every backend: commands in their own process group, killed whole.

Kept apart from ``base`` (the environment interface) because the rules here are about processes,
not environments: a timed-out command takes its whole group with it, a spawned server dies with
the thread that started it (PDEATHSIG), and ``terminate_all`` can stop everything still running
when a run is interrupted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol


@dataclass
class ProcResult:
    """What a command did; ``timed_out`` means it was killed (with its whole process group)."""

    returncode: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False


class ServerProcess(Protocol):
    """What ``Environment.spawn`` returns: the part of ``subprocess.Popen`` the fork servers
    use (binary ``stdin``/``stdout`` pipes; ``stdout.fileno()`` works with ``select``)."""

    stdin: IO[bytes] | None
    stdout: IO[bytes] | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


def _killpg(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


TERM_GRACE = 2.0  # seconds a timed-out command gets between SIGTERM and SIGKILL


_LIVE: set[int] = set()  # process groups started by run_process and not yet reaped
_LIVE_LOCK = threading.Lock()


def terminate_all() -> None:
    """Kill every process group still running (Ctrl-C, or an abandoned validation run)."""
    with _LIVE_LOCK:
        groups = list(_LIVE)
    for pgid in groups:
        _killpg(pgid)


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up once in the parent (importing after fork can deadlock)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """SIGKILL the child when the thread that started it dies (e.g. forge is kill -9ed),
    so a hung test never outlives the run that started it."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> ProcResult:
    """Run a command in its own session so a timeout can kill it *and* everything it spawned.

    Hung tests often sit in a child (a server, a subprocess) that a plain ``proc.kill()`` would
    orphan while it keeps our pipes open; killing the process group avoids both problems.
    Stray background children are also killed when the command exits normally.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    with _LIVE_LOCK:
        _LIVE.add(proc.pid)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _killpg(proc.pid, signal.SIGTERM)  # the sandbox's init kills and reaps the run (its
        try:  # CPU then reaches our RUSAGE_CHILDREN); a bare command usually just ends
            out, err = proc.communicate(timeout=TERM_GRACE)
        except subprocess.TimeoutExpired:
            _killpg(proc.pid)
            try:
                out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:  # a grandchild escaped the group, holds a pipe
                proc.kill()
                out, err = "", ""
    except BaseException:
        _killpg(proc.pid)
        proc.kill()
        raise
    finally:
        _killpg(proc.pid)
        with _LIVE_LOCK:
            _LIVE.discard(proc.pid)
    proc.wait()
    return ProcResult(
        returncode=proc.returncode,
        stdout=out or "",
        stderr=err or "",
        duration=time.monotonic() - started,
        timed_out=timed_out,
    )


def spawn_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stderr_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server process in its own group; ``terminate_all`` kills it with the rest."""
    err = open(stderr_path, "ab") if stderr_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
    finally:
        if stderr_path:
            err.close()  # type: ignore[union-attr]
    with _LIVE_LOCK:
        _LIVE.add(proc.pid)
    return proc


def forget_process(pid: int) -> None:
    """Kill what is left of a spawned process's group and stop tracking it."""
    _killpg(pid)
    with _LIVE_LOCK:
        _LIVE.discard(pid)

