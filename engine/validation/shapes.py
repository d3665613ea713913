"""What a diff changes in one Python file: only function bodies (hot-swappable), or more.

``classify`` compares two versions of a module; ``classify_hunks`` answers the common case
(every changed line inside one function's body) from the diff's hunks and that function's
text alone, without parsing the whole new file. ``class_changes`` finds changes confined to
top-level class bodies, which the fork server can replay.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    """One changed top-level function or method: its qualname and first line (decorators incl.)."""

    qualname: str
    first_line: int  # co_firstlineno of the *original* code object
    index: int  # 0 for the first def with this qualname in the file, 1 for the next, ...
    changed: tuple[str, ...] = ()  # code qualnames whose own code changed (nested included)


@dataclass
class Shape:
    """What a diff changes in one Python file."""

    body_only: bool
    units: list[Unit]
    why: str = ""
    snippet: str | None = None  # the new file cut to the statements the units live in


def _functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Top-level functions and methods (not nested functions) with their qualnames, in order."""
    out: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((prefix + node.name, node))
            elif isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")
            else:  # if / try / with / match blocks at module or class level
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        walk([child], prefix)
                    elif isinstance(child, ast.ExceptHandler | ast.match_case):
                        walk(child.body, prefix)

    walk(tree.body, "")
    return out


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


class _Summary:
    """A module reduced to what ``classify`` compares: function bodies and the rest.

    Comparing AST dumps of every body costs more than the rest of planning, so text comes
    first: a body (or the code around the bodies) whose source lines are unchanged is
    unchanged, and only text that differs is compared as AST (a reformatting is no change).
    """

    def __init__(self, text: str, tree: ast.Module) -> None:
        funcs = _functions(tree)
        self.quals = tuple(q for q, _ in funcs)
        self.first_lines = tuple(_first_line(n) for _q, n in funcs)
        self.nodes = tuple(n for _q, n in funcs)
        self.tree = tree
        lines = text.splitlines(keepends=True)
        spans = [(n.body[0].lineno, n.end_lineno or n.body[0].lineno) for n in self.nodes]
        self.body_texts = tuple("".join(lines[a - 1:b]) for a, b in spans)
        # Code outside the bodies, bodies cut out; None when a body shares its def's line.
        self.skeleton_text: str | None = None
        if all(a > n.lineno for (a, _b), n in zip(spans, self.nodes, strict=True)):
            keep = [True] * len(lines)
            for a, b in spans:
                keep[a - 1:b] = [False] * (b - a + 1)
            self.skeleton_text = "".join(line if k else "\x00\n"
                                         for line, k in zip(lines, keep, strict=True))
        self._bodies: dict[int, str] = {}
        self._skeleton: str | None = None

    def body(self, k: int) -> str:
        if k not in self._bodies:
            self._bodies[k] = ast.dump(ast.Module(self.nodes[k].body, []))
        return self._bodies[k]

    def skeleton(self) -> str:
        """The module's AST with every body blanked: what runs at import time."""
        if self._skeleton is None:
            saved = [n.body for n in self.nodes]
            for n in self.nodes:
                n.body = [ast.Pass()]
            try:
                self._skeleton = ast.dump(self.tree)
            finally:
                for n, body in zip(self.nodes, saved, strict=True):
                    n.body = body
        return self._skeleton


def _direct_defs(body: list[ast.stmt], classes: tuple[str, ...] = ()
                 ) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Defs nested directly in a function body (through classes and blocks, not other defs),
    each with the class path the tracer puts in its qualname."""
    out: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out.append((".".join([*classes, node.name]), node))
        elif isinstance(node, ast.ClassDef):
            out.extend(_direct_defs(node.body, (*classes, node.name)))
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    out.extend(_direct_defs([child], classes))
                elif isinstance(child, ast.ExceptHandler | ast.match_case):
                    out.extend(_direct_defs(child.body, classes))
    return out


def _own_code(qual: str, node: ast.FunctionDef | ast.AsyncFunctionDef,
              out: list[tuple[str, str]]) -> None:
    """Each def's own code with nested defs blanked, so a change can be pinned to the
    innermost function it is in (a decorator's wrapper runs at test time even when the
    decorator itself ran at import). Blanks in place and restores (no copies)."""
    nested = _direct_defs(node.body)
    saved = [n.body for _q, n in nested]
    for _q, n in nested:
        n.body = [ast.Pass()]
    try:
        out.append((qual, ast.dump(ast.Module(node.body, []))))
    finally:
        for (_q, n), body in zip(nested, saved, strict=True):
            n.body = body
    for nq, n in nested:
        _own_code(f"{qual}.<locals>.{nq}", n, out)


def summarize(text: str) -> _Summary | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    return _Summary(text, tree)


def classify(old: str | _Summary | None, new: str) -> Shape:
    """Whether ``old`` -> ``new`` changes nothing but the bodies of existing functions."""
    a = summarize(old) if isinstance(old, str) else old
    b = summarize(new)
    if a is None or b is None:
        return Shape(False, [], "does not parse")
    if a.quals != b.quals:
        return Shape(False, [], "functions added, removed or reordered")
    same_text = a.skeleton_text is not None and a.skeleton_text == b.skeleton_text
    if not same_text and a.skeleton() != b.skeleton():  # what is left runs at import time
        return Shape(False, [], "code outside function bodies changed")
    units: list[Unit] = []
    counts: dict[str, int] = {}
    for k, qual in enumerate(a.quals):
        idx = counts.get(qual, 0)
        counts[qual] = idx + 1
        if a.body_texts[k] == b.body_texts[k] or a.body(k) == b.body(k):
            continue
        na: list[tuple[str, str]] = []
        nb: list[tuple[str, str]] = []
        _own_code(qual, a.nodes[k], na)
        _own_code(qual, b.nodes[k], nb)
        if [q for q, _ in na] == [q for q, _ in nb]:
            changed = tuple(q for (q, da), (_q, db) in zip(na, nb, strict=True) if da != db)
        else:
            changed = (qual,)
        units.append(Unit(qual, a.first_lines[k], idx, changed or (qual,)))
    return Shape(True, units, snippet=_snippet(b, new, {u.qualname for u in units}))


def _snippet(b: _Summary, text: str, quals: set[str]) -> str | None:
    """``text`` with every top-level statement blanked except imports (they set compile flags
    and how calls on imported names compile) and the
    statements holding a function named in ``quals`` (all of them, so the child's count of
    same-named code objects matches the whole file's)."""
    if not quals:
        return None
    targets = [n for q, n in zip(b.quals, b.nodes, strict=True) if q in quals]
    lines = text.splitlines(keepends=True)
    keep = [False] * len(lines)
    for stmt in b.tree.body:
        start = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
        end = stmt.end_lineno or stmt.lineno
        if _imports(stmt) or any(start <= n.lineno and (n.end_lineno or 0) <= end for n in targets):
            keep[start - 1:end] = [True] * (end - start + 1)
    return "".join(line if k else "\n" for line, k in zip(lines, keep, strict=True))


def _imports(stmt: ast.stmt) -> bool:
    """A module-level statement that imports (directly, or in its if/try/with blocks)."""
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return True
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False
    return any(_imports(child) for child in ast.iter_child_nodes(stmt)
               if isinstance(child, ast.stmt)) or any(
        _imports(s) for h in getattr(stmt, "handlers", []) for s in h.body)


def _bound_names(body: list[ast.stmt]) -> set[str]:
    """Names a class body binds (statically), not looking into nested scopes."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node, ast.AnnAssign) and node.value is None:
                continue
            for t in targets:
                names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    names |= _bound_names([child])
                elif isinstance(child, ast.ExceptHandler | ast.match_case):
                    names |= _bound_names(child.body)
    return names


def class_changes(old: str, new: str) -> list[tuple[str, list[str]]] | None:
    """Top-level classes whose body changed (and the names it no longer binds), when nothing
    else in the module did and their headers (bases, keywords, decorators) are unchanged;
    otherwise None. Such a change can be replayed by re-running the class statement."""
    try:
        a, b = ast.parse(old), ast.parse(new)
    except (SyntaxError, ValueError):
        return None
    if len(a.body) != len(b.body):
        return None
    changed: list[tuple[str, list[str]]] = []
    for na, nb in zip(a.body, b.body, strict=True):
        if ast.dump(na) == ast.dump(nb):
            continue
        if not (isinstance(na, ast.ClassDef) and isinstance(nb, ast.ClassDef)
                and na.name == nb.name):
            return None
        header = [ast.dump(ast.Module([ast.Expr(x) for x in [*n.bases, *n.decorator_list]], []))
                  + ast.dump(ast.Module([ast.Expr(k.value) for k in n.keywords], []))
                  for n in (na, nb)]
        if header[0] != header[1] or "__slots__" in _bound_names(na.body) | _bound_names(
                nb.body):
            return None
        changed.append((na.name, sorted(_bound_names(na.body) - _bound_names(nb.body))))
    return changed or None


FuncNode = ast.FunctionDef | ast.AsyncFunctionDef


def _old_changes(hunks: list[tuple[int, list[str]]]) -> tuple[list[int], list[int], int]:
    """(old lines removed or replaced, old lines new text is inserted before, line delta)."""
    touched: list[int] = []
    inserts: list[int] = []
    delta = 0
    for start, body in hunks:
        line = start
        for text in body:
            tag = text[:1]
            if tag == " ":
                line += 1
            elif tag == "-":
                touched.append(line)
                line += 1
                delta -= 1
            elif tag == "+":
                inserts.append(line)
                delta += 1
    return touched, inserts, delta


def _header(node: FuncNode) -> tuple[str, ...]:
    return (type(node).__name__, node.name, ast.dump(node.args),
            ast.dump(node.returns) if node.returns else "",
            *(ast.dump(d) for d in node.decorator_list))


def _statement_span(stmt: ast.stmt) -> tuple[int, int]:
    start = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
    return start, stmt.end_lineno or stmt.lineno


def classify_hunks(a: _Summary, hunks: list[tuple[int, list[str]]], new: str) -> Shape | None:
    """The shape of a change whose every line lies inside one function's body, from the
    hunks and the text of the top-level statement holding it; None when that is not so
    (or not provably so), and the caller compares the whole modules instead."""
    touched, inserts, delta = _old_changes(hunks)
    if not touched and not inserts:
        return None
    k = next((i for i, n in enumerate(a.nodes)
              if n.body[0].lineno > n.lineno
              and all(n.body[0].lineno <= t <= (n.end_lineno or 0) for t in touched)
              and all(n.body[0].lineno < j <= (n.end_lineno or 0) for j in inserts)), None)
    if k is None or a.quals.count(a.quals[k]) > 1:
        return None
    old = a.nodes[k]
    top = next((st for st in a.tree.body
                if st.lineno <= old.lineno and (old.end_lineno or 0) <= (st.end_lineno or 0)),
               None)
    if top is None:
        return None
    ts, te = _statement_span(top)
    lines = new.splitlines(keepends=True)
    try:
        tree = ast.parse("".join(lines[ts - 1: te + delta]))
    except (SyntaxError, ValueError):
        return None
    off = ts - 1
    node = next((n for n in ast.walk(tree) if isinstance(n, FuncNode)
                 and n.lineno + off == old.lineno and n.name == old.name), None)
    if (node is None or len(tree.body) != 1
            or (node.end_lineno or 0) + off != (old.end_lineno or 0) + delta
            or _statement_span(tree.body[0])[1] + off != te + delta
            or _header(node) != _header(old)):
        return None
    qual = a.quals[k]
    if ast.dump(ast.Module(node.body, [])) == a.body(k):
        return Shape(True, [])
    na: list[tuple[str, str]] = []
    nb: list[tuple[str, str]] = []
    _own_code(qual, old, na)
    _own_code(qual, node, nb)
    if [q for q, _ in na] == [q for q, _ in nb]:
        changed = tuple(q for (q, da), (_q, db) in zip(na, nb, strict=True) if da != db)
    else:
        changed = (qual,)
    keep = [False] * len(lines)
    keep[ts - 1: te + delta] = [True] * (te + delta - ts + 1)
    for st in a.tree.body:
        if st is not top and _imports(st):
            s0, s1 = _statement_span(st)
            if s0 > te:  # after the edited statement: moved by the change's line delta
                s0, s1 = s0 + delta, s1 + delta
            keep[s0 - 1: s1] = [True] * (s1 - s0 + 1)
    snippet = "".join(line if kept else "\n" for line, kept in zip(lines, keep, strict=True))
    return Shape(True, [Unit(qual, a.first_lines[k], 0, changed or (qual,))], snippet=snippet)
