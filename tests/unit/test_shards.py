"""Shard specs: I/N parsing, the scheduler's index (auto/N), and a stable, even assignment."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.shards import ShardSpec, default_shard_file, parse_shard, shard_of


def test_explicit_index() -> None:
    assert parse_shard("0/1", {}) == ShardSpec(0, 1)
    assert parse_shard("3/8", {}) == ShardSpec(3, 8)
    assert str(ShardSpec(3, 8)) == "3/8" and ShardSpec(3, 8).label == "3-of-8"


@pytest.mark.parametrize("text, said", [
    ("8/8", "below 8"), ("2", "is not I/N"), ("1/0", "is not I/N"), ("-1/4", "number from 0"),
    ("a/4", "number from 0"), ("1/x", "is not I/N"),
])
def test_bad_specs_say_what_to_give(text: str, said: str) -> None:
    with pytest.raises(UsageError, match=said):
        parse_shard(text, {})


def test_auto_reads_the_schedulers_index() -> None:
    assert parse_shard("auto/4", {"JOB_COMPLETION_INDEX": "2"}) == ShardSpec(2, 4)
    # A SLURM array may start at 1 (--array=1-4): the index counts from its first task.
    slurm = {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1"}
    assert parse_shard("auto/4", slurm) == ShardSpec(3, 4)
    assert parse_shard("auto/4", {"SLURM_ARRAY_TASK_ID": "0"}) == ShardSpec(0, 4)
    assert parse_shard("auto/2", {"BUGFOUNDRY_SHARD_INDEX": "1",
                                  "JOB_COMPLETION_INDEX": "0"}) == ShardSpec(1, 2)
    with pytest.raises(UsageError, match="JOB_COMPLETION_INDEX"):
        parse_shard("auto/4", {})
    with pytest.raises(UsageError, match="not a task index"):
        parse_shard("auto/4", {"JOB_COMPLETION_INDEX": "x"})
    with pytest.raises(UsageError, match="below 4"):
        parse_shard("auto/4", {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1"})


def test_assignment_is_stable_disjoint_and_even() -> None:
    ids = [f"sample.{i:016x}" for i in range(4000)]
    specs = [ShardSpec(i, 4) for i in range(4)]
    owners = [[s.index for s in specs if s.holds(cid)] for cid in ids]
    assert all(len(o) == 1 for o in owners)  # every candidate in exactly one shard
    counts = Counter(o[0] for o in owners)
    assert min(counts.values()) > 900  # even within a few percent
    # A fixed digest, not Python's salted hash(): the same on every machine and run.
    assert shard_of("sample.0123456789abcdef", 7) == 4
    assert [shard_of(f"x{i}", 1) for i in range(5)] == [0] * 5


def test_default_file_is_per_repo_and_shard(tmp_path: Path) -> None:
    assert default_shard_file(tmp_path, "sample", ShardSpec(1, 4)) == (
        tmp_path / "shards" / "sample.1-of-4.duckdb")


def test_ray_is_optional(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    """Without the extra, --ray is a two-line error saying what to install."""
    import sys

    from engine.forge.ray_pool import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(UsageError, match=r"pip install 'bugfoundry\[ray\]'"):
        import_ray()
    # The command says so before anything runs, even with nothing left to validate (it
    # used to start no pool, so it never imported Ray and said nothing).
    from engine.cli.main import main

    assert main(["forge", "x", "--ray", "--workspace", str(tmp_path / "ws")]) == 2
    assert "bugfoundry[ray]" in capsys.readouterr().err
