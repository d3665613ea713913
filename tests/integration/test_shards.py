"""Shards without a cluster engine: prepare once, validate in two shards (one killed with -9
and rerun), merge twice; the same validated set as one machine's forge of the same command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.store import Store
from tests.integration.conftest import (
    SAMPLE_MAX,
    SDIST,
    assert_same_sdist_verdicts,
    cli_json,
    validated_set,
)

pytestmark = pytest.mark.integration

MAX = str(SAMPLE_MAX)


def _kill_after(argv: list[str], verdicts: int) -> None:
    """Run a shard in its own process and kill -9 it after ``verdicts`` committed verdicts."""
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", *argv], text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stderr is not None
    seen, deadline = 0, time.monotonic() + 300
    while seen < verdicts and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line.startswith("[")  # plain progress: one line per committed verdict
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert seen == verdicts, "the shard never got going"


def test_two_shards_merged_equal_one_machine(tmp_path: Path, sample_bundle: Path,
                                             sample_max_ws: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "sharded"
    assert main(["repo", "add", str(sample_bundle), "--name", "sample",
                 "--workspace", str(ws)]) == 0

    prepared = cli_json(capsys, "forge", "sample", "--max", MAX, "--prepare",
                        "--workspace", str(ws))
    assert isinstance(prepared, dict) and prepared["pending"] == int(MAX)
    with Store.open(ws / "bugfoundry.duckdb", read_only=True) as store:
        assert store.done_candidate_ids("sample") == set()  # nothing validated yet
        baselines = {r[0] for r in store.con.execute(
            "SELECT baseline_id FROM baselines").fetchall()}

    # Shard 0 is killed after two verdicts: what it committed merges, the rest stays pending.
    shard0 = ws / "shards" / "sample.0-of-2.duckdb"
    _kill_after(["forge", "sample", "--shard", "0/2", "--workers", "1",
                 "--workspace", str(ws)], 2)
    partial = cli_json(capsys, "merge", str(shard0), "--workspace", str(ws))
    assert isinstance(partial, dict)
    merged_first = partial["shards"][0]["merged"]
    assert merged_first >= 2
    with Store.open(ws / "bugfoundry.duckdb", read_only=True) as store:
        assert len(store.done_candidate_ids("sample")) == merged_first

    # The rerun on the same file resumes: nothing it committed runs again.
    rerun = cli_json(capsys, "forge", "sample", "--shard", "0/2", "--workers", "1",
                     "--workspace", str(ws))
    assert isinstance(rerun, dict) and rerun["already_done"] >= merged_first
    assert rerun["already_done"] + rerun["validated_now"] == rerun["candidates"]
    other = cli_json(capsys, "forge", "sample", "--shard", "1/2", "--workers", "1",
                     "--workspace", str(ws))
    assert isinstance(other, dict)
    assert rerun["candidates"] + other["candidates"] == int(MAX)
    assert rerun["candidates"] and other["candidates"]  # both shards had work

    merged = cli_json(capsys, "merge", str(ws / "shards"), "--workspace", str(ws))
    again = cli_json(capsys, "merge", str(ws / "shards"), "--workspace", str(ws))
    assert isinstance(merged, dict) and isinstance(again, dict)
    assert sum(s["merged"] for s in merged["shards"]) == int(MAX) - merged_first
    assert [s["merged"] for s in again["shards"]] == [0, 0]  # merging twice changes nothing
    for shard in ws.glob("shards/*.duckdb"):  # no shard ran a baseline of its own
        with Store.open(shard, read_only=True) as store:
            assert {r[0] for r in store.con.execute(
                "SELECT baseline_id FROM baselines").fetchall()} == baselines

    want_reasons, want = validated_set(sample_max_ws / "bugfoundry.duckdb")
    got_reasons, got = validated_set(ws / "bugfoundry.duckdb")
    assert got_reasons == want_reasons and len(got_reasons) == int(MAX)
    assert got == want and want  # same instance ids, FAIL_TO_PASS and PASS_TO_PASS
    with Store.open(ws / "bugfoundry.duckdb", read_only=True) as store:
        assert store.scalar("SELECT count(*) - count(DISTINCT candidate_id) FROM results") == 0
        assert store.summary("sample").pending == 0


def test_shards_on_a_real_sdist(tmp_path: Path, cachetools_ws: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """cachetools (an sdist nobody here wrote): 12 candidates prepared and validated in two
    shards get the verdicts the one-machine forge of 48 gave the same candidates (a --max
    selection is a prefix of a larger one)."""
    ws = tmp_path / "sharded"
    assert main(["repo", "add", SDIST, "--workspace", str(ws)]) == 0
    prepared = cli_json(capsys, "forge", "cachetools", "--max", MAX, "--prepare",
                        "--workspace", str(ws))
    assert isinstance(prepared, dict) and prepared["pending"] == int(MAX)
    for i in range(2):
        cli_json(capsys, "forge", "cachetools", "--shard", f"{i}/2", "--workers", "1",
                 "--workspace", str(ws))
    cli_json(capsys, "merge", str(ws / "shards"), "--workspace", str(ws))
    assert_same_sdist_verdicts(ws, cachetools_ws, int(MAX))
