"""Timeouts that mean a hang: a candidate that times out is retried alone before it is dropped.

Under load (``--workers 1000`` ran 30 workers on 2 cores) tests slow down until real bugs look
like hangs. Two handmade candidates on the sample workspace, validated on two workers with a
short budget: one hangs in a sleep loop, and one sleeps past the budget only in its first
attempt (a marker file it leaves behind says it already ran: deterministic "slow under load").
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from engine.forge.setup import build_validator, ensure_environment, get_repo
from engine.models import Candidate
from engine.store import Store
from engine.validation.validator import RETRIED_ALONE, RETRY_SCALE
from engine.workspace import Workspace

pytestmark = pytest.mark.integration

REL = "ledgerkit/interest.py"
GUARD = '    if days < 0:\n        raise ValueError("days must not be negative")\n'
BUDGET = 3.0


def _candidate(root: Path, modifier: str, new: str) -> Candidate:
    text = (root / REL).read_text()
    assert GUARD in text
    after = text.replace(GUARD, new, 1)
    diff = "".join(difflib.unified_diff(text.splitlines(True), after.splitlines(True),
                                        f"a/{REL}", f"b/{REL}"))
    return Candidate("sample", "procedural", modifier, f"diff --git a/{REL} b/{REL}\n" + diff,
                     file=REL, entity="simple_interest")


def test_a_timeout_is_retried_alone_before_it_is_dropped(sample_ws: Path,
                                                          tmp_path: Path) -> None:
    ws = Workspace(sample_ws)
    with Store.open(ws.db_path) as store:
        repo = get_repo(store, "sample")
        env, recipe = ensure_environment(ws, store, repo)
        baseline = store.latest_baseline(repo.name, repo.commit)
        assert baseline is not None
        testmap = store.load_test_map(baseline.baseline_id)
    # Forged code writes only in the work tree and the sandbox's scratch (sandbox or not,
    # the scratch directory is in the workspace and outlives one attempt).
    marker = env.sandbox_root / f"first-attempt-ran-{tmp_path.name}"  # type: ignore[attr-defined]
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    root = Path(repo.path)
    hang = _candidate(root, "hang", '    while True:\n        __import__("time").sleep(0.05)\n')
    # A real bug (actual/360) that is slow only the first time it runs.
    slow = _candidate(root, "slow_once", (
        f'    if not __import__("os").path.exists({str(marker)!r}):\n'
        f'        open({str(marker)!r}, "w").close()\n'
        '        __import__("time").sleep(60)\n'
        '    return Money(principal.amount * annual_rate * days / 360, '
        'principal.currency).rounded(rounding)\n'))
    validator = build_validator(ws, repo, env, recipe, baseline, testmap, workers=2,
                                timeout=BUDGET)
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
