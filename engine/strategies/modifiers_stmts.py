"""Statement-level modifiers: remove one statement, invert one if, swap two statements."""

from __future__ import annotations

import random
from collections.abc import Sequence

import libcst as cst

from engine.entities import is_guard_if
from engine.strategies.modifiers_base import (
    EntityContext,
    Site,
    is_logging_call,
    parenthesize,
    prec,
    removal_edits,
    replace_with,
    swap_edit,
)


def _removal_sites(ctx: EntityContext, stmts: list[cst.CSTNode], what: str) -> list[Site]:
    sites: list[Site] = []
    for stmt in stmts:
        try:
            edits = removal_edits(ctx, stmt)
        except LookupError:
            continue
        start, end = ctx.span(stmt)
        desc = f"remove {what} at line {start}" + (f"-{end}" if end != start else "")
        sites.append(Site(desc, edits, (start, end)))
    return sites


def sites_remove_assign(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Each ``x = ...``, ``x += ...`` or ``x: T = ...`` inside the function."""
    return _removal_sites(ctx, list(ctx.scan.assigns), "assignment")


def _is_noise_only(stmts: Sequence[cst.CSTNode]) -> bool:
    """Statements that only log or pass: removing or moving them changes nothing observable."""
    for stmt in stmts:
        lines = stmt.body if isinstance(stmt, cst.SimpleStatementLine) else [stmt]
        for small in lines:
            if isinstance(small, cst.Pass):
                continue
            if (
                isinstance(small, cst.Expr)
                and isinstance(small.value, cst.Call)
                and is_logging_call(small.value)
            ):
                continue
            return False
    return True


def sites_remove_cond(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Each whole ``if`` statement (with its elif/else chain); elif branches are not separate."""
    stmts: list[cst.CSTNode] = []
    for node in ctx.scan.ifs:
        if isinstance(ctx.parent(node), cst.If):
            continue  # an elif
        if _is_noise_only(node.body.body) and node.orelse is None:
            continue
        stmts.append(node)
    return _removal_sites(ctx, stmts, "if statement")


def sites_remove_loop(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Each ``for``, ``async for`` and ``while`` statement."""
    return _removal_sites(ctx, list(ctx.scan.loops), "loop")


def sites_remove_wrapper(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Each ``with``, ``async with`` and ``try`` statement, deleted with its whole block."""
    return _removal_sites(ctx, list(ctx.scan.wrappers), "with/try block")


def sites_ctrl_invert_if(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Swap the bodies of an if/else (plain else, the last branch of an elif chain included)
    and of a conditional expression, keeping the condition."""
    sites: list[Site] = []
    for node in ctx.scan.ifs:
        orelse = node.orelse
        if not isinstance(orelse, cst.Else):
            continue
        if ctx.code(node.body).strip() == ctx.code(orelse.body).strip():
            continue
        body, other = node.body, orelse.body
        new_body = _with_header(other, body)
        new_else = orelse.with_changes(body=_with_header(body, other))
        new = node.with_changes(body=new_body, orelse=new_else)
        desc = f"swap if/else bodies of the if at line {ctx.line(node)}"
        lines = (ctx.line(node), ctx.span(node.test)[1])  # the condition must run
        sites.append(Site(desc, ((node, replace_with(new)),), lines))
    for exp in ctx.scan.ifexps:
        if ctx.code(exp.body).strip() == ctx.code(exp.orelse).strip():
            continue
        first = exp.orelse
        if prec(first) <= 1:  # a lambda or nested conditional moved before "if"
            first = parenthesize(first)
        swapped = exp.with_changes(body=first, orelse=exp.body)
        desc = f"swap branches of the conditional expression at line {ctx.line(exp)}"
        sites.append(Site(desc, ((exp, replace_with(swapped)),), ctx.anchor(exp)))
    return sites


def _with_header(block: cst.BaseSuite, position: cst.BaseSuite) -> cst.BaseSuite:
    """``block`` moved to where ``position`` was: the trailing comment on the colon stays put."""
    if isinstance(block, cst.IndentedBlock) and isinstance(position, cst.IndentedBlock):
        return block.with_changes(header=position.header)
    return block


def _body_statements(node: cst.FunctionDef) -> tuple[cst.IndentedBlock, int] | None:
    """The function's indented block and the index of its first non-docstring statement."""
    block = node.body
    if not isinstance(block, cst.IndentedBlock):
        return None
    first = 0
    if block.body and isinstance(block.body[0], cst.SimpleStatementLine):
        small = block.body[0].body
        if (
            small
            and isinstance(small[0], cst.Expr)
            and isinstance(small[0].value, cst.SimpleString | cst.ConcatenatedString)
        ):
            first = 1
    return block, first


def _is_noise(stmt: cst.BaseStatement) -> bool:
    """Logging lines and TYPE_CHECKING/__main__ blocks: moving them changes no behaviour."""
    if isinstance(stmt, cst.If):
        return is_guard_if(stmt)
    if isinstance(stmt, cst.SimpleStatementLine):
        return _is_noise_only(stmt.body)
    return False


class _Effects(cst.CSTVisitor):
    """Names a statement mentions and whether it does anything beyond binding names."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.effects = False

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def _effect(self, node: cst.CSTNode) -> None:
        self.effects = True

    visit_Call = visit_Await = visit_Yield = visit_Return = visit_Raise = _effect
    visit_Break = visit_Continue = visit_Global = visit_Nonlocal = visit_Del = _effect
    visit_Import = visit_ImportFrom = visit_AugAssign = visit_Assert = _effect

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        if not isinstance(node.target, cst.Name):
            self.effects = True  # attribute or item assignment mutates shared state


def _effects(stmt: cst.CSTNode) -> _Effects:
    visitor = _Effects()
    stmt.visit(visitor)
    return visitor


def sites_ctrl_shuffle(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """Swap two adjacent top-level statements of the function body (docstring stays first).

    The single-swap form of SWE-smith's whole-body shuffle: one moved line per diff. Pairs that
    are provably independent (no shared names, no side effects) are skipped as no-ops.
    """
    node = ctx.node
    if not isinstance(node, cst.FunctionDef):
        return []
    found = _body_statements(node)
    if found is None:
        return []
    block, first = found
    stmts = block.body
    sites: list[Site] = []
    for i in range(first, len(stmts) - 1):
        a, b = stmts[i], stmts[i + 1]
        if ctx.code(a).strip() == ctx.code(b).strip() or _is_noise(a) or _is_noise(b):
            continue
        ea, eb = _effects(a), _effects(b)
        if not ea.effects and not eb.effects and not ea.names & eb.names:
            continue
        start, end = ctx.span(a)[0], ctx.span(b)[1]
        desc = f"swap statements at lines {ctx.line(a)} and {ctx.line(b)}"
        sites.append(Site(desc, ((block, swap_edit(i, i + 1)),), (start, end)))
    return sites
