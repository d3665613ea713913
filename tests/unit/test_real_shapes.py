"""The procedural modifiers aimed at real bug shapes (engine/strategies/modifiers_real.py,
modifiers_calls.py, modifiers_guard.py): each rewrite exactly as expected, and no site where the
change would be a no-op or leave an unbound name."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.strategies.procedural import MODIFIERS, REAL_SHAPES, parse_modifiers
from tests.unit.test_procedural import _gen, _minus_plus, _results


def _changed(tmp_path: Path, src: str, modifier: str, per_entity: int = 20) -> list[str]:
    """The changed line(s) of each candidate's file, sorted (leading spaces stripped)."""
    cands = _gen(tmp_path, src, modifier, per_entity=per_entity)
    before = [line.strip() for line in textwrap.dedent(src).splitlines()]
    out: list[str] = []
    for text in _results(tmp_path, cands):
        after = [line.strip() for line in text.splitlines()]
        out.append("\n".join(line for line in after if line not in before) or "<deleted>")
    return sorted(out)


def test_the_real_shapes_are_registered_and_selectable() -> None:
    assert set(REAL_SHAPES) <= set(MODIFIERS)
    assert parse_modifiers("real") == REAL_SHAPES
    assert parse_modifiers("wrong_name, op_swap") == ("wrong_name", "op_swap")
    with pytest.raises(UsageError, match="nope"):
        parse_modifiers("wrong_name,nope")
    with pytest.raises(UsageError):
        parse_modifiers(" , ")


def test_wrong_name_reads_a_similar_local_bound_at_that_point(tmp_path: Path) -> None:
    src = """\
    def delta(old_count, new_count, verbose=False):
        diff = new_count - old_count
        if verbose:
            return -diff
        return diff
    """
    got = _changed(tmp_path, src, "wrong_name")
    assert "diff = old_count - old_count" in got
    assert "diff = new_count - new_count" in got
    # the flag is never read in place of a count, nor a count in place of the flag
    assert not any("verbose" in line for line in got if not line.startswith("if"))
    assert "if verbose:" not in got and all(not line.startswith("if ") for line in got)


def test_wrong_name_never_reads_a_name_before_it_is_bound_or_an_alias(tmp_path: Path) -> None:
    src = """\
    def f(a):
        b = a + 1
        return b
    """
    assert _changed(tmp_path, src, "wrong_name") == ["return a"]
    alias = """\
    def g(a):
        b = a
        return len(b)
    """
    assert _changed(tmp_path, alias, "wrong_name") == []


def test_wrong_name_leaves_self_and_globals_alone(tmp_path: Path) -> None:
    src = """\
    import os


    class C:
        def m(self, path):
            return os.path.join(self.root, path)
    """
    assert _changed(tmp_path, src, "wrong_name") == []


RECT = """\
class Rect:
    def __init__(self, width: int, height: int):
        self.width = width
        self.height = height
        self.items = []

    def area(self):
        return self.width * self.height

    def add(self, x):
        self.items.append(x)
        return self.area()
"""


def test_wrong_attr_reads_another_attribute_of_the_same_kind(tmp_path: Path) -> None:
    # width/height are ints, items a list: the list is never read for an int nor back
    assert _changed(tmp_path, RECT, "wrong_attr") == [
        "return self.height * self.height",
        "return self.width * self.width",
    ]


def test_call_swap_args_skips_order_free_calls_and_equal_arguments(tmp_path: Path) -> None:
    src = """\
    def f(base, exp, a):
        x = max(base, exp)
        y = pow(a, a)
        return pow(base, exp), isinstance(a, int), x, y
    """
    assert _changed(tmp_path, src, "call_swap_args") == [
        "return pow(exp, base), isinstance(a, int), x, y"]


def test_call_drop_kwarg_keeps_commas_right_and_skips_none(tmp_path: Path) -> None:
    src = """\
    def f(path, xs):
        fh = open(path, mode="rb", encoding=None)
        ys = sorted(xs, reverse=True)
        return dict(
            a=1,
            b=2,
        ), fh, ys
    """
    cands = _gen(tmp_path, src, "call_drop_kwarg", per_entity=20)
    results = _results(tmp_path, cands)
    assert len(results) == 4
    assert any('fh = open(path, encoding=None)\n' in r for r in results)
    assert any("ys = sorted(xs)\n" in r for r in results)
    assert any("return dict(\n        a=1,\n    ), fh, ys" in r for r in results)
    assert any("return dict(\n        b=2,\n    ), fh, ys" in r for r in results)


def test_drop_call_removes_effect_calls_only(tmp_path: Path) -> None:
    src = """\
    import logging

    logger = logging.getLogger(__name__)


    def reset(items):
        items.clear()
        logger.debug("cleared")
        print("done")
        return len(items)
    """
    cands = _gen(tmp_path, src, "drop_call", per_entity=20)
    assert len(cands) == 1
    assert "items.clear()" not in _results(tmp_path, cands)[0]


def test_unwrap_call_drops_a_conversion_around_a_used_value(tmp_path: Path) -> None:
    src = """\
    def f(x, d):
        d.copy()
        label = "abc".strip()
        x = x.lower()
        return str(x).strip(), label
    """
    assert _changed(tmp_path, src, "unwrap_call") == [
        "return str(x), label",
        "return x.strip(), label",
    ]


def test_drop_await_skips_sleeps(tmp_path: Path) -> None:
    src = """\
    import asyncio


    async def f(client):
        await asyncio.sleep(0)
        return await client.get()
    """
    assert _changed(tmp_path, src, "drop_await") == ["return client.get()"]


def test_weaken_guard_drops_one_operand(tmp_path: Path) -> None:
    src = """\
    def f(x, y, z):
        if x is None or y < 0:
            raise ValueError(x)
        if x and y and z:
            return 1
        return 0
    """
    assert _changed(tmp_path, src, "weaken_guard") == [
        "if x and y:", "if x and z:", "if x is None:", "if y < 0:", "if y and z:"]


def test_unguard_runs_the_guarded_block_for_every_input(tmp_path: Path) -> None:
    src = """\
    def f(items, extra, more):
        if extra:
            items.append(extra)
            items.sort()
        if more: items.extend(more)
        if not items:
            return None
        if (n := len(items)) > 3:
            items.pop(n - 1)
        if extra:
            items.reverse()
        else:
            items.clear()
        if extra is None:
            extra = []
        if more < 100:
            more += 2000
        if more not in CACHE:
            value = len(more)
            CACHE[more] = value
        if hasattr(items, "seal"):
            items.seal()
        if MODULE is None:
            if more:
                MODULE = more
        return items
    """
    results = _results(tmp_path, _gen(tmp_path, src, "unguard", per_entity=20))
    # guard clauses, if/else, a walrus the body reads, filling a default (nested too),
    # caching and feature checks are left alone
    assert len(results) == 4
    assert any("    if MODULE is None:\n        MODULE = more\n" in r for r in results)  # inner
    assert any("    items.append(extra)\n    items.sort()\n    if more:" in r for r in results)
    assert any("        extra = []\n    more += 2000\n" in r for r in results)
    assert any("        items.sort()\n    items.extend(more)\n    if not items:" in r
               for r in results)


def test_wrong_default_nudges_flags_counts_and_empty_strings(tmp_path: Path) -> None:
    src = """\
    def f(x, n=3, flag=True, sep="", name=None, *, k=0):
        return x, n, flag, sep, name, k
    """
    got = _changed(tmp_path, src, "wrong_default")
    assert len(got) == 4
    assert any(line in got for line in (
        'def f(x, n=2, flag=True, sep="", name=None, *, k=0):',
        'def f(x, n=4, flag=True, sep="", name=None, *, k=0):'))
    assert 'def f(x, n=3, flag=False, sep="", name=None, *, k=0):' in got
    assert "def f(x, n=3, flag=True, sep=None, name=None, *, k=0):" in got
    assert 'def f(x, n=3, flag=True, sep="", name=None, *, k=1):' in got


def test_off_by_one_moves_one_bound(tmp_path: Path) -> None:
    src = """\
    def f(xs, n):
        head = xs[:-1]
        for i in range(len(xs) - 1):
            n += i
        return head, xs[1:n], xs[n + 2]
    """
    got = _changed(tmp_path, src, "off_by_one")
    assert len(got) == 4  # an index (xs[n + 2]) is not a slice bound
    assert "head = xs[:-2]" in got  # never xs[:0]
    assert "for i in range(len(xs)):" in got
    assert ({"return head, xs[0:n], xs[n + 2]", "return head, xs[2:n], xs[n + 2]"} & set(got))
    assert ({"return head, xs[1:n + 1], xs[n + 2]", "return head, xs[1:n - 1], xs[n + 2]"}
            & set(got))


def test_off_by_one_nudges_an_existing_adjustment(tmp_path: Path) -> None:
    src = """    def f(line, i):
        return line[i + 1 : i + 2]
    """
    got = _changed(tmp_path, src, "off_by_one")
    assert "return line[i : i + 2]" in got
    assert {"return line[i + 1 : i + 1]", "return line[i + 1 : i + 3]"} & set(got)
    assert len(got) == 2


def test_wrong_exception_swaps_builtins_only(tmp_path: Path) -> None:
    src = """\
    class MyError(Exception):
        pass


    def f(d, k):
        try:
            return d[k]
        except (KeyError, IndexError):
            return None
        except MyError:
            raise Exception("no")
        except ZeroDivisionError as e:
            raise OverflowError(str(e))
    """
    got = _changed(tmp_path, src, "wrong_exception")
    assert "except IndexError:" in got and "except KeyError:" in got
    assert "raise ValueError(str(e))" in got
    assert {"except OverflowError as e:", "except ValueError as e:"} & set(got)
    assert len(got) == 4  # MyError and the raised Exception are left alone


def test_call_swap_args_only_swaps_arguments_of_one_evident_kind(tmp_path: Path) -> None:
    src = """\
    def g(on: date, description: str, amount: int, other: Optional[int], rows: list):
        post(on, description)
        post(amount, other)
        post(description, "x")
        post(amount, "x")
        post(rows, [])
    """
    assert _changed(tmp_path, src, "call_swap_args") == [
        'post("x", description)', "post([], rows)", "post(other, amount)"]


def test_wrong_attr_kinds_come_from_annotations_and_constructors(tmp_path: Path) -> None:
    src = """\
    class Account:
        def __init__(self, currency):
            self._entries: list[Entry] = []
            self._history = []
            self._balance = Money.zero(currency)
            self._limit = Money(0, currency)

        def size(self):
            return len(self._entries), self._balance
    """
    assert _changed(tmp_path, src, "wrong_attr") == [
        "return len(self._entries), self._limit", "return len(self._history), self._balance"]



def test_two_slips_pairs_slips_on_two_statements_the_same_slip_first(tmp_path: Path) -> None:
    src = """\
    def page(entries, page, page_size=None):
        size = page_size or 10
        start = (page - 1) * size
        return entries[start : start + size]
    """
    (cand,) = _gen(tmp_path, src, "two_slips", per_entity=1)
    minus, plus = _minus_plus(cand)
    assert len(minus) == len(plus) == 2, cand.patch  # two statements, nothing else
    # the slip a developer repeats comes first: 'size' misread the same way in both
    assert cand.meta["slips"] == ["wrong_name", "wrong_name"]
    slips = cand.meta["site"].split("; ")
    assert len({s.split(": ", 1)[1].split(" at line")[0] for s in slips}) == 1, slips
    assert all("'size' ->" in s for s in slips), slips


def test_two_slips_needs_two_statements_both_executed(tmp_path: Path) -> None:
    assert _gen(tmp_path / "one", """\
    def total(a, b, c):
        return a + b - c
    """, "two_slips", per_entity=5) == []
    src = """\
    def delta(old_count, new_count):
        diff = new_count - old_count
        ratio = diff / old_count
        return diff, ratio
    """
    cands = _gen(tmp_path / "all", src, "two_slips", per_entity=50)
    assert len(cands) >= 3
    assert all(len(_minus_plus(c)[0]) == 2 for c in cands)
    for text in _results(tmp_path / "all", cands):
        compile(text, "mod.py", "exec")
    assert {"line 3" in c.meta["site"] for c in cands} == {True, False}
    # a test map where line 3 never ran: every pair touching it is gone, the others stay
    covered = {cands[0].file: {1, 2, 4}}
    left = _gen(tmp_path / "map", src, "two_slips", per_entity=50, covered_lines=covered)
    assert sorted(c.patch for c in left) == sorted(
        c.patch for c in cands if "line 3" not in c.meta["site"])


def test_a_two_slips_fix_changes_several_statements(tmp_path: Path) -> None:
    """What the modifier is for: the realism stick classes its fix as a multi-statement
    edit, the kind 74% of the zoo's mined fixes are (a one-site slip never is)."""
    from engine.realism.sstub import classify_sources

    src = """\
    def delta(old_count, new_count):
        diff = new_count - old_count
        ratio = diff / old_count
        return diff, ratio
    """
    original = textwrap.dedent(src)
    pairs = _gen(tmp_path / "p", src, "two_slips", per_entity=50)
    singles = _gen(tmp_path / "s", src, "wrong_name", per_entity=50)
    assert pairs and singles
    assert {classify_sources(t, original).kind
            for t in _results(tmp_path / "p", pairs)} == {"multi_stmt"}
    assert "multi_stmt" not in {classify_sources(t, original).kind
                                for t in _results(tmp_path / "s", singles)}
