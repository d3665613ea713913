"""engine.forge.prune: candidates skipped before a test run (compiled-code equivalence and
edits on lines no test executes), on real code strings traced for real."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from engine.diffs import make_patch
from engine.forge.prune import (
    DUPLICATE,
    EQUIVALENT,
    UNEXECUTED,
    Pruner,
    compile_module,
    fingerprint,
)
from engine.models import Candidate

REL = "pkg/mod.py"

SOURCE = '''\
import os

LIMIT = 10


def clamp(x, lo=0):
    """Clamp x."""
    if x < lo:
        return lo
    if x > LIMIT:
        # never reached by the calls below
        x = LIMIT
        return x * 2
    total = (
        x +
        lo)
    scale = (1 *
             1)
    return total * scale


def gen(n):
    for i in range(n):
        if i > 100:
            yield i
    return


def uses_global(n):
    if n > 100:
        LIMIT = n
    return LIMIT + n
'''


def _traced_lines(source: str, calls: Callable[[dict[str, Any]], None]) -> set[int]:
    """Lines of ``source`` executed by importing it and running ``calls``: a real trace."""
    seen: set[int] = set()

    def tracer(frame: FrameType, event: str, _arg: object) -> Any:
        if frame.f_code.co_filename == REL and event == "line":
            seen.add(frame.f_lineno)
        return tracer

    ns: dict[str, Any] = {}
    code = compile(source, REL, "exec")
    sys.settrace(tracer)
    try:
        exec(code, ns)  # noqa: S102 - the module under test, as an import would run it
        calls(ns)
    finally:
        sys.settrace(None)
    return seen


def _run_sample(ns: dict[str, Any]) -> None:
    assert ns["clamp"](-1) == 0 and ns["clamp"](5) == 5
    assert list(ns["gen"](3)) == []
    try:  # the never-run assignment makes LIMIT local: executed code depends on it
        ns["uses_global"](1)
    except UnboundLocalError:
        pass
    else:
        raise AssertionError("LIMIT should be local to uses_global")


COVERED = {REL: _traced_lines(SOURCE, _run_sample)}


def _cand(new: str, old: str = SOURCE) -> Candidate:
    assert new != old
    return Candidate(repo="r", strategy="procedural", modifier="m",
                     patch=make_patch(REL, old, new), file=REL)


def _pruner() -> Pruner:
    return Pruner(lambda rel: SOURCE if rel == REL else None, COVERED)


def _fp(source: str) -> object:
    code = compile_module(source, REL)
    assert code is not None
    return fingerprint(code)


def test_trace_is_what_the_cases_assume() -> None:
    lines = COVERED[REL]
    assert {9, 10, 14, 19} <= lines  # `if x < lo`, `return lo`, `total = (`, `return ...`
    assert not {12, 13, 25, 31} & lines  # the unreached branches


def test_fingerprint_ignores_layout_but_not_meaning() -> None:
    moved = "\n\n" + SOURCE.replace("        # never reached by the calls below\n", "")
    assert _fp(moved) == _fp(SOURCE)  # other line numbers, no comment: same code
    assert _fp(SOURCE.replace("x < lo", "lo > x")) != _fp(SOURCE)
    assert _fp(SOURCE.replace("LIMIT = 10", "LIMIT = 10.0")) != _fp(SOURCE)
    assert _fp(SOURCE.replace("LIMIT = 10", "LIMIT = True")) != _fp("LIMIT = 1")
    assert _fp("x = 2 + 3\n") == _fp("x = 3 + 2\n")  # folded to the same constant
    assert _fp("def f(a):\n    return a\n") != _fp("def f(b):\n    return b\n")


def test_equivalent_and_duplicate_candidates_are_skipped() -> None:
    p = _pruner()
    assert p.reason(_cand(SOURCE.replace("lo)\n", "lo)  # same\n"))) == EQUIVALENT
    first = _cand(SOURCE.replace("x +\n        lo)", "lo +\n        x)"))
    again = _cand(SOURCE.replace("x +\n        lo)", "lo + x)"))
    assert p.reason(first) is None  # executed and different: it runs
    assert p.reason(again) == DUPLICATE  # same code as the first
    assert p.reason(first) is None  # the first stays runnable when judged again
    broken = _cand(SOURCE.replace("return lo\n", "return lo +\n"))
    assert p.reason(broken) is None  # does not compile here: in doubt, run it


def test_edits_on_unexecuted_lines_are_skipped() -> None:
    p = _pruner()
    assert p.reason(_cand(SOURCE.replace("x * 2", "x * 3"))) == UNEXECUTED
    assert p.reason(_cand(SOURCE.replace("        x = LIMIT\n", ""))) == UNEXECUTED
    assert p.reason(_cand(SOURCE.replace("i > 100", "i >= 100"))) is None  # executed
    assert p.reason(_cand(SOURCE.replace("return lo\n", "return lo - 1\n"))) is None
    p.skipped.clear()
    kept = list(p.keep([_cand(SOURCE.replace("x * 2", "x * 4")),
                        _cand(SOURCE.replace("x < lo", "x <= lo"))]))
    assert [c.patch for c in kept] == [_cand(SOURCE.replace("x < lo", "x <= lo")).patch]
    assert p.skipped == {UNEXECUTED: 1}


def test_unexecuted_edits_that_change_executed_code_still_run() -> None:
    p = _pruner()
    # a continuation line of an executed statement (folded: no line event of its own)
    assert 18 not in COVERED[REL]
    assert p.reason(_cand(SOURCE.replace("             1)", "             2)"))) is None
    # deleting a never-reached yield makes gen a plain function
    no_yield = SOURCE.replace("            yield i\n", "            pass\n")
    assert p.reason(_cand(no_yield)) is None
    # deleting a never-run assignment makes LIMIT global in the executed return
    glob = SOURCE.replace("        LIMIT = n\n", "        pass\n")
    assert p.reason(_cand(glob)) is None
    # module-level code runs at import
    assert p.reason(_cand(SOURCE.replace("LIMIT = 10", "LIMIT = 11"))) is None
    # an insertion right after an executed line
    inserted = SOURCE.replace("    return total * scale\n",
                              "    total += 1\n    return total * scale\n")
    assert p.reason(_cand(inserted)) is None


def test_no_map_or_untraced_file_means_no_line_skip() -> None:
    edit = _cand(SOURCE.replace("x * 2", "x * 3"))
    assert Pruner(lambda rel: SOURCE, None).reason(edit) is None
    assert Pruner(lambda rel: SOURCE, {"other.py": {1}}).reason(edit) is None


CLASSY = '''\
class Version:
    def __init__(self, major, minor=0):
        self._major, self._minor = major, minor

    def bump(self):
        return Version(self._major + 1)

    @staticmethod
    def parse(text):
        return Version(*map(int, text.split(".")))

    @property
    def major(self):
        return self._major

    @major.setter
    def major(self, value):
        raise AttributeError("read-only")

    def minor(self, default=None):
        return self._minor

    def fallback(self, how=minor):
        return how(self)


def helper():
    return Version.parse("1.2").bump()


def other():
    return helper()
'''


def _swap(source: str, first: str, second: str) -> str:
    """``source`` with the two adjacent definitions starting with ``first`` and ``second``
    (each up to the next blank line) swapped."""
    a = source.index(first)
    b = source.index(second)
    end = source.find("\n\n", b)
    end = len(source) if end < 0 else end + 2
    block_a, block_b = source[a:b], source[b:end]
    if not block_b.endswith("\n\n"):
        block_b += "\n" if block_b.endswith("\n") else "\n\n"
        block_a = block_a.rstrip("\n") + "\n"
    return source[:a] + block_b + block_a + source[end:]


def _behaviour(source: str) -> tuple[object, ...]:
    ns: dict[str, Any] = {}
    try:
        exec(compile(source, REL, "exec"), ns)  # noqa: S102 - the module under test
    except NameError as exc:
        return ("import failed", str(exc))
    v = ns["Version"](1, 2)
    try:
        v.major = 5
        setter = "set"
    except AttributeError as exc:
        setter = str(exc)
    return (sorted(vars(ns["Version"])), ns["other"]()._major, v.bump()._major, setter)


def test_swapped_plain_definitions_are_equivalent_and_order_bound_ones_run() -> None:
    p = Pruner(lambda rel: CLASSY if rel == REL else None, None)

    def reason(new: str) -> str | None:
        return p.reason(Candidate(repo="r", strategy="procedural", modifier="m",
                                  patch=make_patch(REL, CLASSY, new), file=REL))

    swapped_methods = _swap(CLASSY, "    def __init__", "    def bump")
    swapped_static = _swap(CLASSY, "    def bump", "    @staticmethod")
    swapped_funcs = _swap(CLASSY, "def helper", "def other")
    for same in (swapped_methods, swapped_static, swapped_funcs):
        assert _behaviour(same) == _behaviour(CLASSY)  # the proof's claim, checked by running
        assert reason(same) == EQUIVALENT
    # A setter defined before its property; a default naming the method defined before it.
    setter_first = _swap(CLASSY, "    @property", "    @major.setter")
    default_first = _swap(CLASSY, "    def minor", "    def fallback")
    assert _behaviour(setter_first) != _behaviour(CLASSY)
    assert reason(setter_first) is None
    assert _behaviour(default_first) == ("import failed", "name 'minor' is not defined")
    assert reason(default_first) is None
    # Two defs of one name: which one wins depends on their order.
    twice = CLASSY.replace("def other():", "def helper():")
    swapped_twice = _swap(twice, "def helper():\n    return Version",
                          "def helper():\n    return helper")
    assert reason(swapped_twice) is None


STATEFUL = '''\
import enum


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Box:
    def __init__(self, width, height, other):
        self.width = width
        self.height = height
        self.area = self.width * self.height
        self.ratio = other.scale
        self.label = "box"
        count = 0
        count += 1
        self.count = count

    def fits(self, limit, strict):
        self.mode = strict or limit
        if limit is not None and strict:
            return self.area < limit
        if isinstance(limit, int) and limit > 0 or strict:
            return True
        return limit is None or limit.size > self.area


def safe(data):
    a = 1
    try:
        a = data.missing
        b = 2
    except AttributeError:
        return a
    return a + b
'''


def _box_behaviour(source: str) -> list[object]:
    ns: dict[str, Any] = {}
    exec(compile(source, REL, "exec"), ns)  # noqa: S102 - the module under test
    scale = type("Scale", (), {"scale": 0.5, "size": 3})()
    box = ns["Box"](2, 3, scale)
    out: list[object] = [sorted(vars(box).items())]
    for limit in (None, 0, 5, 10, scale):
        for strict in (False, True):
            try:
                out.append(box.fits(limit, strict))
            except (AttributeError, TypeError) as exc:
                out.append(type(exc).__name__)
    return out


def _swap_lines(source: str, first: str, second: str) -> str:
    """``source`` with the adjacent lines ``first`` and ``second`` (stripped) swapped."""
    lines = source.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.strip() == first)
    assert lines[i + 1].strip() == second
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "".join(lines)


def test_independent_reorders_are_equivalent_and_dependent_ones_run() -> None:
    def reason(new: str) -> str | None:
        p = Pruner(lambda rel: STATEFUL if rel == REL else None, None)
        return p.reason(Candidate(repo="r", strategy="procedural", modifier="m",
                                  patch=make_patch(REL, STATEFUL, new), file=REL))

    same = [
        # Two attribute writes from plain names: neither reads what the other writes.
        _swap_lines(STATEFUL, "self.width = width", "self.height = height"),
        # Pure truth tests with disjoint names, a pure builtin call among them.
        STATEFUL.replace("limit is not None and strict", "strict and limit is not None"),
        STATEFUL.replace("isinstance(limit, int) and limit > 0 or strict",
                         "strict or isinstance(limit, int) and limit > 0"),
    ]
    for new in same:
        assert new != STATEFUL
        assert _box_behaviour(new) == _box_behaviour(STATEFUL)  # the claim, checked by running
        assert reason(new) == EQUIVALENT, new
    differ = [
        # The area reads what the line before writes.
        _swap_lines(STATEFUL, "self.height = height", "self.area = self.width * self.height"),
        # An attribute load may raise: the write before it would then not happen (or would).
        _swap_lines(STATEFUL, "self.ratio = other.scale", "self.label = \"box\""),
        # Augmented assignment reads the name the line before binds.
        _swap_lines(STATEFUL, "count = 0", "count += 1"),
        # Enum members (a class body keeps its namespace order).
        _swap_lines(STATEFUL, "RED = 1", "GREEN = 2"),
        # In a try body, which local was bound before the exception shows in the handler.
        _swap_lines(STATEFUL, "a = data.missing", "b = 2"),
        # Operands sharing a name guard one another: limit.size needs limit not None.
        STATEFUL.replace("limit is None or limit.size > self.area",
                         "limit.size > self.area or limit is None"),
        # A value, not a truth test: `x or y` gives one of them.
        STATEFUL.replace("strict or limit", "limit or strict"),
    ]
    for new in differ:
        assert new != STATEFUL
        assert reason(new) is None, new


def test_a_rebound_builtin_is_not_pure() -> None:
    source = STATEFUL + "\n\ndef isinstance(x, y):\n    return print(x) or True\n"
    p = Pruner(lambda rel: source if rel == REL else None, None)
    new = source.replace("isinstance(limit, int) and limit > 0 or strict",
                         "strict or isinstance(limit, int) and limit > 0")
    assert p.reason(Candidate(repo="r", strategy="procedural", modifier="m",
                              patch=make_patch(REL, source, new), file=REL)) is None
