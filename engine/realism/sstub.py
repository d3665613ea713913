"""Edit kinds: what a bug's fix does, in the vocabulary of real-bug datasets.

The fix is the bug diff reversed (buggy -> original), so the names follow TSSB-3M's Python
SStuB patterns (realism.md §1.4), which are named from the fix's side: "same function more
args" means the bug *dropped* an argument. Edits that are not a single statement get the
statement-level kinds a mutation engine makes: a removed guard, statement or block, two
statements swapped, the branches of an if swapped, or several statements changed.

Written on the standard ``ast`` (positions ignored), following the published method: find the
smallest differing pair of subtrees, then route by node kinds and where the pair sits.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# Every kind, with the phrase a curator reads (fix's perspective: "the fix ...").
SSTUB_KINDS: dict[str, str] = {
    "change_identifier": "uses a different variable",
    "change_binary_operand": "changes an operand of an operator",
    "more_args": "passes an argument the call was missing",
    "wrong_function_name": "calls a different function",
    "add_function_around": "wraps an expression in a call",
    "change_attribute": "uses a different attribute",
    "change_numeric_literal": "changes a number",
    "more_specific_if": "adds a condition with `and`",
    "add_method_call": "adds a method call",
    "add_elements": "adds elements to a literal collection",
    "less_args": "drops an argument from a call",
    "change_boolean_literal": "flips True/False",
    "add_attribute_access": "adds an attribute access",
    "change_binary_operator": "changes an operator",
    "wrong_caller": "calls the method on another object",
    "less_specific_if": "widens a condition with `or`",
    "change_keyword_argument": "changes a keyword argument",
    "change_unary_operator": "adds or removes a unary operator (not, -)",
    "swap_args": "swaps the arguments of a call",
    "change_constant_type": "changes the type of a constant",
}
STATEMENT_KINDS: dict[str, str] = {
    "single_stmt_other": "changes one statement in another way",
    "guard_removed": "adds back a whole if statement (a missing guard)",
    "stmt_removed": "adds back a simple statement the bug deleted",
    "block_removed": "adds back a loop, with, try or def block",
    "stmt_added": "removes statements the bug added",
    "stmt_swap": "puts statements back in order",
    "branches_swapped": "swaps the branches of an if back",
    "signature_change": "changes a def or class header",
    "multi_stmt": "changes several statements",
    "cosmetic": "changes no code (comments, formatting)",
    "unparsable": "could not be parsed",
}
EDIT_KINDS: dict[str, str] = {**SSTUB_KINDS, **STATEMENT_KINDS}

_BLOCKS = (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
           ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_COMPOUND: tuple[type[ast.stmt], ...] = (*_BLOCKS, ast.If)
if hasattr(ast, "TryStar"):
    _COMPOUND = (*_COMPOUND, ast.TryStar)
_BODY_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


@dataclass(frozen=True)
class EditKind:
    """The kind of one fix, plus a short concrete detail (e.g. ``< -> <=``)."""

    kind: str
    detail: str = ""
    statements: int = 0  # statements on the larger side of the differing region

    @property
    def is_sstub(self) -> bool:
        return self.kind in SSTUB_KINDS


def _d(node: ast.AST | None) -> str:
    return ast.dump(node, annotate_fields=False) if node is not None else ""


def _src(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - exotic nodes
        return type(node).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def classify_sources(buggy: str, fixed: str) -> EditKind:
    """Kind of the fix that turns ``buggy`` source into ``fixed`` source (whole modules)."""
    try:
        a, b = ast.parse(buggy), ast.parse(fixed)
    except (SyntaxError, ValueError):
        return EditKind("unparsable")
    return classify_blocks(a.body, b.body)


def classify_blocks(a: list[ast.stmt], b: list[ast.stmt]) -> EditKind:
    """Kind of the fix turning statement list ``a`` (buggy) into ``b`` (fixed)."""
    da, db = [_d(s) for s in a], [_d(s) for s in b]
    if da == db:
        return EditKind("cosmetic")
    head = 0
    while head < min(len(a), len(b)) and da[head] == db[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and da[-1 - tail] == db[-1 - tail]:
        tail += 1
    ma, mb = a[head:len(a) - tail], b[head:len(b) - tail]
    size = max(len(ma), len(mb))
    if not ma:
        return _removed(mb)
    if not mb:
        return EditKind("stmt_added", type(ma[0]).__name__, size)
    if len(ma) == len(mb) > 1 and sorted(da[head:len(a) - tail]) == sorted(
            db[head:len(b) - tail]):
        return EditKind("stmt_swap", f"{len(ma)} statements", size)
    if len(ma) == 1 and len(mb) == 1:
        return _one_statement(ma[0], mb[0])
    return EditKind("multi_stmt", f"{len(ma)} -> {len(mb)} statements", size)


def _removed(restored: list[ast.stmt]) -> EditKind:
    """What the fix adds back: a guard, a block or simple statements."""
    size = len(restored)
    if any(isinstance(s, ast.If) for s in restored):
        return EditKind("guard_removed", _src(restored[0]), size)
    if any(isinstance(s, _BLOCKS) for s in restored):
        return EditKind("block_removed", type(restored[0]).__name__, size)
    return EditKind("stmt_removed", type(restored[0]).__name__, size)


def _header(node: ast.stmt) -> str:
    """A compound statement without its bodies (its header: test, target, args, ...)."""
    parts = [type(node).__name__]
    for name, value in ast.iter_fields(node):
        if name not in _BODY_FIELDS:
            parts.append(_d(value) if isinstance(value, ast.AST) else repr(
                [_d(v) if isinstance(v, ast.AST) else v for v in value]
                if isinstance(value, list) else value))
    return "|".join(parts)


def _one_statement(a: ast.stmt, b: ast.stmt) -> EditKind:
    if isinstance(a, ast.Pass) and not isinstance(b, ast.Pass):  # the bug left `pass` behind
        return _removed([b])
    if isinstance(b, ast.Pass) and not isinstance(a, ast.Pass):
        return EditKind("stmt_added", type(a).__name__, 1)
    if type(a) is not type(b):
        return EditKind("single_stmt_other", f"{type(a).__name__} -> {type(b).__name__}", 1)
    if not isinstance(a, _COMPOUND):
        return _expression_edit(a, b)
    if (isinstance(a, ast.If) and isinstance(b, ast.If) and _d(a.test) == _d(b.test)
            and a.orelse and [_d(s) for s in a.body] == [_d(s) for s in b.orelse]
            and [_d(s) for s in a.orelse] == [_d(s) for s in b.body]):
        return EditKind("branches_swapped", _src(a.test), 1)
    differing = [f for f in _BODY_FIELDS if hasattr(a, f)
                 and [_d(s) for s in getattr(a, f)] != [_d(s) for s in getattr(b, f)]]
    header_differs = _header(a) != _header(b)
    if header_differs and not differing:
        if isinstance(a, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return EditKind("signature_change", getattr(a, "name", ""), 1)
        return _expression_edit(a, b)
    if not header_differs and len(differing) == 1:
        field = differing[0]
        if field == "handlers":
            return EditKind("multi_stmt", "except clauses", 2)
        return classify_blocks(getattr(a, field), getattr(b, field))
    return EditKind("multi_stmt", type(a).__name__, 2)


# ---------------------------------------------------------------------- single statements
def _children(node: ast.AST) -> list[tuple[str, int | None, ast.AST | None, object]]:
    """(field, index, child node or None, raw value) for each child slot of ``node``."""
    out: list[tuple[str, int | None, ast.AST | None, object]] = []
    for name, value in ast.iter_fields(node):
        if name in _BODY_FIELDS or name == "ctx":
            continue
        if isinstance(value, list):
            out.append((name, None, None, len(value)))  # the list's length is a slot too
            for i, v in enumerate(value):
                out.append((name, i, v if isinstance(v, ast.AST) else None, v))
        else:
            out.append((name, None, value if isinstance(value, ast.AST) else None, value))
    return out


def _slot_key(v: object, node: ast.AST | None) -> str:
    return _d(node) if node is not None else repr(v)


def _minimal_pair(a: ast.AST, b: ast.AST) -> tuple[ast.AST, ast.AST, list[tuple[ast.AST, str]]]:
    """Descend while exactly one child slot differs; returns the pair and its parents' path."""
    path: list[tuple[ast.AST, str]] = []
    while type(a) is type(b):
        ca, cb = _children(a), _children(b)
        if len(ca) != len(cb):
            break
        diffs = [(x, y) for x, y in zip(ca, cb, strict=True)
                 if x[0] != y[0] or _slot_key(x[3], x[2]) != _slot_key(y[3], y[2])]
        if len(diffs) != 1 or diffs[0][0][2] is None or diffs[0][1][2] is None:
            break
        (field, _i, na, _v), (_f, _j, nb, _w) = diffs[0]
        assert na is not None and nb is not None
        path.append((a, field))
        a, b = na, nb
    return a, b, path


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    key = _d(inner)
    return any(_d(n) == key for n in ast.walk(outer) if n is not outer)


def _in_condition(path: list[tuple[ast.AST, str]]) -> bool:
    return bool(path) and isinstance(path[0][0], ast.If | ast.While) and path[0][1] == "test"


def _expression_edit(sa: ast.stmt, sb: ast.stmt) -> EditKind:
    a, b, path = _minimal_pair(sa, sb)
    parent, field = path[-1] if path else (None, "")
    detail = f"{_src(a)} -> {_src(b)}"

    def k(kind: str, det: str = detail) -> EditKind:
        return EditKind(kind, det, 1)

    if isinstance(a, ast.operator | ast.cmpop | ast.boolop):
        return k("change_binary_operator", f"{type(a).__name__} -> {type(b).__name__}")
    if isinstance(a, ast.unaryop):
        return k("change_unary_operator", f"{type(a).__name__} -> {type(b).__name__}")
    # The fix wraps the buggy expression: x -> f(x), x -> x.m(), x -> x.attr, not x.
    if isinstance(b, ast.UnaryOp) and _d(b.operand) == _d(a):
        return k("change_unary_operator")
    if isinstance(a, ast.UnaryOp) and _d(a.operand) == _d(b):
        return k("change_unary_operator")
    if isinstance(b, ast.Call) and isinstance(b.func, ast.Attribute) and _d(b.func.value) == _d(a):
        return k("add_method_call")
    if isinstance(b, ast.Call) and any(_d(x) == _d(a) for x in b.args):
        return k("add_function_around")
    if isinstance(b, ast.Attribute) and _d(b.value) == _d(a):
        return k("add_attribute_access")
    if isinstance(a, ast.BoolOp) and isinstance(b, ast.BoolOp) or isinstance(
            b, ast.BoolOp) and any(_d(v) == _d(a) for v in b.values) or isinstance(
            a, ast.BoolOp) and any(_d(v) == _d(b) for v in a.values):
        return _condition_edit(a, b, path, detail)
    if isinstance(parent, ast.keyword):
        return k("change_keyword_argument")
    if isinstance(a, ast.Constant) and isinstance(b, ast.Constant):
        if type(a.value) is not type(b.value):
            return k("change_constant_type")
        if isinstance(a.value, bool):
            return k("change_boolean_literal")
        if isinstance(a.value, int | float | complex):
            return k("change_numeric_literal")
        return k("single_stmt_other")
    if isinstance(a, ast.Name) and isinstance(b, ast.Name):
        if isinstance(parent, ast.Call) and field == "func":
            return k("wrong_function_name")
        if isinstance(parent, ast.Attribute) and len(path) > 1 and isinstance(
                path[-2][0], ast.Call) and path[-2][1] == "func":
            return k("wrong_caller")
        if isinstance(parent, ast.BinOp | ast.Compare | ast.BoolOp):
            return k("change_binary_operand")
        return k("change_identifier")
    if isinstance(a, ast.Attribute) and isinstance(b, ast.Attribute):
        if _d(a.value) == _d(b.value):  # only .attr differs
            called = isinstance(parent, ast.Call) and field == "func"
            return k("wrong_function_name" if called else "change_attribute")
        return k("change_binary_operand" if isinstance(parent, ast.BinOp | ast.Compare)
                 else "change_identifier")
    if isinstance(a, ast.Call) and isinstance(b, ast.Call) and _d(a.func) == _d(b.func):
        return _call_edit(a, b, detail)
    if isinstance(a, ast.List | ast.Tuple | ast.Set) and type(a) is type(b):
        ea, eb = [_d(e) for e in a.elts], [_d(e) for e in b.elts]
        if len(eb) > len(ea) and all(e in eb for e in ea):
            return k("add_elements")
    if isinstance(a, ast.Dict) and isinstance(b, ast.Dict) and len(b.keys) > len(a.keys):
        return k("add_elements")
    if isinstance(a, ast.BinOp) and isinstance(b, ast.BinOp) or isinstance(
            parent, ast.BinOp | ast.Compare):
        return k("change_binary_operand")
    if isinstance(a, ast.Compare) and isinstance(b, ast.Compare):
        return k("change_binary_operand")
    if isinstance(b, ast.BinOp | ast.Compare) and _contains(b, a) or isinstance(
            a, ast.BinOp | ast.Compare) and _contains(a, b):
        return k("change_binary_operand")
    return k("single_stmt_other")


def _condition_edit(a: ast.AST, b: ast.AST, path: list[tuple[ast.AST, str]],
                    detail: str) -> EditKind:
    """``and``/``or`` clauses added or dropped: more or less specific when in a condition."""
    va = [_d(v) for v in a.values] if isinstance(a, ast.BoolOp) else [_d(a)]
    vb = [_d(v) for v in b.values] if isinstance(b, ast.BoolOp) else [_d(b)]
    if isinstance(a, ast.BoolOp) and isinstance(b, ast.BoolOp) and type(a.op) is not type(
            b.op) and len(va) == len(vb):
        return EditKind("change_binary_operator",
                        f"{type(a.op).__name__} -> {type(b.op).__name__}", 1)
    op_b = type(b.op) if isinstance(b, ast.BoolOp) else None
    op_a = type(a.op) if isinstance(a, ast.BoolOp) else None
    if not _in_condition(path) or len(va) == len(vb):
        return EditKind("change_binary_operand", detail, 1)
    # The fix adds an `and` clause, or drops an `or` clause: the condition gets stricter.
    more = op_b is ast.And if len(vb) > len(va) else op_a is ast.Or
    return EditKind("more_specific_if" if more else "less_specific_if", detail, 1)


def _call_edit(a: ast.Call, b: ast.Call, detail: str) -> EditKind:
    aa, ba = [_d(x) for x in a.args], [_d(x) for x in b.args]
    ak = {kw.arg: _d(kw.value) for kw in a.keywords}
    bk = {kw.arg: _d(kw.value) for kw in b.keywords}
    na, nb = len(aa) + len(ak), len(ba) + len(bk)
    if nb > na:
        return EditKind("more_args", detail, 1)
    if nb < na:
        return EditKind("less_args", detail, 1)
    if aa != ba and sorted(aa) == sorted(ba) and ak == bk:
        return EditKind("swap_args", detail, 1)
    if aa == ba and ak != bk:
        return EditKind("change_keyword_argument", detail, 1)
    return EditKind("single_stmt_other", detail, 1)
