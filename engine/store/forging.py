"""Queries of the later forge stages: PR mirroring's base checks and combine's inputs.

PR mirroring's route b uses a fix commit as an instance's own base. Its baseline lives in the
``baselines`` table like any other (keyed by commit); ``base_checks`` remembers the verdict, so
a commit the environment cannot run (it will not import, no test passes) is not re-run on
resume.
"""

from __future__ import annotations

import json
from typing import Any

from engine.instances import Component
from engine.store.base import StoreBase, now


class ForgingMixin(StoreBase):

    def save_base_check(self, repo: str, commit: str, recipe_hash: str, ok: bool,
                        reason: str = "", baseline_id: str = "") -> None:
        self.con.execute(
            "INSERT INTO base_checks VALUES (?, ?, ?, ?, ?, ?, ?)",
            [repo, commit, recipe_hash, ok, reason[:2000], baseline_id,
             now()])

    def base_check(self, repo: str, commit: str, recipe_hash: str) -> tuple[bool, str] | None:
        """(ok, reason) of the latest check of ``commit`` with this recipe; None if unchecked."""
        row = self.con.execute(
            "SELECT ok, reason FROM base_checks WHERE repo = ? AND commit = ? AND "
            "recipe_hash = ? ORDER BY created_at DESC LIMIT 1",
            [repo, commit, recipe_hash]).fetchone()
        return (bool(row[0]), row[1] or "") if row else None

    def base_checks(self, repo: str) -> dict[str, tuple[bool, str]]:
        """Latest (ok, reason) per checked commit of a repo, whatever the recipe."""
        rows = self.con.execute(
            "SELECT commit, arg_max(ok, created_at), arg_max(reason, created_at) "
            "FROM base_checks WHERE repo = ? GROUP BY commit", [repo]).fetchall()
        return {r[0]: (bool(r[1]), r[2] or "") for r in rows}

    def combinable_instances(self, repo: str, commit: str,
                             exclude: tuple[str, ...] = ("combine", "pr_mirror")
                             ) -> list[Component]:
        """Validated single-file, single-entity instances at ``commit`` (the pinned one),
        in a stable order: what combine merges."""
        cur = self.con.execute(
            "SELECT instance_id, file, entity, patch, fail_to_pass, changed FROM ("
            "  SELECT instance_id, file, entity, patch, fail_to_pass, strategy, files_changed,"
            "  base_commit, CAST(json_extract(meta, '$.changed_lines') AS INTEGER[]) AS changed"
            "  FROM instances WHERE repo = ?) "
            "WHERE base_commit = ? AND files_changed = 1 AND entity <> '' "
            "AND NOT contains(entity, ', ') AND strategy NOT IN (SELECT unnest(?)) "
            "ORDER BY instance_id", [repo, commit, list(exclude)])
        return [Component(iid, file, entity, patch, tuple(changed or ()), tuple(f2p or ()))
                for iid, file, entity, patch, f2p, changed in cur.fetchall()]

    def instance_f2p(self, instance_ids: list[str]) -> dict[str, list[str]]:
        """FAIL_TO_PASS per instance id (the ones that exist)."""
        rows = self.con.execute(
            "SELECT instance_id, fail_to_pass FROM instances "
            "WHERE instance_id IN (SELECT unnest(?))", [instance_ids]).fetchall()
        return {r[0]: list(r[1]) for r in rows}

    def instance_metas(self, candidate_ids: list[str]) -> list[dict[str, Any]]:
        """The meta of the instances made from these candidates."""
        rows = self.con.execute(
            "SELECT meta FROM instances WHERE candidate_id IN (SELECT unnest(?))",
            [candidate_ids]).fetchall()
        return [json.loads(r[0] or "{}") for r in rows]

    def timeout_details(self, repo: str) -> dict[str, str]:
        """The detail of every candidate of ``repo`` stored as ``timeout`` (says whether it
        was retried alone; older runs did not)."""
        rows = self.con.execute(
            "SELECT candidate_id, detail FROM results WHERE repo = ? AND reason = 'timeout'",
            [repo]).fetchall()
        return {r[0]: r[1] or "" for r in rows}

    def forget_timeouts(self, repo: str, candidate_ids: list[str]) -> int:
        """Remove the ``timeout`` verdicts of these candidates, so they are pending again
        (``forge --retry-timeouts``); a timeout has no instance, so nothing else refers to
        it. Returns how many were removed."""
        row = self.con.execute(
            "DELETE FROM results WHERE repo = ? AND reason = 'timeout' "
            "AND candidate_id IN (SELECT unnest(?)) RETURNING candidate_id",
            [repo, candidate_ids]).fetchall()
        return len(row)

    def last_run_started(self, repo: str) -> str | None:
        """When the latest forge of ``repo`` started (ISO text), None if it never ran."""
        row = self.con.execute(
            "SELECT max(started_at) FROM runs WHERE repo = ?", [repo]).fetchone()
        return row[0].isoformat() if row and row[0] else None
