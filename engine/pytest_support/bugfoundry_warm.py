"""A pre-imported pytest that forks a fresh session per request (the warm path).

Run as a script in the *target* repo's interpreter. It imports pytest and the pytest plugins
the environment registers (the fixed cost of every pytest start) once, then for each JSON-line
request forks a child that runs ``pytest.main(args)`` from scratch: configuration, conftest
files, the project and the selected test modules are imported fresh from disk, where the
candidate's diff has been written. That is exactly what a new process would do, minus the
interpreter and plugin start-up. Answers go to the original stdout, one JSON line each.
"""

import json
import os
import signal
import sys
import time

_CMD_FD = os.dup(0)
_OUT_FD = os.dup(1)
_NULL = os.open(os.devnull, os.O_RDWR)
os.dup2(_NULL, 0)
os.dup2(_NULL, 1)

import pytest  # noqa: E402 - after the protocol fds are saved
from bugfoundry_childwait import enter_child, wait_child  # noqa: E402
from bugfoundry_rewritecache import install as install_rewrite_cache  # noqa: E402
from bugfoundry_tracebacks import memoize_statement_ranges, warm_module_map  # noqa: E402


def _preload_plugins():
    try:
        from importlib.metadata import entry_points

        eps = entry_points()
        group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
        for ep in group:
            try:
                ep.load()
            except Exception:  # noqa: BLE001, S112 - pytest reports a broken plugin itself
                continue
    except Exception:  # noqa: BLE001 - preloading is an optimisation only
        pass


def _send(msg):
    data = (json.dumps(msg) + "\n").encode()
    while data:
        data = data[os.write(_OUT_FD, data):]


def _child(cmd):
    code = 4
    try:
        enter_child(float(cmd["timeout"]))
        os.environ.update(cmd.get("env", {}))
        install_rewrite_cache()
        os.chdir(cmd["cwd"])
        sys.path.insert(0, cmd["cwd"])  # as ``python -m pytest`` puts the cwd first
        out = os.open(cmd["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) \
            if cmd.get("output") else _NULL  # what pytest prints, for errors it reports there
        os.dup2(out, 1)
        os.dup2(out, 2)
        args = list(cmd["args"])
        if hasattr(pytest, "PytestAssertRewriteWarning"):
            # The plugins this server pre-imported cannot be assertion-rewritten, and pytest
            # warns about it; a fresh process never would, and a config with
            # ``filterwarnings = error`` turns that warning into a crash.
            args = ["-W", "ignore::pytest.PytestAssertRewriteWarning", *args]
        code = int(pytest.main(args))
    except BaseException:  # noqa: BLE001 - the child must always reach os._exit
        code = 4
        try:  # said where the run's output goes, so the engine can report it
            import traceback

            os.write(2, traceback.format_exc().encode(errors="replace"))
        except Exception:  # noqa: BLE001, S110
            pass
    finally:
        os._exit(code)


def _tree_modules():
    """Files of the tree under test that this server has imported (pytest's own
    dependencies when the project is one of them, e.g. pluggy): a child would reuse them
    instead of importing the changed file, so such candidates must not come here."""
    root = os.path.realpath(os.getcwd()) + os.sep
    out = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path:
            real = os.path.realpath(path)
            if real.startswith(root):
                out.append(real[len(root):].replace(os.sep, "/"))
    return sorted(out)


def main():
    _preload_plugins()
    # What every child's failure reports would otherwise redo: inspect's scan of the loaded
    # modules, and (through the shared cache) pytest's parse of each file in a traceback.
    warm_module_map()
    memoize_statement_ranges()
    _send({"event": "ready", "pid": os.getpid(), "loaded": _tree_modules(),
           "cpu": round(time.process_time(), 6)})  # the start-up, paid once per forge
    for line in os.fdopen(_CMD_FD, "r", encoding="utf-8"):
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd.get("op") == "quit":
            break
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            _child(cmd)
        timed_out, status, usage = wait_child(pid, float(cmd["timeout"]))
        code = os.waitstatus_to_exitcode(status)
        _send({"id": cmd.get("id"), "status": "timeout" if timed_out or code in (
            -signal.SIGXCPU, -signal.SIGKILL) else "ok", "exit": code,
            "cpu": round(usage.ru_utime + usage.ru_stime, 6),
            "wall": round(time.monotonic() - started, 6)})


if __name__ == "__main__":
    main()
