"""Shards of a prepared forge: which candidates shard I of N validates, and where it writes.

A forge split across machines (Kubernetes Indexed Jobs, SLURM arrays, Modal) runs
``forge REPO --prepare`` once (environment, baseline, test map and the candidates stored in
the workspace), then ``forge REPO --shard I/N`` on each machine, then ``bugfoundry merge``.
A candidate's shard is a hash of its id, so it never moves: a shard rerun after a kill, or
after other shards were merged, validates the same candidates (minus the judged ones).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UsageError

# Where a batch scheduler says which task this is: (variable, the variable of its first index).
# Kubernetes Indexed Jobs count from 0; a SLURM array may start anywhere (--array=1-8).
INDEX_VARIABLES = (
    ("BUGFOUNDRY_SHARD_INDEX", ""),
    ("JOB_COMPLETION_INDEX", ""),
    ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN"),
)


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` (from 0) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def label(self) -> str:
        """A file-name friendly form: ``2-of-8``."""
        return f"{self.index}-of-{self.count}"

    def holds(self, candidate_id: str) -> bool:
        return shard_of(candidate_id, self.count) == self.index


def shard_of(candidate_id: str, count: int) -> int:
    """The shard of a candidate among ``count``: stable across runs, machines and Pythons
    (a SHA-256 of the id, not ``hash()``, which is salted per process)."""
    digest = hashlib.sha256(candidate_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(text: str, environ: Mapping[str, str] | None = None) -> ShardSpec:
    """``I/N`` (I from 0), or ``auto/N``: I from the scheduler's task index
    (``INDEX_VARIABLES``)."""
    env = os.environ if environ is None else environ
    index_text, sep, count_text = text.partition("/")
    if not sep or not count_text.strip().isdigit() or int(count_text) < 1:
        raise UsageError(f"--shard {text!r} is not I/N: give the shard index from 0 and the "
                         "number of shards, e.g. --shard 0/8 (or --shard auto/8).")
    count = int(count_text)
    if index_text.strip() == "auto":
        index = _scheduler_index(text, env)
    elif index_text.strip().isdigit():
        index = int(index_text)
    else:
        raise UsageError(f"--shard {text!r}: the index must be a number from 0 or 'auto', "
                         "e.g. --shard 0/8.")
    if index >= count:
        raise UsageError(f"--shard {text}: the index must be below {count} (shards count "
                         f"from 0: 0/{count} .. {count - 1}/{count}).")
    return ShardSpec(index, count)


def _scheduler_index(text: str, env: Mapping[str, str]) -> int:
    for name, first in INDEX_VARIABLES:
        raw = env.get(name, "").strip()
        if not raw:
            continue
        base = env.get(first, "0").strip() if first else "0"
        if not raw.isdigit() or not base.isdigit():
            raise UsageError(f"--shard {text}: ${name} is {raw!r}, not a task index.\n"
                             "Give the index yourself: --shard I/N.")
        return int(raw) - int(base)
    names = ", ".join(f"${n}" for n, _ in INDEX_VARIABLES)
    raise UsageError(f"--shard {text}: none of {names} is set, so this is no array task.\n"
                     "Give the index yourself: --shard I/N.")


def default_shard_file(home: Path, repo: str, spec: ShardSpec) -> Path:
    """``<workspace>/shards/<repo>.<I>-of-<N>.duckdb``: one file per shard, so shards on a
    shared volume never write the same file."""
    return home / "shards" / f"{repo}.{spec.label}.duckdb"
