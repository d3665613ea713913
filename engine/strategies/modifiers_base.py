"""Shared machinery for the procedural modifiers: sites, edits, exclusions and precedence.

A *site* is one place in an entity that a modifier can change (one operator, one statement, one
if, ...). A site carries *edits*: functions from an original node to its replacement, matched by
node identity, so every candidate is a minimal diff that keeps the file's formatting.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import libcst as cst
from libcst.metadata import CodeRange

from engine.entities import EntityNode, ParsedFile, is_guard_if
from engine.strategies.splice import Applied, Edit, Replacement, Splicer


@dataclass(frozen=True)
class Site:
    """One minimal change: ``edits`` pairs original nodes with functions of their updated form."""

    description: str
    edits: tuple[tuple[cst.CSTNode, Edit], ...]
    lines: tuple[int, int]  # original lines that must execute for the change to be observable
    priority: int = 0  # higher is tried first (after the seeded shuffle); 0 for most sites
    meta: Mapping[str, Any] = field(default_factory=dict)  # merged into the candidate's meta
    # A site of several slips: each part's lines must execute (``lines`` spans them all).
    parts: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Modifier:
    """A named procedural mutation; ``explanation`` is one line for problem-statement templates."""

    name: str
    explanation: str
    targets: frozenset[str]  # entity kinds it applies to
    find_sites: Callable[[EntityContext, random.Random], list[Site]]
    max_diff_lines: int = 0  # 0 = unlimited; caps +/- lines so the diff stays readable


@dataclass
class EntityContext:
    """Everything a modifier needs about one entity; the scan is computed once and shared."""

    parsed: ParsedFile
    item: EntityNode
    positions: Mapping[cst.CSTNode, CodeRange]
    parents: Mapping[cst.CSTNode, cst.CSTNode]
    splicer: Splicer | None = None  # shared by all entities of a file
    _code_cache: dict[int, str] = field(default_factory=dict)

    @property
    def node(self) -> cst.FunctionDef | cst.ClassDef:
        return self.item.node

    @cached_property
    def scan(self) -> Scan:
        scan = Scan()
        self.node.visit(scan)
        return scan

    def code(self, node: cst.CSTNode) -> str:
        """Source text of ``node`` (without surrounding whitespace owned by its parent)."""
        key = id(node)
        if key not in self._code_cache:
            self._code_cache[key] = self.parsed.module.code_for_node(node)
        return self._code_cache[key]

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(node)

    def line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        """First and last line of ``node``; a def/class starts at its first decorator."""
        pos = self.positions[node]
        start = pos.start.line
        for dec in getattr(node, "decorators", ()):
            start = min(start, self.positions[dec].start.line)
        return start, pos.end.line

    def anchor(self, node: cst.CSTNode) -> tuple[int, int]:
        """From the enclosing statement's first line to the node's last line.

        Coverage tools report a multi-line statement on its first line, so an expression on a
        continuation line counts as executed when its statement is.
        """
        stmt: cst.CSTNode | None = node
        while stmt is not None and not isinstance(
            stmt, cst.BaseSmallStatement | cst.BaseCompoundStatement
        ):
            stmt = self.parent(stmt)
        end = self.span(node)[1]
        return (self.line(stmt) if stmt is not None else self.line(node)), end


# --------------------------------------------------------------------------------------------
# Scanning: collect candidate nodes once per entity, skipping code that must never be mutated.

_LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log"}
)
_TYPING_CALLS = frozenset({"cast", "TypeVar", "NewType", "ParamSpec", "TypeVarTuple"})


def dotted(node: cst.BaseExpression) -> str:
    """``a.b.c`` for Name/Attribute chains, "" for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def is_logging_call(node: cst.Call) -> bool:
    """``logger.debug(..)``, ``logging.info(..)``, ``self._log.warning(..)``, ``warnings.warn``."""
    name = dotted(node.func)
    if not name:
        return False
    parts = name.split(".")
    if parts[-1] in {"warn", "warn_explicit"} and (len(parts) == 1 or parts[-2] == "warnings"):
        return True
    return len(parts) >= 2 and parts[-1] in _LOG_METHODS and "log" in parts[-2].lower()


def is_string(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.SimpleString | cst.ConcatenatedString | cst.FormattedString)


def _type_like(node: cst.BaseExpression) -> bool:
    """Looks like a type expression: None, builtins, CapWords names, generics, unions."""
    if isinstance(node, cst.Name):
        v = node.value
        return v in _BUILTIN_TYPES or (v[:1].isupper() and not v.isupper())
    if isinstance(node, cst.Attribute):
        v = node.attr.value
        return v[:1].isupper() and not v.isupper()
    if isinstance(node, cst.Subscript):
        return _type_like(node.value)
    if isinstance(node, cst.SimpleString):  # forward reference: "Foo" | None
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return _type_like(node.left) and _type_like(node.right)
    return False


_BUILTIN_TYPES = frozenset(
    {"None", "int", "float", "complex", "str", "bytes", "bool", "list", "dict", "set",
     "frozenset", "tuple", "type", "object", "bytearray", "memoryview", "range", "slice"}
)  # fmt: skip


def is_type_union(node: cst.BinaryOperation) -> bool:
    """PEP 604 ``X | None`` outside an annotation (aliases, isinstance): never an operator bug."""
    return isinstance(node.operator, cst.BitOr) and _type_like(node)


class Scan(cst.CSTVisitor):
    """Mutable nodes of one entity in source order.

    Never descends into annotations, decorators, f-strings, ``raise`` statements, logging and
    typing calls, or ``if TYPE_CHECKING`` / ``if __name__ == "__main__"`` blocks.
    """

    def __init__(self) -> None:
        self.binops: list[cst.BinaryOperation] = []
        self.boolops: list[cst.BooleanOperation] = []
        self.comparisons: list[cst.Comparison] = []
        self.augassigns: list[cst.AugAssign] = []
        self.assigns: list[cst.Assign | cst.AugAssign | cst.AnnAssign] = []
        self.ifs: list[cst.If] = []  # every if, elif included
        self.ifexps: list[cst.IfExp] = []
        self.loops: list[cst.For | cst.While] = []
        self.wrappers: list[cst.With | cst.Try | cst.TryStar] = []
        # for the real-shape modifiers (modifiers_real, modifiers_guard)
        self.calls: list[cst.Call] = []
        self.awaits: list[cst.Await] = []
        self.slices: list[cst.Slice] = []
        self.handlers: list[cst.ExceptHandler | cst.ExceptStarHandler] = []
        self.raises: list[cst.Raise] = []  # collected, never descended into
        self.attributes: list[cst.Attribute] = []

    # skipped subtrees
    def visit_Annotation(self, node: cst.Annotation) -> bool:
        return False

    def visit_Decorator(self, node: cst.Decorator) -> bool:
        return False

    def visit_FormattedString(self, node: cst.FormattedString) -> bool:
        return False

    def visit_Raise(self, node: cst.Raise) -> bool:
        self.raises.append(node)
        return False

    def visit_TypeAlias(self, node: cst.TypeAlias) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        if is_logging_call(node) or dotted(node.func).rpartition(".")[2] in _TYPING_CALLS:
            return False
        self.calls.append(node)
        return True

    def visit_Await(self, node: cst.Await) -> None:
        self.awaits.append(node)

    def visit_Slice(self, node: cst.Slice) -> None:
        self.slices.append(node)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.handlers.append(node)

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        self.handlers.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.attributes.append(node)

    # collected nodes
    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> bool:
        if is_type_union(node):
            return False
        self.binops.append(node)
        return True

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        self.boolops.append(node)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self.comparisons.append(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        self.assigns.append(node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.assigns.append(node)
        self.augassigns.append(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.assigns.append(node)

    def visit_If(self, node: cst.If) -> bool:
        if is_guard_if(node):
            return False
        self.ifs.append(node)
        return True

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self.ifexps.append(node)

    def visit_For(self, node: cst.For) -> None:
        self.loops.append(node)

    def visit_While(self, node: cst.While) -> None:
        self.loops.append(node)

    def visit_With(self, node: cst.With) -> None:
        self.wrappers.append(node)

    def visit_Try(self, node: cst.Try) -> None:
        self.wrappers.append(node)

    def visit_TryStar(self, node: cst.TryStar) -> None:
        self.wrappers.append(node)


def apply_site(ctx: EntityContext, site: Site) -> Applied:
    """The file's new source (and touched top-level fragments) with the site applied."""
    if ctx.splicer is None:
        ctx.splicer = Splicer(ctx.parsed, ctx.parents)
    return ctx.splicer.apply(site.edits, ctx.node, ctx.span(ctx.node)[0])


def replace_with(new: cst.CSTNode) -> Edit:
    """An edit that ignores the updated node and returns ``new`` (for leaf-level sites)."""
    return lambda _updated: new


def _blank_prefix(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """Leading blank lines up to the first comment: they belong to the position, not the node."""
    out: list[cst.EmptyLine] = []
    for line in lines:
        if line.comment is not None:
            break
        out.append(line)
    return out


def _pass_line() -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine(body=[cst.Pass()])


def remove_child(index: int) -> Edit:
    """Remove child ``index`` of a block/suite/line; an emptied block gets ``pass``."""

    def edit(updated: cst.CSTNode) -> Replacement:
        if isinstance(updated, cst.IndentedBlock | cst.Module):
            body: list[Any] = list(updated.body)  # statements: all carry leading_lines
            removed = body.pop(index)
            if index < len(body):
                # The gap left behind is the wider of the two gaps around the removed statement,
                # so neither a blank-line separator is lost nor two separators pile up.
                nxt = body[index]
                gone, kept = _blank_prefix(removed.leading_lines), _blank_prefix(nxt.leading_lines)
                if len(gone) > len(kept):
                    own = list(nxt.leading_lines)[len(kept) :]
                    body[index] = nxt.with_changes(leading_lines=[*gone, *own])
            if not body and isinstance(updated, cst.IndentedBlock):
                body = [_pass_line()]
            return updated.with_changes(body=body)
        assert isinstance(updated, cst.SimpleStatementSuite | cst.SimpleStatementLine)
        small = list(updated.body)
        small.pop(index)
        if not small:
            small = [cst.Pass()]
        elif index == len(small):  # removed the last one: drop the dangling semicolon
            small[-1] = small[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(body=small)

    return edit


def _index_in(container: cst.CSTNode, child: cst.CSTNode) -> int:
    body = getattr(container, "body", ())
    for i, node in enumerate(body):
        if node is child:
            return i
    raise LookupError("child not found in its parent's body")


def removal_edits(ctx: EntityContext, stmt: cst.CSTNode) -> tuple[tuple[cst.CSTNode, Edit], ...]:
    """Edits that delete one statement (small or compound) from wherever it sits."""
    parent = ctx.parent(stmt)
    if parent is None:
        raise LookupError("statement without parent")
    if isinstance(parent, cst.SimpleStatementLine) and len(parent.body) == 1:
        return removal_edits(ctx, parent)
    return ((parent, remove_child(_index_in(parent, stmt))),)


def swap_edit(i: int, j: int) -> Edit:
    """Swap children ``i`` and ``j`` of a block; blank-line spacing stays with the positions."""

    def edit(updated: cst.CSTNode) -> Replacement:
        assert isinstance(updated, cst.IndentedBlock | cst.Module)
        body: list[Any] = list(updated.body)
        a, b = body[i], body[j]
        a_blank, b_blank = _blank_prefix(a.leading_lines), _blank_prefix(b.leading_lines)
        a_own = list(a.leading_lines)[len(a_blank) :]
        b_own = list(b.leading_lines)[len(b_blank) :]
        body[i] = b.with_changes(leading_lines=[*a_blank, *b_own])
        body[j] = a.with_changes(leading_lines=[*b_blank, *a_own])
        return updated.with_changes(body=body)

    return edit


# --------------------------------------------------------------------------------------------
# Operator precedence, so a changed or moved operand never silently re-associates.

ATOM = 100
_BIN_PREC: dict[type[cst.CSTNode], int] = {
    cst.BitOr: 6,
    cst.BitXor: 7,
    cst.BitAnd: 8,
    cst.LeftShift: 9,
    cst.RightShift: 9,
    cst.Add: 10,
    cst.Subtract: 10,
    cst.Multiply: 11,
    cst.Divide: 11,
    cst.FloorDivide: 11,
    cst.Modulo: 11,
    cst.MatrixMultiply: 11,
    cst.Power: 13,
}
_COMPARISON_PREC = 5


def op_prec(op: cst.CSTNode) -> int:
    if isinstance(op, cst.Or):
        return 2
    if isinstance(op, cst.And):
        return 3
    return _BIN_PREC.get(type(op), _COMPARISON_PREC)


def prec(node: cst.BaseExpression) -> int:
    """Binding strength of an expression as written (parenthesised = atom)."""
    if getattr(node, "lpar", None):
        return ATOM
    if isinstance(node, cst.Lambda | cst.NamedExpr | cst.Yield):
        return 0
    if isinstance(node, cst.IfExp):
        return 1
    if isinstance(node, cst.BooleanOperation | cst.BinaryOperation):
        return op_prec(node.operator)
    if isinstance(node, cst.UnaryOperation):
        return 4 if isinstance(node.operator, cst.Not) else 12
    if isinstance(node, cst.Comparison):
        return _COMPARISON_PREC
    if isinstance(node, cst.Await):
        return 14
    return ATOM


def parenthesize(node: cst.BaseExpression) -> cst.BaseExpression:
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _needs_parens(child: cst.BaseExpression, parent_prec: int, *, right: bool) -> bool:
    p = prec(child)
    if p != parent_prec:
        return p < parent_prec
    if parent_prec == _COMPARISON_PREC:
        return True  # (a < b) < c is not a < b < c
    if parent_prec == 13:
        return not right  # ** is right-associative
    return right


def fix_operands(node: cst.BaseExpression) -> cst.BaseExpression:
    """Parenthesise operands of a (new) binary/boolean node that would otherwise re-bind."""
    if isinstance(node, cst.BinaryOperation | cst.BooleanOperation):
        p = op_prec(node.operator)
        left, right = node.left, node.right
        if _needs_parens(left, p, right=False):
            left = parenthesize(left)
        if _needs_parens(right, p, right=True) and not (
            p == 13 and isinstance(right, cst.UnaryOperation)
        ):
            right = parenthesize(right)
        return node.with_changes(left=left, right=right)
    return node


def fit(
    ctx: EntityContext, original: cst.BaseExpression, new: cst.BaseExpression
) -> cst.BaseExpression:
    """Make ``new`` safe to put where ``original`` was: keep its parens, add some if needed."""
    new = fix_operands(new)
    lpar = getattr(original, "lpar", ())
    if lpar:
        return new.with_changes(lpar=lpar, rpar=original.rpar)
    if getattr(new, "lpar", ()):
        return new
    parent = ctx.parent(original)
    if isinstance(parent, cst.BinaryOperation | cst.BooleanOperation):
        if _needs_parens(new, op_prec(parent.operator), right=parent.right is original):
            return parenthesize(new)
    elif isinstance(parent, cst.Comparison | cst.ComparisonTarget):
        if prec(new) <= _COMPARISON_PREC:
            return parenthesize(new)
    elif isinstance(parent, cst.UnaryOperation):
        if prec(new) < prec(parent.with_changes(lpar=[], rpar=[])):
            return parenthesize(new)
    elif isinstance(parent, cst.Await):
        if parent.expression is original and prec(new) < ATOM:
            return parenthesize(new)
    elif isinstance(parent, cst.Attribute | cst.Subscript):
        if parent.value is original and prec(new) < ATOM:
            return parenthesize(new)
    elif isinstance(parent, cst.Call):
        if parent.func is original and prec(new) < ATOM:
            return parenthesize(new)
    elif isinstance(parent, cst.IfExp) and prec(new) <= 1 and parent.orelse is not original:
        return parenthesize(new)
    return new
