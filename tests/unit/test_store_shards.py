"""Shard files on real DuckDB files: seeding from a workspace, merging back (idempotent,
partial), and verdicts that arrive together committed in one transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import StoreError
from engine.models import RepoRecord, Verdict
from engine.shards import ShardSpec
from engine.store import Store
from tests.unit.test_store import PATCH, _baseline, _cand

COMMIT = "0123456789abcdef"


def _workspace(path: Path, n: int = 8) -> list[str]:
    """A workspace store like ``forge --prepare`` leaves: repo, baseline, ``n`` candidates."""
    with Store.open(path) as s:
        s.add_repo(RepoRecord("demo", "/src", "path", COMMIT, "/ws/repos/demo"))
        s.save_baseline(_baseline(), "r1")
        run = s.start_run("demo", ["procedural"], 0, n, 1, {})
        cands = [_cand(PATCH.replace("a - b", f"a - b - {i}")) for i in range(n)]
        s.add_candidates(run, cands)
    return [c.candidate_id for c in cands]


def _verdict(cid: str, kept: bool) -> Verdict:
    return Verdict(cid, kept, "kept" if kept else "no_test_failed",
                   fail_to_pass=["t.py::a"] if kept else [], tests_run=["t.py::a"])


def _validate(shard: Path, limit: int | None = None) -> int:
    """Judge a shard file's pending candidates (every other one kept), ``limit`` of them."""
    with Store.open(shard) as s:
        pending = s.pending_candidates("demo")[:limit]
        s.record_results([(c, _verdict(c.candidate_id, i % 2 == 0))
                          for i, c in enumerate(pending)], _baseline())
    return len(pending)


def test_record_results_is_one_batch_and_never_writes_twice(tmp_path: Path) -> None:
    with Store.open(tmp_path / "x.duckdb") as s:
        a, b = _cand(), _cand(PATCH.replace("a - b", "a * b"))
        assert s.record_result(a, _verdict(a.candidate_id, True), _baseline())
        ids = s.record_results([(a, _verdict(a.candidate_id, True)),
                                (b, _verdict(b.candidate_id, True)),
                                (b, _verdict(b.candidate_id, False))], _baseline())
        assert ids[0] is None and ids[1] is not None and ids[2] is None
        assert s.scalar("SELECT count(*) FROM results") == 2
        assert s.scalar("SELECT count(*) FROM instances") == 2


def test_shards_split_merge_idempotently_and_partially(tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    ids = _workspace(ws)
    files = [tmp_path / f"s{i}.duckdb" for i in range(2)]
    seeded = []
    for i, f in enumerate(files):
        with Store.open(f) as s:
            seed = s.seed_shard(ws, "demo", ShardSpec(i, 2), ["procedural"])
            assert seed.repo_found and seed.baselines_copied == 1
            seeded.append(seed.pending)
            assert s.shard_label() == f"{i}/2"
            assert s.latest_baseline("demo", COMMIT) is not None  # shipped, not recomputed
    assert sum(seeded) == len(ids) and all(seeded)  # disjoint, and both have work
    done0 = _validate(files[0], limit=1)  # shard 0 "killed" after one verdict
    _validate(files[1])
    with Store.open(ws) as s:
        first = [s.merge_shard(f) for f in files]
        assert [m.merged for m in first] == [done0, seeded[1]]
        assert len(s.pending_candidates("demo")) == seeded[0] - done0
        again = [s.merge_shard(f) for f in files]
        assert [m.merged for m in again] == [0, 0] and again[1].already == seeded[1]
    with Store.open(files[0]) as s:  # the rerun: seeding again adds nothing, resumes
        assert s.seed_shard(ws, "demo", ShardSpec(0, 2), ["procedural"]).pending == (
            seeded[0] - done0)
    _validate(files[0])
    with Store.open(ws) as s:
        assert s.merge_shard(files[0]).merged == seeded[0] - done0
        assert s.done_candidate_ids("demo") == set(ids)
        assert s.scalar("SELECT count(*) FROM results") == len(ids)
        kept = s.scalar("SELECT count(*) FROM results WHERE kept")
        assert s.scalar("SELECT count(DISTINCT instance_id) FROM instances") == kept > 0


def test_merge_refuses_what_is_no_shard_of_this_workspace(tmp_path: Path) -> None:
    ws, other = tmp_path / "ws.duckdb", tmp_path / "other.duckdb"
    _workspace(ws)
    shard = tmp_path / "s.duckdb"
    with Store.open(shard) as s:
        s.seed_shard(ws, "demo", ShardSpec(0, 1), ["procedural"])
    with Store.open(other) as s:
        with pytest.raises(StoreError, match="does not have"):
            s.merge_shard(shard)
        with pytest.raises(StoreError, match="not a shard file"):
            s.merge_shard(ws)
        s.add_repo(RepoRecord("demo", "/src", "path", "f" * 16, "/ws/repos/demo"))
        with pytest.raises(StoreError, match="pins demo at"):
            s.merge_shard(shard)
