"""A tiny pytest plugin, loaded into the *target* repo's environment with ``-p bugfoundry_report``.

It depends on nothing but pytest, because it runs inside the repo's own interpreter. It writes
one JSON line per event to ``$BUGFOUNDRY_REPORT`` as the run goes, so a run killed by a timeout
still leaves every result it reached; with ``$BUGFOUNDRY_LIMITS`` a watcher
(``bugfoundry_watch``) kills the run when one test runs far past its own baseline time.
Subtest reports (pytest >= 9 and pytest-subtests) arrive as extra call-phase reports for the
same node id, so a failing subtest marks its test failed. Each test's start is written too:
when the process dies, the test that was running is known.

Two switches serve the confirming runs that decide whether a bug is kept:
``$BUGFOUNDRY_TRACK_CHANCE`` reports the tests that consumed unseeded randomness (the global
``random`` state moved, a ``random.Random()`` seeded from the OS, a Hypothesis test), and
``$BUGFOUNDRY_REPEAT=N`` runs every selected test up to N times with fresh randomness (and an
empty Hypothesis database) and reports it passed if any repetition passed (the first stops it).
"""

import contextlib
import json
import os
import re
import shutil
import sys
import time
import zlib

import pytest
from bugfoundry_tracebacks import memoize_statement_ranges


def _exception_only(excinfo, style=None):
    """What a failure report holds under ``--tb=no``: the exception line, nothing more."""
    return excinfo.exconly()


def _crash_only(excinfo, style=None):
    """The end of a short traceback, made without pytest's rendering: the innermost frame's
    place and line (frames pytest hides, ``__tracebackhide__`` and unittest's, skipped),
    then the exception (``E`` lines). What the engine keeps of a failure
    past the first ``$BUGFOUNDRY_FULL_REPORTS`` anyway (``grading.failure_texts``)."""
    import linecache

    tb = last = excinfo.tb
    while tb is not None:  # the innermost frame pytest would show (not a hidden helper's)
        frame = tb.tb_frame
        if not (frame.f_globals.get("__unittest") or frame.f_globals.get("__tracebackhide__")
                or frame.f_locals.get("__tracebackhide__")):
            last = tb
        tb = tb.tb_next
    tb = last
    code = tb.tb_frame.f_code
    path = code.co_filename
    with contextlib.suppress(ValueError):  # another drive (Windows)
        rel = os.path.relpath(path)
        path = path if rel.startswith("..") else rel
    line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
    lines = [f"{path}:{tb.tb_lineno}: in {code.co_name}", f"    {line}"]
    lines += [f"E   {text}" for text in excinfo.exconly().splitlines() or [""]]
    return "\n".join(lines)


class _Reporter:
    def __init__(self, path):
        self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        full = os.environ.get("BUGFOUNDRY_FULL_REPORTS", "")
        self._full = int(full) if full.isdigit() else None
        self._failed = set()

    def _write(self, record):
        self._file.write(json.dumps(record) + "\n")

    def pytest_collectreport(self, report):
        if report.failed:
            text = str(report.longrepr) if report.longrepr is not None else ""
            self._write({"event": "collect_error", "nodeid": report.nodeid,
                         "message": text[-6000:]})

    def pytest_runtest_logstart(self, nodeid, location):
        self._write({"event": "start", "nodeid": nodeid, "at": time.time(),
                     "cpu": time.process_time()})

    def pytest_collection_finish(self, session):
        record = {"event": "collected", "nodeids": [item.nodeid for item in session.items]}
        if os.environ.get("BUGFOUNDRY_FINGERPRINT"):
            record["fingerprints"] = _fingerprints(session.items)
        self._write(record)

    def pytest_runtest_protocol(self, item, nextitem):
        """Under ``--tb=no`` pytest still renders a long traceback for every failure (reading
        and parsing the source of each frame) and then prints none of it; on a validation run
        that rendering costs more than the tests. Only the exception line is kept instead.
        With ``$BUGFOUNDRY_FULL_REPORTS=N`` the first N failing tests get pytest's report and
        later ones ``_crash_only`` (a bug that fails a thousand tests spent most of its
        confirming run rendering tracebacks nobody reads whole)."""
        if item.config.option.tbstyle == "no":
            item.repr_failure = _exception_only
        elif self._full is not None and len(self._failed) >= self._full:
            item.repr_failure = _crash_only
        elif "repr_failure" in vars(item):
            del item.repr_failure

    def pytest_runtest_logreport(self, report):
        record = {
            "event": "test",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "duration": report.duration,
            "at": time.time(),  # the phase's end: the hang watch times the next one from here
            "cpu": time.process_time(),  # (and its CPU budget)
        }
        if hasattr(report, "wasxfail"):
            record["xfail"] = True
        if report.failed:
            self._failed.add(report.nodeid)
            try:
                text = report.longreprtext
            except Exception:  # pragma: no cover - exotic report objects
                text = str(report.longrepr)
            record["message"] = text[-4000:]
        self._write(record)

    def pytest_sessionfinish(self, session, exitstatus):
        self._write({"event": "finished", "exitstatus": int(exitstatus)})
        self._file.close()


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")


def _fingerprints(items):
    """What each parametrized test receives, as a short hash of its parameters' reprs
    (memory addresses blanked). The same id with another fingerprint in another run is
    another test: ids by position over a set, for instance, follow the hash seed."""
    out = {}
    for item in items:
        spec = getattr(item, "callspec", None)
        if spec is None:
            continue
        try:
            text = repr(sorted((k, _short_repr(v)) for k, v in spec.params.items()))
        except Exception:  # noqa: BLE001 - a repr that raises: no fingerprint
            continue
        out[item.nodeid] = format(zlib.crc32(_ADDRESS.sub("0x?", text).encode()), "08x")
    return out


def _short_repr(value):
    text = repr(value)
    return text if len(text) <= 2000 else text[:1000] + text[-1000:]


class _ChanceWatch:
    """Which tests consume randomness nobody seeded (``$BUGFOUNDRY_TRACK_CHANCE``)."""

    def __init__(self):
        import random

        self.random = random
        self.unseeded = False
        original = random.Random.seed
        watch = self

        def seed(rng, a=None, *args, **kwargs):
            if a is None:
                frame = sys._getframe(1)
                if frame is not None and frame.f_code.co_name == "__init__":
                    frame = frame.f_back
                module = frame.f_globals.get("__name__", "") if frame is not None else ""
                if module not in ("random", "tempfile"):  # tempfile's names are not chance
                    watch.unseeded = True
            return original(rng, a, *args, **kwargs)

        random.Random.seed = seed

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        before = self.random.getstate()
        self.unseeded = False
        yield
        why = []
        if self.random.getstate() != before:
            why.append("global random state")
        if self.unseeded:
            why.append("unseeded random.Random")
        obj = getattr(item, "obj", None)
        if getattr(obj, "is_hypothesis_test", False) or hasattr(obj, "hypothesis"):
            why.append("hypothesis")
        reporter = item.config.pluginmanager.get_plugin("bugfoundry-reporter")
        if why and reporter is not None:
            reporter._write({"event": "chance", "nodeid": item.nodeid, "why": why})


def _repeats():
    try:
        return int(os.environ.get("BUGFOUNDRY_REPEAT", "0") or 0)
    except ValueError:
        return 0


def _fresh_chance():
    """Before a repetition: new OS randomness for ``random``, an empty Hypothesis database."""
    import random

    random.seed()
    where = os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
    if where:
        shutil.rmtree(os.path.join(where, "examples"), ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """``$BUGFOUNDRY_REPEAT=N``: run the test N times, or until one repetition passes; log
    that passing one if any (so it is not taken for a reliable failure), else the first."""
    n = _repeats()
    if n <= 1:
        return None
    from _pytest.runner import runtestprotocol

    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    shown, failed, runs = None, 0, 0
    for _ in range(n):
        runs += 1
        _fresh_chance()
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        bad = any(r.failed for r in reports)
        failed += int(bad)
        if shown is None or (not bad and shown[0]):
            shown = (bad, reports)
        if not bad:  # one pass is enough to show the failure is not reliable
            break
    for report in shown[1]:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    reporter = item.config.pluginmanager.get_plugin("bugfoundry-reporter")
    if reporter is not None:
        reporter._write({"event": "repeat", "nodeid": item.nodeid, "runs": runs, "failed": failed})
    return True


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
        limits = os.environ.get("BUGFOUNDRY_LIMITS")
        if limits:  # per-test hang limits (bugfoundry_watch); the hot path starts its own
            import bugfoundry_watch

            bugfoundry_watch.start(path, limits)
        if os.environ.get("BUGFOUNDRY_TRACK_CHANCE") and not config.pluginmanager.has_plugin(
                "bugfoundry-chance"):
            config.pluginmanager.register(_ChanceWatch(), "bugfoundry-chance")
