"""Overload: workers capped by the cores, stored timeouts validated again on request."""

from __future__ import annotations

import os
from pathlib import Path

from engine.forge.setup import resolve_workers, usable_cores
from engine.forge.stages import ForgeHooks, ForgeOptions, ForgeRun
from engine.forge.summary import ForgeSummary
from engine.models import Candidate, RepoRecord, Verdict
from engine.store import Store
from engine.validation.validator import RETRIED_ALONE
from tests.unit.test_store import PATCH, _baseline


def test_workers_are_capped_by_the_cores_unless_forced() -> None:
    cores = usable_cores()
    assert cores == len(os.sched_getaffinity(0))
    said: list[str] = []
    assert resolve_workers(None, log=said.append) == cores
    assert resolve_workers(cores, log=said.append) == cores
    assert said == []  # nothing to say when nothing is capped
    assert resolve_workers(1000, log=said.append) == cores
    assert said == [f"--workers 1000: using {cores}, the number of cores; --force-workers "
                    "to insist"]
    assert resolve_workers(1000, force=True, log=said.append) == 1000
    assert len(said) == 1


def _run(store: Store, retry: bool, log: list[str]) -> ForgeRun:
    summary = ForgeSummary("demo", ["procedural"])
    return ForgeRun(None, store, RepoRecord("demo", "/src", "path", "abc", "/r"),  # type: ignore[arg-type]
                    None, None, _baseline(), None, summary, "run1", 1,  # type: ignore[arg-type]
                    options=ForgeOptions(retry_timeouts=retry), hooks=ForgeHooks(log=log.append))


def test_stored_timeouts_are_named_and_forgotten_on_request(tmp_path: Path) -> None:
    cands = [Candidate("demo", "procedural", m, PATCH.replace("a - b", f"a - {i}"), "m.py",
                       "f") for i, m in enumerate(("old", "new", "kept"))]
    with Store.open(tmp_path / "x.duckdb") as s:
        s.add_candidates("run0", cands)
        old, new, kept = (c.candidate_id for c in cands)
        s.record_result(cands[0], Verdict(old, False, "timeout", "killed after 10s"),
                        _baseline())
        s.record_result(cands[1], Verdict(new, False, "timeout", f"killed after 20s; "
                                          f"{RETRIED_ALONE} with 2x the budget"), _baseline())
        s.record_result(cands[2], Verdict(kept, True, "kept", "1 FAIL_TO_PASS",
                                          fail_to_pass=["t.py::a"]), _baseline())
        assert set(s.timeout_details("demo")) == {old, new}
        # A plain resume keeps the verdicts and says which ones older runs never retried.
        log: list[str] = []
        _run(s, False, log)._stored_timeouts(cands)
        assert len(log) == 1 and log[0].startswith("1 candidates were stored as timeout")
        assert "--retry-timeouts" in log[0]
        assert len(s.verdict_reasons("demo")) == 3
        # --retry-timeouts: every stored timeout is pending again; other verdicts stay.
        log.clear()
        run = _run(s, True, log)
        run._stored_timeouts(cands)
        assert run.summary.timeouts_retried == 2
        assert dict(s.verdict_reasons("demo")) == {kept: "kept"}
        assert {c.candidate_id for c in s.pending_candidates("demo")} == {old, new}
        assert s.forget_timeouts("demo", [kept]) == 0  # never a kept verdict
