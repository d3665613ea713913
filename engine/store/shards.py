"""Shard files: a store of its own per shard of a prepared forge, and merging them back.

A shard file is an ordinary store (same schema, same migrations): ``seed_shard`` copies into
it, from the workspace database opened read-only, what validation needs (the repo record, its
environment's recipe, the baseline and its test map) and the shard's pending candidates; the
forge then runs on it as on any workspace, committing each verdict as it arrives. So a killed
shard keeps every verdict it committed and a rerun on the same file resumes.

``merge_shard`` folds a shard file into the workspace in one transaction: verdicts whose
candidate has none in the workspace yet, the instances they made, and the run and baseline
rows they name. Rows already there are skipped, so merging twice changes nothing, and a
partial shard merges what it holds (its other candidates stay pending in the workspace).
Every copy goes through ``INSERT ... BY NAME``, so a column added by a later migration lands
in its place whatever order the two files' columns are in.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engine.errors import StoreError
from engine.shards import ShardSpec
from engine.store.base import StoreBase
from engine.store.edge import damaged, snapshot_copy
from engine.store.schema import SCHEMA_VERSION

# Rows a baseline brings along, by table (every table keyed by ``baseline_id``).
BASELINE_TABLES = ("baselines", "baseline_tests", "test_maps", "test_functions", "test_lines")


@dataclass(frozen=True)
class ShardSeed:
    """What seeding a shard file found: ``known`` repos of the workspace when ``repo`` is
    not among them; candidates of this shard still to validate; baselines copied now."""

    repo_found: bool
    known: list[str]
    pending: int = 0
    baselines_copied: int = 0


@dataclass(frozen=True)
class ShardMerge:
    """One shard file merged: verdicts it holds, new ones merged, instances they made."""

    path: str
    repo: str
    shard: str
    verdicts: int
    merged: int
    instances: int

    @property
    def already(self) -> int:
        return self.verdicts - self.merged


def unreadable_shard(path: Path, exc: BaseException) -> StoreError:
    said = (str(exc).splitlines() or [type(exc).__name__])[0]
    return StoreError(f"cannot read the shard file {path} ({said[:160]}).\nName the files "
                      "forge --shard wrote, e.g. WORKSPACE/shards/*.duckdb")


@contextmanager
def attached(con: duckdb.DuckDBPyConnection, path: Path, alias: str,
             unreadable: Callable[[Path, BaseException], StoreError] = damaged
             ) -> Iterator[None]:
    """``path`` attached read-only as ``alias`` for the block. A file a running process holds
    (a shard still validating, a forge on the workspace) is attached through a copy of it
    and its write-ahead log: what it has committed so far. A file that cannot be read is
    ``unreadable(path, error)``."""
    copy: Path | None = None
    try:
        _attach(con, path, alias)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise unreadable(path, exc) from None
        copy = snapshot_copy(path)
        try:
            _attach(con, copy, alias)
        except duckdb.Error as exc2:
            shutil.rmtree(copy.parent, ignore_errors=True)
            raise unreadable(path, exc2) from None
    except duckdb.Error as exc:
        raise unreadable(path, exc) from None
    try:
        yield
    finally:
        with suppress(duckdb.Error):
            con.execute(f"DETACH {alias}")
        if copy is not None:
            shutil.rmtree(copy.parent, ignore_errors=True)


def _attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str) -> None:
    quoted = str(path).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS {alias} (READ_ONLY)")


class ShardMixin(StoreBase):

    # ------------------------------------------------------------------ the shard's side
    def seed_shard(self, workspace_db: Path, repo: str, spec: ShardSpec,
                   strategies: Sequence[str]) -> ShardSeed:
        """Copy from the workspace what shard ``spec`` of ``repo`` needs and has not yet
        (safe to call again on a resumed shard file)."""
        with attached(self.con, workspace_db, "ws"):
            ws_repo = self.con.execute(
                "SELECT commit FROM ws.repos WHERE name = ?", [repo]).fetchone()
            if ws_repo is None:
                known = [r[0] for r in self.con.execute(
                    "SELECT name FROM ws.repos ORDER BY name").fetchall()]
                return ShardSeed(False, known)
            mine = self.con.execute(
                "SELECT commit FROM repos WHERE name = ?", [repo]).fetchone()
            if mine is not None and mine[0] != ws_repo[0]:
                raise StoreError(
                    f"{self.path} is a shard of {repo} at {mine[0][:10]}, but the workspace "
                    f"now pins it at {ws_repo[0][:10]}.\nMerge it (bugfoundry merge "
                    f"{self.path}) and remove it, then run the shard again.")
            pending = [r[0] for r in self.con.execute(
                "SELECT candidate_id FROM ws.candidates c ANTI JOIN ws.results r "
                "USING (candidate_id) WHERE c.repo = ? AND c.strategy IN (SELECT unnest(?)) "
                "AND candidate_id NOT IN (SELECT candidate_id FROM candidates)",
                [repo, list(strategies)]).fetchall()]
            ours = [cid for cid in pending if spec.holds(cid)]
            with self.transaction():
                if mine is None:
                    self.con.execute("INSERT INTO repos BY NAME SELECT * FROM ws.repos "
                                     "WHERE name = ?", [repo])
                    self.con.execute(
                        "INSERT INTO environments BY NAME SELECT * FROM ws.environments "
                        "WHERE repo = ? ORDER BY built_at DESC LIMIT 1", [repo])
                    for key, value in (("shard", str(spec)), ("shard_repo", repo),
                                       ("shard_workspace", str(workspace_db))):
                        self.con.execute("INSERT INTO meta VALUES (?, ?)", [key, value])
                copied = self._copy_baselines(
                    "ws", "repo = ? AND commit = ?", [repo, ws_repo[0]])
                self.con.execute(
                    "INSERT INTO candidates BY NAME SELECT * FROM ws.candidates "
                    "WHERE candidate_id IN (SELECT unnest(?))", [ours])
        left = self.scalar(
            "SELECT count(*) FROM candidates ANTI JOIN results USING (candidate_id) "
            "WHERE repo = ?", [repo])
        return ShardSeed(True, [], int(left), copied)

    def _copy_baselines(self, source: str, where: str, params: list[object]) -> int:
        """Copy the ``source`` database's baselines matching ``where`` that this store lacks,
        with their tests and test maps; returns how many."""
        ids = [r[0] for r in self.con.execute(
            f"SELECT baseline_id FROM {source}.baselines WHERE {where} AND baseline_id NOT IN "
            "(SELECT baseline_id FROM baselines)", params).fetchall()]
        for table in BASELINE_TABLES:
            self.con.execute(
                f"INSERT INTO {table} BY NAME SELECT * FROM {source}.{table} "
                "WHERE baseline_id IN (SELECT unnest(?))", [ids])
        return len(ids)

    def shard_label(self) -> str | None:
        """``I/N`` when this store is a shard file, else None."""
        row = self.con.execute("SELECT max(value) FROM meta WHERE key = 'shard'").fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ the workspace's side
    def merge_shard(self, path: Path) -> ShardMerge:
        """Fold the shard file at ``path`` into this store (idempotent, one transaction)."""
        with attached(self.con, path, "sh", unreadable_shard):
            meta = dict(self.con.execute(
                "SELECT key, max(value) FROM sh.meta WHERE key IN ('shard', 'shard_repo') "
                "GROUP BY key").fetchall())
            if "shard" not in meta:
                raise StoreError(f"{path} is not a shard file (forge REPO --shard I/N writes "
                                 "them).\nName the files the shards wrote, e.g. "
                                 "WORKSPACE/shards/*.duckdb.")
            # One row per migration applied, as text: the highest as a number ('10' > '9').
            version = int(self.scalar("SELECT max(CAST(value AS INTEGER)) FROM sh.meta "
                                      "WHERE key = 'schema_version'") or 0)
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"{path} was written by a bugfoundry with store schema {version}; this "
                    f"one has {SCHEMA_VERSION}.\nMerge it with the bugfoundry that wrote it.")
            repo = meta["shard_repo"]
            self._check_same_repo(path, repo)
            verdicts = int(self.scalar("SELECT count(*) FROM sh.results"))
            with self.transaction():
                self.con.execute(
                    "CREATE OR REPLACE TEMP TABLE merging AS SELECT candidate_id FROM "
                    "sh.results WHERE candidate_id NOT IN (SELECT candidate_id FROM results)")
                self.con.execute(
                    "INSERT INTO runs BY NAME SELECT * FROM sh.runs "
                    "WHERE run_id NOT IN (SELECT run_id FROM runs)")
                self.con.execute(
                    "INSERT INTO candidates BY NAME SELECT * FROM sh.candidates "
                    "WHERE candidate_id NOT IN (SELECT candidate_id FROM candidates)")
                self._copy_baselines(
                    "sh", "baseline_id IN (SELECT baseline_id FROM sh.results)", [])
                merged = self._insert_count(
                    "results", "candidate_id IN (SELECT candidate_id FROM merging)")
                instances = self._insert_count(
                    "instances", "candidate_id IN (SELECT candidate_id FROM merging) AND "
                    "instance_id NOT IN (SELECT instance_id FROM instances)")
                self.con.execute("DROP TABLE merging")
        return ShardMerge(str(path), repo, meta["shard"], verdicts, merged, instances)

    def _insert_count(self, table: str, where: str) -> int:
        before = int(self.scalar(f"SELECT count(*) FROM {table}"))
        self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM sh.{table} WHERE {where}")
        return int(self.scalar(f"SELECT count(*) FROM {table}")) - before

    def _check_same_repo(self, path: Path, repo: str) -> None:
        row = self.con.execute("SELECT commit FROM repos WHERE name = ?", [repo]).fetchone()
        theirs = self.con.execute(
            "SELECT commit FROM sh.repos WHERE name = ?", [repo]).fetchone()
        if row is None:
            raise StoreError(f"{path} is a shard of {repo}, which this workspace does not "
                             "have.\nMerge it into the workspace that prepared it "
                             "(--workspace DIR).")
        if theirs is not None and theirs[0] != row[0]:
            raise StoreError(f"{path} is a shard of {repo} at {theirs[0][:10]}, but this "
                             f"workspace pins {repo} at {row[0][:10]}.\nMerge it into the "
                             "workspace that prepared it (--workspace DIR).")
