"""The test map's two tracers (sys.monitoring on 3.12+, sys.settrace before) record the same map.

A small project (branches never taken, a generator resumed by a second test, a nested
function, a class, module-level code) is mapped by our plugin under each tracer in a real
pytest run; functions per test and covered lines must be equal, and the map itself right.
The monitoring run needs a Python 3.12+ interpreter on the machine (pyenv or PATH); pytest
and its pure-Python dependencies are lent to it from this interpreter's site-packages.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.environments.base import PLUGIN_DIR
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


def _map(python: str, root: Path, tracer: str, pythonpath: list[str]) -> TestMap:
    out = root / f"map-{tracer}.json"
    env = {**os.environ, "BUGFOUNDRY_MAP": str(out), "BUGFOUNDRY_MAP_TRACER": tracer,
           "PYTHONPATH": os.pathsep.join([str(PLUGIN_DIR), str(root), *pythonpath]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
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


def test_settrace_map_is_right(tmp_path: Path) -> None:
    _project(tmp_path)
    tm = _map(sys.executable, tmp_path, "settrace", [])
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
