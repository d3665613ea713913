"""A module's order-free canonical form: two sources with the same form behave the same.

Used by ``engine.forge.prune`` to skip candidates that only reorder what cannot observe its
order (the zoo's ``class_shuffle_funcs``, ``ctrl_shuffle`` and ``op_swap`` spent most of their
runs on such no-ops). Three rewrites, each conservative (when in doubt, the order stays):

- **Runs of movable statements** (plain ``def``s; assignments of names and attribute paths
  from expressions with no call, ``await``, ``yield`` or walrus) are put in one canonical
  topological order: statements that touch the same name or attribute path (one writes what
  the other reads or writes, prefixes included) keep their relative order; the others are
  ordered by their text. Swapping two adjacent independent statements then leaves the form
  alone; any swap of dependent ones changes it.
- **Boolean operands in a truth-test position** (``if``/``while``/``assert``/ternary tests,
  comprehension filters, under ``not``) are sorted when every operand is a pure expression
  (names, constants, attribute loads, comparisons, ``not``, nested pure and/or, calls of
  ``isinstance`` and other ``PURE_BUILTINS`` the module does not rebind) and no two
  operands share a name: neither can then guard the other, and only the truth value is used.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

Path = tuple[str, ...]

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_PLAIN_DECORATORS = frozenset({"staticmethod", "classmethod"})
_TRY = (ast.Try, getattr(ast, "TryStar", ast.Try), ast.With, ast.AsyncWith)
_IMPURE = (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr, ast.Lambda,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Starred)


def _path(node: ast.expr) -> Path | None:
    """``a.b.c`` as ``("a", "b", "c")``; None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return tuple(reversed(parts))


def _reads(nodes: Iterable[ast.AST]) -> set[Path] | None:
    """The longest name/attribute paths each expression loads; None if one is impure."""
    out: set[Path] = set()
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, _IMPURE):
                return None
        stack: list[ast.AST] = [top]
        while stack:
            node = stack.pop()
            path = _path(node) if isinstance(node, ast.Attribute | ast.Name) else None
            if path is not None:
                out.add(path)
                continue
            stack.extend(ast.iter_child_nodes(node))
    return out


def _targets(target: ast.expr) -> list[Path] | None:
    if isinstance(target, ast.Tuple | ast.List):
        out: list[Path] = []
        for elt in target.elts:
            got = _targets(elt)
            if got is None:
                return None
            out += got
        return out
    path = _path(target)
    return None if path is None else [path]


@dataclass(frozen=True)
class _Effect:
    reads: frozenset[Path]
    writes: frozenset[Path]
    may_raise: bool = False  # loads an attribute or item, or runs an operator

    @property
    def writes_state(self) -> bool:
        """Writes an attribute: visible after an exception leaves the frame."""
        return any(len(w) > 1 for w in self.writes)


_SAFE = (ast.Name, ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Load)


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """What runs when the ``def`` statement runs: defaults, annotations, decorators."""
    a = node.args
    parts: list[ast.AST] = [*a.defaults, *(d for d in a.kw_defaults if d is not None),
                            *node.decorator_list]
    parts += [x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
              if x is not None and x.annotation is not None]
    if node.returns is not None:
        parts.append(node.returns)
    return parts


def effect(node: ast.stmt, in_function: bool) -> _Effect | None:
    """What a movable statement reads and writes; None when it is not movable. Assignments
    move only in function bodies: a class or module keeps its namespace's order (enum
    members, dataclass fields, ``__annotations__``)."""
    if isinstance(node, _DEFS):
        if not all(isinstance(d, ast.Name) and d.id in _PLAIN_DECORATORS
                   for d in node.decorator_list):
            return None
        names = {(n.id,) for p in _signature(node) for n in ast.walk(p)
                 if isinstance(n, ast.Name)}
        return _Effect(frozenset(names), frozenset({(node.name,)}))
    if not in_function:
        return None
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, ast.AugAssign | ast.AnnAssign) and node.value is not None:
        targets, value = [node.target], node.value
    else:
        return None
    writes: list[Path] = []
    for t in targets:
        got = _targets(t)
        if got is None:
            return None
        writes += got
    reads = _reads([value])
    if reads is None:
        return None
    if isinstance(node, ast.AugAssign):
        reads |= set(writes)
    may_raise = isinstance(node, ast.AugAssign) or not all(
        isinstance(n, _SAFE) for n in ast.walk(value))
    return _Effect(frozenset(reads), frozenset(writes), may_raise)


def _overlap(a: Path, b: Path) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _dependent(x: _Effect, y: _Effect, guarded: bool) -> bool:
    """Must ``x`` and ``y`` keep their order? Yes when one writes what the other reads or
    writes, or when one may raise and the other's effect would then be visible: an attribute
    write, or any write in a ``try`` body (``guarded``), whose handlers see the locals."""
    if any(_overlap(w, p) for w in x.writes for p in (*y.reads, *y.writes)) or any(
            _overlap(w, p) for w in y.writes for p in x.reads):
        return True
    if x.may_raise or y.may_raise:
        return guarded or (x.may_raise and y.writes_state) or (y.may_raise and x.writes_state)
    return False


def _order_run(run: list[tuple[ast.stmt, _Effect]], guarded: bool) -> list[ast.stmt]:
    """The smallest (by text) topological order of ``run`` under its dependencies."""
    keys = [ast.dump(s, include_attributes=False) for s, _ in run]
    before: list[set[int]] = [
        {i for i in range(j) if _dependent(run[i][1], run[j][1], guarded)}
        for j in range(len(run))]
    placed: set[int] = set()
    out: list[ast.stmt] = []
    while len(placed) < len(run):
        ready = [j for j in range(len(run)) if j not in placed and before[j] <= placed]
        pick = min(ready, key=lambda j: (keys[j], j))
        placed.add(pick)
        out.append(run[pick][0])
    return out


def _sort_body(body: list[ast.stmt], in_function: bool, guarded: bool) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    run: list[tuple[ast.stmt, _Effect]] = []
    for stmt in [*body, None]:
        eff = effect(stmt, in_function) if stmt is not None else None
        if eff is not None and stmt is not None:
            run.append((stmt, eff))
            continue
        out += _order_run(run, guarded) if len(run) > 1 else [s for s, _ in run]
        run = []
        if stmt is not None:
            out.append(stmt)
    return out


# Builtins with no side effect on their arguments (ABC instance checks and ``__len__`` aside),
# pure when the module never binds their name.
PURE_BUILTINS = frozenset({"isinstance", "issubclass", "callable", "hasattr", "len", "type"})
_PURE_NODES = (ast.Name, ast.Constant, ast.Attribute, ast.Compare, ast.BoolOp, ast.UnaryOp,
               ast.Load, ast.cmpop, ast.boolop, ast.Not, ast.Tuple, ast.List, ast.Call)


def bound_names(tree: ast.AST) -> set[str]:
    """Every name the module binds anywhere (assignments, defs, imports, arguments)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            out.add(node.id)
        elif isinstance(node, (*_DEFS, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.alias):
            out.add((node.asname or node.name).partition(".")[0])
        elif isinstance(node, ast.arg):
            out.add(node.arg)
    return out


def _roots(node: ast.expr, shadowed: set[str]) -> set[str] | None:
    """Names a pure truth-test operand reads; None when it is not pure."""
    for sub in ast.walk(node):
        if not isinstance(sub, _PURE_NODES):
            return None
        if isinstance(sub, ast.UnaryOp) and not isinstance(sub.op, ast.Not):
            return None
        if isinstance(sub, ast.Call) and (
                sub.keywords or not isinstance(sub.func, ast.Name)
                or sub.func.id not in PURE_BUILTINS or sub.func.id in shadowed
                or any(isinstance(a, ast.Starred) for a in sub.args)):
            return None
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - PURE_BUILTINS


class _Canonical(ast.NodeTransformer):
    def __init__(self, shadowed: set[str]) -> None:
        self.in_function = False
        self.shadowed = shadowed

    def _test(self, node: ast.expr) -> ast.expr:
        """``node`` in a position where only its truth value counts."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            node.operand = self._test(node.operand)
            return node
        if not isinstance(node, ast.BoolOp):
            return self.visit(node)
        node.values = [self._test(v) for v in node.values]
        roots = [_roots(v, self.shadowed) for v in node.values]
        seen: set[str] = set()
        for r in roots:
            if r is None or r & seen:
                return node
            seen |= r
        node.values.sort(key=lambda v: ast.dump(v, include_attributes=False))
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        outer = self.in_function
        if isinstance(node, (*_DEFS, ast.Lambda)):
            self.in_function = True
        elif isinstance(node, ast.ClassDef):
            self.in_function = False
        for name in ("body", "orelse", "finalbody"):
            stmts = getattr(node, name, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                guarded = name == "body" and isinstance(node, _TRY)
                setattr(node, name, _sort_body(stmts, self.in_function, guarded))
        if isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert):
            node.test = self._test(node.test)
        if isinstance(node, ast.comprehension):
            node.ifs = [self._test(t) for t in node.ifs]
        try:
            return super().generic_visit(node)
        finally:
            self.in_function = outer


def canonical(source: str) -> str | None:
    """The module's AST in canonical order (see the module docstring), dumped without
    positions; None when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return ast.dump(_Canonical(bound_names(tree) & PURE_BUILTINS).visit(tree),
                    include_attributes=False)
