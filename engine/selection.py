"""Plan how to validate one candidate: which tests can see the change, and which path runs them.

Paths, cheapest first:
- ``hot``: the diff only changes bodies of existing functions or methods that tests call at run
  time. A warm pytest process forks, swaps the new code objects in and runs the covering
  tests (``engine/forkserver.py``).
- ``cold``: anything else the map can still bound (module level, class bodies, decorators,
  signatures, functions run at import). A fresh pytest runs the tests whose modules import the
  changed file, with the diff on disk.
- ``full``: the whole suite with the diff on disk (``--full-suite``, no map, non-Python or test
  files changed).
- ``none``: no test executes the changed code, so none can fail; nothing is run.

Tests that are not run keep their baseline outcome (PASS_TO_PASS is inferred): they never
executed the changed code, and flaky tests were quarantined by the baseline.
"""

from __future__ import annotations

import ast
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from engine.diffs import apply_patch
from engine.imports import ImportGraph
from engine.models import Baseline
from engine.testmap import IMPORT, TestMap

MODES = ("auto", "cold", "full")  # what a user may ask for; auto = hot where possible


@dataclass(frozen=True)
class Unit:
    """One changed top-level function or method: its qualname and first line (decorators incl.)."""

    qualname: str
    first_line: int  # co_firstlineno of the *original* code object
    index: int  # 0 for the first def with this qualname in the file, 1 for the next, ...
    changed: tuple[str, ...] = ()  # code qualnames whose own code changed (nested included)


@dataclass
class Swap:
    """Everything a forked child needs to install one file's changed functions in place."""

    rel: str
    # What the child compiles: the patched file, or only the top-level statements holding
    # the changed functions (and __future__ imports) at their own line numbers, so line
    # numbers, flags and __class__ cells match while compiling a fraction of the file.
    source: str
    units: list[Unit]
    # Top-level classes whose statement is re-executed and transplanted into the live class,
    # with the attribute names the change removed from the class body.
    classes: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass
class Plan:
    mode: str  # hot | cold | full | none
    reason: str
    tests: list[str] | None = None  # None: the whole suite
    estimate: float = 0.0  # sum of the selected tests' baseline durations (seconds)
    swaps: list[Swap] = field(default_factory=list)
    patched: dict[str, str | None] = field(default_factory=dict)


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
                    elif isinstance(child, ast.excepthandler | ast.match_case):
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
                elif isinstance(child, ast.excepthandler | ast.match_case):
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
    """``text`` with every top-level statement blanked except ``__future__`` imports and the
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
        future = isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        if future or any(start <= n.lineno and (n.end_lineno or 0) <= end for n in targets):
            keep[start - 1:end] = [True] * (end - start + 1)
    return "".join(line if k else "\n" for line, k in zip(lines, keep, strict=True))


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
                elif isinstance(child, ast.excepthandler | ast.match_case):
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


class Planner:
    """Plans candidates against one baseline, its test map and the pinned tree (read-only)."""

    def __init__(self, root: Path, baseline: Baseline, testmap: TestMap | None,
                 files: list[str], source_roots: list[str]) -> None:
        self.root = root
        self.baseline = baseline
        self.testmap = testmap
        self.passing = baseline.passing
        self.graph = ImportGraph(root, files, source_roots)
        self._texts: dict[str, str | None] = {}
        self._summaries: dict[str, _Summary | None] = {}
        self._lock = threading.Lock()  # classify blanks the cached trees in place, briefly
        self.test_files = sorted({n.split("::", 1)[0] for n in baseline.tests})

    def original(self, rel: str) -> str | None:
        if rel not in self._texts:
            path = self.root / rel
            try:
                self._texts[rel] = path.read_text(encoding="utf-8") if path.is_file() else None
            except (OSError, UnicodeDecodeError):
                self._texts[rel] = None
        return self._texts[rel]

    def _estimate(self, tests: list[str]) -> float:
        return round(sum(self.baseline.tests[t].duration for t in tests
                         if t in self.baseline.tests), 6)

    def _is_test_file(self, rel: str) -> bool:
        name = PurePosixPath(rel).name
        return (rel in self.test_files or name == "conftest.py" or name.startswith("test_")
                or name.endswith("_test.py"))

    def plan(self, patch: str, mode: str = "auto") -> Plan:
        """Raises ``engine.diffs.PatchError`` when the diff does not apply."""
        touched = self._touched(patch)
        patched = apply_patch({r: t for r in touched if (t := self.original(r)) is not None},
                              patch)
        if mode == "full" or self.testmap is None:
            why = "--full-suite" if mode == "full" else "no test map for this baseline"
            return self._full(why, patched)
        swaps: list[Swap] = []
        tests: set[str] = set()
        import_level: list[str] = []
        class_level: list[str] = []
        for rel, text in patched.items():
            old = self.original(rel)
            if not rel.endswith(".py") or self._is_test_file(rel) or text is None or old is None:
                return self._full(f"{rel}: not a source module edit", patched)
            with self._lock:
                if rel not in self._summaries:
                    self._summaries[rel] = summarize(old)
                shape = classify(self._summaries[rel], text)
            if not shape.body_only:
                classes = class_changes(old, text) if mode == "auto" else None
                if classes and not any(
                        IMPORT in self.testmap.tests_for_class(rel, name) for name, _ in classes):
                    class_level.append(rel)
                    swaps.append(Swap(rel, text, [], classes))
                else:  # module level, headers, or the class's code runs at import
                    import_level.append(rel)
                continue
            hit: set[str] = set()
            for unit in shape.units:
                for code in unit.changed or (unit.qualname,):
                    found = self.testmap.tests_for(rel, code)
                    # Never traced (or named unlike the tracer saw it): fall back to every
                    # test of the whole function, which is always safe.
                    hit |= found or self.testmap.tests_for(rel, unit.qualname)
            if IMPORT in hit:  # the function runs at import time (a decorator, a registry)
                import_level.append(rel)
                continue
            tests |= hit
            if shape.units:
                swaps.append(Swap(rel, shape.snippet or text, shape.units))
        if import_level or class_level:
            # What runs at import can reach every test whose module imports the file.
            for rel in import_level + class_level:
                files = self.graph.test_files_importing(rel, self.test_files)
                tests |= {n for n in self.passing if n.split("::", 1)[0] in files}
                tests |= self.testmap.tests_touching_file(rel) - {IMPORT}
            selected = sorted(tests & self.passing)
            if not selected:
                return self._full(f"no test module imports {(import_level + class_level)[0]}",
                                  patched)
            if not import_level:
                return Plan("hot", f"class statement re-run in {', '.join(class_level)}",
                            selected, self._estimate(selected), swaps, patched)
            return Plan("cold", f"import-time change in {', '.join(import_level)}", selected,
                        self._estimate(selected), [], patched)
        selected = sorted(tests & self.passing)
        if not selected:
            return Plan("none", "no stable passing test executes the changed code", [], 0.0,
                        [], patched)
        if mode == "cold":
            return Plan("cold", "covering tests in a fresh process", selected,
                        self._estimate(selected), [], patched)
        return Plan("hot", "function bodies only", selected, self._estimate(selected), swaps,
                    patched)

    def _full(self, why: str, patched: dict[str, str | None]) -> Plan:
        return Plan("full", why, None, self.baseline.seconds, [], patched)

    @staticmethod
    def _touched(patch: str) -> list[str]:
        from engine.diffs import parse_patch

        return [p for fp in parse_patch(patch) for p in (fp.old, fp.new) if p]


def plan_units(plan: Plan) -> list[tuple[str, str]]:
    """(file, qualname) of every function the hot path swaps, for reports and tests."""
    return [(s.rel, u.qualname) for s in plan.swaps for u in s.units]
