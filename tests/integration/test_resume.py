"""kill -9 in the middle of a forge, rerun: nothing lost, nothing duplicated, nothing re-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import Store

pytestmark = pytest.mark.integration

MAX = 36


def _forge_cmd(ws: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "engine.cli",
        "forge",
        "sample",
        "--max",
        str(MAX),
        "--workers",
        "2",
        "--workspace",
        str(ws),
    ]


def test_kill_9_then_resume(tmp_path: Path, sample_bundle: Path) -> None:
    ws = tmp_path / "ws"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "repo",
            "add",
            str(sample_bundle),
            "--name",
            "sample",
            "--workspace",
            str(ws),
        ],
        check=True,
    )
    proc = subprocess.Popen(
        _forge_cmd(ws),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    verdicts = 0
    deadline = time.monotonic() + 600
    assert proc.stderr is not None
    while verdicts < 8 and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if line.startswith("["):  # plain progress: one line per committed verdict
            verdicts += 1
    assert verdicts == 8, "forge never got going"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)

    with Store.open(ws / "bugfoundry.duckdb") as store:
        before = store.done_candidate_ids("sample")
        kept_before = len(store.list_instances("sample"))
    assert 8 <= len(before) < MAX

    done = subprocess.run([*_forge_cmd(ws), "--json"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["candidates"] == MAX
    assert summary["already_done"] == len(before)  # finished candidates were not re-run
    assert summary["validated_now"] == MAX - len(before)

    with Store.open(ws / "bugfoundry.duckdb") as store:
        rows = store.con.execute(
            "SELECT count(*), count(DISTINCT candidate_id) FROM results"
        ).fetchone()
        inst = store.con.execute(
            "SELECT count(*), count(DISTINCT instance_id) FROM instances"
        ).fetchone()
        kept = store.con.execute("SELECT count(*) FROM results WHERE kept").fetchone()[0]
        assert before <= store.done_candidate_ids("sample")
    assert rows == (MAX, MAX)  # nothing lost, nothing duplicated
    assert inst[0] == inst[1] == kept >= kept_before
