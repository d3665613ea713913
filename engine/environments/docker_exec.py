"""Processes inside a running container, through the Docker API's exec endpoint (docker SDK).

An exec's attach stream is one socket: the process's stdout and stderr come back as frames
(an 8-byte header: stream number, then the payload length), and bytes written to it are the
process's stdin; half-closing it closes stdin. This module turns that into what the engine
already knows for local processes: a ``ProcResult`` for a command (``run_exec``), and for a
server a Popen-like ``ExecProcess`` whose ``stdout`` is a real pipe (``select`` works on it)
and whose stderr goes to a log file.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

_HEADER = struct.Struct(">BxxxL")  # stream (1 stdout, 2 stderr), payload length
_CHUNK = 65536


@dataclass
class ExecHandle:
    """An exec started in a container: its id (for inspect) and its attach socket."""

    exec_id: str
    sock: socket.socket


def start_exec(api: Any, container_id: str, argv: Sequence[str], *, workdir: str,
               env: Mapping[str, str], user: str, stdin: bool) -> ExecHandle:
    """Create and start an exec; the raw socket is returned blocking, without a timeout."""
    created = api.exec_create(container_id, list(argv), stdin=stdin, stdout=True, stderr=True,
                              tty=False, environment=dict(env), workdir=workdir, user=user)
    exec_id = created["Id"]
    wrapped = api.exec_start(exec_id, socket=True)
    sock = getattr(wrapped, "_sock", wrapped)
    sock.settimeout(None)
    if not stdin:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
    return ExecHandle(exec_id, sock)


class _Demux:
    """Incremental frame parser: feed raw bytes, get (stream, payload) pairs back."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out: list[tuple[int, bytes]] = []
        while len(self._buf) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(self._buf)
            end = _HEADER.size + size
            if len(self._buf) < end:
                break
            out.append((stream, self._buf[_HEADER.size:end]))
            self._buf = self._buf[end:]
        return out


def exit_code(api: Any, exec_id: str, wait: float = 5.0) -> int | None:
    """The exec's exit code once Docker has recorded it (None while it still runs)."""
    deadline = time.monotonic() + wait
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running"):
            code = info.get("ExitCode")
            return int(code) if code is not None else None
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


@dataclass
class ExecOutput:
    returncode: int | None  # None: still running when the deadline passed
    stdout: bytes
    stderr: bytes
    deadline_hit: bool


def run_exec(api: Any, handle: ExecHandle, deadline: float | None) -> ExecOutput:
    """Collect an exec's output until it ends or ``deadline`` (monotonic) passes."""
    demux = _Demux()
    out: list[bytes] = []
    err: list[bytes] = []
    sock = handle.sock
    try:
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return ExecOutput(None, b"".join(out), b"".join(err), True)
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                continue
            data = sock.recv(_CHUNK)
            if not data:
                break
            for stream, payload in demux.feed(data):
                (err if stream == 2 else out).append(payload)
    finally:
        with contextlib.suppress(OSError):
            sock.close()
    return ExecOutput(exit_code(api, handle.exec_id), b"".join(out), b"".join(err), False)


class _SocketWriter:
    """The server's stdin: writes go to the attach socket, close() half-closes it (EOF)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.closed = False

    def write(self, data: bytes) -> int:
        if self.closed:
            raise BrokenPipeError("stdin is closed")
        self._sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_WR)


class ExecProcess:
    """A long-lived exec seen as a ``subprocess.Popen`` with binary stdin/stdout pipes.

    A reader thread demultiplexes the attach socket: stdout frames go into an ``os.pipe`` (so
    the fork-server client can ``select`` and ``os.read`` it exactly as for a local process),
    stderr frames are appended to ``stderr_path``. ``kill`` signals the process by its host
    PID, and calls ``on_stuck`` (restart the container) when even that does not end it.
    """

    def __init__(self, api: Any, handle: ExecHandle, stderr_path: Path | None,
                 on_stuck: Callable[[], None]) -> None:
        self._api = api
        self._handle = handle
        self._on_stuck = on_stuck
        self._err: IO[bytes] | None = open(stderr_path, "ab") if stderr_path else None  # noqa: SIM115
        read_fd, self._write_fd = os.pipe()
        self.stdout: IO[bytes] | None = os.fdopen(read_fd, "rb", buffering=0)
        self.stdin: IO[bytes] | None = _SocketWriter(handle.sock)  # type: ignore[assignment]
        self.returncode: int | None = None
        self.pid = -1  # no host process of ours; never passed to os.killpg
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="bf-exec-reader", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        demux = _Demux()
        try:
            while True:
                try:
                    data = self._handle.sock.recv(_CHUNK)
                except OSError:
                    break
                if not data:
                    break
                for stream, payload in demux.feed(data):
                    if stream == 2:
                        if self._err is not None:
                            self._err.write(payload)
                            self._err.flush()
                    else:
                        self._write_all(payload)
        finally:
            with contextlib.suppress(OSError):
                os.close(self._write_fd)
            if self._err is not None:
                self._err.close()
            self._done.set()

    def _write_all(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # the reader end was closed: discard
            while data:
                data = data[os.write(self._write_fd, data):]

    def poll(self) -> int | None:
        if self.returncode is None and self._done.is_set():
            self.returncode = exit_code(self._api, self._handle.exec_id, wait=2.0)
            if self.returncode is None:  # output closed but the process lingers
                return None
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import subprocess

        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired("docker exec", timeout or 0.0)
        code = self.poll()
        return -1 if code is None else code

    def kill(self) -> None:
        """SIGKILL the exec's process (its host PID: the container shares our kernel)."""
        if self._done.is_set():
            return
        with contextlib.suppress(Exception):
            pid = int(self._api.exec_inspect(self._handle.exec_id).get("Pid") or 0)
            if pid > 0:
                os.kill(pid, signal.SIGKILL)
        if not self._done.wait(5.0):
            self._on_stuck()
            self._done.wait(10.0)

    def release(self) -> None:
        """Close our ends once the process is gone."""
        with contextlib.suppress(OSError):
            self._handle.sock.close()
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
