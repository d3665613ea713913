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

Three recorders, one map: ``sys.monitoring`` on 3.12+ (each event reports once per test,
then is disabled); before 3.12, probes compiled into the project's modules as they are imported
(``bugfoundry_probes``: a tracer would run the whole process on the slow path); and the
tracer itself (``BUGFOUNDRY_MAP_TRACER=settrace``, or when a project module imported before
this plugin, as pluggy is by pytest, cannot be given probes). A module the probes missed
(another loader imported it) is named in the output as ``unprobed``, and the baseline redoes
the map with the tracer.

The result is written as JSON to ``$BUGFOUNDRY_MAP`` when the session ends.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import bugfoundry_credit as credit
import bugfoundry_probes as probes
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
# ids of code objects all of whose lines are in _all_lines: no more line tracing
_done: set[int] = set()
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


_OUTSIDE = credit.OUTSIDE
_getframe = sys._getframe  # held: a test may take it away (attrs tests a Python without it)


# id(code) -> ((rel, qualname), first line, rel, lines) or _OUTSIDE. Never keyed by the code
# object itself: equal code objects of two files (two empty ``__init__.py``) would share one
# entry, and hashing a code object hashes its constants at every lookup. ``_kept`` holds the
# code objects seen, so no id is reused while the map runs.
_info: dict[int, object] = {}
_kept: list[object] = []


def _info_of(code):
    info = _info.get(id(code))
    if info is None:
        info = _info[id(code)] = _describe(code)
        _kept.append(code)
    return info


def _known(code):
    """What is known of ``code`` (described on the spot if not yet: sys.monitoring arms a
    code object the first time it runs)."""
    info = _info.get(id(code))
    return _describe(code) if info is None else info


def _describe(code):
    rel = _rel(code.co_filename)
    if rel is None:
        return _OUTSIDE
    qual = getattr(code, "co_qualname", code.co_name)
    return ((rel, qual), code.co_firstlineno, rel, _lines_of(code))


def _tracer(frame, event, arg):
    code = frame.f_code
    info = _info_of(code)
    if info is _OUTSIDE:
        return None
    key, first, rel, want = info
    funcs, lines = _current[0]
    if key not in funcs:
        funcs[key] = first
        credit.called_from(key, frame.f_back, _known)
    if id(code) in _done:
        return None
    if rel in _test_files:
        _done.add(id(code))
        return None
    every = _all_lines.get(rel)
    if every is None:
        every = _all_lines[rel] = set()
    if want <= every:
        _done.add(id(code))
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


# --------------------------------------------------------------- sys.monitoring (3.12+)
# Each event location reports once, then returns DISABLE; ``restart_events`` at every switch
# of test re-arms them, so a function still reports once per test that runs it. Code outside
# the tree costs one callback per test instead of one per call, and a line already seen costs
# nothing until the next test: the tracing run costs little more than a plain one.
_mon = getattr(sys, "monitoring", None)
_tool: list[int] = []  # the monitoring tool id we hold, if any
# id(code) -> (code, its lines not yet seen by any test)
_remaining: dict[int, tuple[object, set[int]]] = {}


def _mon_start(code, offset):
    info = _info.get(id(code))
    if info is None:
        info = _info_of(code)
        if info is not _OUTSIDE and info[2] not in _test_files:
            want = set(info[3]) - _all_lines.get(info[2], set())
            if want:
                _remaining[id(code)] = (code, want)
                _mon.set_local_events(_tool[0], code, _mon.events.LINE)
    if info is not _OUTSIDE:
        funcs = _current[0][0]
        if info[0] not in funcs:
            funcs[info[0]] = info[1]
            frame = _getframe(1)  # the code that started (PY_START fires inside it)
            if frame.f_code is not code:  # reached through _mon_throw
                frame = frame.f_back
            credit.called_from(info[0], frame.f_back if frame is not None else None,
                               _known)
    return _mon.DISABLE


def _mon_throw(code, offset, exc):
    """PY_THROW cannot be disabled: it reports every time (rare: ``gen.throw``)."""
    _mon_start(code, offset)


def _line_sets(rel):
    """The lines of ``rel`` seen in the current context, and in any."""
    here = _current[0][1]
    seen = here.get(rel)
    if seen is None:
        seen = here[rel] = set()
    every = _all_lines.get(rel)
    if every is None:
        every = _all_lines[rel] = set()
    return seen, every


def _mon_line(code, line):
    seen, every = _line_sets(_info[id(code)][2])
    seen.add(line)
    every.add(line)
    got = _remaining.get(id(code))
    if got is not None:
        left = got[1]
        left.discard(line)
        if not left:  # every line seen: no more line events from this code object, ever
            del _remaining[id(code)]
            _mon.set_local_events(_tool[0], code, 0)
    return _mon.DISABLE


def _mon_claim():
    """Take a free monitoring tool id (coverage.py's sysmon core holds COVERAGE_ID, a
    debugger DEBUGGER_ID: both keep working beside us), or None when all are taken."""
    if _mon is None or os.environ.get("BUGFOUNDRY_MAP_TRACER") in ("settrace", "probe"):
        return None
    for tool in (4, 3, 5, 2, 1, 0):
        if _mon.get_tool(tool) is None:
            _mon.use_tool_id(tool, "bugfoundry-map")
            return tool
    return None


def _mon_begin(tool):
    _tool.append(tool)
    ev = _mon.events
    # what settrace reports as "call"
    _mon.register_callback(tool, ev.PY_START, _mon_start)
    _mon.register_callback(tool, ev.PY_RESUME, _mon_start)
    _mon.register_callback(tool, ev.PY_THROW, _mon_throw)
    _mon.register_callback(tool, ev.LINE, _mon_line)
    _mon.set_events(tool, ev.PY_START | ev.PY_RESUME | ev.PY_THROW)


def _switched():
    """A new context (test or ``<import>``): every location reports again, once."""
    if _tool:
        _mon.restart_events()
    elif _probing:
        probes.FUNCS.clear()


def _stop():
    if _probing:
        probes.uninstall()
    elif _tool:
        _mon.set_events(_tool[0], 0)
        for code, _left in _remaining.values():
            _mon.set_local_events(_tool[0], code, 0)
        _mon.free_tool_id(_tool[0])
        _tool.clear()
    else:
        sys.settrace(None)
        threading.settrace(None)


# --------------------------------------------------------------- probes (before 3.12)
_probing: list[bool] = []  # [True] while the probes record


def _probe_enter(fid):
    """A probed function's first run in this test (its frame is our caller)."""
    probes.FUNCS.add(fid)
    frame = _getframe(1)
    info = _info_of(frame.f_code)
    if info is not _OUTSIDE:
        funcs = _current[0][0]
        if info[0] not in funcs:
            funcs[info[0]] = info[1]
            credit.called_from(info[0], frame.f_back, _known)
    bid = probes.ENTRIES[fid]
    if bid >= 0 and bid not in probes.SEEN:
        _probe_mark(bid)


def _probe_mark(bid):
    """A block's first run: its lines are seen."""
    probes.SEEN.add(bid)
    rel, lines = probes.BLOCKS[bid]
    seen, every = _line_sets(rel)
    seen.update(lines)
    every.update(lines)


def _probe_begin():
    """Probe the modules imported from now on. A project module already in (the project is
    a pytest plugin, or pytest's own dependency such as pluggy) has its live functions given
    probed code; if one cannot be, the tracer records instead."""
    if os.environ.get("BUGFOUNDRY_MAP_TRACER") not in (None, "", "probe"):
        return False
    early = [mod.__file__ for mod in list(sys.modules.values())
             if isinstance(getattr(mod, "__file__", None), str) and mod.__file__.endswith(".py")
             and _rel(mod.__file__) is not None]
    probes.install(_rel, _probe_enter, _probe_mark)
    if early and probes.adopt(early, _rel):
        probes.uninstall()
        return False
    _probing.append(True)
    return True


def _is_test_module(rel):
    name = rel.rsplit("/", 1)[-1]
    return (rel in _test_files or name == "conftest.py" or name.startswith("test_")
            or name.endswith("_test.py"))


def _tracer_name():
    return "monitoring" if _tool else "probe" if _probing else "settrace"


# --------------------------------------------------------------- sys.settrace (3.11 and older)
def _start():
    sys.settrace(_tracer)
    threading.settrace(_tracer)


def _reclaim():
    """Put the tracer back if something took the hook (coverage started by a plugin or a
    ``.pth`` file, a debugger, a test that traces): the map would silently go empty."""
    if _tool or _probing:
        return
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
        credit.scan_wrappers(_rel, _describe)  # (not _info_of: on sys.monitoring a code
        credit.test_starts()  # object first met there would never be armed for line events)
        _current[0] = _contexts.setdefault(item.nodeid, ({}, {}))
        _switched()
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
        if _tool:  # test modules are not line-traced once known (as under settrace)
            for key, (code, _left) in list(_remaining.items()):
                if _info[key][2] in _test_files:
                    del _remaining[key]
                    _mon.set_local_events(_tool[0], code, 0)

    def pytest_runtest_logfinish(self, nodeid, location):
        credit.test_ends(_current[0][0])
        _current[0] = _contexts[IMPORT]
        _switched()

    def pytest_sessionfinish(self, session, exitstatus):
        unprobed = probes.unprobed(_rel, _is_test_module) if _probing else []
        _stop()
        cold = os.environ.get("BUGFOUNDRY_MAP_COLD", "1") == "1"
        credited = credit.cold_credit(_contexts, IMPORT) if cold else 0
        out = {}
        for ctx, (funcs, lines) in _contexts.items():
            out[ctx] = {
                "funcs": [[rel, qual, first] for (rel, qual), first in sorted(funcs.items())],
                "lines": {rel: sorted(v) for rel, v in sorted(lines.items())},
            }
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"root": _ROOT, "contexts": out, "displaced": _displaced,
                       "cold_credit": credited, "tracer": _tracer_name(),
                       "unprobed": unprobed}, fh)
        os.replace(tmp, self.path)


def pytest_configure(config):
    path = os.environ.get("BUGFOUNDRY_MAP")
    if path and not config.pluginmanager.has_plugin("bugfoundry-map"):
        config.pluginmanager.register(_MapPlugin(path), "bugfoundry-map")


# Trace from the moment the plugin is imported (``-p`` plugins load before conftest files and
# the test modules), so import-time execution of the project is attributed to <import>.
if os.environ.get("BUGFOUNDRY_MAP"):
    _claimed = _mon_claim()
    if _claimed is not None:
        _mon_begin(_claimed)
    elif not _probe_begin():
        _start()
