"""Per-test map of executed code, loaded into the *target* repo's pytest with ``-p bugfoundry_map``.

A ``sys.settrace`` tracer (no third-party dependency, so it works in any environment) records,
for every test, which functions of the repository it called and which of their lines ran.
Code outside the tree (stdlib, site-packages, the venv) is rejected at its call event, so it
runs untraced. Everything executed outside a test (imports, collection, plugin loading) goes
to the pseudo-test ``<import>``: such code runs once per process, which is what tells the
validator that a change there must be tested from a fresh interpreter.

The result is written as JSON to ``$BUGFOUNDRY_MAP`` when the session ends.
"""

import json
import os
import sys
import threading

import pytest

IMPORT = "<import>"

_ROOT = os.path.realpath(os.getcwd()) + os.sep
_SKIP = (os.sep + "site-packages" + os.sep, os.sep + ".venv" + os.sep, os.sep + "venv" + os.sep)
_rel_cache = {}
_contexts = {IMPORT: ({}, {})}  # context -> (funcs {(rel, qualname)}, lines {rel: set})
_current = [_contexts[IMPORT]]


def _rel(filename):
    rel = _rel_cache.get(filename, 0)
    if rel != 0:
        return rel
    rel = None
    if filename and not filename.startswith("<"):
        real = os.path.realpath(filename)
        if real.startswith(_ROOT) and not any(s in real for s in _SKIP):
            rel = real[len(_ROOT):].replace(os.sep, "/")
    _rel_cache[filename] = rel
    return rel


def _tracer(frame, event, arg):
    code = frame.f_code
    rel = _rel(code.co_filename)
    if rel is None:
        return None
    funcs, lines = _current[0]
    qual = getattr(code, "co_qualname", code.co_name)
    funcs[(rel, qual)] = code.co_firstlineno
    seen = lines.get(rel)
    if seen is None:
        seen = lines[rel] = set()
    add = seen.add

    def _local(frame, event, arg):
        if event == "line":
            add(frame.f_lineno)
        return _local

    return _local


def _start():
    sys.settrace(_tracer)
    threading.settrace(_tracer)


class _MapPlugin:
    def __init__(self, path):
        self.path = path

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        _current[0] = _contexts.setdefault(item.nodeid, ({}, {}))
        return None

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
            json.dump({"root": _ROOT, "contexts": out}, fh)
        os.replace(tmp, self.path)


def pytest_configure(config):
    path = os.environ.get("BUGFOUNDRY_MAP")
    if path and not config.pluginmanager.has_plugin("bugfoundry-map"):
        config.pluginmanager.register(_MapPlugin(path), "bugfoundry-map")


# Trace from the moment the plugin is imported (``-p`` plugins load before conftest files and
# the test modules), so import-time execution of the project is attributed to <import>.
if os.environ.get("BUGFOUNDRY_MAP"):
    _start()
