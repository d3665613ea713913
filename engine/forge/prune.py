"""Skipping candidates that cannot be kept, before paying a test run for them.

Two static proofs, both conservative (when in doubt, the candidate runs):

- ``unexecuted_lines``: every original line the diff touches lies in a statement no test (nor
  the import of the module, the map's ``<import>``) executed, and the change leaves every code
  object's shape alone (flags, locals, cells: a deleted ``yield`` or assignment can change how
  executed lines behave). No test can then see the change.
- ``equivalent`` / ``duplicate_code``: the changed module compiles (in this process) to the same
  code as the original, or as an earlier candidate's, line numbers aside; or it has the same
  canonical form as the original (``engine.forge.canonical``): it only reorders plain
  ``def``s, independent assignments in a function body, or the pure operands of a boolean
  truth test (the zoo's class_shuffle_funcs, ctrl_shuffle and op_swap no-ops).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import CodeType

from engine.diffs import PatchError, apply_patch, changed_lines, parse_patch
from engine.forge.canonical import canonical
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
