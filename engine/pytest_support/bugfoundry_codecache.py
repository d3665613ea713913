"""Compiled code of the tree's modules, made once in the fork server for every reload child.

The servers run with ``PYTHONDONTWRITEBYTECODE`` (the tree stays clean), so a reload child
that imports a dropped module again would compile it from source, and a test module would be
parsed and assertion-rewritten by pytest again: on marshmallow that was ~80% of a reload's
CPU (a few large test modules). The server compiles each unchanged module of the tree once,
the way its own loader did (``get_code`` of a source loader; pytest's ``_rewrite_test`` for a
module pytest's assertion rewriter loaded), and the child's import finder serves those code
objects (``Code``). Changed files never come from here (their new source is compiled), and a
file whose text differs from what was compiled is compiled again as usual.
Runs inside the target's interpreter; depends on nothing but pytest.
"""

import contextlib
import importlib.abc
import os
import sys
from pathlib import Path

REWRITER = "AssertionRewritingHook"


class Code(importlib.abc.Loader):
    """Loads a module from code compiled in the server; anything else asked of it (source,
    resources) goes to the loader that found the module."""

    def __init__(self, code, inner):
        self.code = code
        self.inner = inner

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(self.code, module.__dict__)  # noqa: S102 - the module's own code, as imported

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _rewritten(path, config):
    """The code pytest's assertion rewriter makes of ``path`` (None when this pytest has no
    such function or it fails: the child then rewrites as usual)."""
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return None
    fn = getattr(rewrite, "_rewrite_test", None)
    if fn is None:
        return None
    try:
        return fn(Path(path), config)[1]  # (stat or source hash, code) in pytest 6 to 9
    except Exception:  # noqa: BLE001 - a file pytest could not rewrite is left to the child
        return None


def compile_tree(local, config, modules=None):
    """realpath -> (source bytes, code) for each module of the tree (``local``: module name
    -> realpath) loaded from Python source by a source loader or pytest's rewriter."""
    modules = modules if modules is not None else sys.modules
    out = {}
    for name, path in local.items():
        mod = modules.get(name)
        loader = getattr(getattr(mod, "__spec__", None), "loader", None)
        if not path.endswith(".py") or loader is None or path in out:
            continue
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        code = None
        where = getattr(mod, "__file__", None) or path  # the name its code objects carry
        if type(loader).__name__ == REWRITER:
            code = _rewritten(where, config)
        elif isinstance(loader, importlib.abc.SourceLoader):
            with contextlib.suppress(Exception):
                code = loader.source_to_code(data, where)
        if code is not None:
            out[path] = (data, code)
    return out


def fresh(codes, path):
    """The compiled code for ``path`` if the file still holds what was compiled, else None."""
    entry = codes.get(path)
    if entry is None:
        return None
    try:
        with open(path, "rb") as fh:
            same = fh.read() == entry[0]
    except OSError:
        return None
    return entry[1] if same else None


def realpath(spec):
    return os.path.realpath(spec.origin) if getattr(spec, "origin", None) else ""
