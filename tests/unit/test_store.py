"""The store on a real DuckDB file: migrations, append-only results, resume bookkeeping."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import pytest

from engine.errors import StoreError
from engine.models import PASSED, Baseline, BaselineTest, Candidate, Recipe, RepoRecord, Verdict
from engine.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    DatabaseLocked,
    Store,
    count_changed_lines,
    instance_id_for,
)

PATCH = (
    "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n"
    " def f(a, b):\n-    return a + b\n+    return a - b\n"
)


def _cand(patch: str = PATCH, modifier: str = "flip_operators") -> Candidate:
    return Candidate("demo", "procedural", modifier, patch, "m.py", "f", (2,), 7, {"k": 1})


def _baseline() -> Baseline:
    tests = {
        "t.py::a": BaselineTest("t.py::a", PASSED, 0.01, False, (PASSED, PASSED)),
        "t.py::b": BaselineTest("t.py::b", PASSED, 0.02, True, (PASSED, "failed")),
    }
    return Baseline("b1", "demo", "0123456789abcdef", 2, tests, 0.5)


def test_migrates_and_reopens(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    with Store.open(db) as s:
        assert s.schema_version() == SCHEMA_VERSION
    with Store.open(db) as s:  # second open applies nothing twice
        rows = s.con.execute("SELECT count(*) FROM meta WHERE key='schema_version'").fetchone()
        assert rows[0] == len(MIGRATIONS)  # one row per migration applied


def test_repo_env_baseline_roundtrip(tmp_path: Path) -> None:
    with Store.open(tmp_path / "x.duckdb") as s:
        s.add_repo(RepoRecord("demo", "/src", "path", "abc", "/ws/repos/demo"))
        assert s.get_repo("demo").commit == "abc"
        recipe = Recipe(steps=[["-e", ".[test]"]], notes=["n"])
        s.save_environment("demo", "venv", recipe, "/ws/envs/demo", 1.5)
        env = s.get_environment("demo")
        assert env.recipe == recipe and env.recipe_hash == recipe.hash
        s.save_baseline(_baseline(), recipe.hash)
        b = s.latest_baseline("demo", "0123456789abcdef")
        assert b is not None and b.passing == {"t.py::a"} and b.flaky == {"t.py::b"}
        assert s.latest_baseline("demo", "other") is None
        # Baselines are per backend: a docker run is never graded on a venv baseline.
        assert s.latest_baseline("demo", "0123456789abcdef", backend="venv") is not None
        assert s.latest_baseline("demo", "0123456789abcdef", backend="docker") is None
        s.save_baseline(_baseline(), recipe.hash, backend="docker")
        assert s.latest_baseline("demo", "0123456789abcdef", backend="docker") is not None


def test_candidates_dedup_and_pending(tmp_path: Path) -> None:
    with Store.open(tmp_path / "x.duckdb") as s:
        run = s.start_run("demo", ["procedural"], 0, None, 2, {})
        other = PATCH.replace("a - b", "a * b")
        assert s.add_candidates(run, [_cand(), _cand(), _cand(other, "op_change")]) == 2
        assert s.add_candidates(run, [_cand()]) == 0  # identical diff collapses
        assert len(s.pending_candidates("demo")) == 2
        c = _cand()
        v = Verdict(
            c.candidate_id,
            True,
            "kept",
            fail_to_pass=["t.py::a"],
            pass_to_pass=[],
            tests_run=["t.py::a"],
            failures={"t.py::a": "AssertionError"},
        )
        iid = s.record_result(c, v, _baseline())
        assert iid == instance_id_for(c, "0123456789abcdef")
        assert iid.startswith("demo.01234567.procedural_flip_operators__")
        assert s.record_result(c, v, _baseline()) is None  # never written twice
        assert [p.candidate_id for p in s.pending_candidates("demo")] == [
            _cand(other, "op_change").candidate_id
        ]
        rec = s.get_instance(iid)
        assert rec.fail_to_pass == ["t.py::a"] and rec.failures["t.py::a"]
        assert rec.lines_changed == 2 and rec.files_changed == 1
        summ = s.summary("demo")
        assert (summ.candidates, summ.validated, summ.pending) == (2, 1, 1)


def test_count_changed_lines() -> None:
    assert count_changed_lines(PATCH) == (2, 1)


def _hold(path: str, ready, release) -> None:  # runs in another process
    s = Store.open(Path(path))
    # Written after the migrations' checkpoint: only in the write-ahead log while held.
    s.add_repo(RepoRecord("held", "src", "git", "c0ffee", "/nowhere"))
    ready.set()
    release.wait(30)
    s.close()


def test_second_writer_gets_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    Store.open(db).close()
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(str(db), ready, release))
    proc.start()
    try:
        assert ready.wait(60)
        with pytest.raises(DatabaseLocked) as err:
            Store.open(db)
        msg = str(err.value)
        assert f"process {proc.pid}" in msg and "--workspace" in msg
        assert len(msg.splitlines()) <= 2
        assert err.value.pid == proc.pid and err.value.holder == f"process {proc.pid}"
        assert err.value.command and "python" in err.value.command
        assert isinstance(err.value, StoreError) and err.value.__cause__ is None
        # A snapshot copies the file and its write-ahead log: the held row is in it.
        assert db.with_name(db.name + ".wal").exists()
        snap = Store.snapshot(db)
        try:
            assert snap.path.parent != tmp_path and snap.path.name == db.name
            assert [r.name for r in snap.list_repos()] == ["held"]
        finally:
            snap.close()
            shutil.rmtree(snap.path.parent)
    finally:
        release.set()
        proc.join(30)


def test_corrupt_file_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as err:
        Store.open(db)
    first, advice = str(err.value).splitlines()
    assert str(db) in first and "is damaged" in first
    assert advice.startswith("Run: bugfoundry doctor --workspace")
