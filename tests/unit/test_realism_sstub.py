"""The SStuB classifier on hand-written (buggy, fixed) pairs: one per pattern and kind."""

from __future__ import annotations

import pytest

from engine.realism.sstub import EDIT_KINDS, SSTUB_KINDS, classify_sources

# (kind, buggy source, fixed source): the fix turns buggy into fixed, as TSSB-3M names it.
CASES = [
    ("change_identifier", "y = f(count)", "y = f(total)"),
    ("change_binary_operand", "x = a + b", "x = a + c"),
    ("more_args", "y = f(x)", "y = f(x, 1)"),
    ("wrong_function_name", "return f(x)", "return g(x)"),
    ("add_function_around", "y = x", "y = len(x)"),
    ("change_attribute", "y = o.a", "y = o.b"),
    ("change_numeric_literal", "y = n - 1", "y = n - 2"),
    ("more_specific_if", "if a:\n    pass", "if a and b:\n    pass"),
    ("add_method_call", "y = x", "y = x.strip()"),
    ("add_elements", "y = [1]", "y = [1, 2]"),
    ("less_args", "y = f(x, 1)", "y = f(x)"),
    ("change_boolean_literal", "y = True", "y = False"),
    ("add_attribute_access", "y = x", "y = x.real"),
    ("change_binary_operator", "if a < b:\n    pass", "if a <= b:\n    pass"),
    ("wrong_caller", "y = o.f()", "y = p.f()"),
    ("less_specific_if", "if a:\n    pass", "if a or b:\n    pass"),
    ("change_keyword_argument", "y = f(a, k=b)", "y = f(a, k=c)"),
    ("change_unary_operator", "if x:\n    pass", "if not x:\n    pass"),
    ("swap_args", "y = f(a, b)", "y = f(b, a)"),
    ("change_constant_type", "y = 1", "y = '1'"),
    # statement-level kinds
    ("guard_removed", "def f(x):\n    return x",
     "def f(x):\n    if x is None:\n        return 0\n    return x"),
    ("stmt_removed", "def f():\n    return t", "def f():\n    t = 2\n    return t"),
    ("block_removed", "def f(xs):\n    return 0",
     "def f(xs):\n    for x in xs:\n        g(x)\n    return 0"),
    ("stmt_added", "def f():\n    g()\n    return 1", "def f():\n    return 1"),
    ("stmt_swap", "def f():\n    b()\n    a()", "def f():\n    a()\n    b()"),
    ("branches_swapped", "if c:\n    b()\nelse:\n    a()", "if c:\n    a()\nelse:\n    b()"),
    ("signature_change", "class A:\n    pass", "class A(Base):\n    pass"),
    ("multi_stmt", "def f():\n    a = 1\n    b = 2\n    c = 3",
     "def f():\n    a = 2\n    b = 2\n    c = 4"),
    ("cosmetic", "x = 1  # one", "x = 1  # uno"),
    ("unparsable", "x = (", "x = 1"),
]


@pytest.mark.parametrize(("kind", "buggy", "fixed"), CASES, ids=[c[0] for c in CASES])
def test_each_kind(kind: str, buggy: str, fixed: str) -> None:
    got = classify_sources(buggy, fixed)
    assert got.kind == kind, got
    assert got.is_sstub == (kind in SSTUB_KINDS)


def test_every_kind_is_covered_by_a_case() -> None:
    assert {c[0] for c in CASES} == set(EDIT_KINDS) - {"single_stmt_other"}


def test_nested_edit_inside_a_method_is_found_and_detailed() -> None:
    buggy = "class A:\n    def m(self, x):\n        if x:\n            return x > 1\n"
    fixed = "class A:\n    def m(self, x):\n        if x:\n            return x >= 1\n"
    got = classify_sources(buggy, fixed)
    assert (got.kind, got.detail) == ("change_binary_operator", "Gt -> GtE")


def test_a_statement_replaced_by_pass_is_a_removed_statement() -> None:
    got = classify_sources("if c:\n    pass", "if c:\n    x = 1")
    assert (got.kind, got.detail) == ("stmt_removed", "Assign")


def test_other_single_statement_edits_stay_other() -> None:
    assert classify_sources("y = 'a'", "y = 'b'").kind == "single_stmt_other"
