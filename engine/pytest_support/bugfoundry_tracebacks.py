"""Cheaper failure reports: pytest's statement ranges computed once per text, across processes.

To show the statement around each line of a traceback, pytest parses the whole file and walks
its tree, for every frame of every failure, in every process. A confirming run is a fresh
session in a child of a warm server, so each one parsed the large test modules again (on
marshmallow 15% of the confirming runs' CPU, 25 kept candidates). Here the sorted statement
starts of a text (a pure function of the text and this interpreter's ``ast``) are computed
once per process and kept on disk by content hash under ``$BUGFOUNDRY_REWRITE_CACHE``
(the environment's cache, shared by every server, child and fresh run), so another process
reads a short list instead of parsing. Written atomically; a damaged or missing entry is
computed again. ``warm_module_map`` fills ``inspect``'s file -> module map once in a server
before it forks (its first lookup runs ``realpath`` on every loaded module).

Runs inside the target's interpreter; depends on nothing but pytest and the standard library.
"""

import ast
import bisect
import contextlib
import hashlib
import marshal
import os
import sys
import types

from bugfoundry_rewritecache import ENV, store

_SALT = "statement-starts 1 {}.{} ".format(*sys.version_info[:2]).encode()


class Starts:
    """What the ``ast.parse`` seen by pytest's source helpers returns: the statement starts
    of one text. pytest only hands that tree back to ``get_statement_startend2``; anything
    else asked of it is answered by the real tree, parsed then."""

    def __init__(self, lines, text, filename):
        self.lines = lines
        self._text = text
        self._filename = filename

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_text", "_filename", "_tree"):
            raise AttributeError(name)
        tree = self.__dict__.get("_tree")
        if tree is None:
            tree = self.__dict__["_tree"] = ast.parse(self._text, self._filename)
        return getattr(tree, name)


def statement_starts(tree):
    """0-based first lines of every statement and except handler (decorators included; a
    ``finally``/``else`` block starts a line before its first statement), as pytest's
    ``_statement_linenos`` lists them."""
    values = []
    for x in ast.walk(tree):
        if isinstance(x, (ast.stmt, ast.ExceptHandler)):  # noqa: UP038 - any target Python
            if isinstance(x, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):  # noqa: UP038
                values.extend(d.lineno - 1 for d in x.decorator_list)
            values.append(x.lineno - 1)
            for name in ("finalbody", "orelse"):
                val = getattr(x, name, None)
                if val:
                    values.append(val[0].lineno - 1 - 1)
    values.sort()
    return values


def _entry(directory, text):
    digest = hashlib.sha256(_SALT + text.encode("utf-8", "surrogatepass")).hexdigest()
    return os.path.join(directory, "statements", digest[:2], digest)


def _load(path):
    try:
        with open(path, "rb") as fh:
            lines = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return lines if isinstance(lines, list) else None


def memoize_statement_ranges(directory=None):
    """Serve pytest's statement ranges from ``Starts`` (see the module docstring; same
    results, skipped when this pytest's helpers are not the ones expected). ``directory``
    defaults to ``$BUGFOUNDRY_REWRITE_CACHE``; without one the memo is this process's only.
    Returns pytest's source module when installed, else None."""
    try:
        from _pytest._code import source as src
    except ImportError:
        return None
    finder = src if callable(getattr(src, "findsource", None)) else None
    if getattr(src, "_bugfoundry_memo", False):
        return finder
    if (not callable(getattr(src, "get_statement_startend2", None))
            or not callable(getattr(src, "getstatementrange_ast", None)) or src.ast is not ast):
        return None
    directory = directory or os.environ.get(ENV)
    memo = {}  # text -> Starts (the text is the key: the same file in many frames)
    walked = {}  # id(tree) -> (tree, starts) for a real tree handed in from elsewhere

    class _Ast(types.ModuleType):
        def __getattr__(self, name):
            return getattr(ast, name)

        @staticmethod
        def parse(text, filename="<unknown>", mode="exec", **kw):
            if kw or mode != "exec" or not isinstance(text, str):
                return ast.parse(text, filename, mode, **kw)
            found = memo.get(text)
            if found is None:
                path = _entry(directory, text) if directory else None
                lines = _load(path) if path else None
                if lines is None:
                    lines = statement_starts(ast.parse(text, filename, mode))
                    if path:
                        store(path, marshal.dumps(lines))
                found = memo[text] = Starts(lines, text, filename)
            return found

    def get_statement_startend2(lineno, node):
        if isinstance(node, Starts):
            values = node.lines
        else:
            known = walked.get(id(node))
            if known is None or known[0] is not node:
                known = walked[id(node)] = (node, statement_starts(node))
            values = known[1]
        i = bisect.bisect_right(values, lineno)
        if i == 0:
            return 0, None
        return values[i - 1], (values[i] if i < len(values) else None)

    src.ast = _Ast("ast")
    src.get_statement_startend2 = get_statement_startend2
    src._bugfoundry_memo = True
    return finder


def warm_module_map():
    """Fill ``inspect``'s file -> module map for every module loaded so far (a lookup with
    a code object forces the full scan), so forked children do not each redo it."""
    import inspect

    code = warm_module_map.__code__
    with contextlib.suppress(Exception):
        inspect.getmodule(code, code.co_filename)
