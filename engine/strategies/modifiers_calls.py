"""Call-shaped real bug modifiers: arguments swapped or left out, a call or ``await`` dropped,
a converting call unwrapped (TSSB-3M's "wrong function/argument" families; D4J: 59% of fixes
add a method call, shared/reference/realism.md)."""

from __future__ import annotations

import random
from collections.abc import Mapping

import libcst as cst

from engine.strategies.modifiers_base import (
    EntityContext,
    Site,
    dotted,
    fit,
    is_string,
    removal_edits,
    replace_with,
)
from engine.strategies.modifiers_real import kind_of, local_kinds

# --------------------------------------------------------------------------------------------
# Call arguments.

# Order-free, or swapping their arguments only crashes (a type where a name is expected).
_ORDER_FREE = frozenset({"max", "min", "print", "isinstance", "issubclass", "getattr",
                         "setattr", "hasattr", "delattr", "super", "hypot", "gcd", "lcm"})


def _positional(arg: cst.Arg) -> bool:
    return arg.keyword is None and not arg.star


def _arg_kind(value: cst.BaseExpression, kinds: Mapping[str, str | None]) -> str | None:
    if isinstance(value, cst.Name) and value.value not in ("True", "False"):
        return kinds.get(value.value)
    if isinstance(value, cst.UnaryOperation):
        return _arg_kind(value.expression, kinds)
    return kind_of(value)


def sites_call_swap_args(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Two adjacent positional arguments of a call swapped (``f(a, b)`` -> ``f(b, a)``) when
    nothing shows they differ in kind: a date passed for a string only crashes, two counts or
    two names swapped give a wrong value."""
    sites: list[Site] = []
    kinds = local_kinds(ctx)
    for call in ctx.scan.calls:
        if dotted(call.func).rpartition(".")[2] in _ORDER_FREE:
            continue
        args = list(call.args)
        for i in range(len(args) - 1):
            a, b = args[i], args[i + 1]
            if not (_positional(a) and _positional(b)):
                continue
            if ctx.code(a.value).strip() == ctx.code(b.value).strip():
                continue
            ka, kb = _arg_kind(a.value, kinds), _arg_kind(b.value, kinds)
            if ka != kb and (ka is not None or kb is not None):
                continue
            new_args = list(args)
            new_args[i] = a.with_changes(value=b.value)
            new_args[i + 1] = b.with_changes(value=a.value)
            desc = (f"arguments {i + 1} and {i + 2} of '{dotted(call.func) or 'call'}' "
                    f"swapped at line {ctx.line(call)}")
            sites.append(Site(desc, ((call, replace_with(call.with_changes(args=new_args))),),
                              ctx.anchor(call)))
    return sites


def _drop_arg(args: list[cst.Arg], i: int) -> list[cst.Arg]:
    """``args`` without ``args[i]``; the new last argument takes the removed one's comma."""
    out = list(args)
    removed = out.pop(i)
    if i == len(out) and out:
        out[-1] = out[-1].with_changes(comma=removed.comma)
    return out


def sites_call_drop_kwarg(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """One keyword argument dropped from a call (``f(x, strict=True)`` -> ``f(x)``), so the
    callee's default applies; ``key=None`` is skipped (None is the usual default)."""
    sites: list[Site] = []
    for call in ctx.scan.calls:
        for i, arg in enumerate(call.args):
            if arg.keyword is None or arg.star:
                continue
            if isinstance(arg.value, cst.Name) and arg.value.value == "None":
                continue
            new = call.with_changes(args=_drop_arg(list(call.args), i))
            desc = (f"keyword '{arg.keyword.value}' dropped from "
                    f"'{dotted(call.func) or 'call'}' at line {ctx.line(call)}")
            sites.append(Site(desc, ((call, replace_with(new)),), ctx.anchor(call)))
    return sites


# --------------------------------------------------------------------------------------------
# Dropped calls and awaits.

_SLEEPS = frozenset({"sleep", "checkpoint"})


def sites_drop_await(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """``await f()`` -> ``f()``: the coroutine is created but never run, its value never
    read; ``await asyncio.sleep(..)`` is skipped (a no-op for most tests)."""
    sites: list[Site] = []
    for node in ctx.scan.awaits:
        inner = node.expression
        if isinstance(inner, cst.Call) and dotted(inner.func).rpartition(".")[2] in _SLEEPS:
            continue
        new = fit(ctx, node, inner)
        desc = f"'await' dropped at line {ctx.line(node)}"
        sites.append(Site(desc, ((node, replace_with(new)),), ctx.anchor(node)))
    return sites


_NOISE_CALLS = frozenset({"print", "sleep"})


def sites_drop_call(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """A call made for its effect (an expression statement) deleted: ``self._reset()``,
    ``items.sort()``, ``await self.flush()``; printing and sleeping are skipped."""
    sites: list[Site] = []
    for call in ctx.scan.calls:
        stmt = ctx.parent(call)
        if isinstance(stmt, cst.Await):
            stmt = ctx.parent(stmt)
        if not isinstance(stmt, cst.Expr) or dotted(call.func).rpartition(".")[2] in _NOISE_CALLS:
            continue
        try:
            edits = removal_edits(ctx, stmt)
        except LookupError:
            continue
        start, end = ctx.span(stmt)
        desc = f"call '{dotted(call.func) or 'call'}' dropped at line {start}"
        sites.append(Site(desc, edits, (start, end)))
    return sites


def _self_assign(ctx: EntityContext, call: cst.Call, inner: cst.BaseExpression) -> bool:
    """``text = text.strip()`` would become ``text = text``: a line no one writes."""
    parent = ctx.parent(call)
    if not isinstance(parent, cst.Assign | cst.AnnAssign):
        return False
    targets = ([t.target for t in parent.targets] if isinstance(parent, cst.Assign)
               else [parent.target])
    return any(ctx.code(t).strip() == ctx.code(inner).strip() for t in targets)


# Calls whose argument is a usable stand-in for their result: dropping them is the classic
# "forgot to convert / copy / normalise" bug.
_UNWRAP_FUNCS = frozenset({"str", "int", "float", "bool", "list", "tuple", "set", "frozenset",
                           "dict", "sorted", "abs", "round", "bytes", "deepcopy", "copy"})
_UNWRAP_METHODS = frozenset({"strip", "lstrip", "rstrip", "lower", "upper", "casefold",
                             "copy", "title", "resolve", "absolute", "expanduser"})


def sites_unwrap_call(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """A converting or copying call dropped around its value: ``str(x)`` -> ``x``,
    ``sorted(xs)`` -> ``xs``, ``name.strip()`` -> ``name``, ``d.copy()`` -> ``d``."""
    sites: list[Site] = []
    for call in ctx.scan.calls:
        if isinstance(ctx.parent(call), cst.Expr):
            continue  # the value is not used
        func = call.func
        inner: cst.BaseExpression | None = None
        if isinstance(func, cst.Attribute) and func.attr.value in _UNWRAP_METHODS:
            if not call.args and not is_string(func.value):
                inner = func.value
        elif (dotted(func).rpartition(".")[2] in _UNWRAP_FUNCS and len(call.args) == 1
              and _positional(call.args[0])):
            inner = call.args[0].value
        if inner is None or _self_assign(ctx, call, inner):
            continue
        new = fit(ctx, call, inner)
        desc = f"'{ctx.code(call)[:60]}' -> '{ctx.code(inner)[:60]}' at line {ctx.line(call)}"
        sites.append(Site(desc, ((call, replace_with(new)),), ctx.anchor(call)))
    return sites
