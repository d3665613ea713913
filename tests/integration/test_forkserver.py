"""The warm fork server and the tracing map on a tiny real repo, with real pytest processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from engine.baseline import run_test_map
from engine.diffs import make_patch
from engine.environments.base import Environment
from engine.environments.processes import ProcResult, run_process, spawn_process
from engine.models import FAILED, PASSED, Baseline, BaselineTest, Recipe
from engine.testmap import IMPORT
from engine.validation.forkserver import ForkServer, HotUnavailable
from engine.validation.selection import Planner

CORE = '''import functools


def logged(f):
    @functools.wraps(f)
    def wrapper(*a, **k):
        return f(*a, **k)
    return wrapper


class Base:
    def __init__(self, v):
        self.v = v


class Box(Base):
    def __init__(self, v):
        super().__init__(v)

    @property
    def value(self):
        return self.v

    @value.setter
    def value(self, v):
        self.v = v

    @logged
    def double(self):
        return self.v * 2

    def spin(self):
        return self.v


def lazy_helper():
    return 5
'''

TESTS = '''from pkg.core import Box


def test_double():
    assert Box(2).double() == 4


def test_setter():
    b = Box(1)
    b.value = 7
    assert b.value == 7


def test_spin():
    assert Box(3).spin() == 3


def test_lazy():
    from pkg.lazy import call
    assert call() == 5
'''


class HostEnv(Environment):
    """This interpreter (which has pytest) as the repo's environment: real processes."""

    backend = "host"

    def _build(self, log):  # pragma: no cover - nothing to build
        pass

    def _exists(self) -> bool:
        return True

    def _env(self, cwd: Path, env: Mapping[str, str] | None) -> dict[str, str]:
        import os

        out = dict(os.environ)
        extra = dict(env or {})
        out["PYTHONPATH"] = ":".join([extra.pop("PYTHONPATH", ""), str(cwd)])
        out.update(extra)
        return out

    def run(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
            timeout: float | None = None) -> ProcResult:
        argv = [sys.executable, *argv[1:]] if argv[0] == "python" else list(argv)
        return run_process(argv, cwd=cwd, env=self._env(cwd, env), timeout=timeout)

    def spawn(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
              stderr_path: Path | None = None) -> subprocess.Popen[bytes]:
        argv = [sys.executable, *argv[1:]] if argv[0] == "python" else list(argv)
        return spawn_process(argv, cwd=cwd, env=self._env(cwd, env), stderr_path=stderr_path)


@pytest.fixture()
def tiny(tmp_path: Path) -> tuple[HostEnv, Path, Recipe]:
    root = tmp_path / "tree"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "core.py").write_text(CORE)
    (root / "pkg" / "lazy.py").write_text(LAZY)
    (root / "tests" / "test_core.py").write_text(TESTS)
    recipe = Recipe(test_paths=["tests"])
    return HostEnv(tmp_path / "env", root, recipe), root, recipe


LAZY = "from pkg.core import lazy_helper\n\n\ndef call():\n    return lazy_helper()\n"


def _plan(root: Path, recipe: Recipe, new: str, tm, rel: str = "pkg/core.py", old: str = CORE):
    tests = {f"tests/test_core.py::test_{n}": BaselineTest(f"tests/test_core.py::test_{n}",
                                                           PASSED, 0.01, False, (PASSED,) * 2)
             for n in ("double", "setter", "spin", "lazy")}
    files = [str(p.relative_to(root)) for p in root.rglob("*.py")]
    planner = Planner(root, Baseline("b", "r", "c", 2, tests, 0.5), tm, files, ["."])
    return planner.plan(make_patch(rel, old, new))


def test_map_then_hot_swaps_match_the_disk(tiny) -> None:
    env, root, recipe = tiny
    tm = run_test_map(env, root, recipe, timeout=120).testmap
    assert tm is not None
    assert tm.functions[("pkg/core.py", "Box.double")] == {"tests/test_core.py::test_double"}
    assert IMPORT in tm.functions[("pkg/core.py", "logged")]  # the decorator ran at import
    assert "tests/test_core.py::test_double" in tm.functions[
        ("pkg/core.py", "logged.<locals>.wrapper")]
    assert 30 in tm.covered_lines["pkg/core.py"]  # `return self.v * 2`

    server = ForkServer(env, root, recipe)
    server.start()
    try:
        assert server.info["collected"] == 4
        # A method behind a decorator, a property setter, an __init__ with zero-arg super(),
        # and the decorator's wrapper, whose live closures were made at import.
        for old, new, failing in [
            ("return f(*a, **k)", "return f(*a, **k) + 1", "test_double"),
            ("return self.v * 2", "return self.v * 3", "test_double"),
            ("        self.v = v\n\n    @logged", "        self.v = -v\n\n    @logged",
             "test_setter"),
            ("super().__init__(v)", "super().__init__(v + 1)", "test_spin"),
        ]:
            plan = _plan(root, recipe, CORE.replace(old, new), tm)
            assert plan.mode == "hot", (old, plan.reason)
            res = server.run(plan.tests, plan.swaps, timeout=20)
            bad = {n.split("::")[1] for n, o in res.run.outcomes.items() if o.outcome == FAILED}
            assert failing in bad, (old, res.run.outcomes)
            assert res.cpu > 0
        # Class-level changes re-run the class statement into the live class: a removed
        # method, and a body change in a class whose __init__ uses zero-arg super().
        removed = _plan(root, recipe, CORE.replace("    def spin(self):\n        return self.v\n",
                                                   ""), tm)
        assert removed.mode == "hot" and removed.reason.startswith("class statement"), removed
        res = server.run(removed.tests, removed.swaps, timeout=20)
        statuses = {n.split("::")[1]: o.outcome for n, o in res.run.outcomes.items()}
        assert statuses == {"test_double": PASSED, "test_setter": PASSED,
                            "test_spin": FAILED, "test_lazy": PASSED}, statuses
        attr = _plan(root, recipe, CORE.replace("        return self.v\n\n\ndef lazy",
                                                "        return self.v\n\n    spin = None\n"
                                                "\n\ndef lazy"), tm)
        assert attr.mode == "hot"
        res = server.run(attr.tests, attr.swaps, timeout=20)
        assert res.run.outcomes["tests/test_core.py::test_spin"].outcome == FAILED
        assert res.run.outcomes["tests/test_core.py::test_double"].outcome == PASSED

        # Each child starts pristine: the clean code still passes afterwards.
        plan = _plan(root, recipe, CORE.replace("return self.v * 2", "return self.v * 3"), tm)
        clean = server.run(["tests/test_core.py::test_double"], [], timeout=20)
        assert clean.run.outcomes["tests/test_core.py::test_double"].outcome == PASSED

        # A hang costs the timeout, not minutes, and the server keeps serving.
        plan = _plan(root, recipe, CORE.replace("        return self.v\n\n\ndef lazy",
                                                "        while True:\n            pass\n\n\n"
                                                "def lazy"), tm)
        started = time.monotonic()
        res = server.run(plan.tests, plan.swaps, timeout=2.0)
        assert res.status == "timeout" and res.run.timed_out
        assert time.monotonic() - started < 10
        assert server.alive

        # A function whose module was never imported by the warm parent cannot be swapped.
        lazy = _plan(root, recipe, LAZY.replace("lazy_helper()\n", "lazy_helper() + 1\n"), tm,
                     "pkg/lazy.py", LAZY)
        assert lazy.mode == "hot"
        with pytest.raises(HotUnavailable, match="not imported|no live function"):
            server.run(lazy.tests, lazy.swaps, timeout=10)
    finally:
        server.close()
    assert not server.alive


def test_warm_server_runs_fresh_sessions_from_disk(tiny) -> None:
    """The warm path: pre-imported pytest, each request a new session that reads the disk."""
    from engine.validation.forkserver import WarmServer
    from engine.validation.testrun import run_pytest

    env, root, recipe = tiny
    warm = WarmServer(env, root, recipe)
    warm.start()
    try:
        nodeids = ["tests/test_core.py::test_double", "tests/test_core.py::test_spin"]
        clean = run_pytest(env, root, recipe, nodeids, timeout=30, tb="no", runner=warm)
        assert {o.outcome for o in clean.outcomes.values()} == {PASSED}
        # An import-time change (a class attribute shadowing a method) on disk is seen.
        (root / "pkg" / "core.py").write_text(CORE.replace(
            "        return self.v\n\n\ndef lazy", "        return self.v\n\n    spin = None\n"
            "\n\ndef lazy"))
        broken = run_pytest(env, root, recipe, nodeids, timeout=30, tb="short", runner=warm)
        assert broken.outcomes["tests/test_core.py::test_spin"].outcome == FAILED
        assert "TypeError" in broken.outcomes["tests/test_core.py::test_spin"].message
        assert broken.outcomes["tests/test_core.py::test_double"].outcome == PASSED
        assert warm.last_cpu > 0
    finally:
        warm.close()
