"""Timeouts that mean a hang: one test far past its own time stops the run at once, on every
path; a run past the whole budget is retried alone before it is dropped.

Under load (``--workers 1000`` ran 30 workers on 2 cores) tests slow down until real bugs look
like hangs. Two handmade candidates on the sample workspace, validated on two workers with a
short budget: one hangs in a sleep loop, and one sleeps past the budget only in its first
attempt (a marker file it leaves behind says it already ran: deterministic "slow under load").
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from engine.forge.setup import build_validator
from engine.models import Candidate
from engine.validation.hangs import NOT_RETRIED
from engine.validation.validator import RETRIED_ALONE, RETRY_SCALE

from .conftest import opened_repo

pytestmark = pytest.mark.integration

REL = "ledgerkit/interest.py"
GUARD = '    if days < 0:\n        raise ValueError("days must not be negative")\n'
BUDGET = 3.0
HANG = '    while True:\n        __import__("time").sleep(0.05)\n'
LONG_BUDGET = 60.0  # the whole-run budget of a slow suite; the per-test watch fires far sooner


def _candidate(root: Path, modifier: str, new: str, tail: str = "") -> Candidate:
    text = (root / REL).read_text()
    assert GUARD in text
    after = text.replace(GUARD, new, 1) + tail
    diff = "".join(difflib.unified_diff(text.splitlines(True), after.splitlines(True),
                                        f"a/{REL}", f"b/{REL}"))
    return Candidate("sample", "procedural", modifier, f"diff --git a/{REL} b/{REL}\n" + diff,
                     file=REL, entity="simple_interest")


def test_a_hang_is_caught_per_test_on_every_path(sample_ws: Path) -> None:
    """The sample's tests take milliseconds: a test looping forever is killed a few seconds
    in (5x its time + 2 s), named in the detail, and not retried, on the hot, reload, cold and
    full paths, although each run's budget is a minute."""
    ws, repo, env, recipe, baseline, testmap = opened_repo(sample_ws, "sample")
    root = Path(repo.path)
    hang = _candidate(root, "hang", HANG)
    # A module-level line too: an import-time change, so ``auto`` takes the reload path.
    at_import = _candidate(root, "hang_at_import", HANG, tail="\nIMPORT_TIME_MARK = 1\n")
    seen = {}
    for mode, cand in (("auto", hang), ("auto", at_import), ("cold", hang), ("full", hang)):
        with build_validator(ws, repo, env, recipe, baseline, testmap, mode=mode,
                             timeout=LONG_BUDGET) as validator:
            [(_cand, verdict)] = list(validator.run([cand]))
        seen[verdict.path] = verdict
        assert not verdict.kept and verdict.reason == "timeout", verdict
        assert verdict.hung.startswith("tests/test_interest.py::"), verdict
        assert baseline.tests[verdict.hung].duration < 0.5
        assert verdict.detail.startswith(f"{verdict.hung} ran "), verdict.detail
        assert f"(baseline {baseline.tests[verdict.hung].duration:.2g} s" in verdict.detail
        assert NOT_RETRIED in verdict.detail and RETRIED_ALONE not in verdict.detail
        # Killed ~2 s into the hung test, not after the minute's budget (nor twice it).
        assert verdict.duration < LONG_BUDGET / 4, (mode, verdict.duration)
    assert sorted(seen) == ["cold", "full", "hot", "reload"], sorted(seen)


def test_a_timeout_is_retried_alone_before_it_is_dropped(sample_ws: Path,
                                                          tmp_path: Path) -> None:
    ws, repo, env, recipe, baseline, testmap = opened_repo(sample_ws, "sample")
    # Forged code writes only in the work tree and the sandbox's scratch (sandbox or not,
    # the scratch directory is in the workspace and outlives one attempt).
    marker = env.sandbox_root / f"first-attempt-ran-{tmp_path.name}"  # type: ignore[attr-defined]
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    root = Path(repo.path)
    hang = _candidate(root, "hang", HANG)
    # A real bug (actual/360) that is slow only the first time it runs.
    slow = _candidate(root, "slow_once", (
        f'    if not __import__("os").path.exists({str(marker)!r}):\n'
        f'        open({str(marker)!r}, "w").close()\n'
        '        __import__("time").sleep(60)\n'
        '    return Money(principal.amount * annual_rate * days / 360, '
        'principal.currency).rounded(rounding)\n'))
    validator = build_validator(ws, repo, env, recipe, baseline, testmap, workers=2,
                                timeout=BUDGET)
    validator.config.hang_factor = 0  # the whole-run budget only (the per-test watch: above)
    started: list[str] = []
    with validator:
        verdicts = {c.modifier: v for c, v in validator.run(
            [hang, slow], on_start=lambda c: started.append(c.modifier))}
    assert sorted(started) == ["hang", "slow_once"]  # both ran in the pool first

    assert marker.exists()  # the first attempt of the slow one ran and was killed
    marker.unlink()
    kept = verdicts["slow_once"]
    assert kept.kept and kept.reason == "kept", kept
    assert "tests/test_interest.py::SimpleInterestTests::test_actual_365" in kept.fail_to_pass
    assert f"timed out at first, held when {RETRIED_ALONE}" in kept.detail, kept.detail

    dropped = verdicts["hang"]
    assert not dropped.kept and dropped.reason == "timeout", dropped
    assert RETRIED_ALONE in dropped.detail, dropped.detail
    # Killed twice: after the budget, then alone after RETRY_SCALE times the budget.
    assert f"killed after {BUDGET * RETRY_SCALE:.0f}s" in dropped.detail, dropped.detail
    assert f"was killed after {BUDGET:.0f}s" in dropped.detail, dropped.detail
    assert dropped.duration >= BUDGET * (1 + RETRY_SCALE), dropped.duration
    assert validator.config.scale == 1.0  # the longer budget was for the retry only
