"""Per-test map of executed code, loaded into the *target* repo's pytest with ``-p bugfoundry_map``.

A ``sys.settrace`` tracer (no third-party dependency, so it works in any environment) records,
for every test, which functions of the repository it called and which of their lines ran.
Code outside the tree (stdlib, site-packages, the venv) is rejected at its call event, so it
runs untraced. Everything executed outside a test (imports, collection, plugin loading) goes
to the pseudo-test ``<import>``: such code runs once per process, which is what tells the
validator that a change there must be tested from a fresh interpreter.

Functions are recorded per test at every call. Lines are only ever used as their union over
all tests (which code some test executes), so line tracing stops for good for a code object
once every line it can run has been seen, and test modules are not line-traced at all: calls
into the project still reach the tracer, and a suite whose tests loop over the same code runs
nearly untraced after the first pass. A test's own line set therefore holds only the lines
first seen while it ran; the union is exact.

The result is written as JSON to ``$BUGFOUNDRY_MAP`` when the session ends.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import pytest

IMPORT = "<import>"

_ROOT = os.path.realpath(os.getcwd()) + os.sep
# Inside the tree, these directories hold installed or generated code, not the project's.
_SKIP_PARTS = frozenset({"site-packages", "dist-packages", ".venv", "venv", ".tox", ".nox",
                         ".eggs", "node_modules", "__pypackages__"})


def _install_prefixes():
    """The interpreter's own directories (stdlib, site-packages, the venv), unless the tree
    itself lies inside one of them: whatever the workspace is called, its files are the
    project's (a path that merely contains "venv" is not a venv)."""
    import site
    import sysconfig

    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths = sysconfig.get_paths()
    found.update(paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    if hasattr(site, "getsitepackages"):  # absent in some old virtualenvs
        found.update(site.getsitepackages())
    out = []
    for p in found:
        if not p:
            continue
        real = os.path.realpath(p) + os.sep
        if not _ROOT.startswith(real):
            out.append(real)
    return tuple(out)


_PREFIXES = _install_prefixes()
# trace functions found in our place (coverage, debuggers), once each
_displaced: list[object] = []
_rel_cache: dict[str, object] = {}
# context -> (funcs {(rel, qualname)}, lines {rel: set})
_contexts: dict[str, tuple[dict, dict]] = {IMPORT: ({}, {})}
_current = [_contexts[IMPORT]]
_all_lines: dict[str, set[int]] = {}  # rel -> every line seen, whatever the test
# code objects all of whose lines are in _all_lines: no more line tracing
_done: set[object] = set()
_test_files: set[str] = set()  # rel paths of the collected test modules (known after collection)


def _lines_of(code):
    lines = {line for _, _, line in code.co_lines() if line is not None}
    if len(lines) > 1:
        lines.discard(code.co_firstlineno)  # RESUME at the def (or decorator) line: no event
    return frozenset(lines)


def _rel(filename):
    rel = _rel_cache.get(filename, 0)
    if rel != 0:
        return rel
    rel = None
    if filename and not filename.startswith("<"):
        real = os.path.realpath(filename)
        if real.startswith(_ROOT) and not real.startswith(_PREFIXES):
            rel = real[len(_ROOT):].replace(os.sep, "/")
            if _SKIP_PARTS.intersection(rel.split("/")[:-1]):
                rel = None
    _rel_cache[filename] = rel
    return rel


_OUTSIDE = ()
# code object -> ((rel, qualname), first line, rel, lines) or _OUTSIDE
_info: dict[object, object] = {}


def _describe(code):
    rel = _rel(code.co_filename)
    if rel is None:
        return _OUTSIDE
    qual = getattr(code, "co_qualname", code.co_name)
    return ((rel, qual), code.co_firstlineno, rel, _lines_of(code))


def _tracer(frame, event, arg):
    code = frame.f_code
    info = _info.get(code)
    if info is None:
        info = _info[code] = _describe(code)
    if info is _OUTSIDE:
        return None
    key, first, rel, want = info
    funcs, lines = _current[0]
    funcs[key] = first
    if code in _done:
        return None
    if rel in _test_files:
        _done.add(code)
        return None
    every = _all_lines.get(rel)
    if every is None:
        every = _all_lines[rel] = set()
    if want <= every:
        _done.add(code)
        return None
    seen = lines.get(rel)
    if seen is None:
        seen = lines[rel] = set()
    add, add_every = seen.add, every.add

    def _local(frame, event, arg):
        if event == "line":
            line = frame.f_lineno
            add(line)
            add_every(line)
        return _local

    return _local


def _start():
    sys.settrace(_tracer)
    threading.settrace(_tracer)


def _reclaim():
    """Put the tracer back if something took the hook (coverage started by a plugin or a
    ``.pth`` file, a debugger, a test that traces): the map would silently go empty."""
    current = sys.gettrace()
    if current is not _tracer:
        if current is not None:
            who = getattr(type(current), "__module__", "") + "." + type(current).__name__
            if who not in _displaced:
                _displaced.append(who)
        _start()


class _MapPlugin:
    def __init__(self, path):
        self.path = path

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        _reclaim()
        _current[0] = _contexts.setdefault(item.nodeid, ({}, {}))
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectstart(self, collector):
        _reclaim()

    def pytest_collection_finish(self, session):
        for item in session.items:
            if not isinstance(item, pytest.Function):  # doctests live in source modules
                continue
            path = getattr(item, "path", None) or getattr(item, "fspath", None)
            rel = _rel(str(path)) if path is not None else None
            if rel is not None:
                _test_files.add(rel)

    def pytest_runtest_logfinish(self, nodeid, location):
        _current[0] = _contexts[IMPORT]

    def pytest_sessionfinish(self, session, exitstatus):
        sys.settrace(None)
        threading.settrace(None)
        out = {}
        for ctx, (funcs, lines) in _contexts.items():
            out[ctx] = {
                "funcs": [[rel, qual, first] for (rel, qual), first in sorted(funcs.items())],
                "lines": {rel: sorted(v) for rel, v in sorted(lines.items())},
            }
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"root": _ROOT, "contexts": out, "displaced": _displaced}, fh)
        os.replace(tmp, self.path)


def pytest_configure(config):
    path = os.environ.get("BUGFOUNDRY_MAP")
    if path and not config.pluginmanager.has_plugin("bugfoundry-map"):
        config.pluginmanager.register(_MapPlugin(path), "bugfoundry-map")


# Trace from the moment the plugin is imported (``-p`` plugins load before conftest files and
# the test modules), so import-time execution of the project is attributed to <import>.
if os.environ.get("BUGFOUNDRY_MAP"):
    _start()
