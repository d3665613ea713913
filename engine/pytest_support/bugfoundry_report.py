"""A tiny pytest plugin, loaded into the *target* repo's environment with ``-p bugfoundry_report``.

It depends on nothing but pytest, because it runs inside the repo's own interpreter. It writes
one JSON line per event to ``$BUGFOUNDRY_REPORT`` as the run goes, so a run killed by a timeout
still leaves every result it reached. Subtest reports (pytest >= 9 and pytest-subtests) arrive as
extra call-phase reports for the same node id, so a failing subtest marks its test failed.
"""

import json
import os


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
    path = os.environ.get("BUGFOUNDRY_REPORT")
    if path and not config.pluginmanager.has_plugin("bugfoundry-reporter"):
        if hasattr(config, "workerinput"):  # an xdist worker: the controller reports
            return
        config.pluginmanager.register(_Reporter(path), "bugfoundry-reporter")
