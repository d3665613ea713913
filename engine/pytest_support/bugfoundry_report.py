"""A tiny pytest plugin, loaded into the *target* repo's environment with ``-p bugfoundry_report``.

It depends on nothing but pytest, because it runs inside the repo's own interpreter. It writes
one JSON line per event to ``$BUGFOUNDRY_REPORT`` as the run goes, so a run killed by a timeout
still leaves every result it reached. Subtest reports (pytest >= 9 and pytest-subtests) arrive as
extra call-phase reports for the same node id, so a failing subtest marks its test failed.
"""

import json
import os
import types


def memoize_statement_ranges():
    """pytest finds the statement around each traceback line by parsing the whole file and
    walking its tree, for every frame of every failure; a confirm run spends most of its time
    there. Parse each text once and walk each tree once (same results; skipped when this
    pytest's internals differ). Returns pytest's source module when installed."""
    import ast
    import bisect

    try:
        from _pytest._code import source as src
    except ImportError:
        return None
    finder = src if callable(getattr(src, "findsource", None)) else None
    if getattr(src, "_bugfoundry_memo", False):
        return finder
    if not callable(getattr(src, "get_statement_startend2", None)) or src.ast is not ast:
        return None
    parsed = {}
    starts = {}

    class _Ast(types.ModuleType):
        def __getattr__(self, name):
            return getattr(ast, name)

        @staticmethod
        def parse(text, filename="<unknown>", mode="exec", **kw):
            if kw or mode != "exec" or not isinstance(text, str):
                return ast.parse(text, filename, mode, **kw)
            key = (text, filename)
            if key not in parsed:
                parsed[key] = ast.parse(text, filename, mode)
            return parsed[key]

    def get_statement_startend2(lineno, node):
        values = starts.get(id(node))
        if values is None or values[0] is not node:
            found = []
            for x in ast.walk(node):
                if isinstance(x, ast.stmt | ast.ExceptHandler):
                    found.append(x.lineno - 1)
                    for name in ("finalbody", "orelse"):
                        val = getattr(x, name, None)
                        if val:
                            found.append(val[0].lineno - 1 - 1)
            found.sort()
            values = starts[id(node)] = (node, found)
        found = values[1]
        i = bisect.bisect_right(found, lineno)
        return found[i - 1], (found[i] if i < len(found) else None)

    src.ast = _Ast("ast")
    src.get_statement_startend2 = get_statement_startend2
    src._bugfoundry_memo = True
    return finder


def _exception_only(excinfo, style=None):
    """What a failure report holds under ``--tb=no``: the exception line, nothing more."""
    return excinfo.exconly()


class _Reporter:
    def __init__(self, path):
        self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def _write(self, record):
        self._file.write(json.dumps(record) + "\n")

    def pytest_collectreport(self, report):
        if report.failed:
            text = str(report.longrepr) if report.longrepr is not None else ""
            self._write({"event": "collect_error", "nodeid": report.nodeid,
                         "message": text[-3000:]})

    def pytest_collection_finish(self, session):
        self._write({"event": "collected", "nodeids": [item.nodeid for item in session.items]})

    def pytest_runtest_protocol(self, item, nextitem):
        """Under ``--tb=no`` pytest still renders a long traceback for every failure (reading
        and parsing the source of each frame) and then prints none of it; on a validation run
        that rendering costs more than the tests. Only the exception line is kept instead."""
        if item.config.option.tbstyle == "no":
            item.repr_failure = _exception_only
        elif "repr_failure" in vars(item):
            del item.repr_failure

    def pytest_runtest_logreport(self, report):
        record = {
            "event": "test",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "duration": report.duration,
        }
        if hasattr(report, "wasxfail"):
            record["xfail"] = True
        if report.failed:
            try:
                text = report.longreprtext
            except Exception:  # pragma: no cover - exotic report objects
                text = str(report.longrepr)
            record["message"] = text[-4000:]
        self._write(record)

    def pytest_sessionfinish(self, session, exitstatus):
        self._write({"event": "finished", "exitstatus": int(exitstatus)})
        self._file.close()


def pytest_collection_modifyitems(session, config, items):
    """Keep only the node ids listed in ``$BUGFOUNDRY_SELECT`` (long selections)."""
    path = os.environ.get("BUGFOUNDRY_SELECT")
    if not path:
        return
    with open(path, encoding="utf-8") as fh:
        wanted = {line.strip() for line in fh if line.strip()}
    keep = [item for item in items if item.nodeid in wanted]
    dropped = [item for item in items if item.nodeid not in wanted]
    if dropped:
        items[:] = keep
        config.hook.pytest_deselected(items=dropped)


def pytest_configure(config):
    if config.option.tbstyle != "no":
        memoize_statement_ranges()
    path = os.environ.get("BUGFOUNDRY_REPORT")
    if path and not config.pluginmanager.has_plugin("bugfoundry-reporter"):
        if hasattr(config, "workerinput"):  # an xdist worker: the controller reports
            return
        config.pluginmanager.register(_Reporter(path), "bugfoundry-reporter")
