"""Run a repo's pytest suite on one tree and read per-test outcomes.

Outcomes come from our own plugin (``engine/pytest_support/bugfoundry_report.py``), not from
parsing the verbose log: the log misses subtest failures and setup errors (SWE-smith's
pitfalls), while plugin hooks see every report.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.models import (
    ERROR,
    FAILED,
    MISSING,
    PASSED,
    SKIPPED,
    XFAILED,
    Recipe,
    TestOutcome,
    TestRun,
)

if TYPE_CHECKING:
    from engine.environments.base import Environment

PLUGIN_DIR = Path(__file__).parent / "pytest_support"
PLUGIN_NAME = "bugfoundry_report"

# Arguments every run gets: no cache writes into the tree, no random order, plain output.
BASE_ARGS = ["-p", PLUGIN_NAME, "-p", "no:cacheprovider", "-p", "no:randomly", "--color=no",
             "-q", "-rN"]


def parse_report(lines: Iterable[str]) -> tuple[dict[str, TestOutcome], list[str], list[str], bool]:
    """Fold the plugin's JSON lines into (outcomes, collected ids, collection errors, finished)."""
    phases: dict[str, dict[str, str]] = {}
    durations: dict[str, float] = {}
    messages: dict[str, str] = {}
    xfail: set[str] = set()
    sub_failed: set[str] = set()
    collected: list[str] = []
    collect_errors: list[str] = []
    finished = False
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
            collected = list(rec.get("nodeids", []))
        elif event == "collect_error":
            collect_errors.append(f"{rec.get('nodeid') or '<session>'}: "
                                  f"{last_line(rec.get('message', ''))}")
            messages.setdefault("::collect::" + (rec.get("nodeid") or ""), rec.get("message", ""))
        elif event == "finished":
            finished = True
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
            if rec.get("xfail"):
                xfail.add(nid)
            if outcome == "failed" and rec.get("message"):
                messages[nid] = (messages.get(nid, "") + "\n" + rec["message"]).strip()
    outcomes: dict[str, TestOutcome] = {}
    for nid, seen in phases.items():
        outcomes[nid] = TestOutcome(nid, _fold(seen, nid in xfail, nid in sub_failed),
                                    round(durations.get(nid, 0.0), 6), messages.get(nid, ""))
    for nid in collected:
        if nid not in outcomes:
            outcomes[nid] = TestOutcome(nid, MISSING, 0.0, "test was collected but never reported")
    return outcomes, collected, collect_errors, finished


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
) -> TestRun:
    """Run pytest in ``tree`` with the environment's interpreter; never raises on test failure.

    ``nodeids`` None runs the recipe's test paths (the whole suite). Bytecode writing is off so
    a tree reset between candidates can never leave a stale ``.pyc`` behind.
    """
    fd, report_path = tempfile.mkstemp(prefix="bf-report-", suffix=".jsonl",
                                      dir=env.scratch_dir)
    os.close(fd)
    try:
        # The environment adds the recipe's env and the tree's source roots itself.
        run_env = {
            "BUGFOUNDRY_REPORT": report_path,
            "PYTHONPATH": str(PLUGIN_DIR),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "PY_COLORS": "0",
            **(extra_env or {}),
        }
        args = ["python", "-m", "pytest", *BASE_ARGS, f"--tb={tb}", *recipe.pytest_args,
                *extra_args]
        selectfile = None
        if nodeids is None:
            args += list(recipe.test_paths)
        elif len(nodeids) > 200:
            # Keep argv short: name the test files and let our plugin deselect the rest
            # (pytest's own @argsfile needs pytest >= 8.2; repos pin older ones).
            fd2, selectfile = tempfile.mkstemp(prefix="bf-select-", suffix=".txt",
                                              dir=env.scratch_dir)
            with os.fdopen(fd2, "w") as fh:
                fh.write("\n".join(nodeids))
            run_env["BUGFOUNDRY_SELECT"] = selectfile
            args += sorted({n.split("::", 1)[0] for n in nodeids})
        else:
            args += list(nodeids)
        if runner is not None:  # a warm server: same session, forked from pre-imported pytest
            request_env = {k: v for k, v in run_env.items() if k.startswith("BUGFOUNDRY_")}
            proc = runner.run(args[3:], env=request_env, timeout=timeout)
        else:
            proc = env.run(args, cwd=tree, env=run_env, timeout=timeout)
        if selectfile:
            os.unlink(selectfile)
        with open(report_path, encoding="utf-8", errors="replace") as fh:
            outcomes, _collected, collect_errors, _finished = parse_report(fh)
        tail = "\n".join((proc.stdout + "\n" + proc.stderr).strip().splitlines()[-25:])
        if nodeids is not None:
            for nid in nodeids:  # selected tests that never ran (collection broke, kill, ...)
                outcomes.setdefault(nid, TestOutcome(nid, MISSING, 0.0, _missing_reason(
                    nid, collect_errors, proc.timed_out)))
        return TestRun(outcomes, proc.returncode, proc.duration, proc.timed_out,
                       collect_errors, tail)
    finally:
        os.unlink(report_path)


def _missing_reason(nodeid: str, collect_errors: list[str], timed_out: bool) -> str:
    if timed_out:
        return "the test run was killed by the timeout before this test finished"
    module = nodeid.split("::", 1)[0]
    for err in collect_errors:
        if err.startswith(module) or err.startswith("<session>"):
            return "collection failed: " + err
    if collect_errors:
        return "collection failed: " + collect_errors[0]
    return "test was not reported (it vanished from the run)"


def failure_text(run: TestRun, nodeid: str) -> str:
    """The failure output a curator reads for one test (or why it is missing)."""
    o = run.outcomes.get(nodeid)
    if o is None:
        return _missing_reason(nodeid, run.collection_errors, run.timed_out)
    return o.message or f"{o.outcome}"

