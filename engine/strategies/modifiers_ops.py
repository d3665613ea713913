"""Expression-level modifiers: one operator, one operand pair or one constant per candidate.

Operators are rebuilt with the original node's whitespace so ``a**b`` stays tight and a
multi-line expression keeps its line breaks; precedence is re-checked so nothing re-associates.
"""

from __future__ import annotations

import random
import re
from typing import Any

import libcst as cst

from engine.strategies.modifiers_base import (
    EntityContext,
    Site,
    fit,
    is_string,
    replace_with,
)

# Operator families for op_change (SWE-smith semantics); ** only ever becomes *.
_BIN_FAMILIES: tuple[tuple[type[cst.BaseBinaryOp], ...], ...] = (
    (cst.Add, cst.Subtract),
    (cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo),
    (cst.BitAnd, cst.BitOr, cst.BitXor),
    (cst.LeftShift, cst.RightShift),
)
_AUG_FAMILIES: tuple[tuple[type[cst.BaseAugOp], ...], ...] = (
    (cst.AddAssign, cst.SubtractAssign),
    (cst.MultiplyAssign, cst.DivideAssign, cst.FloorDivideAssign, cst.ModuloAssign),
    (cst.BitAndAssign, cst.BitOrAssign, cst.BitXorAssign),
    (cst.LeftShiftAssign, cst.RightShiftAssign),
)

# Fixed flip table for flip_operators.
_FLIP_PAIRS: tuple[tuple[type[cst.CSTNode], type[cst.CSTNode]], ...] = (
    (cst.Add, cst.Subtract),
    (cst.Multiply, cst.Divide),
    (cst.BitAnd, cst.BitOr),
    (cst.LeftShift, cst.RightShift),
    (cst.AddAssign, cst.SubtractAssign),
    (cst.MultiplyAssign, cst.DivideAssign),
    (cst.BitAndAssign, cst.BitOrAssign),
    (cst.LeftShiftAssign, cst.RightShiftAssign),
    (cst.And, cst.Or),
    (cst.Equal, cst.NotEqual),
    (cst.LessThan, cst.GreaterThan),
    (cst.LessThanEqual, cst.GreaterThanEqual),
    (cst.In, cst.NotIn),
    (cst.Is, cst.IsNot),
)
_FLIP: dict[type[cst.CSTNode], type[cst.CSTNode]] = {
    **{a: b for a, b in _FLIP_PAIRS},
    **{b: a for a, b in _FLIP_PAIRS},
}

_TOKENS: dict[type[cst.CSTNode], str] = {
    cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.Divide: "/", cst.FloorDivide: "//",
    cst.Modulo: "%", cst.Power: "**", cst.MatrixMultiply: "@", cst.BitAnd: "&", cst.BitOr: "|",
    cst.BitXor: "^", cst.LeftShift: "<<", cst.RightShift: ">>", cst.And: "and", cst.Or: "or",
    cst.Equal: "==", cst.NotEqual: "!=", cst.LessThan: "<", cst.GreaterThan: ">",
    cst.LessThanEqual: "<=", cst.GreaterThanEqual: ">=", cst.In: "in", cst.NotIn: "not in",
    cst.Is: "is", cst.IsNot: "is not",
}  # fmt: skip
_COMMUTATIVE = (cst.Add, cst.Multiply, cst.BitAnd, cst.BitOr, cst.BitXor)
_NUMBER = (cst.Integer, cst.Float, cst.Imaginary)


def _token(op: cst.CSTNode) -> str:
    name = type(op).__name__
    if name.endswith("Assign") and type(op) not in _TOKENS:
        base = getattr(cst, name[: -len("Assign")], None)
        return _TOKENS.get(base, name) + "=" if base is not None else name
    return _TOKENS.get(type(op), name)


def _short(text: str, limit: int = 70) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def new_operator(old: cst.CSTNode, cls: type[Any]) -> cst.CSTNode:
    """Build ``cls`` with ``old``'s surrounding whitespace (libcst defaults would reformat)."""
    before = getattr(old, "whitespace_before", cst.SimpleWhitespace(" "))
    after = getattr(old, "whitespace_after", cst.SimpleWhitespace(" "))
    if cls in (cst.NotIn, cst.IsNot):
        between = getattr(old, "whitespace_between", cst.SimpleWhitespace(" "))
        return cls(whitespace_before=before, whitespace_between=between, whitespace_after=after)
    return cls(whitespace_before=before, whitespace_after=after)


def _is_number(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation):
        node = node.expression
    return isinstance(node, _NUMBER)


def _string_operand(node: cst.BinaryOperation | cst.AugAssign) -> bool:
    if isinstance(node, cst.AugAssign):
        return is_string(node.value)
    return is_string(node.left) or is_string(node.right)


def _op_site(
    ctx: EntityContext, node: cst.BinaryOperation | cst.BooleanOperation | cst.AugAssign, cls: type
) -> Site:
    """Replace the operator of ``node`` with ``cls``, re-parenthesising where precedence moved."""
    new_op = new_operator(node.operator, cls)
    desc = f"'{_token(node.operator)}' -> '{_token(new_op)}' at line {ctx.line(node)}"
    if isinstance(node, cst.AugAssign):
        edit = replace_with(node.with_changes(operator=new_op))
    else:
        edit = replace_with(fit(ctx, node, node.with_changes(operator=new_op)))
    return Site(desc, ((node, edit),), ctx.anchor(node))


# --------------------------------------------------------------------------------------------


def sites_op_change(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Each binary/augmented operator with a family gets one sibling operator, picked by rng."""
    sites: list[Site] = []
    nodes: list[cst.BinaryOperation | cst.AugAssign] = [*ctx.scan.binops, *ctx.scan.augassigns]
    nodes.sort(key=lambda n: (ctx.positions[n].start.line, ctx.positions[n].start.column))
    for node in nodes:
        if _string_operand(node):
            continue  # "%s" % x -> "%s" // x is a crash, not a bug
        op = type(node.operator)
        if op is cst.Power:
            choices: tuple[type, ...] = (cst.Multiply,)
        elif op is cst.PowerAssign:
            choices = (cst.MultiplyAssign,)
        else:
            families = _AUG_FAMILIES if isinstance(node, cst.AugAssign) else _BIN_FAMILIES
            family = next((f for f in families if op in f), ())
            choices = tuple(c for c in family if c is not op)
        if choices:
            sites.append(_op_site(ctx, node, rng.choice(choices)))
    return sites


def sites_flip_operators(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Every operator in the flip table, including each operator of a comparison chain."""
    sites: list[Site] = []
    scan = ctx.scan
    ordered: list[cst.CSTNode] = [*scan.binops, *scan.augassigns, *scan.boolops, *scan.comparisons]
    ordered.sort(key=lambda n: (ctx.positions[n].start.line, ctx.positions[n].start.column))
    for node in ordered:
        if isinstance(node, cst.Comparison):
            for target in node.comparisons:
                cls = _FLIP.get(type(target.operator))
                if cls is None:
                    continue
                new_op = new_operator(target.operator, cls)
                desc = (
                    f"'{_token(target.operator)}' -> '{_token(new_op)}' at line {ctx.line(target)}"
                )
                edit = replace_with(target.with_changes(operator=new_op))
                sites.append(Site(desc, ((target, edit),), ctx.anchor(node)))
            continue
        assert isinstance(node, cst.BinaryOperation | cst.BooleanOperation | cst.AugAssign)
        cls = _FLIP.get(type(node.operator))
        if cls is None or (not isinstance(node, cst.BooleanOperation) and _string_operand(node)):
            continue
        sites.append(_op_site(ctx, node, cls))
    return sites


def sites_op_swap(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Swap the operands of one binary or boolean operation, skipping provable no-ops."""
    sites: list[Site] = []
    nodes: list[cst.BinaryOperation | cst.BooleanOperation] = [
        *ctx.scan.binops,
        *ctx.scan.boolops,
    ]
    nodes.sort(key=lambda n: (ctx.positions[n].start.line, ctx.positions[n].start.column))
    for node in nodes:
        left, right = node.left, node.right
        if ctx.code(left).strip() == ctx.code(right).strip():
            continue
        op = node.operator
        if isinstance(op, _COMMUTATIVE) and (_is_number(left) or _is_number(right)):
            continue  # x + 1 == 1 + x, "-" * 3 == 3 * "-"
        if isinstance(op, cst.Multiply) and (is_string(left) or is_string(right)):
            continue
        if isinstance(op, cst.Modulo) and is_string(left):
            continue  # swapping a format string with its arguments only crashes
        new = fit(ctx, node, node.with_changes(left=right, right=left))
        desc = f"swap operands of '{_short(ctx.code(node))}' at line {ctx.line(node)}"
        sites.append(Site(desc, ((node, replace_with(new)),), ctx.anchor(node)))
    return sites


def sites_op_break_chains(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """``(a op b) op2 c`` -> ``a op2 c`` and ``a op2 (b op c)`` -> ``a op2 c``."""
    sites: list[Site] = []
    nodes: list[cst.BinaryOperation | cst.BooleanOperation] = [
        *ctx.scan.binops,
        *ctx.scan.boolops,
    ]
    nodes.sort(key=lambda n: (ctx.positions[n].start.line, ctx.positions[n].start.column))
    chain_types = cst.BinaryOperation | cst.BooleanOperation
    for node in nodes:
        variants: list[cst.BaseExpression] = []
        if isinstance(node.left, chain_types) and type(node.left) is type(node):
            variants.append(node.with_changes(left=node.left.left))
        if isinstance(node.right, chain_types) and type(node.right) is type(node):
            variants.append(node.with_changes(right=node.right.right))
        for variant in variants:
            new = fit(ctx, node, variant)
            desc = f"'{_short(ctx.code(node))}' -> '{_short(ctx.code(new))}'"
            sites.append(Site(desc, ((node, replace_with(new)),), ctx.anchor(node)))
    return sites


def _bump(text: str, delta: int) -> str | None:
    """``text`` (an int literal in any base) plus ``delta``, in the same base, case and width."""
    raw = text.replace("_", "")
    prefix = raw[:2].lower()
    bases = {"0x": (16, "x"), "0o": (8, "o"), "0b": (2, "b")}
    if prefix in bases:
        base, spec = bases[prefix]
        digits = raw[2:]
        value = int(digits, base) + delta
        if value < 0:
            return None
        out = format(value, spec).zfill(len(digits))
        if any(c in "ABCDEF" for c in digits):
            out = out.upper()
        if "_" in text:
            out = format(value, "_" + spec)
        return raw[:2] + out
    value = int(raw) + delta
    if value < 0:
        return None
    return format(value, "_d") if "_" in text else str(value)


def _int_operand(node: cst.BaseExpression) -> cst.Integer | None:
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus | cst.Plus):
        node = node.expression
    return node if isinstance(node, cst.Integer) else None


def sites_op_change_const(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Off-by-one on an integer operand of an arithmetic op, comparison or ``+=``."""
    operands: list[cst.BaseExpression] = []
    for binop in ctx.scan.binops:
        operands += [binop.left, binop.right]
    for comparison in ctx.scan.comparisons:
        operands += [comparison.left, *(t.comparator for t in comparison.comparisons)]
    operands += [aug.value for aug in ctx.scan.augassigns]
    seen: set[int] = set()
    ints: list[cst.Integer] = []
    for operand in operands:
        lit = _int_operand(operand)
        if lit is not None and id(lit) not in seen:
            seen.add(id(lit))
            ints.append(lit)
    ints.sort(key=lambda n: (ctx.positions[n].start.line, ctx.positions[n].start.column))
    sites: list[Site] = []
    for lit in ints:
        delta = rng.choice((-1, 1))
        try:
            text = _bump(lit.value, delta) or _bump(lit.value, -delta)
        except ValueError:
            continue
        if text is None or text == lit.value:
            continue
        desc = f"{lit.value} -> {text} at line {ctx.line(lit)}"
        sites.append(
            Site(desc, ((lit, replace_with(lit.with_changes(value=text))),), ctx.anchor(lit))
        )
    return sites
