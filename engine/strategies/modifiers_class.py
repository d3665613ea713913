"""Class-level modifiers: drop a base class, drop a method, swap two adjacent methods."""

from __future__ import annotations

import random
from collections import Counter

import libcst as cst

from engine.strategies.modifiers_base import (
    Edit,
    EntityContext,
    Site,
    dotted,
    remove_child,
    replace_with,
    swap_edit,
)

_NEVER_REMOVE = frozenset({"__repr__", "__str__"})
_ACCESSORS = frozenset({"setter", "getter", "deleter"})
MAX_SHUFFLE_METHOD_LINES = 40  # a swap diff is about twice the shorter method: keep it readable


def _tail(expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.Subscript):
        expr = expr.value
    if isinstance(expr, cst.Call):
        expr = expr.func
    return dotted(expr).rpartition(".")[2]


def _decorator_tails(func: cst.FunctionDef) -> list[str]:
    return [_tail(d.decorator) for d in func.decorators]


def is_abstract_class(node: cst.ClassDef) -> bool:
    """ABC/Protocol classes: removing a method makes them abstract or changes the protocol."""
    if any(_tail(arg.value) in {"ABC", "Protocol"} for arg in node.bases):
        return True
    return any(
        kw.keyword is not None
        and kw.keyword.value == "metaclass"
        and _tail(kw.value).endswith("ABCMeta")
        for kw in node.keywords
    )


def _class_block(ctx: EntityContext) -> cst.IndentedBlock | None:
    node = ctx.node
    if isinstance(node, cst.ClassDef) and isinstance(node.body, cst.IndentedBlock):
        return node.body
    return None


def sites_class_rm_base(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Each positional base class other than ``object``."""
    node = ctx.node
    if not isinstance(node, cst.ClassDef):
        return []
    sites: list[Site] = []
    for i, arg in enumerate(node.bases):
        if arg.star or dotted(arg.value) in {"object", "builtins.object"}:
            continue
        bases = list(node.bases)
        bases.pop(i)
        changes: dict[str, object] = {"bases": bases}
        if bases and i == len(bases) and not node.keywords:
            bases[-1] = bases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        if not bases and not node.keywords:
            changes.update(lpar=cst.MaybeSentinel.DEFAULT, rpar=cst.MaybeSentinel.DEFAULT)
        desc = f"remove base {ctx.code(arg.value).strip()} from class {node.name.value}"
        edit = _class_edit(changes)
        sites.append(Site(desc, ((node, edit),), ctx.span(arg)))
    return sites


def _class_edit(changes: dict[str, object]) -> Edit:
    return lambda updated: updated.with_changes(**changes)


class _SelfCalls(cst.CSTVisitor):
    """``self.<name>(...)`` / ``cls.<name>(...)`` calls, not looking into nested classes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[cst.Call] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value in {"self", "cls"}
            and func.attr.value == self.name
        ):
            self.calls.append(node)


def _none_like(node: cst.BaseExpression) -> cst.Name:
    return cst.Name("None", lpar=node.lpar, rpar=node.rpar)


def sites_class_rm_funcs(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Remove one method and turn the remaining ``self.<method>(...)`` calls into ``None``.

    Skips ABC/Protocol classes, abstract methods, ``@overload`` stubs, names defined twice and
    property getters whose ``@<name>.setter`` would then fail at import.
    """
    node, block = ctx.node, _class_block(ctx)
    if block is None or not isinstance(node, cst.ClassDef) or is_abstract_class(node):
        return []
    methods = [(i, s) for i, s in enumerate(block.body) if isinstance(s, cst.FunctionDef)]
    counts = Counter(m.name.value for _, m in methods)
    accessed: set[str] = set()
    for _, m in methods:
        for d in m.decorators:
            expr = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
            if isinstance(expr, cst.Attribute) and expr.attr.value in _ACCESSORS:
                accessed.add(dotted(expr.value))
    sites: list[Site] = []
    for i, method in methods:
        name = method.name.value
        tails = _decorator_tails(method)
        if (
            counts[name] > 1
            or name in accessed
            or name in _NEVER_REMOVE
            or "overload" in tails
            or any("abstract" in t for t in tails)
        ):
            continue
        edits: list[tuple[cst.CSTNode, Edit]] = [(block, remove_child(i))]
        finder = _SelfCalls(name)
        for j, stmt in enumerate(block.body):
            if j != i:
                stmt.visit(finder)
        for call in finder.calls:
            parent = ctx.parent(call)
            target = parent if isinstance(parent, cst.Await) else call
            edits.append((target, replace_with(_none_like(target))))
        start, end = ctx.span(method)
        calls = f" and {len(finder.calls)} self-call(s)" if finder.calls else ""
        desc = f"remove method {node.name.value}.{name} (lines {start}-{end}){calls}"
        sites.append(Site(desc, tuple(edits), (start, end)))
    return sites


def _order_sensitive(a: cst.FunctionDef, b: cst.FunctionDef) -> bool:
    """True when swapping the two definitions changes the class, not just the text.

    Redefinitions (the later one wins), ``@overload`` stubs and decorators that refer to the
    other method (``@x.setter``, ``@meth.register``) depend on definition order; two unrelated
    methods almost never do.
    """
    if a.name.value == b.name.value:
        return True
    for first, second in ((a, b), (b, a)):
        for d in second.decorators:
            expr = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
            if dotted(expr).split(".")[0] == first.name.value:
                return True
    return "overload" in _decorator_tails(a) + _decorator_tails(b)


def sites_class_shuffle_funcs(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Swap two adjacent methods; only pairs short enough for a readable diff.

    Order-sensitive pairs (see ``_order_sensitive``) are tried first, since a swap of two
    unrelated methods is almost always a behavioural no-op that validation will drop.
    """
    node, block = ctx.node, _class_block(ctx)
    if block is None or not isinstance(node, cst.ClassDef):
        return []
    sites: list[Site] = []
    body = block.body
    for i in range(len(body) - 1):
        a, b = body[i], body[i + 1]
        if not (isinstance(a, cst.FunctionDef) and isinstance(b, cst.FunctionDef)):
            continue
        (a_start, a_end), (b_start, b_end) = ctx.span(a), ctx.span(b)
        if min(a_end - a_start, b_end - b_start) + 1 > MAX_SHUFFLE_METHOD_LINES:
            continue
        if ctx.code(a).strip() == ctx.code(b).strip():
            continue
        sensitive = _order_sensitive(a, b)
        desc = f"swap methods {a.name.value} and {b.name.value} of class {node.name.value}"
        if sensitive:
            desc += " (definition order matters)"
        edits = ((block, swap_edit(i, i + 1)),)
        meta = {"order_sensitive": sensitive}
        sites.append(Site(desc, edits, (a_start, b_end), int(sensitive), meta))
    return sites
