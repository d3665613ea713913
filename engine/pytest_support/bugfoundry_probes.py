"""Probes put into the project's modules as they are imported: the test map's recorder on Python
before 3.12, in place of ``sys.settrace``.

While any trace function is set, 3.11 runs every bytecode of the process on its slow path: a
tracer that returns at once costs 2.2x a plain suite run (tenacity, measured), so no tracer
can keep the map within 2x. A probe is a few bytecodes on the fast path instead:

- every function, lambda, class body and module starts with ``if F not in __bf_F__:
  __bf_f__(F)``; ``__bf_F__`` is emptied whenever the test changes, so a function reports
  once per test that runs it (and its caller, read from the frame, as the tracer did);
- every straight run of statements (a block) starts with ``if B not in __bf_L__:
  __bf_l__(B)``, which reports its lines once for the whole run: lines are only used as
  their union over tests. A block ends after a compound statement or a jump, so the
  statements after an ``if`` that returns are not marked when it returns;
- a generator or coroutine is resumed by whichever test resumes it, so it reports again at
  each block and after every ``yield`` and ``await``.

Comprehensions and generator expressions are not probed (their enclosing function is, and the
validator falls back to it). The code compiled here is never written to ``__pycache__``.
Test modules and conftests get theirs after pytest rewrote their asserts (functions only:
their lines go unused). A project module imported before the hook (pytest imports pluggy
first) gets probed code in its live functions (``adopt``). A module another loader imported
(a custom importer) gets none: ``unprobed`` names it, and the map is redone with the tracer.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import os
import sys
from collections.abc import Callable
from importlib.machinery import SourceFileLoader
from types import CodeType, FunctionType
from typing import Any

F_SET, F_HIT, L_SET, L_HIT = "__bf_F__", "__bf_f__", "__bf_L__", "__bf_l__"

# block id -> (rel, its lines); function id -> the id of its first block (reported with it), -1
BLOCKS: list[tuple[str, list[int]]] = []
ENTRIES: list[int] = []
FUNCS: set[int] = set()  # function ids reported in the current test
SEEN: set[int] = set()  # block ids reported so far
PROBED: set[str] = set()  # real paths of the modules compiled with probes
_rewrite: list[object] = []  # pytest's rewrite module and its own rewrite_asserts, if wrapped

# (``match`` and ``try*`` only where this interpreter has them: the plugin runs in the target's)
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith) + tuple(
    getattr(ast, name) for name in ("Match", "TryStar") if hasattr(ast, name))
_MATCH = getattr(ast, "Match", ())
_JUMPS = (ast.Return, ast.Raise, ast.Break, ast.Continue)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

def _call(name: str, fn: str, ident: int, negate: bool,
          ref: ast.AST) -> tuple[ast.expr, ast.expr, Callable[[Any], Any]]:
    """``ident in name`` (or ``not in``), ``fn(ident)``, and what places a node of ours at
    the start of ``ref``, on one line."""
    line, col = getattr(ref, "lineno", 1), getattr(ref, "col_offset", 0)

    def at(node: Any) -> Any:
        node.lineno = node.end_lineno = line
        node.col_offset = node.end_col_offset = col
        return node

    test = at(ast.Compare(at(ast.Constant(ident)), [ast.NotIn() if negate else ast.In()],
                          [at(ast.Name(name, ast.Load()))]))
    call = at(ast.Call(at(ast.Name(fn, ast.Load())), [at(ast.Constant(ident))], []))
    return test, call, at


def _check(name: str, fn: str, ident: int, ref: ast.AST) -> ast.expr:
    """``ident in name or fn(ident)`` (the value of a probe is never used)."""
    test, call, at = _call(name, fn, ident, False, ref)
    return at(ast.BoolOp(ast.Or(), [test, call]))


def _paired(node: ast.expr, check: ast.expr, probe_first: bool) -> ast.expr:
    """``(check, node)[1]`` or ``(node, check)[0]``: the value of ``node``, with the check
    before or after it. Only our own nodes get positions (``node``'s, which pytest's
    rewritten nodes may lack in part; a whole-tree fix-up would make their ranges invalid)."""
    pair = ast.Tuple([check, node] if probe_first else [node, check], ast.Load())
    index = ast.Constant(1 if probe_first else 0)
    out = ast.Subscript(pair, index, ast.Load())
    for made in (pair, index, out):
        ast.copy_location(made, node)
    return out


def _probe(name: str, fn: str, ident: int, ref: ast.AST) -> ast.stmt:
    """``if ident not in name: fn(ident)``, where ``ref`` starts."""
    test, call, at = _call(name, fn, ident, True, ref)
    return at(ast.If(test, [at(ast.Expr(call))], []))


# co_flags of a code object whose frame can be suspended and resumed: generator, coroutine,
# iterable coroutine, async generator
_SUSPENDS = 0x20 | 0x80 | 0x100 | 0x200


def _shapes(tree: ast.Module) -> tuple[set[tuple[str, int]], list[int]]:
    """From the module compiled as it is: the functions that suspend (by name and first line,
    decorators included) and the first lines of its lambdas. Only statements that hold a
    lambda need their expressions walked (outside suspending functions): most do not, and
    the walk is most of the time probing takes. Raises what ``compile`` raises: a module
    that does not compile gets no probes."""
    code = compile(tree, "<probes>", "exec", dont_inherit=True)
    suspends: set[tuple[str, int]] = set()
    lambdas: list[int] = []
    todo = [code]
    while todo:
        found = todo.pop()
        if found.co_name == "<lambda>":
            lambdas.append(found.co_firstlineno)
        elif found.co_flags & _SUSPENDS:
            suspends.add((found.co_name, found.co_firstlineno))
        todo.extend(c for c in found.co_consts if isinstance(c, CodeType))
    return suspends, sorted(lambdas)


def _declaration(stmt: ast.stmt, in_function: bool) -> bool:
    """A statement that compiles to no code: ``global``, ``nonlocal``, and in a function a
    name's annotation without a value (a module or class stores its annotations; ``self.x:
    int`` evaluates ``self``)."""
    return isinstance(stmt, (ast.Global, ast.Nonlocal)) or (
        in_function and isinstance(stmt, ast.AnnAssign) and stmt.value is None
        and isinstance(stmt.target, ast.Name))


def _docstring(body: list[ast.stmt]) -> bool:
    first = body[0] if body else None
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
        and isinstance(first.value.value, str)


def _head(node: ast.AST, start: int | None = None) -> range:
    """The header lines of a compound statement (or ``except`` clause, ``case``): from its
    first line (``start``: its first decorator) to the last line of its header expressions.
    An inner statement on that last line runs with the header, as the tracer sees it."""
    parts: list[ast.AST | None]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parts = [node.args, node.returns]
    elif isinstance(node, ast.ClassDef):
        parts = [*node.bases, *node.keywords]
    else:
        parts = [getattr(node, name, None) for name in (
            "test", "target", "iter", "subject", "type", "pattern", "guard")]
        parts.extend(getattr(node, "items", ()))
    pattern = getattr(node, "pattern", None)  # a ``case`` has no position of its own
    first = pattern.lineno if pattern is not None else node.lineno  # type: ignore[attr-defined]
    end = first
    for part in parts:
        if part is None:
            continue
        last = getattr(part, "end_lineno", None)
        if last is None:  # ``arguments``, a ``with`` item: no position, their parts have
            last = max([getattr(p, "end_lineno", None) or 0 for p in ast.iter_child_nodes(part)]
                       or [0])
        end = max(end, last)
    return range(first if start is None else start, end + 1)


class _Instrument(ast.NodeTransformer):
    def __init__(self, rel: str, shapes: tuple[set[tuple[str, int]], list[int]],
                 lines: bool) -> None:
        self.rel = rel
        self.lines = lines  # probe blocks too (not in test modules: their lines go unused)
        self.shapes = shapes
        self.scope: list[tuple[int, bool]] = [(-1, False)]  # (function id, resumable)
        self.in_function = [False]  # per statement scope: a function's body (not a class's)

    def _expr(self, node: ast.AST) -> ast.AST:
        """Visit an expression (or a simple statement) only if it can hold what we change: a
        lambda, or a ``yield``/``await`` of a function that suspends."""
        if self.scope[-1][1]:
            return self.visit(node)
        lo, hi = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        if lo is None or hi is None:
            return self.visit(node)
        lambdas = self.shapes[1]
        at = bisect.bisect_left(lambdas, lo)
        return self.visit(node) if at < len(lambdas) and lambdas[at] <= hi else node

    # ------------------------------------------------------------------ statements
    def _new_block(self) -> tuple[int, list[int]]:
        lines: list[int] = []
        BLOCKS.append((self.rel, lines))
        return len(BLOCKS) - 1, lines

    def body(self, stmts: list[ast.stmt], entry: int | None = None, keep: int = 0,
             header: range = range(0), kept_run: bool = False) -> list[ast.stmt]:
        """A statement list with its probes. ``entry``: the function whose entry probe starts
        it (the first block is reported with the function); ``keep`` leading statements stay
        first (a docstring, ``from __future__`` imports), and their lines count as run when
        ``kept_run`` (a module's or class's docstring is stored, a function's is not);
        ``header`` lines (``except ...:``) are reported with the first block."""
        fid, resumable = self.scope[-1]
        out: list[ast.stmt] = list(stmts[:keep])
        first = list(header)
        if kept_run:
            for kept in stmts[:keep]:
                first.extend(range(kept.lineno, (kept.end_lineno or kept.lineno) + 1))
        lines: list[int] | None = None
        for i, stmt in enumerate(stmts[keep:], keep):
            if lines is None:
                bid, lines = self._new_block() if self.lines else (-1, [])
                if i == keep:
                    lines.extend(first)
                if i == keep and entry is not None:
                    ENTRIES[entry] = bid
                    out.append(_probe(F_SET, F_HIT, entry, stmt))
                else:
                    if resumable:
                        out.append(_probe(F_SET, F_HIT, fid, stmt))
                    if bid >= 0:
                        out.append(_probe(L_SET, L_HIT, bid, stmt))
            out.append(self.statement(stmt, lines))
            if isinstance(stmt, _COMPOUND + _JUMPS):
                lines = None
        if entry is not None and len(out) == keep:  # nothing but a docstring (or nothing)
            if first and self.lines:
                bid, lines = self._new_block()
                lines.extend(first)
                ENTRIES[entry] = bid
            ref = stmts[-1] if stmts else ast.Pass(lineno=1, col_offset=0)
            out.append(_probe(F_SET, F_HIT, entry, ref))
        return out

    def statement(self, stmt: ast.stmt, lines: list[int]) -> ast.stmt:
        end = stmt.end_lineno or stmt.lineno
        if isinstance(stmt, _DEFS):
            start = min([stmt.lineno] + [d.lineno for d in stmt.decorator_list])
            lines.extend(_head(stmt, start))
            return self.visit(stmt)
        if not isinstance(stmt, _COMPOUND):
            if not _declaration(stmt, self.in_function[-1]):
                lines.extend(range(stmt.lineno, end + 1))
            return self._expr(stmt)  # type: ignore[return-value]
        if _MATCH and isinstance(stmt, _MATCH):
            lines.extend(_head(stmt))
            stmt.subject = self._expr(stmt.subject)
            for case in stmt.cases:
                if case.guard is not None:
                    case.guard = self._expr(case.guard)
                case.body = self.body(case.body, header=_head(case))
            return stmt
        lines.extend(_head(stmt))
        for name in ("test", "iter", "target"):
            if getattr(stmt, name, None) is not None:
                setattr(stmt, name, self._expr(getattr(stmt, name)))
        for item in getattr(stmt, "items", ()):
            self._expr(item)
        for name in ("body", "orelse", "finalbody"):
            if hasattr(stmt, name):
                setattr(stmt, name, self.body(getattr(stmt, name)))
        for handler in getattr(stmt, "handlers", ()):
            if handler.type is not None:
                handler.type = self._expr(handler.type)
            handler.body = self.body(handler.body, header=_head(handler))
        return stmt

    # ------------------------------------------------------------------ scopes
    def _scope(self, body: list[ast.stmt], resumable: bool, stored_doc: bool) -> list[ast.stmt]:
        fid = len(ENTRIES)
        ENTRIES.append(-1)
        keep = 1 if _docstring(body) else 0
        self.scope.append((fid, resumable))
        self.in_function.append(not stored_doc)
        try:
            return self.body(body, entry=fid, keep=keep, kept_run=stored_doc)
        finally:
            self.scope.pop()
            self.in_function.pop()

    def _outer(self, node: ast.AST, fields: tuple[str, ...]) -> None:
        """Visit what a definition evaluates in the enclosing scope."""
        for name in fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                setattr(node, name, [self._expr(v) for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, name, self._expr(value))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        self._outer(node, ("decorator_list", "args", "returns"))
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        resumable = (node.name, start) in self.shapes[0]
        node.body = self._scope(node.body, resumable, stored_doc=False)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._outer(node, ("decorator_list", "bases", "keywords"))
        node.body = self._scope(node.body, False, stored_doc=True)
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self._outer(node, ("args",))
        fid = len(ENTRIES)
        ENTRIES.append(-1)
        self.scope.append((fid, False))
        try:
            body = self.visit(node.body)
        finally:
            self.scope.pop()
        node.body = _paired(body, _check(F_SET, F_HIT, fid, body), probe_first=True)
        return node

    def _comprehension(self, node: ast.AST) -> ast.AST:
        self.scope.append((-1, False))  # its own scope: nothing to report, nothing resumes
        try:
            return self.generic_visit(node)
        finally:
            self.scope.pop()

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def _resumed(self, node: ast.expr) -> ast.AST:
        """``((yield x), F in __bf_F__ or __bf_f__(F))[0]``: report on resumption."""
        node = self.generic_visit(node)  # type: ignore[assignment]
        fid, resumable = self.scope[-1]
        if fid < 0 or not resumable:
            return node
        return _paired(node, _check(F_SET, F_HIT, fid, node), probe_first=False)

    visit_Yield = visit_YieldFrom = visit_Await = _resumed


def instrument(tree: ast.Module, rel: str, lines: bool = True) -> ast.Module:
    """The module with its probes (ids registered in ``BLOCKS``/``ENTRIES``); without
    ``lines``, functions only."""
    body = tree.body
    keep = 1 if _docstring(body) else 0
    while keep < len(body) and getattr(body[keep], "module", None) == "__future__":
        keep += 1  # (an ``ImportFrom``: only that node type has a ``module``)
    walker = _Instrument(rel, _shapes(tree), lines)  # (before any change to the tree)
    fid = len(ENTRIES)
    ENTRIES.append(-1)
    walker.scope.append((fid, False))
    tree.body = walker.body(body, entry=fid, keep=keep, kept_run=True)
    return tree


_original_get_code = SourceFileLoader.get_code


def install(rel_of: Callable[[str], str | None], enter: Callable[[int], None],
            mark: Callable[[int], None]) -> None:
    """Compile the project's modules with probes from now on. ``enter(fid)`` is called at a
    function's first run in a test (the function's frame is the caller's caller), ``mark(bid)``
    at a block's first run."""
    setattr(builtins, F_SET, FUNCS)
    setattr(builtins, L_SET, SEEN)
    setattr(builtins, F_HIT, enter)
    setattr(builtins, L_HIT, mark)

    def get_code(self: SourceFileLoader, fullname: str) -> CodeType | None:
        path = self.get_filename(fullname)
        rel = rel_of(path) if path.endswith(".py") else None
        if rel is None:
            return _original_get_code(self, fullname)
        try:
            source = self.get_data(path)
            tree = ast.parse(source, path)
        except (OSError, SyntaxError, ValueError):  # the usual loader says it the usual way
            return _original_get_code(self, fullname)
        try:
            code = compile(instrument(tree, rel), path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return _original_get_code(self, fullname)  # left unprobed: ``unprobed`` says so
        PROBED.add(os.path.realpath(path))
        return code

    SourceFileLoader.get_code = get_code  # type: ignore[method-assign,assignment]
    _probe_rewritten(rel_of)


def _probe_rewritten(rel_of: Callable[[str], str | None]) -> None:
    """Probe the test modules and conftest files too, after pytest rewrote their asserts
    (they reach the project through fixtures and helpers, which the cache credits follow).
    Only while no bytecode is written: pytest caches what it compiled from that tree."""
    if not sys.dont_write_bytecode:
        return
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return
    original = getattr(rewrite, "rewrite_asserts", None)
    if original is None or getattr(original, "bugfoundry_probes", False):
        return

    def rewrite_asserts(mod: ast.Module, source: bytes, module_path: object = None,
                        *args: object, **kwargs: object) -> None:
        original(mod, source, module_path, *args, **kwargs)
        rel = rel_of(str(module_path)) if module_path else None
        if rel is not None:
            name = rel.rsplit("/", 1)[-1]
            test = name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")
            try:  # (a project module pytest rewrites gets its lines probed too)
                instrument(mod, rel, lines=not test)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return  # left as pytest made it: ``unprobed`` names it if it is the project's
            PROBED.add(os.path.realpath(str(module_path)))

    rewrite_asserts.bugfoundry_probes = True  # type: ignore[attr-defined]
    rewrite.rewrite_asserts = rewrite_asserts
    _rewrite[:] = [rewrite, original]


def uninstall() -> None:
    SourceFileLoader.get_code = _original_get_code  # type: ignore[method-assign]
    if _rewrite:
        _rewrite[0].rewrite_asserts = _rewrite[1]  # type: ignore[attr-defined]


def _codes(code: CodeType) -> list[CodeType]:
    """``code`` and every code object nested in it."""
    out, todo = [], [code]
    while todo:
        found = todo.pop()
        out.append(found)
        todo.extend(c for c in found.co_consts if isinstance(c, CodeType))
    return out


def _key(rel: str, code: CodeType) -> tuple[str, str, int]:
    return rel, getattr(code, "co_qualname", code.co_name), code.co_firstlineno


def adopt(files: list[str], rel_of: Callable[[str], str | None]) -> list[str]:
    """Give the project's modules imported before the hook their probes after all: each is
    compiled with probes, and every live function whose code came from it takes the probed
    code (``__code__`` swapped in place, as the validator's hot swaps do, so a decorator's or
    a registry's reference sees it too). What ran at their import is not seen, as a tracer
    started now would not see it. Returns the files it could not read or compile."""
    import gc

    probed: dict[tuple[str, str, int], CodeType] = {}
    failed = []
    for file in files:
        rel = rel_of(file)
        if rel is None:
            continue
        try:
            with open(file, "rb") as fh:
                tree = ast.parse(fh.read(), file)
            code = compile(instrument(tree, rel), file, "exec", dont_inherit=True)
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            failed.append(file)
            continue
        probed.update((_key(rel, c), c) for c in _codes(code))
        PROBED.add(os.path.realpath(file))
    for obj in gc.get_objects():
        if type(obj) is not FunctionType:
            continue
        old = obj.__code__
        rel = rel_of(old.co_filename)
        new = probed.get(_key(rel, old)) if rel is not None else None
        if new is not None and new.co_freevars == old.co_freevars:
            obj.__code__ = new
    return failed


def unprobed(rel_of: Callable[[str], str | None], is_test: Callable[[str], bool]) -> list[str]:
    """The project's imported modules (test modules aside) that run without probes."""
    out = set()
    for mod in list(sys.modules.values()):
        file = getattr(mod, "__dict__", {}).get("__file__")
        if not isinstance(file, str) or not file.endswith(".py"):
            continue
        rel = rel_of(file)
        if rel is None or is_test(rel) or os.path.realpath(file) in PROBED:
            continue
        if os.path.isfile(file):  # (not a module inside a zip file: nothing to mutate there)
            out.add(rel)
    return sorted(out)
