"""Modifiers for real bug shapes around conditions and boundaries: a weakened or missing guard,
a wrong default, an off-by-one bound, a wrong exception type.

BugsInPy's fixes add an ``if`` 28% of the time and edit a condition 26% of the time
(shared/reference/realism.md); the existing ``remove_cond`` deletes a whole ``if`` with its
body, while a real missing guard usually leaves the guarded code running unconditionally, or
checks one case of two. These sites make exactly those omissions.
"""

from __future__ import annotations

import random
import re
from typing import Any

import libcst as cst

from engine.strategies.modifiers_base import EntityContext, Site, dotted, fit, replace_with
from engine.strategies.modifiers_stmts import _is_noise_only
from engine.strategies.splice import Edit, Replacement

_EXITS = (cst.Return, cst.Raise, cst.Continue, cst.Break)


def _exits(block: cst.BaseSuite) -> bool:
    """The block ends by leaving: a guard clause (``if bad: return``)."""
    if isinstance(block, cst.SimpleStatementSuite):
        return isinstance(block.body[-1], _EXITS)
    last = block.body[-1] if isinstance(block, cst.IndentedBlock) and block.body else None
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], _EXITS)


# --------------------------------------------------------------------------------------------
# weaken_guard: one operand of an and/or condition dropped.


def _operands(node: cst.BooleanOperation) -> list[cst.BaseExpression]:
    """``a and b and c`` as ``[a, b, c]`` (an unparenthesised chain of the same operator)."""
    out: list[cst.BaseExpression] = []
    left = node.left
    if (isinstance(left, cst.BooleanOperation) and type(left.operator) is type(node.operator)
            and not left.lpar):
        out += _operands(left)
    else:
        out.append(left)
    out.append(node.right)
    return out


def _join(parts: list[cst.BaseExpression], op: cst.BaseBooleanOp) -> cst.BaseExpression:
    expr = parts[0]
    for part in parts[1:]:
        expr = cst.BooleanOperation(left=expr, operator=op, right=part)
    return expr


def sites_weaken_guard(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """``if a and b:`` -> ``if a:`` (or ``if b:``), one operand per site; guard clauses
    (``if x is None or y < 0: raise ...``) first."""
    sites: list[Site] = []
    for node in ctx.scan.ifs:
        test = node.test
        if not isinstance(test, cst.BooleanOperation):
            continue
        parts = _operands(test)
        for i, part in enumerate(parts):
            rest = parts[:i] + parts[i + 1:]
            if _has_walrus(part):
                continue  # the walrus binds a name the body may read
            new = fit(ctx, test, _join(rest, test.operator))
            desc = f"'{ctx.code(part).strip()[:50]}' dropped from the condition at line " \
                   f"{ctx.line(node)}"
            sites.append(Site(desc, ((test, replace_with(new)),),
                              (ctx.line(node), ctx.span(test)[1]),
                              priority=int(_exits(node.body))))
    return sites


# --------------------------------------------------------------------------------------------
# unguard: the guarded code runs unconditionally.


def _unwrap(index: int, body: cst.BaseSuite, leading: list[cst.EmptyLine]) -> Edit:
    """Replace child ``index`` of a block by the statements of ``body``, one level out."""

    def edit(updated: cst.CSTNode) -> Replacement:
        assert isinstance(updated, cst.IndentedBlock | cst.Module)
        stmts: list[Any] = list(updated.body)
        if isinstance(body, cst.IndentedBlock):
            inner: list[Any] = list(body.body)
        else:
            assert isinstance(body, cst.SimpleStatementSuite)
            smalls = list(body.body)
            smalls[-1] = smalls[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            inner = [cst.SimpleStatementLine(body=smalls)]
        inner[0] = inner[0].with_changes(leading_lines=[*leading, *inner[0].leading_lines])
        stmts[index:index + 1] = inner
        return updated.with_changes(body=stmts)

    return edit


def sites_unguard(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """``if cond: body`` (no else, not a guard clause) -> ``body``: the check is missing and
    the code it protected runs for every input (``remove_cond`` deletes the body instead)."""
    sites: list[Site] = []
    for node in ctx.scan.ifs:
        parent = ctx.parent(node)
        if node.orelse is not None or not isinstance(parent, cst.IndentedBlock | cst.Module):
            continue
        if _exits(node.body) or _has_walrus(node.test) or _is_noise_only(node.body.body):
            continue  # a guard clause, a binding the body reads, or only logging inside
        if _fills_default(ctx, node):
            continue
        index = next((i for i, s in enumerate(parent.body) if s is node), None)
        if index is None:
            continue
        edit = _unwrap(index, node.body, list(node.leading_lines))
        desc = f"condition '{ctx.code(node.test).strip()[:50]}' removed at line {ctx.line(node)}"
        sites.append(Site(desc, ((parent, edit),), (ctx.line(node), ctx.span(node.test)[1])))
    return sites


class _Targets(cst.CSTVisitor):
    """Targets of the plain assignments in a block, nested ones included (not ``+=``:
    ``if year < 100: year += 2000`` is a real check)."""

    def __init__(self) -> None:
        self.found: list[cst.BaseExpression] = []

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.found.append(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.found.append(node.target)


# Feature and platform checks: true wherever the tests run, so unwrapping them is a no-op.
_COMPAT = re.compile(r"\b(hasattr|version_info|sys\.platform|os\.name|PY\d|PYPY|IS_\w+)\b")


def _fills_default(ctx: EntityContext, node: cst.If) -> bool:
    """``if x is None: x = default()``, ``if key not in cache: ... cache[key] = value`` and
    feature checks (``if hasattr(mod, "seal"):``): without the check a value is filled in or
    computed again, or the branch already always ran, which tests rarely observe (the zoo's
    humanize and pytest-mock: 8 of 8 such sites validated as no-ops)."""
    tested = ctx.code(node.test)
    if _COMPAT.search(tested):
        return True
    visitor = _Targets()
    node.body.visit(visitor)
    for target in visitor.found:
        key = ctx.code(target.value if isinstance(target, cst.Subscript) else target).strip()
        if key and re.search(rf"(?<![\w.]){re.escape(key)}(?!\w)", tested):
            return True
    return False


class _Walrus(cst.CSTVisitor):
    found = False

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.found = True


def _has_walrus(node: cst.CSTNode) -> bool:
    visitor = _Walrus()
    node.visit(visitor)
    return visitor.found


# --------------------------------------------------------------------------------------------
# wrong_default: a parameter's default value.


def _bumped(node: cst.BaseExpression, rng: random.Random) -> cst.BaseExpression | None:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.with_changes(value="False" if node.value == "True" else "True")
    if isinstance(node, cst.Integer):
        try:
            value = int(node.value.replace("_", ""), 0)
        except ValueError:
            return None
        delta = rng.choice((-1, 1)) if value > 0 else 1
        return node.with_changes(value=str(value + delta))
    if isinstance(node, cst.SimpleString) and node.evaluated_value in ("", b""):
        return cst.Name("None")
    return None


def sites_wrong_default(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """A parameter default changed to a near value: ``True`` <-> ``False``, an integer
    +-1, ``""`` -> ``None``; it shows when a caller leaves the argument out."""
    fn = ctx.node
    if not isinstance(fn, cst.FunctionDef) or not isinstance(fn.body, cst.IndentedBlock):
        return []
    body = fn.body.body
    if not body:
        return []
    lines = (ctx.span(body[0])[0], ctx.span(body[-1])[1])  # observable only when it runs
    sites: list[Site] = []
    p = fn.params
    for param in (*p.posonly_params, *p.params, *p.kwonly_params):
        if param.default is None:
            continue
        new = _bumped(param.default, rng)
        if new is None:
            continue
        desc = (f"default of '{param.name.value}' {ctx.code(param.default)} -> "
                f"{cst.Module([]).code_for_node(new)}")
        sites.append(Site(desc, ((param.default, replace_with(new)),), lines))
    return sites


# --------------------------------------------------------------------------------------------
# off_by_one: a slice bound or a range() bound moved by one.


def _int_value(node: cst.BaseExpression) -> int | None:
    sign = 1
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        sign, node = -1, node.expression
    if isinstance(node, cst.Integer):
        try:
            return sign * int(node.value.replace("_", ""), 0)
        except ValueError:
            return None
    return None


def _off_by_one(ctx: EntityContext, bound: cst.BaseExpression, rng: random.Random,
                avoid_zero: bool) -> cst.BaseExpression | None:
    """``bound`` moved by one: a literal changes value, ``n - 1`` / ``n + 1`` lose their
    adjustment, ``i + 2`` becomes ``i + 1`` or ``i + 3``, anything else gains ``+ 1`` or
    ``- 1``."""
    value = _int_value(bound)
    if value is not None:
        delta = rng.choice((-1, 1))
        if (value >= 0) != (value + delta >= 0) or (avoid_zero and value + delta == 0):
            delta = -delta  # never cross into negative indices, never empty the slice
        new_value = value + delta
        lit = cst.Integer(str(abs(new_value)))
        return cst.UnaryOperation(cst.Minus(), lit) if new_value < 0 else lit
    k = _int_value(bound.right) if isinstance(bound, cst.BinaryOperation) else None
    if (isinstance(bound, cst.BinaryOperation) and isinstance(bound.operator, cst.Add
                                                              | cst.Subtract)
            and k is not None and k > 0 and not bound.lpar):
        if k == 1:
            return bound.left  # the adjustment forgotten: n - 1 -> n
        return bound.with_changes(right=cst.Integer(str(k + rng.choice((-1, 1)))))
    op = cst.Add() if rng.random() < 0.5 else cst.Subtract()
    return cst.BinaryOperation(left=bound, operator=op, right=cst.Integer("1"))


def sites_off_by_one(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """``xs[:n]`` -> ``xs[:n + 1]``, ``xs[1:]`` -> ``xs[2:]``, ``range(n - 1)`` ->
    ``range(n)``, ``range(1, n)`` -> ``range(0, n)``: one bound per site."""
    sites: list[Site] = []
    for node in ctx.scan.slices:
        for field in ("lower", "upper"):
            bound = getattr(node, field)
            if bound is None:
                continue
            new = _off_by_one(ctx, bound, rng, avoid_zero=field == "upper")
            if new is None:
                continue
            new = fit(ctx, bound, new)
            desc = f"slice bound '{ctx.code(bound)}' -> " \
                   f"'{cst.Module([]).code_for_node(new)}' at line {ctx.line(node)}"
            sites.append(Site(desc, ((bound, replace_with(new)),), ctx.anchor(node)))
    for call in ctx.scan.calls:
        if dotted(call.func) != "range" or not 1 <= len(call.args) <= 2:
            continue
        for arg in call.args:
            if arg.keyword is not None or arg.star:
                break
            new = _off_by_one(ctx, arg.value, rng, avoid_zero=False)
            if new is None:
                continue
            new = fit(ctx, arg.value, new)
            desc = f"range bound '{ctx.code(arg.value)}' -> " \
                   f"'{cst.Module([]).code_for_node(new)}' at line {ctx.line(call)}"
            sites.append(Site(desc, ((arg.value, replace_with(new)),), ctx.anchor(call)))
    return sites


# --------------------------------------------------------------------------------------------
# wrong_exception: a sibling builtin exception caught or raised.

_SIBLINGS: dict[str, tuple[str, ...]] = {
    "ValueError": ("TypeError", "KeyError"),
    "TypeError": ("ValueError", "AttributeError"),
    "AttributeError": ("TypeError", "KeyError"),
    "KeyError": ("IndexError", "AttributeError"),
    "IndexError": ("KeyError", "ValueError"),
    "LookupError": ("KeyError", "IndexError"),
    "Exception": ("ValueError", "TypeError"),
    "OSError": ("ValueError", "FileNotFoundError"),
    "FileNotFoundError": ("PermissionError", "FileExistsError"),
    "PermissionError": ("FileNotFoundError",),
    "FileExistsError": ("FileNotFoundError",),
    "UnicodeDecodeError": ("UnicodeEncodeError",),
    "UnicodeEncodeError": ("UnicodeDecodeError",),
    "ZeroDivisionError": ("OverflowError", "ValueError"),
    "OverflowError": ("ValueError",),
    "RuntimeError": ("ValueError", "TypeError"),
    "NotImplementedError": ("TypeError",),
    "StopIteration": ("IndexError",),
    "TimeoutError": ("ConnectionError",),
    "ConnectionError": ("TimeoutError",),
    "ImportError": ("AttributeError",),
    "ModuleNotFoundError": ("AttributeError",),
}


def _swap_name(ctx: EntityContext, node: cst.Name, rng: random.Random, where: str,
               line_node: cst.CSTNode) -> Site | None:
    choices = _SIBLINGS.get(node.value)
    if not choices or (where == "raised" and node.value == "Exception"):
        # a test catching the raised Exception catches its subclasses too: a no-op
        return None
    other = rng.choice(choices)
    desc = f"{where} {node.value} -> {other} at line {ctx.line(line_node)}"
    return Site(desc, ((node, replace_with(node.with_changes(value=other))),),
                ctx.anchor(line_node))


def sites_wrong_exception(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """``except KeyError:`` -> ``except IndexError:``, ``except (A, B):`` -> ``except A:``,
    ``raise ValueError(..)`` -> ``raise TypeError(..)``: builtin exceptions only, so every
    name stays defined."""
    sites: list[Site] = []
    for handler in ctx.scan.handlers:
        kind = handler.type
        if isinstance(kind, cst.Name):
            site = _swap_name(ctx, kind, rng, "caught", handler)
            if site is not None:
                sites.append(site)
        elif isinstance(kind, cst.Tuple) and len(kind.elements) >= 2:
            for i, el in enumerate(kind.elements):
                rest = [e for j, e in enumerate(kind.elements) if j != i]
                if len(rest) == 1:
                    new: cst.BaseExpression = rest[0].value
                else:
                    rest[-1] = rest[-1].with_changes(comma=kind.elements[-1].comma)
                    new = kind.with_changes(elements=rest)
                desc = (f"'{ctx.code(el.value)}' no longer caught at line "
                        f"{ctx.line(handler)}")
                sites.append(Site(desc, ((kind, replace_with(new)),), ctx.anchor(handler)))
    for node in ctx.scan.raises:
        exc = node.exc
        if isinstance(exc, cst.Call):
            exc = exc.func
        if isinstance(exc, cst.Name):
            site = _swap_name(ctx, exc, rng, "raised", node)
            if site is not None:
                sites.append(site)
    return sites
