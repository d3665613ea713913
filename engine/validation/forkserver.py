"""Engine side of the hot path: one warm pytest per worker tree that forks per candidate.

The server (``pytest_support/bugfoundry_forkserver.py``) collects the suite once; each request
names the tests to run and the patched files whose function bodies the child swaps in. This
module starts it, speaks its JSON-line protocol with deadlines, turns the child's report into a
``TestRun`` and shuts it down. Anything unexpected raises ``HotUnavailable`` so the validator
takes the cold path for that candidate instead of guessing.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.environments.base import PLUGIN_DIR
from engine.environments.processes import ProcResult
from engine.models import Recipe, TestRun
from engine.validation.selection import Swap
from engine.validation.testrun import (
    BASE_ARGS,
    REWRITE_CACHE,
    parse_report,
    rewrite_cache_dir,
    settle,
)

if TYPE_CHECKING:
    from engine.environments.base import Environment
    from engine.environments.processes import ServerProcess

SERVER_PLUGIN = "bugfoundry_forkserver"



class HotUnavailable(Exception):
    """The hot path cannot answer for this candidate (or at all); use the cold path.
    ``kind`` says why in a word (``reload:<why>`` for a refused reload), for counting."""

    def __init__(self, message: str, kind: str = "hot") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class HotResult:
    run: TestRun
    cpu: float  # CPU seconds of the forked child (user + system)
    status: str  # ok | timeout | crashed
    setup_cpu: float = 0.0  # the server's one-off index of who holds what (first reload)


class _Server:
    """A long-lived helper process in ``tree`` speaking JSON lines; one per worker."""

    kind = "server"

    def __init__(self, env: Environment, tree: Path, recipe: Recipe, *,
                 startup_timeout: float = 600.0, log_dir: Path | None = None,
                 hash_seed: int = 0) -> None:
        self.env = env
        self.hash_seed = hash_seed  # fixed for the server's life: every child inherits it
        self.tree = tree
        self.recipe = recipe
        self.startup_timeout = startup_timeout
        self.log_path = (log_dir or tree.parent) / f"{self.kind}-{tree.name}.log"
        self.proc: ServerProcess | None = None
        self.info: dict[str, Any] = {}
        self._buf = b""
        self._seq = 0
        self._hypothesis = ""

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        """Start the server; raise HotUnavailable when it cannot serve."""
        self._hypothesis = tempfile.mkdtemp(prefix="bf-hypothesis-", dir=self.env.scratch_dir)
        env = {"PYTHONPATH": str(PLUGIN_DIR), "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": str(self.hash_seed), "PY_COLORS": "0",
               "HYPOTHESIS_STORAGE_DIRECTORY": self._hypothesis,
               REWRITE_CACHE: str(rewrite_cache_dir(self.env))}
        with contextlib.suppress(OSError):
            self.log_path.unlink()
        self.proc = self.env.spawn(self._argv(), cwd=self.tree, env=env,
                                   stderr_path=self.log_path)
        try:
            ready = self._read(time.monotonic() + self.startup_timeout)
        except HotUnavailable:
            self.close()
            raise
        if ready.get("event") != "ready":
            self.close()
            raise HotUnavailable(f"unexpected first message: {ready}")
        self.info = ready
        self._check(ready)

    def _check(self, ready: dict[str, Any]) -> None:
        """Refuse a server that could not answer faithfully."""

    def _request(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        if not self.alive:
            raise HotUnavailable(f"the {self.kind} is not running")
        self._seq += 1
        cmd = {"op": "run", "id": self._seq, **cmd}
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise HotUnavailable(f"the {self.kind} died: {exc}") from exc
        return self._read(time.monotonic() + timeout + 30.0)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        if self._hypothesis:
            shutil.rmtree(self._hypothesis, ignore_errors=True)
            self._hypothesis = ""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if proc.poll() is None and proc.stdin:
                proc.stdin.write(b'{"op": "quit"}\n')
                proc.stdin.flush()
        try:
            proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a stuck server is killed below
            proc.kill()
            proc.wait()
        self.env.forget(proc)
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError, ValueError):
                if stream:
                    stream.close()

    def _read(self, deadline: float) -> dict[str, Any]:
        """One protocol line, or HotUnavailable when the server dies or misses the deadline."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise HotUnavailable(f"the {self.kind} stopped answering")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                tail = _tail(self.log_path)
                self.close()
                raise HotUnavailable(f"the {self.kind} exited: {tail}")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)


class WarmServer(_Server):
    """Pytest and its plugins imported once; each request is a fresh ``pytest.main`` in a
    forked child (the warm path: the diff is on disk, the project is imported anew)."""

    kind = "warmserver"

    def _argv(self) -> list[str]:
        return ["python", str(PLUGIN_DIR / "bugfoundry_warm.py")]

    def run(self, args: Sequence[str], *, env: dict[str, str], timeout: float) -> ProcResult:
        """Like ``Environment.run`` for ``python -m pytest ARGS``; what pytest printed comes
        back as stdout (a conftest that fails to import is reported only there)."""
        fd, output = tempfile.mkstemp(prefix="bf-warm-", suffix=".out", dir=self.env.scratch_dir)
        os.close(fd)
        try:
            reply = self._request({"args": list(args), "env": env, "cwd": str(self.tree),
                                   "timeout": timeout, "output": output}, timeout)
            with open(output, encoding="utf-8", errors="replace") as fh:
                printed = fh.read()[-20000:]
        finally:
            os.unlink(output)
        if reply.get("status") not in ("ok", "timeout"):
            raise HotUnavailable(f"warm server answered {reply}")
        self.last_cpu = float(reply.get("cpu", 0.0))
        return ProcResult(int(reply.get("exit", 0)), printed, "", float(reply.get("wall", 0.0)),
                          reply.get("status") == "timeout")

    last_cpu = 0.0


class ConfirmServer(WarmServer):
    """A warm server for the confirming runs, started at a non-zero hash seed: each child is
    a fresh pytest session that imports the project anew from disk, at another hash seed than
    the verdict run's 0, without paying an interpreter and pytest start-up per run."""

    kind = "confirmserver"


class ForkServer(_Server):
    """A warm pytest that collected the suite in ``tree`` (the hot path)."""

    kind = "forkserver"

    def _argv(self) -> list[str]:
        return ["python", "-m", "pytest", *BASE_ARGS, *self.env.session_args(self.tree),
                "-p", SERVER_PLUGIN, "--tb=no", *self.recipe.pytest_args,
                *self.recipe.test_paths]

    def _check(self, ready: dict[str, Any]) -> None:
        if not ready.get("hot"):
            self.close()
            raise HotUnavailable("the interpreter has no co_qualname (Python < 3.11)")
        if int(ready.get("threads", 1)) > 1:
            self.close()
            raise HotUnavailable(f"{ready['threads']} threads are running after collection; "
                                 "forking would be unsafe")

    # ------------------------------------------------------------------ requests
    def fork_cost(self, n: int = 5) -> float:
        """CPU seconds of one bare fork + exit + wait of this server (mean of ``n``)."""
        reply = self._request({"op": "fork_cost", "n": n}, 30.0)
        if reply.get("status") != "ok":
            raise HotUnavailable(f"fork server answered {reply}")
        return float(reply.get("cpu", 0.0))

    def run(self, tests: Sequence[str], swaps: Sequence[Swap], *, timeout: float,
            tb: str = "no", limits: Path | None = None,
            reload: dict[str, str] | None = None) -> HotResult:
        """Run ``tests`` in a forked child with ``swaps`` installed (and the per-test hang
        watch when ``limits`` is given). ``reload`` (file -> new source, relative to the
        tree) are import-time changes: the child imports them, and every module holding
        their objects, anew and re-collects the test modules among those."""
        fd, report = tempfile.mkstemp(prefix="bf-hot-", suffix=".jsonl", dir=self.env.scratch_dir)
        os.close(fd)
        cmd = {
            "tests": list(tests), "tb": tb, "timeout": timeout,
            "report": report, "limits": str(limits) if limits is not None else "",
            "swaps": [{"path": str(self.tree / s.rel), "source": s.source,
                       "units": [[u.qualname, u.first_line, u.index] for u in s.units],
                       "classes": [[name, removed] for name, removed in s.classes]}
                      for s in swaps],
            "reload": {str(self.tree / rel): text for rel, text in (reload or {}).items()},
        }
        try:
            reply = self._request(cmd, timeout)
            with open(report, encoding="utf-8", errors="replace") as fh:
                lines = fh.readlines()
        finally:
            os.unlink(report)
        status = reply.get("status")
        if status == "swap_failed":
            message = next((json.loads(x).get("message", "") for x in lines
                            if '"swap_error"' in x), "")
            raise HotUnavailable(f"could not swap the code in: {message}", "swap")
        if status == "reload_failed":
            event: dict[str, Any] = next((json.loads(x) for x in lines
                                          if '"reload_error"' in x), {})
            raise HotUnavailable(f"could not import the change anew: {event.get('message', '')}",
                                 f"reload:{event.get('kind', 'other')}")
        if status not in ("ok", "timeout", "crashed"):
            raise HotUnavailable(f"fork server answered {reply}")
        rep = parse_report(lines)
        if status == "crashed" and not rep.started:
            raise HotUnavailable(f"the forked child exited with {reply.get('exit')} before "
                                 "running a test", "crashed")
        timed_out = status == "timeout" or rep.hung is not None
        outcomes = settle(rep, tests, timed_out=timed_out,
                          died=status == "crashed" and not timed_out)
        run = TestRun(outcomes, int(reply.get("exit", 0)), float(reply.get("wall", 0.0)),
                      timed_out, [], "", finished=rep.finished, chance=rep.chance,
                      hung=rep.hung)
        return HotResult(run, float(reply.get("cpu", 0.0)), str(status),
                         max(0.0, float(reply.get("index_cpu", 0.0))))


def _tail(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    return lines[-1][:300] if lines else "(no output)"
