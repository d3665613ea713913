"""Modifiers for the shapes real one-statement Python fixes take: a wrong name or attribute
(the call-shaped ones are in ``modifiers_calls``).

TSSB-3M and BugsInPy (docs: shared/reference/realism.md) put identifier, attribute and
function-name confusions at a third of real single-statement bugs, against 2% for binary
operator swaps; the mutation operators SWE-smith ships mostly make the rare shapes. Each site
here keeps the code valid and in scope: a replacement name is bound where it is read, an
attribute is one the class assigns, so the bug fails on a wrong value rather than a NameError.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Iterable, Mapping

import libcst as cst
from libcst.metadata import ExpressionContext, ExpressionContextProvider

from engine.strategies.modifiers_base import (
    EntityContext,
    Site,
    dotted,
    is_logging_call,
    replace_with,
)

_SIMILAR = 0.5  # difflib ratio from which a replacement name counts as a likely slip


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


_LITERAL_KINDS: tuple[tuple[type[cst.CSTNode], str], ...] = (
    (cst.Integer, "int"), (cst.Float, "float"), (cst.SimpleString, "str"),
    (cst.ConcatenatedString, "str"), (cst.FormattedString, "str"), (cst.List, "list"),
    (cst.ListComp, "list"), (cst.Dict, "dict"), (cst.DictComp, "dict"), (cst.Set, "set"),
    (cst.SetComp, "set"), (cst.Tuple, "tuple"),
)


_BUILTIN_KINDS = frozenset({"list", "dict", "set", "tuple", "str", "int", "float", "bool",
                            "frozenset", "bytes"})


def kind_of(value: cst.BaseExpression | None) -> str | None:
    """What a value evidently is (``int``, ``list``, ``Path`` for ``Path(..)`` or
    ``Money.zero(..)``), else None."""
    if value is None:
        return None
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return "bool"
    for cls, kind in _LITERAL_KINDS:
        if isinstance(value, cls):
            return kind
    if isinstance(value, cst.Call):
        parts = dotted(value.func).split(".")
        if parts[-1][:1].isupper() or parts[-1] in _BUILTIN_KINDS:
            return parts[-1]
        if len(parts) >= 2 and parts[-2][:1].isupper():
            return parts[-2]  # an alternative constructor, Money.zero(..)
    return None


def annotation_kind(ann: cst.BaseExpression) -> str | None:
    """An annotation as a kind comparable with ``kind_of``: ``list[Entry]`` -> ``list``,
    ``Money | None`` and ``Optional[Money]`` -> ``Money``."""
    if isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
        if dotted(ann.right) == "None":
            return annotation_kind(ann.left)
        if dotted(ann.left) == "None":
            return annotation_kind(ann.right)
        return None
    if isinstance(ann, cst.Subscript):
        head = dotted(ann.value).rpartition(".")[2]
        if head == "Optional" and len(ann.slice) == 1:
            inner = ann.slice[0].slice
            return annotation_kind(inner.value) if isinstance(inner, cst.Index) else None
        return head.lower() if head in ("List", "Dict", "Set", "Tuple", "FrozenSet") else head
    return dotted(ann).rpartition(".")[2] or None


def _pick(name: str, choices: Iterable[str], rng: random.Random,
          kinds: Mapping[str, str | None]) -> tuple[str, float] | None:
    """The choice most like ``name``: never one of another evident kind (an ``int`` for a
    ``list``); the same evident kind counts, then name similarity; ties broken by ``rng``."""
    mine = kinds.get(name)

    def score(c: str) -> float:
        theirs = kinds.get(c)
        same = 0.3 if mine is not None and theirs == mine else 0.0
        return _similarity(name, c) + same

    def fits(c: str) -> bool:
        theirs = kinds.get(c)
        if "bool" in (mine, theirs):
            return mine == theirs  # a flag stands in for a flag only
        return mine is None or theirs is None or theirs == mine

    ranked = sorted((c for c in choices if c != name and fits(c)), key=lambda c: (-score(c), c))
    if not ranked:
        return None
    best = score(ranked[0])
    top = [c for c in ranked if score(c) == best]
    pick = rng.choice(top)
    return pick, _similarity(name, pick)


def _loads(ctx: EntityContext) -> Mapping[cst.CSTNode, ExpressionContext]:
    """Load/store/del per Name and Attribute node; resolved once per file (the wrapper caches)."""
    return ctx.parsed.wrapper.resolve(ExpressionContextProvider)


def _first_param(fn: cst.FunctionDef) -> str | None:
    params = [*fn.params.posonly_params, *fn.params.params]
    return params[0].name.value if params else None


def _is_method(ctx: EntityContext) -> bool:
    return ctx.item.entity.kind in ("method", "async_method") and not any(
        dotted(d.decorator).rpartition(".")[2] == "staticmethod" for d in ctx.node.decorators
    )


# --------------------------------------------------------------------------------------------
# wrong_name: another local of the function, bound where the name is read.


class _Scope(cst.CSTVisitor):
    """Names the function binds in its own scope and the Name nodes it reads there.

    Nested functions, classes, lambdas and comprehensions are not entered (their names are
    another scope's); f-strings, annotations, decorators, ``raise`` and logging are skipped,
    as the shared scan does.
    """

    def __init__(self, ctx: EntityContext, top: cst.IndentedBlock) -> None:
        self.ctx = ctx
        self.top = top
        self.bound: dict[str, int] = {}  # name -> last line of its first top-level binding
        self.anywhere: set[str] = set()  # bound somewhere (branches, loops included)
        self.excluded: set[str] = set()  # global / nonlocal / bound only in a loop target
        self.loop_spans: dict[str, list[tuple[int, int]]] = {}
        self.reads: list[cst.Name] = []
        self.aliases: set[frozenset[str]] = set()  # a = b pairs: swapping them is a no-op
        self.kinds: dict[str, str | None] = {}

    def _bind(self, target: cst.BaseExpression, stmt: cst.CSTNode,
              value: cst.BaseExpression | None = None) -> None:
        if isinstance(target, cst.Name):
            if target.value not in self.anywhere:
                self.kinds[target.value] = kind_of(value)
            self.anywhere.add(target.value)
            line = self.ctx.parent(stmt)
            if isinstance(line, cst.SimpleStatementLine) and self.ctx.parent(line) is self.top:
                self.bound.setdefault(target.value, self.ctx.span(line)[1])
        elif isinstance(target, cst.Tuple | cst.List):
            for el in target.elements:
                self._bind(el.value, stmt)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value, stmt)

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._bind(t.target, node, node.value)
            if isinstance(t.target, cst.Name) and isinstance(node.value, cst.Name):
                self.aliases.add(frozenset({t.target.value, node.value.value}))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node, node.value)

    def visit_For(self, node: cst.For) -> None:
        names: list[str] = []
        _names_of(node.target, names)
        span = (self.ctx.line(node.body), self.ctx.span(node.body)[1])
        for n in names:
            self.anywhere.add(n)
            self.loop_spans.setdefault(n, []).append(span)

    def visit_Global(self, node: cst.Global) -> None:
        self.excluded.update(n.name.value for n in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.excluded.update(n.name.value for n in node.names)

    def visit_Name(self, node: cst.Name) -> None:
        self.reads.append(node)

    def _skip(self, node: cst.CSTNode) -> bool:
        return False

    visit_FunctionDef = visit_ClassDef = visit_Lambda = _skip
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _skip
    visit_FormattedString = visit_Annotation = visit_Decorator = visit_Raise = _skip

    def visit_Call(self, node: cst.Call) -> bool:
        return not is_logging_call(node)


def _names_of(target: cst.BaseExpression, out: list[str]) -> None:
    if isinstance(target, cst.Name):
        out.append(target.value)
    elif isinstance(target, cst.Tuple | cst.List):
        for el in target.elements:
            _names_of(el.value, out)


def _params(fn: cst.FunctionDef) -> dict[str, str | None]:
    """Parameter names with their evident kind (the annotation's text, else the default's)."""
    p = fn.params
    out: dict[str, str | None] = {}
    for x in (*p.posonly_params, *p.params, *p.kwonly_params):
        ann = annotation_kind(x.annotation.annotation) if x.annotation else None
        out[x.name.value] = ann or kind_of(x.default)
    if isinstance(p.star_arg, cst.Param):
        out[p.star_arg.name.value] = "tuple"
    if isinstance(p.star_kwarg, cst.Param):
        out[p.star_kwarg.name.value] = "dict"
    return out


def sites_wrong_name(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """A local or parameter read replaced by another one bound at that point, the most
    similar name first (``start`` for ``end``, ``old_value`` for ``new_value``)."""
    fn = ctx.node
    if not isinstance(fn, cst.FunctionDef) or not isinstance(fn.body, cst.IndentedBlock):
        return []
    scope = _Scope(ctx, fn.body)
    fn.body.visit(scope)
    param_kinds = _params(fn)
    params = list(param_kinds)
    kinds = {**scope.kinds, **param_kinds}
    skip = set(scope.excluded)
    if _is_method(ctx) and params:
        skip.add(params[0])  # self / cls: another object entirely, never a slip
    loads = _loads(ctx)
    sites: list[Site] = []
    for read in scope.reads:
        name = read.value
        if loads.get(read) is not ExpressionContext.LOAD or name in skip:
            continue
        if name not in params and name not in scope.anywhere:
            continue  # a global, builtin or import: not this function's variable
        parent = ctx.parent(read)
        if isinstance(parent, cst.Call) and parent.func is read:
            continue  # calling another local: a TypeError, not a wrong value
        if isinstance(parent, cst.Attribute) and parent.attr is read:
            continue
        line = ctx.line(read)
        choices = [p for p in params if p not in skip]
        choices += [n for n, end in scope.bound.items() if end < line and n not in skip]
        choices += [n for n, spans in scope.loop_spans.items()
                    if n not in skip and any(a <= line <= b for a, b in spans)]
        choices = [c for c in dict.fromkeys(choices)
                   if frozenset({c, name}) not in scope.aliases]
        picked = _pick(name, choices, rng, kinds)
        if picked is None:
            continue
        other, similar = picked
        desc = f"'{name}' -> '{other}' at line {line}"
        sites.append(Site(desc, ((read, replace_with(read.with_changes(value=other))),),
                          ctx.anchor(read), priority=int(similar >= _SIMILAR)))
    return sites


# --------------------------------------------------------------------------------------------
# wrong_attr: self.x read where the class meant another attribute it assigns, self.y.


def _class_of(ctx: EntityContext) -> cst.ClassDef | None:
    node: cst.CSTNode | None = ctx.parent(ctx.node)
    while node is not None and not isinstance(node, cst.ClassDef):
        if isinstance(node, cst.FunctionDef):
            return None
        node = ctx.parent(node)
    return node


class _SelfAttrs(cst.CSTVisitor):
    """Attribute names assigned on ``self`` in every method of a class, and class-level names."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.kinds: dict[str, str | None] = {}
        self.me: list[tuple[str | None, dict[str, str | None]]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.me.append((_first_param(node), _params(node)))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.me.pop()

    def _target(self, target: cst.BaseExpression, value: cst.BaseExpression | None,
                declared: str | None = None) -> None:
        me, params = self.me[-1] if self.me else (None, {})
        if (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                and target.value.value == me):
            name = target.attr.value
            kind = declared or kind_of(value)
            if kind is None and isinstance(value, cst.Name):
                kind = params.get(value.value)
            if name not in self.names or self.kinds.get(name) is None:
                self.kinds[name] = kind
            self.names.add(name)
        elif isinstance(target, cst.Tuple | cst.List):
            for el in target.elements:
                self._target(el.value, None)

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._target(t.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target, node.value, annotation_kind(node.annotation.annotation))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._target(node.target, None)


def _class_level(cls: cst.ClassDef) -> dict[str, str | None]:
    """Names the class body assigns (class attributes, defaults) with their evident kind."""
    out: dict[str, str | None] = {}
    if not isinstance(cls.body, cst.IndentedBlock):
        return out
    for stmt in cls.body.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and not isinstance(small.value, cst.Lambda):
                    out.update((t.target.value, kind_of(small.value)) for t in small.targets
                               if isinstance(t.target, cst.Name))
                elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    out[small.target.value] = (annotation_kind(small.annotation.annotation)
                                               or kind_of(small.value))
    return out


def sites_wrong_attr(ctx: EntityContext, rng: random.Random) -> list[Site]:
    """``self.x`` read in a method replaced by ``self.y``, another data attribute the class
    assigns (on ``self`` in any method, or in its body), the most similar name first."""
    fn = ctx.node
    if not isinstance(fn, cst.FunctionDef) or not _is_method(ctx):
        return []
    me, cls = _first_param(fn), _class_of(ctx)
    if me is None or cls is None:
        return []
    visitor = _SelfAttrs()
    cls.visit(visitor)
    kinds = {**_class_level(cls), **{k: v for k, v in visitor.kinds.items() if v is not None}}
    for name in visitor.names:
        kinds.setdefault(name, None)
    attrs = set(kinds)
    if len(attrs) < 2:
        return []
    loads = _loads(ctx)
    sites: list[Site] = []
    for node in ctx.scan.attributes:
        if not (isinstance(node.value, cst.Name) and node.value.value == me):
            continue
        name = node.attr.value
        if name not in attrs or loads.get(node) is not ExpressionContext.LOAD:
            continue
        parent = ctx.parent(node)
        if isinstance(parent, cst.Call) and parent.func is node:
            continue  # a callable attribute: calling another one is rarely a slip
        picked = _pick(name, attrs, rng, kinds)
        if picked is None:
            continue
        other, similar = picked
        new = node.with_changes(attr=node.attr.with_changes(value=other))
        desc = f"'{me}.{name}' -> '{me}.{other}' at line {ctx.line(node)}"
        sites.append(Site(desc, ((node, replace_with(new)),), ctx.anchor(node),
                          priority=int(similar >= _SIMILAR)))
    return sites


def local_kinds(ctx: EntityContext) -> dict[str, str | None]:
    """The evident kind of each parameter and local of the entity (empty for a class)."""
    fn = ctx.node
    if not isinstance(fn, cst.FunctionDef) or not isinstance(fn.body, cst.IndentedBlock):
        return {}
    scope = _Scope(ctx, fn.body)
    fn.body.visit(scope)
    return {**scope.kinds, **_params(fn)}
