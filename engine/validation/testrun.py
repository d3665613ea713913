"""Run a repo's pytest suite on one tree and read per-test outcomes.

Outcomes come from our own plugin (``engine/pytest_support/bugfoundry_report.py``), not from
parsing the verbose log: the log misses subtest failures and setup errors (SWE-smith's
pitfalls), while plugin hooks see every report.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.environments.base import PLUGIN_DIR
from engine.errors import UsageError
from engine.models import (
    ERROR,
    FAILED,
    MISSING,
    PASSED,
    SKIPPED,
    XFAILED,
    Hang,
    Recipe,
    TestOutcome,
    TestRun,
)

if TYPE_CHECKING:
    from engine.environments.base import Environment

PLUGIN_NAME = "bugfoundry_report"

# Arguments every run gets (plus the environment's ``session_args``): our reporter, plain output.
BASE_ARGS = ["-p", PLUGIN_NAME, "--color=no", "-q", "-rN"]
# Read by pytest_support/bugfoundry_rewritecache.py (the servers' children) and
# bugfoundry_tracebacks.py (every run that renders tracebacks).
REWRITE_CACHE = "BUGFOUNDRY_REWRITE_CACHE"


def rewrite_cache_dir(env: Environment) -> Path:
    """Where pytest runs keep what they compute from a file's text alone (the test modules
    pytest rewrote, for the servers' children; the statement starts of tracebacks), keyed by
    content: the environment's scratch (writable in a sandbox and shared with a container),
    else its root's."""
    return (env.scratch_dir or env.root / "scratch") / "pytest-rewrite"

# exec refuses any one argument over 128 KiB and an argv over about 2 MiB (E2BIG): ids longer
# than this in total go in the select file (semver has a parametrized id of 200,069 chars).
MAX_ID_CHARS = 32_000
_CONFTEST_RE = re.compile(r"ImportError while loading conftest '([^']+)'")


@dataclass
class Report:
    """What the reporter plugin wrote during one run, folded per test."""

    outcomes: dict[str, TestOutcome] = field(default_factory=dict)
    collected: list[str] = field(default_factory=list)
    collect_errors: dict[str, str] = field(default_factory=dict)  # where ("" = session) -> text
    finished: bool = False
    started: list[str] = field(default_factory=list)  # in the order the tests began
    chance: dict[str, list[str]] = field(default_factory=dict)  # test -> what it drew on
    repeats: dict[str, tuple[int, int]] = field(default_factory=dict)  # test -> (runs, failed)
    fingerprints: dict[str, str] = field(default_factory=dict)  # parametrized test -> params
    hung: Hang | None = None  # the hang watch killed the run while this test ran


def parse_report(lines: Iterable[str]) -> Report:
    """Fold the plugin's JSON lines into per-test outcomes (pure; unit-tested)."""
    phases: dict[str, dict[str, str]] = {}
    durations: dict[str, float] = {}
    cpu_from: dict[str, float] = {}  # test -> process CPU at its start
    cpus: dict[str, float] = {}  # test -> process CPU from its start to its last phase's end
    messages: dict[str, str] = {}
    xfail: set[str] = set()
    sub_failed: set[str] = set()
    rep = Report()
    for raw in lines:
        raw = raw.strip()
        if not raw:
            continue
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
        event = rec.get("event")
        if event == "collected":
            rep.collected = list(rec.get("nodeids", []))
            rep.fingerprints = dict(rec.get("fingerprints", {}))
        elif event == "collect_error":
            where = rec.get("nodeid") or ""
            rep.collect_errors[where] = (rep.collect_errors.get(where, "") + "\n"
                                         + rec.get("message", "")).strip()
        elif event == "finished":
            rep.finished = True
        elif event == "hung":
            cpu = rec.get("cpu")
            rep.hung = Hang(str(rec.get("nodeid", "")), float(rec.get("seconds", 0.0)),
                            float(rec.get("baseline", 0.0)), float(rec.get("limit", 0.0)),
                            float(cpu) if cpu is not None else None)
        elif event == "start":
            rep.started.append(rec["nodeid"])
            if rec.get("cpu") is not None:
                cpu_from[rec["nodeid"]] = float(rec["cpu"])
        elif event == "chance":
            rep.chance[rec["nodeid"]] = list(rec.get("why", []))
        elif event == "repeat":
            rep.repeats[rec["nodeid"]] = (int(rec.get("runs", 0)), int(rec.get("failed", 0)))
        elif event == "test":
            nid = rec["nodeid"]
            when = rec["when"]
            seen = phases.setdefault(nid, {})
            outcome = rec["outcome"]
            if when == "call" and "call" in seen:  # a subtest report for the same test
                if outcome == "failed":
                    sub_failed.add(nid)
            else:
                seen[when] = outcome
            durations[nid] = durations.get(nid, 0.0) + float(rec.get("duration") or 0.0)
            if nid in cpu_from and rec.get("cpu") is not None:
                cpus[nid] = max(0.0, float(rec["cpu"]) - cpu_from[nid])
            if rec.get("xfail"):
                xfail.add(nid)
            if outcome == "failed" and rec.get("message"):
                messages[nid] = (messages.get(nid, "") + "\n" + rec["message"]).strip()
    for nid, seen in phases.items():
        rep.outcomes[nid] = TestOutcome(nid, _fold(seen, nid in xfail, nid in sub_failed),
                                        round(durations.get(nid, 0.0), 6), messages.get(nid, ""),
                                        round(cpus.get(nid, 0.0), 6))
    return rep


def covering_error(nodeid: str, collect_errors: dict[str, str]) -> str | None:
    """The collection error that explains why ``nodeid`` never ran, if one does: an error in
    its module (or class), in a package or conftest above it, or of the whole session."""
    for where in collect_errors:
        w = where.rstrip("/")
        if not w or nodeid == w or nodeid.startswith(w + "::"):
            return where
        base = w.rsplit("/", 1)[0] + "/" if "/" in w else ""
        if w.endswith(("/__init__.py", "/conftest.py")) or w in ("__init__.py", "conftest.py"):
            if nodeid.startswith(base):
                return where
        elif not w.endswith(".py") and "::" not in w and nodeid.startswith(w + "/"):
            return where  # a directory or package node
    return None


def settle(rep: Report, wanted: Sequence[str] | None, *, timed_out: bool,
           died: bool, expected: Iterable[str] = ()) -> dict[str, TestOutcome]:
    """Every wanted (or collected, and ``expected``) test's outcome, including those that
    never reported. A whole-suite run names no ids, so a module that fails to import has no
    collected tests: ``expected`` (the baseline's) lets its collection error fail them.

    A test that never reported is *failed* only with evidence: a collection error that covers
    it (status ERROR, with that error's text), or being the test that was running when the
    process died. Otherwise it is MISSING, which grades as neither failing nor passing: an id
    that merely changed (object reprs, set order) is not a bug.
    """
    outcomes = dict(rep.outcomes)
    finished = set(outcomes)
    running = [n for n in rep.started if n not in finished]
    names = list(wanted) if wanted is not None else [*rep.collected, *expected]
    for nid in dict.fromkeys([*names, *running]):
        if nid in outcomes:
            continue
        where = covering_error(nid, rep.collect_errors)
        if where is not None:
            text = f"collection failed ({where or 'session'}):\n{rep.collect_errors[where]}"
            outcomes[nid] = TestOutcome(nid, ERROR, 0.0, text)
        elif nid in running and timed_out:
            outcomes[nid] = TestOutcome(nid, MISSING, 0.0, "the test run was killed by the "
                                        "timeout while this test was running")
        elif nid in running and died:
            outcomes[nid] = TestOutcome(nid, ERROR, 0.0, "the test process died while this "
                                        "test was running")
        elif timed_out:
            outcomes[nid] = TestOutcome(nid, MISSING, 0.0, "the test run was killed by the "
                                        "timeout before this test ran")
        elif died:
            outcomes[nid] = TestOutcome(nid, MISSING, 0.0, "the test process died before this "
                                        "test ran")
        else:
            outcomes[nid] = TestOutcome(nid, MISSING, 0.0, "not reported: its id is not in "
                                        "this run (no collection error explains it)")
    return outcomes


def _fold(seen: dict[str, str], xfail: bool, sub_failed: bool) -> str:
    setup, call, teardown = seen.get("setup"), seen.get("call"), seen.get("teardown")
    if setup == "failed":
        return ERROR
    if setup == "skipped":
        return SKIPPED
    if call == "failed" or sub_failed:
        return FAILED
    if call == "skipped":
        return XFAILED if xfail else SKIPPED
    if teardown == "failed":
        return ERROR
    if call == "passed":
        return PASSED
    return MISSING


def last_line(text: str) -> str:
    """The last non-blank line, trimmed: the gist of an error message."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def run_pytest(
    env: Environment,
    tree: Path,
    recipe: Recipe,
    nodeids: Sequence[str] | None = None,
    *,
    timeout: float | None = None,
    tb: str = "short",
    extra_args: Sequence[str] = (),
    extra_env: dict[str, str] | None = None,
    runner: Any = None,
    hash_seed: int = 0,
    by_file: bool = False,
    limits: Path | None = None,
    expected: Iterable[str] = (),
) -> TestRun:
    """Run pytest in ``tree`` with the environment's interpreter; never raises on test failure.

    Test ids go on the command line (``by_file``, more than 200 of them, or more than
    ``MAX_ID_CHARS`` in all: their files, and our plugin deselects the rest). A module that
    fails to collect makes pytest refuse every id on the command line ("found no
    collectors"), so nothing runs at all; such a run is made again by file, where
    ``--continue-on-collection-errors`` lets the other modules run (poetry-core: 15 tests of
    another module were "not reported" under verify).

    ``nodeids`` None runs the recipe's test paths (the whole suite); ``expected`` then names
    the tests it should report (see ``settle``). Bytecode writing is off so
    a tree reset between candidates can never leave a stale ``.pyc`` behind; Hypothesis gets
    an empty example database of its own, as in a fresh checkout. With ``limits`` (a file
    from ``grading.write_limits``) the run stops as soon as one test is past its own limit:
    ``timed_out`` is set and ``hung`` names the test.
    """
    bad = next((n for n in nodeids or () if n.startswith("-")), None)
    if bad is not None:  # ids come from datasets too: never an option to pytest
        raise UsageError(f"test id {bad[:80]!r} starts with '-': pytest would read it as an "
                         "option.\nFix the dataset's FAIL_TO_PASS / PASS_TO_PASS.")
    scratch = env.scratch_dir
    fd, report_path = tempfile.mkstemp(prefix="bf-report-", suffix=".jsonl", dir=scratch)
    os.close(fd)
    hypothesis_dir = tempfile.mkdtemp(prefix="bf-hypothesis-", dir=scratch)
    selectfile = None
    try:
        # The environment adds the recipe's env and the tree's source roots itself.
        run_env = {
            "BUGFOUNDRY_REPORT": report_path,
            "PYTHONPATH": str(PLUGIN_DIR),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": str(hash_seed),
            "PY_COLORS": "0",
            "HYPOTHESIS_STORAGE_DIRECTORY": hypothesis_dir,
            REWRITE_CACHE: str(rewrite_cache_dir(env)),
            **(extra_env or {}),
        }
        if limits is not None:
            run_env["BUGFOUNDRY_LIMITS"] = str(limits)
        args = ["python", "-m", "pytest", *BASE_ARGS, *env.session_args(tree), f"--tb={tb}",
                *recipe.pytest_args, *extra_args]
        if nodeids is None:
            args += list(recipe.test_paths)
        elif len(nodeids) > 200 or by_file or sum(map(len, nodeids)) > MAX_ID_CHARS:
            # Keep argv short: name the test files (in the order of the ids given, which
            # callers keep in the suite's own order) and let our plugin deselect the rest
            # (pytest's own @argsfile needs pytest >= 8.2; repos pin older ones).
            fd2, selectfile = tempfile.mkstemp(prefix="bf-select-", suffix=".txt", dir=scratch)
            with os.fdopen(fd2, "w") as fh:
                fh.write("\n".join(nodeids))
            run_env["BUGFOUNDRY_SELECT"] = selectfile
            args += list(dict.fromkeys(n.split("::", 1)[0] for n in nodeids))
        else:
            args += list(nodeids)
        if runner is not None:  # a warm server: same session, forked from pre-imported pytest
            request_env = {k: v for k, v in run_env.items()
                           if k.startswith(("BUGFOUNDRY_", "HYPOTHESIS_"))}
            proc = runner.run(args[3:], env=request_env, timeout=timeout)
        else:
            proc = env.run(args, cwd=tree, env=run_env, timeout=timeout)
        with open(report_path, encoding="utf-8", errors="replace") as fh:
            rep = parse_report(fh)
        output = (proc.stdout + "\n" + proc.stderr).strip()
        if (selectfile is None and nodeids and proc.returncode == 4 and not proc.timed_out
                and rep.collect_errors and "found no collectors for" in output):
            return run_pytest(env, tree, recipe, nodeids, timeout=timeout, tb=tb,
                              extra_args=extra_args, extra_env=extra_env, runner=runner,
                              hash_seed=hash_seed, by_file=True, limits=limits,
                              expected=expected)
        tail = "\n".join(output.splitlines()[-25:])
        _conftest_error(rep, proc.returncode, output, tree)
        timed_out = proc.timed_out or rep.hung is not None
        died = not rep.finished and not timed_out
        outcomes = settle(rep, nodeids, timed_out=timed_out, died=died, expected=expected)
        errors = [f"{w or '<session>'}: {last_line(t)}" for w, t in rep.collect_errors.items()]
        return TestRun(outcomes, proc.returncode, proc.duration, timed_out, errors, tail,
                       collect_messages=dict(rep.collect_errors), collected=rep.collected,
                       finished=rep.finished, chance=rep.chance, repeats=rep.repeats,
                       fingerprints=rep.fingerprints, hung=rep.hung)
    finally:
        for path in (report_path, selectfile):
            if path:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        shutil.rmtree(hypothesis_dir, ignore_errors=True)


def _conftest_error(rep: Report, exit_code: int, output: str, tree: Path) -> None:
    """A conftest that fails to import stops pytest before collection (usage error, exit 4),
    so no reporter ever ran: record it as the collection error of the conftest's directory."""
    if rep.collected or rep.outcomes or exit_code != 4:
        return
    m = _CONFTEST_RE.search(output)
    if not m:
        return
    path = m.group(1)
    with contextlib.suppress(ValueError):
        path = Path(path).resolve().relative_to(Path(tree).resolve()).as_posix()
    rep.collect_errors[path] = output[-6000:]


def failure_text(run: TestRun, nodeid: str) -> str:
    """The failure output a curator reads for one test (or why it is missing)."""
    o = run.outcomes.get(nodeid)
    if o is None:
        return "not reported in this run"
    return o.message or f"{o.outcome}"
