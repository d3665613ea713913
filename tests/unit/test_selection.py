"""Pure parts of fast validation: in-memory patching, change shapes, import graph, planning."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from engine.diffs import PatchError, apply_patch, make_patch
from engine.models import PASSED, Baseline, BaselineTest
from engine.testmap import IMPORT, TestMap
from engine.validation.grading import ValidationConfig, grade, plan_timeout
from engine.validation.imports import ImportCache, ImportGraph, tree_blobs
from engine.validation.selection import Planner, classify, plan_units


def test_apply_patch_roundtrips_random_edits() -> None:
    rng = random.Random(3)
    for _ in range(200):
        a = [f"line {i}\n" for i in range(rng.randint(0, 30))]
        b = list(a)
        for _ in range(rng.randint(1, 3)):
            k = rng.randint(0, len(b))
            if rng.random() < 0.4 or not b or k == len(b):
                b.insert(k, f"new {rng.random()}\n")
            elif rng.random() < 0.5:
                del b[k]
            else:
                b[k] = "changed\n"
        old, new = "".join(a), "".join(b)
        if rng.random() < 0.3:
            new = new.rstrip("\n")
        patch = make_patch("m.py", old, new)
        if patch:
            assert apply_patch({"m.py": old}, patch)["m.py"] == new


def test_apply_patch_rejects_mismatched_context() -> None:
    patch = make_patch("m.py", "a\nb\nc\n", "a\nB\nc\n")
    with pytest.raises(PatchError):
        apply_patch({"m.py": "x\ny\nz\n"}, patch)
    with pytest.raises(PatchError):
        apply_patch({}, patch)


SOURCE = '''import functools

def deco(f):
    @functools.wraps(f)
    def wrapper(*a):
        return f(*a)
    return wrapper

class Box:
    size = 1

    def __init__(self, v):
        self.v = v

    @property
    def value(self):
        return self.v

    @value.setter
    def value(self, v):
        self.v = v

    @deco
    def double(self):
        return self.v * 2
'''


def test_classify_function_bodies_versus_import_time() -> None:
    body = classify(SOURCE, SOURCE.replace("return self.v * 2", "return self.v * 3"))
    assert body.body_only and [u.qualname for u in body.units] == ["Box.double"]
    assert body.units[0].first_line == SOURCE.splitlines().index("    @deco") + 1
    setter = classify(SOURCE, SOURCE.replace("        self.v = v\n\n    @deco",
                                             "        self.v = -v\n\n    @deco"))
    assert [(u.qualname, u.index) for u in setter.units] == [("Box.value", 1)]
    nested = classify(SOURCE, SOURCE.replace("return f(*a)", "return f(*a[1:])"))
    assert [u.qualname for u in nested.units] == ["deco"]
    for old, new in [("size = 1", "size = 2"), ("@deco\n", ""), ("class Box:", "class Box(int):"),
                     ("def __init__(self, v)", "def __init__(self, v=0)")]:
        assert not classify(SOURCE, SOURCE.replace(old, new)).body_only, old


def _tree(tmp_path: Path) -> Path:
    files = {
        "pkg/__init__.py": "from pkg.core import Box\n",
        "pkg/core.py": SOURCE,
        "pkg/util.py": "def helper():\n    return 1\n",
        "tests/conftest.py": "",
        "tests/test_core.py": "from pkg import Box\n\ndef test_a():\n    assert Box(1)\n",
        "tests/test_util.py": "from pkg.util import helper\n\ndef test_b():\n    assert helper()\n",
        "tests/test_other.py": "def test_c():\n    assert True\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_import_graph_follows_packages_and_conftest(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    files = [str(p.relative_to(root)) for p in root.rglob("*.py")]
    graph = ImportGraph(root, files, ["."])
    tests = ["tests/test_core.py", "tests/test_util.py", "tests/test_other.py"]
    # test_util imports pkg.util, which runs pkg/__init__.py, which imports pkg.core.
    assert graph.test_files_importing("pkg/core.py", tests) == {"tests/test_core.py",
                                                                  "tests/test_util.py"}
    assert graph.test_files_importing("pkg/util.py", tests) == {"tests/test_util.py"}


def test_import_graph_cache_is_keyed_by_blob(tmp_path: Path) -> None:
    """What a file imports is parsed once per git blob: a later graph (another forge) reads
    it from the cache file, and a file whose blob changed is parsed again."""
    root = _tree(tmp_path / "repo")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    blobs = tree_blobs(root)
    assert "pkg/__init__.py" in blobs and len(blobs["pkg/__init__.py"]) >= 40
    tests = ["tests/test_core.py", "tests/test_util.py", "tests/test_other.py"]
    cache_file = tmp_path / "cache" / "imports.json"
    first = ImportGraph(root, sorted(blobs), ["."], blobs=blobs, cache=ImportCache(cache_file))
    assert first.test_files_importing("pkg/core.py", tests) == {"tests/test_core.py",
                                                                  "tests/test_util.py"}
    assert blobs["pkg/__init__.py"] in json.loads(cache_file.read_text())
    # The package no longer imports core on disk, but its blob id is the one cached: the
    # cached imports are used, not the file.
    (root / "pkg/__init__.py").write_text("")
    cached = ImportGraph(root, sorted(blobs), ["."], blobs=blobs,
                         cache=ImportCache(cache_file))
    assert cached.test_files_importing("pkg/core.py", tests) == {"tests/test_core.py",
                                                                   "tests/test_util.py"}
    subprocess.run([*git, "add", "-A"], check=True)
    changed = tree_blobs(root)
    assert changed["pkg/__init__.py"] != blobs["pkg/__init__.py"]
    fresh = ImportGraph(root, sorted(changed), ["."], blobs=changed,
                        cache=ImportCache(cache_file))
    # (the tests reached core only through the package)
    assert fresh.test_files_importing("pkg/core.py", tests) == set()
    assert fresh.test_files_importing("pkg/__init__.py", tests) == {"tests/test_core.py",
                                                                      "tests/test_util.py"}
    # warming parses every file the tests reach (and nothing else) into the cache at once
    warmed = tmp_path / "cache" / "warmed.json"
    ImportGraph(root, sorted(changed), ["."], blobs=changed, cache=ImportCache(warmed)).warm(tests)
    reached = {"pkg/__init__.py", "pkg/util.py", "tests/conftest.py", *tests}
    assert set(json.loads(warmed.read_text())) == {changed[f] for f in reached}


def _baseline() -> Baseline:
    names = ["tests/test_core.py::test_a", "tests/test_util.py::test_b",
             "tests/test_other.py::test_c"]
    tests = {n: BaselineTest(n, PASSED, 0.25, False, (PASSED, PASSED)) for n in names}
    return Baseline("b", "r", "c", 2, tests, 1.5)


def _planner(root: Path, tm: TestMap | None) -> Planner:
    files = [str(p.relative_to(root)) for p in root.rglob("*.py")]
    return Planner(root, _baseline(), tm, files, ["."])


def test_planner_picks_the_path(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    tm = TestMap()
    tm.functions[("pkg/core.py", "Box.double")] = {"tests/test_core.py::test_a"}
    tm.functions[("pkg/core.py", "deco")] = {IMPORT}
    tm.functions[("pkg/core.py", "deco.<locals>.wrapper")] = {"tests/test_core.py::test_a"}
    planner = _planner(root, tm)

    hot = planner.plan(make_patch("pkg/core.py", SOURCE, SOURCE.replace("* 2", "* 3")))
    assert (hot.mode, hot.tests, hot.estimate) == ("hot", ["tests/test_core.py::test_a"], 0.25)
    assert plan_units(hot) == [("pkg/core.py", "Box.double")]
    assert planner.plan(hot_patch := make_patch("pkg/core.py", SOURCE,
                                                SOURCE.replace("* 2", "* 3")),
                        "cold").mode == "cold"
    assert planner.plan(hot_patch, "full").tests is None

    # deco runs at import: a change to its own code needs a fresh process, on every test
    # module that imports it ...
    dec = planner.plan(make_patch("pkg/core.py", SOURCE, SOURCE.replace("    return wrapper",
                                                                        "    return f")))
    assert dec.mode == "cold"
    assert dec.tests == ["tests/test_core.py::test_a", "tests/test_util.py::test_b"]
    # ... but its wrapper runs at test time: a change there is swapped into the live wrappers.
    wrap = planner.plan(make_patch("pkg/core.py", SOURCE, SOURCE.replace("f(*a)", "f(*a[:1])")))
    assert (wrap.mode, wrap.tests) == ("hot", ["tests/test_core.py::test_a"])
    assert wrap.swaps[0].units[0].changed == ("deco.<locals>.wrapper",)

    # A class body change re-runs the class statement in the warm process, on every test
    # whose module imports the file; with --validation cold it runs in a fresh process.
    size = make_patch("pkg/core.py", SOURCE, SOURCE.replace("size = 1", "size = 2"))
    cls = planner.plan(size)
    assert (cls.mode, cls.tests) == ("hot", ["tests/test_core.py::test_a",
                                             "tests/test_util.py::test_b"])
    assert cls.swaps[0].classes == [("Box", [])]
    assert planner.plan(size, "cold").mode == "cold"
    gone = planner.plan(make_patch("pkg/core.py", SOURCE, SOURCE.replace("    size = 1\n", "")))
    assert gone.swaps[0].classes == [("Box", ["size"])]
    base = planner.plan(make_patch("pkg/core.py", SOURCE, SOURCE.replace("class Box:",
                                                                         "class Box(int):")))
    assert base.mode == "cold"  # a changed header is not replayed in place

    # Nobody executes Box.__init__ in this map: no test can fail, nothing runs.
    none = planner.plan(make_patch("pkg/core.py", SOURCE, SOURCE.replace("self.v = v\n\n    @p",
                                                                        "self.v = 0\n\n    @p")))
    assert none.mode == "none" and none.tests == []

    test_edit = planner.plan(make_patch("tests/test_other.py", "def test_c():\n    assert True\n",
                                        "def test_c():\n    assert False\n"))
    assert test_edit.mode == "full"
    assert _planner(root, None).plan(hot_patch).mode == "full"  # no map: the whole suite


def test_grade_infers_pass_to_pass_for_tests_not_run() -> None:
    from engine.models import FAILED, TestOutcome, TestRun

    base = _baseline()
    run = TestRun({"tests/test_core.py::test_a": TestOutcome("tests/test_core.py::test_a",
                                                              FAILED, 0.1, "boom")}, 1, 0.2,
                  False, [], "")
    f2p, p2p = grade(base, run, ["tests/test_core.py::test_a"])
    assert f2p == ["tests/test_core.py::test_a"]
    assert p2p == ["tests/test_other.py::test_c", "tests/test_util.py::test_b"]
    # Without a selection, tests missing from the run are neither failing nor passing:
    # nothing (no collection error, no crash) says why they are absent.
    assert grade(base, run) == (["tests/test_core.py::test_a"], [])


def test_timeouts_scale_with_the_selected_tests(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    tm = TestMap()
    tm.functions[("pkg/core.py", "Box.double")] = {"tests/test_core.py::test_a"}
    plan = _planner(root, tm).plan(make_patch("pkg/core.py", SOURCE,
                                              SOURCE.replace("* 2", "* 3")))
    config = ValidationConfig(full_timeout=60.0, suite_seconds=1.5)
    assert plan_timeout(plan, config) == 4.25  # 5 x 0.25 s + 1 s + the per-test grace (2 s)
    assert plan_timeout(plan, ValidationConfig(hang_factor=0)) == 2.25  # no per-test watch
    plan.mode = "cold"
    assert plan_timeout(plan, config) == 10.0  # a fresh process: at least 10 s
    quick = plan.__class__("hot", "", [], 0.0)
    assert plan_timeout(quick, ValidationConfig(slowest_test=2.0)) == 5.0  # 1 s + slowest + 2
    plan.mode = "full"
    assert plan_timeout(plan, config) == 60.0
    assert plan_timeout(plan, ValidationConfig(timeout=3.0)) == 3.0


HUNK_MODULE = '''from __future__ import annotations

import os
from datetime import date


class Box:
    def spin(self, n):
        total = 0
        for i in range(n):
            total += i
        return total

    def name(self):
        return date.today().isoformat()


def helper(x=1):
    def inner(y):
        return y * 2
    return inner(x) + len(os.sep)


try:
    import json
except ImportError:
    json = None
'''


@pytest.mark.parametrize(("old_line", "new_lines", "expect"), [
    ("            total += i\n", "            total -= i\n", "Box.spin"),
    ("        return y * 2\n", "        return y * 3\n", "helper.<locals>.inner"),
    ("        total = 0\n", "", "Box.spin"),  # a statement removed: the file gets shorter
    ("        return total\n", "        total += 1\n        return total\n", "Box.spin"),
    ("def helper(x=1):\n", "def helper(x=2):\n", None),  # a default: not a body change
    ("        return date.today().isoformat()\n", "        return (\n", None),  # no parse
])
def test_hunk_shapes_match_whole_module_shapes(old_line: str, new_lines: str,
                                               expect: str | None) -> None:
    """The hunk fast path answers like the whole-module comparison, or declines; its snippet
    compiles to the same code objects as the whole new file (imports kept: they change how
    calls on imported names compile)."""
    import types

    from engine.diffs import parse_patch
    from engine.validation.shapes import classify_hunks, summarize

    new = HUNK_MODULE.replace(old_line, new_lines, 1)
    fp = parse_patch(make_patch("m.py", HUNK_MODULE, new))[0]
    summary = summarize(HUNK_MODULE)
    fast = classify_hunks(summary, fp.hunks, new)
    if expect is None:
        assert fast is None
        return
    slow = classify(summary, new)
    assert fast is not None and (fast.body_only, fast.units) == (slow.body_only, slow.units)
    assert expect in fast.units[0].changed

    def codes(src: str) -> list[tuple[str, int, bytes]]:
        out: list[tuple[str, int, bytes]] = []

        def walk(co: types.CodeType) -> None:
            for k in co.co_consts:
                if isinstance(k, types.CodeType):
                    out.append((k.co_qualname, k.co_firstlineno, k.co_code))
                    walk(k)

        walk(compile(src, "m.py", "exec"))
        return out

    unit = fast.units[0].qualname
    mine = [c for c in codes(fast.snippet or "") if c[0].startswith(unit)]
    assert mine and mine == [c for c in codes(new) if c[0].startswith(unit)]
    assert "json = None" not in (fast.snippet or "") or "import json" in (fast.snippet or "")
