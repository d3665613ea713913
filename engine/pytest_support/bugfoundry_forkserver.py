"""A warm pytest that collects once and forks per candidate (``-p bugfoundry_forkserver``).

Runs inside the *target* repo's interpreter and depends on nothing but pytest. Instead of the
normal test loop it serves JSON-line commands read from its stdin and answers on its stdout
(both duplicated at import time, before pytest's capture redirects them). For each ``run``:

1. fork; the child makes itself a process group, sets a CPU rlimit, compiles the patched file
   whole (so line numbers, future flags and ``__class__`` cells match) and installs the new
   code objects into the live functions (``func.__code__ = new``), nested closures included;
2. the child runs only the requested, already-collected items through the normal
   ``pytest_runtest_protocol`` hook (fixtures, markers and plugins behave as usual) and writes
   per-test reports with ``bugfoundry_report``'s reporter, line by line;
3. the parent waits up to the timeout, kills the child's group when it is over, and answers
   with the status and the child's CPU time.

Every child starts from the same pristine parent, so candidates never leak into each other.
"""

import contextlib
import gc
import json
import os
import resource
import select
import signal
import sys
import threading
import time
import traceback
import types

import pytest
from bugfoundry_report import _Reporter

# Keep the real stdin/stdout for the protocol; pytest's output goes nowhere.
_CMD_FD = os.dup(0)
_OUT_FD = os.dup(1)
_NULL = os.open(os.devnull, os.O_RDWR)
os.dup2(_NULL, 0)
os.dup2(_NULL, 1)
_ROOT = os.path.realpath(os.getcwd()) + os.sep

SWAP_FAILED = 3
CHILD_ERROR = 4


def _send(msg):
    data = (json.dumps(msg) + "\n").encode()
    while data:
        n = os.write(_OUT_FD, data)
        data = data[n:]


def _codes(code):
    """Code objects nested in ``code``, depth first in source order."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from _codes(const)


class _Server:
    def __init__(self, config):
        self.config = config
        self.items = []
        self.index = {}  # (realpath, qualname) -> [function objects]

    def pytest_collection_finish(self, session):
        self.items = list(session.items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        by_id = {item.nodeid: i for i, item in enumerate(self.items)}
        self._build_index()
        _send({"event": "ready", "collected": len(self.items), "pid": os.getpid(),
               "threads": threading.active_count(), "functions": len(self.index),
               "hot": hasattr(types.CodeType, "co_qualname")})
        gc.collect()
        gc.freeze()  # keep the parent's pages shared with every child
        reader = os.fdopen(_CMD_FD, "r", encoding="utf-8")
        for line in reader:
            if not line.strip():
                continue
            cmd = json.loads(line)
            if cmd.get("op") == "quit":
                break
            try:
                _send(self._run(cmd, by_id))
            except Exception as exc:  # noqa: BLE001 - report, keep serving
                _send({"id": cmd.get("id"), "status": "server_error", "message": repr(exc)})
        return True

    def _build_index(self):
        real = {}
        for obj in gc.get_objects():
            if type(obj) is not types.FunctionType:
                continue
            code = obj.__code__
            path = real.get(code.co_filename)
            if path is None:
                path = real[code.co_filename] = os.path.realpath(code.co_filename)
            if path.startswith(_ROOT):
                qual = getattr(code, "co_qualname", code.co_name)
                self.index.setdefault((path, qual), []).append(obj)

    def _run(self, cmd, by_id):
        positions = sorted(by_id[n] for n in cmd["tests"] if n in by_id)
        selected = [self.items[i] for i in positions]
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            self._child(cmd, selected)
        timed_out, status, usage = _wait(pid, float(cmd["timeout"]))
        code = os.waitstatus_to_exitcode(status)
        if timed_out or code in (-signal.SIGXCPU, -signal.SIGKILL):
            state = "timeout"  # the wall clock or the CPU rlimit stopped it
        else:
            state = {0: "ok", SWAP_FAILED: "swap_failed"}.get(code, "crashed")
        return {"id": cmd.get("id"), "status": state, "exit": code,
                "cpu": round(usage.ru_utime + usage.ru_stime, 6),
                "wall": round(time.monotonic() - started, 6), "selected": len(selected)}

    def _child(self, cmd, selected):
        code = 0
        try:
            os.setpgid(0, 0)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            limit = int(float(cmd["timeout"]) * 2) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 1))
            reporter = _Reporter(cmd["report"])
            error = self._swap(cmd.get("swaps", []))
            if error:
                reporter._write({"event": "swap_error", "message": error})
                code = SWAP_FAILED
                return
            self.config.pluginmanager.register(reporter, "bugfoundry-child-reporter")
            self.config.option.tbstyle = cmd.get("tb", "no")
            for i, item in enumerate(selected):
                nxt = selected[i + 1] if i + 1 < len(selected) else None
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=nxt)
            reporter._write({"event": "finished", "exitstatus": 0})
        except BaseException:  # noqa: BLE001 - the child must always reach os._exit
            code = CHILD_ERROR
            with contextlib.suppress(Exception):
                sys.__stderr__.write(traceback.format_exc())
        finally:
            os._exit(code)

    def _swap(self, swaps):
        """Install the patched functions; returns an error message or ""."""
        import linecache

        for sw in swaps:
            path = os.path.realpath(sw["path"])
            try:
                module = compile(sw["source"], sw["path"], "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                return f"patched file does not compile: {exc}"
            by_qual = {}
            for c in _codes(module):
                by_qual.setdefault(getattr(c, "co_qualname", c.co_name), []).append(c)
            for qual, first, index in sw["units"]:
                news = by_qual.get(qual, [])
                if index >= len(news):
                    return f"{qual}: not found in the patched file"
                new = news[index]
                live = [f for f in self.index.get((path, qual), [])
                        if f.__code__.co_firstlineno == first]
                if not live:
                    return f"{qual}: no live function (its module was not imported)"
                old = live[0].__code__
                nested_old = {id(c) for c in _codes(old)}
                nested_new = {}
                for c in _codes(new):
                    nested_new.setdefault(getattr(c, "co_qualname", c.co_name), []).append(c)
                try:
                    for f in live:
                        f.__code__ = new
                    prefix = qual + ".<locals>."
                    for (p, q), funcs in self.index.items():
                        if p != path or not q.startswith(prefix):
                            continue
                        for f in funcs:
                            if id(f.__code__) not in nested_old:
                                continue
                            repl = nested_new.get(q, [])
                            if len(repl) != 1:
                                return f"{q}: nested function is ambiguous after the change"
                            f.__code__ = repl[0]
                except ValueError as exc:  # different free variables: not swappable
                    return f"{qual}: {exc}"
            linecache.checkcache(path)
        return ""


def _wait(pid, timeout):
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


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("bugfoundry-forkserver"):
        config.pluginmanager.register(_Server(config), "bugfoundry-forkserver")
