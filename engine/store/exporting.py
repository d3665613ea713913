"""Store queries for exports: instance ids in a stable order, and Parquet via DuckDB's COPY."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from engine.errors import UsageError
from engine.instances import DedupRecord, Instance
from engine.store.base import StoreBase

_WS = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"  # engine.dedup.SPACE
_BODY = r"trim(regexp_replace(l[2:], '[ \t\n\v\f\r]+', ' ', 'g'))"
# engine.dedup.normalized_diff, line by line: headers and hunk lines dropped, file names
# without a/ b/, changed and context lines with their spacing collapsed.
_NORMALIZED = (
    "array_to_string(list_filter(list_transform(string_split(patch, chr(10)), lambda l: "
    "CASE WHEN starts_with(l, 'diff --git') OR starts_with(l, 'index ') OR starts_with(l, '@@') "
    "OR starts_with(l, '\\') THEN NULL "
    "WHEN starts_with(l, '--- ') OR starts_with(l, '+++ ') THEN left(l, 4) || "
    f"regexp_replace(trim(l[5:], {_WS}), '^(a/)?(b/)?', '') "
    f"WHEN left(l, 1) IN ('+', '-', ' ') AND {_BODY} <> '' THEN left(l, 1) || {_BODY} "
    "ELSE NULL END), lambda x: x IS NOT NULL), chr(10))")
# Exact groups (same repo and normalised diff), then near groups (same repo, file, entity and
# FAIL_TO_PASS set) among the instances no exact group hides; the smallest id represents.
DUPLICATES_SQL = (
    "WITH k AS (SELECT instance_id, entity, repo || ':' || sha256(" + _NORMALIZED + ")[:16] "
    "AS ek, repo || ':' || file || ':' || entity || ':' || sha256(array_to_string("
    "list_sort(coalesce(fail_to_pass, [])), '|'))[:12] AS nk FROM instances), "
    "e AS (SELECT instance_id, entity, nk, min(instance_id) OVER (PARTITION BY ek) AS rep "
    "FROM k), "
    "n AS (SELECT instance_id, min(instance_id) OVER (PARTITION BY nk) AS rep FROM e "
    "WHERE instance_id = rep AND coalesce(entity, '') <> '') "
    "SELECT instance_id, 'exact', rep FROM e WHERE instance_id <> rep "
    "UNION ALL SELECT instance_id, 'near', rep FROM n WHERE instance_id <> rep")


class ExportMixin(StoreBase):

    def instance_ids(self, repo: str | None = None) -> list[str]:
        sql = "SELECT instance_id FROM instances"
        params: list[str] = []
        if repo:
            sql += " WHERE repo = ?"
            params.append(repo)
        return [r[0] for r in self.con.execute(sql + " ORDER BY repo, instance_id",
                                               params).fetchall()]

    def repos_of(self, ids: list[str]) -> list[str]:
        """The repos these instances belong to, sorted."""
        return [r[0] for r in self.con.execute(
            "SELECT DISTINCT repo FROM instances WHERE instance_id IN (SELECT unnest(?)) "
            "ORDER BY repo", [ids]).fetchall()]

    def bug_patches(self, ids: list[str]) -> list[tuple[str, str, str, str]]:
        """(instance id, repo, base commit, bug diff) of these instances."""
        return [(r[0], r[1], r[2], r[3]) for r in self.con.execute(
            "SELECT instance_id, repo, base_commit, patch FROM instances "
            "WHERE instance_id IN (SELECT unnest(?)) ORDER BY repo, instance_id",
            [ids]).fetchall()]

    def jsonl_to_parquet(self, src: Path, dst: Path) -> None:
        """Convert an export's JSON lines to Parquet (zstd) without loading them in Python."""
        literal = str(dst).replace("'", "''")
        self.con.execute(
            f"COPY (SELECT * FROM read_json(?, format='newline_delimited', "  # noqa: S608
            # Text stays text: with the default formats, a date-like string (created_at, as
            # the published datasets write it) would become a TIMESTAMP column.
            f"dateformat='%d/%m/%Y %%', timestampformat='%d/%m/%Y %% %H', "
            f"maximum_object_size=67108864)) TO '{literal}' (FORMAT parquet, COMPRESSION zstd)",
            [str(src)])

    def read_parquet_rows(self, path: Path) -> list[dict[str, Any]]:
        """Rows of a Parquet file as dicts (lists stay lists); a file DuckDB cannot read as
        Parquet is a UsageError naming it."""
        try:
            cur = self.con.execute("SELECT * FROM read_parquet(?)", [str(path)])
        except duckdb.Error as exc:
            said = (str(exc).splitlines() or ["unreadable"])[0]
            raise UsageError(f"{path} is not a Parquet file that can be read ({said[:160]}).\n"
                             "Give a JSONL or Parquet export (or a dataset directory).") from None
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def import_instances(self, instances: Sequence[Instance]) -> int:
        """Insert imported instances in one transaction; ids already present are skipped.
        Returns how many were added."""
        present = {r[0] for r in self.con.execute(
            "SELECT instance_id FROM instances WHERE instance_id IN (SELECT unnest(?))",
            [[i.instance_id for i in instances]]).fetchall()}
        new = [i for i in instances if i.instance_id not in present]
        with self.transaction():
            for i in new:
                self.con.execute(
                    "INSERT INTO instances VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [i.instance_id, i.candidate_id, i.repo, i.base_commit, i.strategy,
                     i.modifier, i.file, i.entity, i.patch, i.fail_to_pass, i.pass_to_pass,
                     len(i.fail_to_pass), len(i.pass_to_pass), i.lines_changed,
                     i.files_changed, json.dumps(i.failures), i.problem_statement,
                     json.dumps(i.meta, sort_keys=True, default=str), i.validation_seconds,
                     i.created_at])
        return len(new)

    def dedup_records(self, repo: str | None = None) -> list[DedupRecord]:
        """The fields duplicate detection compares, for every instance."""
        sql = "SELECT instance_id, repo, file, entity, patch, fail_to_pass FROM instances"
        params: list[str] = []
        if repo:
            sql += " WHERE repo = ?"
            params.append(repo)
        rows = self.con.execute(sql, params).fetchall()
        return [DedupRecord(iid, repo_, file, entity, patch, list(f2p or ()))
                for iid, repo_, file, entity, patch, f2p in rows]

    def duplicate_instance_ids(self) -> set[str]:
        """Instances that duplicate another (exact or near), cached until instances change."""
        return set(self.duplicate_map())

    def instances_stamp(self) -> str:
        """Changes whenever instances are added or removed: what a cache of something
        computed over all instances (the duplicate map) is keyed by."""
        n, last = self.con.execute(
            "SELECT count(*), max(created_at) FROM instances").fetchone() or (0, None)
        return f"{n}:{last}"

    def duplicate_map(self) -> dict[str, tuple[str, str]]:
        """Each duplicate's (kind, the instance it duplicates), cached until instances change.

        The groups of ``engine.dedup.find_groups``, computed in one SQL query: DuckDB hashes
        the diffs off the GIL (2.4 s at 50k, against 2.8 s of Python holding it), so the TUI
        computing it on a worker thread never stalls the screen. ``tests/unit/test_dedup_sql.py``
        holds it to ``find_groups``."""
        n = self.instances_stamp()
        cached = self.__dict__.get("_dup_cache")
        if cached is None or cached[0] != n:
            rows = self.con.execute(DUPLICATES_SQL).fetchall()
            cached = (n, {iid: (kind, rep) for iid, kind, rep in rows})
            self.__dict__["_dup_cache"] = cached
        return cached[1]
