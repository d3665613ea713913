"""The test map's probes (``pytest_support/bugfoundry_probes.py``): a probed module behaves as
the original, keeps its docstrings and ``__future__`` imports, and reports each function once
per test and each block once."""

from __future__ import annotations

import ast
import asyncio
import builtins
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.environments.base import PLUGIN_DIR

sys.path.insert(0, str(PLUGIN_DIR))
import bugfoundry_probes as probes  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

MODULE = '''\
"""The module's docstring."""
from __future__ import annotations

import asyncio
import contextlib

SCALE = lambda x: x * 2  # noqa: E731


class Empty:
    """Only a docstring."""


class Box:
    """A box."""

    def __init__(self, v: int) -> None:
        self.v = v

    @property
    def twice(self) -> int:
        return SCALE(self.v)


def counter(n):
    """Counts."""
    for i in range(n):
        yield i


def flow(xs):
    total = 0
    for x in xs:
        if x < 0:
            continue
        if x > 100:
            break
        total += x
    else:
        total += 1000
    try:
        1 / total
    except ZeroDivisionError as e:
        return str(e)
    finally:
        total += 1
    return total


@contextlib.contextmanager
def opened(log):
    log.append("in")
    yield len(log)
    log.append("out")


async def later(x):
    await asyncio.sleep(0)
    return [await asyncio.sleep(0, y) for y in range(x)]


def relay():
    got = yield "ready"
    while got is not None:
        got = yield got * 2
'''


@pytest.fixture()
def probed() -> Iterator[tuple[dict, list[int], list[int]]]:
    """MODULE probed and executed; the function ids and block ids reported, in order."""
    entered: list[int] = []
    marked: list[int] = []

    def mark(bid: int) -> None:
        probes.SEEN.add(bid)
        marked.append(bid)

    def enter(fid: int) -> None:  # as the map does: the first block comes with the function
        probes.FUNCS.add(fid)
        entered.append(fid)
        if probes.ENTRIES[fid] >= 0 and probes.ENTRIES[fid] not in probes.SEEN:
            mark(probes.ENTRIES[fid])

    saved = {n: getattr(builtins, n, None) for n in (probes.F_SET, probes.F_HIT, probes.L_SET,
                                                     probes.L_HIT)}
    for name, value in ((probes.F_SET, probes.FUNCS), (probes.L_SET, probes.SEEN),
                        (probes.F_HIT, enter), (probes.L_HIT, mark)):
        setattr(builtins, name, value)
    try:
        tree = probes.instrument(ast.parse(MODULE), "pkg/mod.py")
        code = compile(tree, "pkg/mod.py", "exec", dont_inherit=True)
        ns: dict = {"__name__": "probed_mod"}
        exec(code, ns)
        yield ns, entered, marked
    finally:
        for name, value in saved.items():
            if value is None:
                delattr(builtins, name)
            else:
                setattr(builtins, name, value)
        probes.FUNCS.clear()


def _lines(marked: list[int]) -> set[int]:
    return {n for bid in marked for n in probes.BLOCKS[bid][1]}


def test_a_probed_module_behaves_as_the_original(probed) -> None:
    ns, _entered, _marked = probed
    plain: dict = {"__name__": "plain_mod"}
    exec(compile(MODULE, "plain.py", "exec", dont_inherit=True), plain)
    for mod in (ns, plain):
        assert mod["__doc__"] == "The module's docstring."
        assert mod["Empty"].__doc__ == "Only a docstring." and mod["counter"].__doc__ == "Counts."
        init = mod["Box"].__init__  # the future import still holds: annotations stay strings
        assert init.__annotations__ == {"v": "int", "return": "None"}
        assert mod["Box"](3).twice == 6 and list(mod["counter"](3)) == [0, 1, 2]
        flows = [mod["flow"](xs) for xs in ([1, -1, 2], [-1, 200], [5, 500])]
        assert flows == [1004, "division by zero", 6]
        log: list[str] = []
        with mod["opened"](log) as n:
            assert n == 1
        assert log == ["in", "out"]
        assert asyncio.run(mod["later"](3)) == [0, 1, 2]
        gen = mod["relay"]()
        assert next(gen) == "ready" and gen.send(4) == 8 and gen.send(5) == 10
        with pytest.raises(ValueError):
            gen.throw(ValueError("stop"))


def test_functions_report_once_per_test_and_blocks_once(probed) -> None:
    ns, entered, marked = probed
    module_calls = len(entered)  # the module body and its two class bodies ran at import
    assert module_calls == 3
    box = ns["Box"](2)
    assert box.twice + box.twice == 8
    once = len(entered)
    assert once == module_calls + 3  # __init__, twice, the lambda: once each in this "test"
    probes.FUNCS.clear()  # the next test
    assert box.twice == 4
    assert len(entered) == once + 2  # twice and the lambda again; __init__ did not run
    blocks = len(marked)
    probes.FUNCS.clear()
    assert ns["Box"](5).twice == 10
    assert len(marked) == blocks  # no block is new


def test_a_generator_reports_again_where_it_resumes(probed) -> None:
    ns, entered, _marked = probed
    gen = ns["relay"]()
    next(gen)
    fid = entered[-1]
    probes.FUNCS.clear()  # the generator is resumed by another test
    gen.send(1)
    assert entered[-1] == fid


def test_lines_marked_are_the_statements_that_ran(probed) -> None:
    ns, _entered, marked = probed
    ns["flow"]([1, 2])
    ran = _lines(marked)
    src = MODULE.splitlines()
    line = {text.strip(): n for n, text in enumerate(src, 1)}
    assert {line["total = 0"], line["total += x"], line["total += 1000"],
            line["1 / total"], line["total += 1"], line["return total"]} <= ran
    assert not {line["continue"], line["break"], line["return str(e)"]} & ran
    assert line["for x in xs:"] in ran and line["else:"] not in ran  # (no code at `else:`)
    ns["flow"]([-1, 200])
    assert {line["return str(e)"], line["except ZeroDivisionError as e:"]} <= _lines(marked)
    assert line['"""Counts."""'] not in _lines(marked)  # a function's docstring never runs


def test_every_module_of_this_repository_compiles_probed() -> None:
    """A corpus of real syntax: decorators, async, walrus, f-strings, nested scopes (the
    integration test maps a `match`)."""
    files = sorted(p for d in ("engine", "tui", "tests", "bench") for p in (ROOT / d).rglob("*.py"))
    assert len(files) > 150
    for path in files:
        source = path.read_text(encoding="utf-8")
        tree = probes.instrument(ast.parse(source), str(path.relative_to(ROOT)))
        code = compile(tree, str(path), "exec", dont_inherit=True)
        plain = compile(source, str(path), "exec", dont_inherit=True)
        assert code.co_consts[:1] == plain.co_consts[:1] or not ast.get_docstring(
            ast.parse(source)), path  # the module docstring is still the first constant
