"""Skipping candidates that cannot be kept, before paying a test run for them.

Two static proofs, both conservative (when in doubt, the candidate runs):

- ``unexecuted_lines``: every original line the diff touches lies in a statement no test (nor
  the import of the module, the map's ``<import>``) executed, and the change leaves every code
  object's shape alone (flags, locals, cells: a deleted ``yield`` or assignment can change how
  executed lines behave). No test can then see the change.
- ``equivalent`` / ``duplicate_code``: the changed module compiles (in this process) to the same
  code as the original, or as an earlier candidate's, line numbers aside; or it differs from
  the original only in the order of adjacent plain ``def``s (no decorators but staticmethod
  and classmethod, no default or annotation naming another of them), which binds the same
  names to the same functions (the zoo's class_shuffle_funcs: 21 of 23 swaps no_test_failed).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import CodeType

from engine.diffs import PatchError, apply_patch, changed_lines, parse_patch
from engine.models import Candidate

UNEXECUTED = "unexecuted_lines"
EQUIVALENT = "equivalent"
DUPLICATE = "duplicate_code"
SKIP_REASONS = (UNEXECUTED, EQUIVALENT, DUPLICATE)

Fingerprint = tuple[object, ...]


def compile_module(source: str, rel: str) -> CodeType | None:
    """The module's code object, or None when this interpreter cannot compile it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return compile(source, rel, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def _header(code: CodeType) -> tuple[object, ...]:
    return (code.co_name, getattr(code, "co_qualname", code.co_name), code.co_flags,
            code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount,
            code.co_varnames, code.co_freevars, code.co_cellvars)


def _const(value: object) -> object:
    """A constant told apart by type (``1``, ``1.0`` and ``True`` compare equal)."""
    if isinstance(value, CodeType):
        return fingerprint(value)
    if isinstance(value, tuple | frozenset):
        items = [_const(v) for v in value]
        return (type(value).__name__, tuple(sorted(items, key=repr)
                                            if isinstance(value, frozenset) else items))
    return (type(value).__name__, repr(value))


def fingerprint(code: CodeType) -> Fingerprint:
    """What the code does, recursively, without where it sits: bytecode, constants, names,
    locals and flags; no file name, line numbers or positions."""
    return (_header(code), code.co_code, tuple(_const(c) for c in code.co_consts),
            code.co_names, getattr(code, "co_exceptiontable", b""))


def shape(code: CodeType) -> Fingerprint:
    """Every code object's header (name, flags, arguments, locals, cells), recursively: what
    an edit of unexecuted lines must leave alone so the executed lines behave the same."""
    return (_header(code), tuple(shape(c) for c in code.co_consts if isinstance(c, CodeType)))


def statement_spans(tree: ast.Module) -> dict[int, tuple[int, int]]:
    """Line -> the span of the innermost statement holding it (decorators included).

    A compound statement (def, class, if, for, try, ...) gives its whole span for the lines
    that are not in one of its inner statements (headers, ``else:``, ``finally:``)."""
    spans: dict[int, tuple[int, int]] = {}

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            end = node.end_lineno or node.lineno
            for line in range(start, end + 1):
                spans[line] = (start, end)  # inner statements overwrite below
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return spans


def executed(lines: Iterable[int], spans: Mapping[int, tuple[int, int]],
             covered: set[int]) -> bool:
    """Does some test execute a statement holding one of ``lines``? A line in no statement
    (comment, blank line between definitions) counts as executed: in doubt, run."""
    for line in lines:
        span = spans.get(line)
        if span is None:
            return True
        if any(n in covered for n in range(span[0], span[1] + 1)):
            return True
    return False


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_PLAIN_DECORATORS = frozenset({"staticmethod", "classmethod"})


def _signature_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names read when the ``def`` statement runs: defaults, annotations, decorators."""
    a = node.args
    parts: list[ast.AST] = [*a.defaults, *(d for d in a.kw_defaults if d is not None),
                            *node.decorator_list]
    parts += [x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
              if x is not None and x.annotation is not None]
    if node.returns is not None:
        parts.append(node.returns)
    return {n.id for p in parts for n in ast.walk(p) if isinstance(n, ast.Name)}


def _movable(node: ast.stmt) -> bool:
    return isinstance(node, _DEFS) and all(
        isinstance(d, ast.Name) and d.id in _PLAIN_DECORATORS for d in node.decorator_list)


def _sort_runs(body: list[ast.stmt]) -> list[ast.stmt]:
    """``body`` with each run of adjacent movable ``def``s stably sorted by name, unless one
    of them reads another's name while it is being defined. Only the last ``def`` of a name
    counts, and the stable sort keeps same-named ones in their order."""
    out: list[ast.stmt] = []
    i = 0
    while i < len(body):
        j = i
        while j < len(body) and _movable(body[j]):
            j += 1
        if j == i:
            out.append(body[i])
            i += 1
            continue
        run = body[i:j]
        names = {s.name for s in run if isinstance(s, _DEFS)}
        if not any(_signature_names(s) & names for s in run if isinstance(s, _DEFS)):
            run = sorted(run, key=lambda s: s.name if isinstance(s, _DEFS) else "")
        out += run
        i = j
    return out


def canonical(source: str) -> str | None:
    """The module's AST with order-free runs of ``def``s sorted (``_sort_runs``), dumped
    without positions; None when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            stmts = getattr(node, name, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                setattr(node, name, _sort_runs(stmts))
    return ast.dump(tree, include_attributes=False)


@dataclass
class _Original:
    source: str
    code: CodeType | None
    spans: dict[int, tuple[int, int]]
    canonical: str | None = None


@dataclass
class Pruner:
    """Judges candidates in order; remembers fingerprints so only the first of identical
    modules is kept. ``covered`` is the test map's union of executed lines (None: no map, no
    line-level skip). ``read`` gives a repo file's original text (None if missing)."""

    read: Callable[[str], str | None]
    covered: Mapping[str, set[int]] | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    _originals: dict[str, _Original | None] = field(default_factory=dict)
    _seen: dict[tuple[str, Fingerprint], str] = field(default_factory=dict)

    def _original(self, rel: str) -> _Original | None:
        if rel not in self._originals:
            text = self.read(rel)
            got: _Original | None = None
            if text is not None:
                code = compile_module(text, rel)
                try:
                    spans = statement_spans(ast.parse(text)) if code is not None else {}
                except (SyntaxError, ValueError, RecursionError):
                    spans = {}
                got = _Original(text, code, spans)
            self._originals[rel] = got
        return self._originals[rel]

    def reason(self, cand: Candidate) -> str | None:
        """Why ``cand`` cannot be kept (one of ``SKIP_REASONS``), or None: run it."""
        try:
            files = parse_patch(cand.patch)
        except PatchError:
            return None
        if len(files) != 1 or files[0].old != files[0].new or not files[0].path.endswith(".py"):
            return None  # new, deleted, renamed or several files: not judged here
        rel = files[0].path
        orig = self._original(rel)
        if orig is None or orig.code is None or cand.base_commit:
            return None
        try:
            new = apply_patch({rel: orig.source}, cand.patch)[rel]
        except PatchError:
            return None  # validation records did_not_apply
        code = compile_module(new, rel) if new is not None else None
        if new is None or code is None:
            return None
        mine = fingerprint(code)
        if mine == fingerprint(orig.code):
            return EQUIVALENT
        if orig.canonical is None:
            orig.canonical = canonical(orig.source) or ""
        if orig.canonical and canonical(new) == orig.canonical:
            return EQUIVALENT
        key = (rel, mine)
        if key in self._seen and self._seen[key] != cand.candidate_id:
            return DUPLICATE
        self._seen.setdefault(key, cand.candidate_id)
        covered = self.covered.get(rel) if self.covered is not None else None
        if covered and orig.spans and shape(code) == shape(orig.code):
            touched = changed_lines(orig.source, new, around_inserts=True)
            if not executed(touched, orig.spans, covered):
                return UNEXECUTED
        return None

    def keep(self, cands: Iterable[Candidate], limit: int | None = None) -> Iterator[Candidate]:
        """The candidates worth a run, in order, at most ``limit``; counts the rest."""
        taken = 0
        for cand in cands:
            if limit and taken >= limit:
                return
            why = self.reason(cand)
            if why is not None:
                self.skipped[why] = self.skipped.get(why, 0) + 1
                continue
            taken += 1
            yield cand
