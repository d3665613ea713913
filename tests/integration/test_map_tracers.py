"""The test map's recorders record the same map: probes compiled into the modules (before
3.12), sys.monitoring (3.12+) and sys.settrace (the fallback).

A small project (branches never taken, a generator resumed by a second test, a nested
function, a class, module-level code) is mapped by our plugin under each recorder in a real
pytest run; functions per test and covered lines must be equal, and the map itself right. A
second project holds the shapes the probes handle apart (lambdas, a generator created at import
and resumed by two tests, coroutines and async generators, ``match``, ``try``/``else``, loops
with ``break``/``continue``, a context manager, a conftest fixture and a test helper).
The monitoring run needs a Python 3.12+ interpreter on the machine (pyenv or PATH); pytest
and its pure-Python dependencies are lent to it from this interpreter's site-packages.
"""

from __future__ import annotations

import ast
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.baseline import run_test_map
from engine.environments.base import PLUGIN_DIR
from engine.forge.prune import statement_spans
from engine.models import Recipe
from engine.testmap import IMPORT, TestMap, load_map_file

pytestmark = pytest.mark.integration

LIB = '''\
TABLE = {"a": 1}


def pick(x):
    if x > 0:
        return "pos"
    if x < 0:
        return "neg"
    raise ValueError("zero")  # no test reaches this line


def counter(n):
    for i in range(n):
        yield i


class Box:
    def __init__(self, v):
        self.v = v

    def twice(self):
        def inner():
            return self.v * 2
        return inner()


import functools  # noqa: E402

_MEMO = {}


@functools.lru_cache(maxsize=None)
def parsed(x):
    return int(x)


def _build(k):
    return k * 10


def memo(k):
    if k not in _MEMO:
        _MEMO[k] = _build(k)
    return _MEMO[k]
'''

TESTS = '''\
from pkg.lib import Box, counter, memo, parsed, pick

GEN = counter(3)


def test_pick():
    assert pick(1) == "pos"


def test_gen_first():
    assert next(GEN) == 0


def test_gen_again():
    assert next(GEN) == 1


def test_box():
    assert Box(2).twice() == 4 and pick(-1) == "neg"


def test_late_import():
    import pkg.late  # noqa: F401


def test_cached_first():
    assert parsed("3") == 3 and memo(1) == 10


def test_cached_again():
    assert parsed("3") + memo(1) == 13
'''


def _project(root: Path) -> None:
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "late").mkdir()  # empty too: its code object equals pkg/__init__.py's
    (root / "pkg" / "late" / "__init__.py").write_text("")
    (root / "pkg" / "lib.py").write_text(LIB)
    (root / "tests").mkdir()
    (root / "tests" / "test_lib.py").write_text(TESTS)


def _map(python: str, root: Path, tracer: str, pythonpath: list[str],
         first: tuple[str, ...] = ()) -> TestMap:
    """Map ``root``'s tests with ``tracer``; ``first``: arguments before our plugin's."""
    out = root / f"map-{tracer}.json"
    env = {**os.environ, "BUGFOUNDRY_MAP": str(out), "BUGFOUNDRY_MAP_TRACER": tracer,
           "PYTHONPATH": os.pathsep.join([str(PLUGIN_DIR), str(root), *pythonpath]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *first,
                           "-p", "bugfoundry_map", "tests"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return load_map_file(out)


def _content(tm: TestMap) -> tuple[dict, dict]:  # type: ignore[type-arg]
    return ({k: sorted(v) for k, v in tm.functions.items()},
            {f: sorted(v) for f, v in tm.covered_lines.items()})


def _newer_python() -> str | None:
    """A Python 3.12+ interpreter other than this one, or None."""
    if sys.version_info >= (3, 12):
        return sys.executable
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = sorted(glob.glob(str(pyenv / "3.1[2-9].*/bin/python3")))
    found += [p for p in (shutil.which(f"python3.{m}") for m in range(12, 16)) if p]
    return found[0] if found else None


def _lent_site(tmp: Path) -> list[str]:
    """pytest and its pure-Python dependencies from this interpreter, for another one."""
    import _pytest
    import pluggy

    site = Path(_pytest.__file__).resolve().parents[1]
    lent = tmp / "lent"
    lent.mkdir()
    for name in ("pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pygments", "py.py"):
        if (site / name).exists():
            (lent / name).symlink_to(site / name)
    assert Path(pluggy.__file__).resolve().is_relative_to(site)
    return [str(lent)]


@pytest.mark.parametrize("tracer", ["settrace", "probe"])
def test_the_map_is_right(tmp_path: Path, tracer: str) -> None:
    _project(tmp_path)
    tm = _map(sys.executable, tmp_path, tracer, [])
    assert tm.tracer == tracer
    funcs, lines = _content(tm)
    assert funcs[("pkg/lib.py", "counter")] == ["tests/test_lib.py::test_gen_again",
                                               "tests/test_lib.py::test_gen_first"]
    assert funcs[("pkg/lib.py", "Box.twice.<locals>.inner")] == ["tests/test_lib.py::test_box"]
    assert IMPORT in funcs[("pkg/lib.py", "<module>")]
    assert 9 not in lines["pkg/lib.py"] and {5, 6, 7, 8, 23} <= set(lines["pkg/lib.py"])
    # equal code objects of two files are told apart (they were merged when keyed by value)
    assert funcs[("pkg/late/__init__.py", "<module>")] == ["tests/test_lib.py::test_late_import"]
    assert funcs[("pkg/__init__.py", "<module>")] == [IMPORT]
    # A memoized function (functools.lru_cache, a dict filled on first use) ran in the first
    # test only; the second reads the cached result, but with a cold cache (a fresh process
    # on the validator's paths) it runs it too: the map names both.
    both = ["tests/test_lib.py::test_cached_again", "tests/test_lib.py::test_cached_first"]
    assert funcs[("pkg/lib.py", "parsed")] == both
    assert funcs[("pkg/lib.py", "_build")] == both
    assert funcs[("pkg/lib.py", "memo")] == both


def test_monitoring_map_equals_settrace_map(tmp_path: Path) -> None:
    python = _newer_python()
    if python is None:
        pytest.skip("no Python 3.12+ interpreter on this machine (sys.monitoring)")
    _project(tmp_path)
    lent = [] if python == sys.executable else _lent_site(tmp_path)
    by_settrace = _content(_map(python, tmp_path, "settrace", lent))
    by_monitoring = _content(_map(python, tmp_path, "monitoring", lent))
    assert by_monitoring == by_settrace
    assert ("pkg/lib.py", "Box.twice.<locals>.inner") in by_monitoring[0]


SHAPES = '''\
"""Shapes the probes must see as the tracer does."""
from __future__ import annotations

import asyncio
import contextlib
import functools

KEY = lambda v: -v  # noqa: E731


class Marker:
    """Only a docstring."""


def decorate(f):
    @functools.wraps(f)
    def wrapper(*a, **k):
        return f(*a, **k)
    return wrapper


@decorate
def ordered(xs, key=lambda v: v):
    return sorted(xs, key=key)


class Shape:
    sides = 0

    def __init__(self, size):
        self.size = size
        self.note: str  # evaluates self: runs
        label: str  # compiles to nothing

    @property
    def area(self):
        return self.size * self.sides

    @classmethod
    def make(cls, size):
        return cls(size)

    @staticmethod
    def unit():
        return 1

    def noop(self):
        """Only a docstring: it returns from this line."""


class Square(Shape):
    sides = 4


def walk(xs):
    total = 0
    i = 0
    while i < len(xs):
        x = xs[i]
        i += 1
        if x is None:
            continue
        if x > 100:
            break
        total += x
    else:
        total = -total
    return total


def guarded(v):
    try:
        out = 10 // v
    except ZeroDivisionError:
        out = None
    else:
        out += 1
    finally:
        v = None
    return out


def kind(v):
    match v:
        case [a, b]:
            return a + b
        case {"k": k} if k > 0:
            return k
        case _:
            return None


@contextlib.contextmanager
def scoped(log):
    log.append("in")
    try:
        yield len(log)
    finally:
        log.append("out")


async def gather(n):
    await asyncio.sleep(0)
    return [v async for v in _agen(n)]


async def _agen(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def pipeline(n):
    got = yield "ready"
    while got is not None:
        got = yield got * n


def make_counter():
    count = 0

    def bump():
        nonlocal count
        count += 1
        return count

    return bump


def long_call(a, b):
    return max(
        a,
        b,
    )


_TABLE = {}


def build(k):
    return k * 3


def table(k):
    if k not in _TABLE:
        _TABLE[k] = build(k)
    return _TABLE[k]
'''

SHAPE_TESTS = '''\
import asyncio

from helpers import cached_table
from pkg.shapes import (KEY, Marker, gather, guarded, kind, long_call, make_counter, ordered,
                        pipeline, scoped, walk)

PIPE = pipeline(2)


def test_square(square):
    assert square.area == 12 and square.unit() == 1 and square.noop() is None


def test_ordered():
    assert ordered([3, 1, 2]) == [1, 2, 3] and ordered([1, 2], key=KEY) == [2, 1]


def test_walk():
    assert walk([1, None, 2]) == -3 and walk([1, 200, 5]) == 1


def test_guarded():
    assert guarded(5) == 3 and guarded(0) is None


def test_kind():
    assert kind([1, 2]) == 3 and kind({"k": 4}) == 4 and kind(7) is None


def test_scoped():
    log = []
    with scoped(log) as n:
        assert n == 1
    assert log == ["in", "out"]


def test_gather():
    assert asyncio.run(gather(3)) == [0, 1, 2]


def test_pipe_start():
    assert next(PIPE) == "ready"


def test_pipe_send():
    assert PIPE.send(5) == 10


def test_counter():
    c = make_counter()
    assert c() == 1 and c() == 2


def test_long_call():
    assert long_call(1, 2) == 2


def test_marker():
    assert Marker.__doc__


def test_table_first():
    assert cached_table(2) == 6


def test_table_again():
    assert cached_table(2) == 6
'''

CONFTEST = '''\
import pytest

from pkg.shapes import Square


@pytest.fixture
def square():
    return Square.make(3)
'''

HELPERS = '''\
from pkg.shapes import table

_SEEN = {}


def cached_table(k):
    if k not in _SEEN:
        _SEEN[k] = table(k)
    return _SEEN[k]
'''


def _covered_statements(tm: TestMap, root: Path) -> dict[str, set[tuple[int, int]]]:
    """Per project file, the statements some line of which ran (what the forge reads)."""
    out = {}
    for rel, lines in tm.covered_lines.items():
        if rel.startswith("pkg/"):
            spans = statement_spans(ast.parse((root / rel).read_text()))
            out[rel] = {spans[n] for n in lines if n in spans}
    return {rel: found for rel, found in out.items() if found}


def test_probe_map_equals_settrace_map_on_hard_shapes(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "shapes.py").write_text(SHAPES)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_shapes.py").write_text(SHAPE_TESTS)
    (tmp_path / "tests" / "conftest.py").write_text(CONFTEST)
    (tmp_path / "tests" / "helpers.py").write_text(HELPERS)
    by_settrace = _map(sys.executable, tmp_path, "settrace", [])
    by_probes = _map(sys.executable, tmp_path, "probe", [])
    assert by_probes.tracer == "probe" and not by_probes.unprobed

    def funcs(tm: TestMap) -> dict:  # type: ignore[type-arg]
        return {k: sorted(v) for k, v in tm.functions.items()
                if not k[1].endswith(("<listcomp>", "<genexpr>", "<setcomp>", "<dictcomp>"))}

    assert funcs(by_probes) == funcs(by_settrace)
    assert _covered_statements(by_probes, tmp_path) == _covered_statements(by_settrace, tmp_path)
    got = funcs(by_probes)
    test = "tests/test_shapes.py::test_"
    assert got[("pkg/shapes.py", "pipeline")] == [test + "pipe_send", test + "pipe_start"]
    assert got[("pkg/shapes.py", "<lambda>")] == [test + "ordered"]  # KEY, used by one test
    assert test + "square" in got[("pkg/shapes.py", "Shape.area")]  # through a conftest fixture
    # build() is cached twice over (table's dict, the helper's dict): both tests run it cold
    assert got[("pkg/shapes.py", "build")] == [test + "table_again", test + "table_first"]
    lines = by_probes.covered_lines["pkg/shapes.py"]
    at = {text.strip(): n for n, text in enumerate(SHAPES.splitlines(), 1)}
    assert {at["continue"], at["break"], at["total = -total"], at["out = None"],
            at["return k"], at["return None"]} <= lines


def test_a_project_imported_before_the_plugin_gets_its_probes_in_place(tmp_path: Path) -> None:
    """A project that pytest imports first (its own pytest plugin, or pluggy) has its live
    functions given probed code; one whose source is gone is traced instead."""
    _project(tmp_path)
    (tmp_path / "pkg" / "plug.py").write_text("from pkg import lib  # noqa: F401\n")
    tm = _map(sys.executable, tmp_path, "probe", [], first=("-p", "pkg.plug"))
    assert tm.tracer == "probe" and not tm.unprobed
    assert _content(tm)[0] == _content(_map(sys.executable, tmp_path, "settrace", [],
                                            first=("-p", "pkg.plug")))[0]
    assert tm.functions[("pkg/lib.py", "pick")] == {"tests/test_lib.py::test_box",
                                                   "tests/test_lib.py::test_pick"}
    (tmp_path / "pkg" / "plug.py").write_text(
        "import pathlib\n\n"
        "gone = pathlib.Path(__file__).with_name('gone.py')\n"
        "gone.write_text('def f():\\n    return 1\\n')\n"
        "import pkg.gone  # noqa: E402, F401\n\n"
        "gone.unlink()\n")
    tm = _map(sys.executable, tmp_path, "probe", [], first=("-p", "pkg.plug"))
    assert tm.tracer == "settrace"
    assert tm.functions[("pkg/lib.py", "pick")] == {"tests/test_lib.py::test_box",
                                                   "tests/test_lib.py::test_pick"}


ODD_CONFTEST = '''\
import sys
import types
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "pkg" / "odd.py"
_mod = types.ModuleType("pkg.odd")
_mod.__file__ = str(_path)
exec(compile(_path.read_text(), str(_path), "exec"), _mod.__dict__)
sys.modules["pkg.odd"] = _mod
'''


def test_a_module_loaded_past_the_probes_is_mapped_again_by_the_tracer(tmp_path: Path) -> None:
    from tests.integration.test_forkserver import HostEnv

    _project(tmp_path)
    (tmp_path / "pkg" / "odd.py").write_text("def odd():\n    return 1\n")
    (tmp_path / "tests" / "conftest.py").write_text(ODD_CONFTEST)
    (tmp_path / "tests" / "test_odd.py").write_text(
        "from pkg.odd import odd\n\n\ndef test_odd():\n    assert odd() == 1\n")
    probed = _map(sys.executable, tmp_path, "probe", [])
    assert probed.unprobed == ["pkg/odd.py"]
    assert ("pkg/odd.py", "odd") not in probed.functions
    recipe = Recipe(test_paths=["tests"])
    logged: list[str] = []
    tm = run_test_map(HostEnv(tmp_path / "env", tmp_path, recipe), tmp_path, recipe,
                      timeout=120, log=logged.append).testmap
    assert tm is not None and tm.tracer == "settrace"
    assert tm.functions[("pkg/odd.py", "odd")] == {"tests/test_odd.py::test_odd"}
    assert any("mapping again with the tracer" in line for line in logged)
