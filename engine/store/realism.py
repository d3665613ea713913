"""Realism features and scores (engine.realism): two append-only tables.

``realism_features`` caches each instance's intrinsic features per feature version, so a
report over 50k instances computes only what is new. ``realism_scores`` keeps every scoring
pass; the latest row per instance is the one the browse table sorts on and the review shows.
Scores are re-derived whenever the reference changes (new PR-mirror bugs, new labels), so
they are never edited in place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.instances import FeatureInput, RealismInput
from engine.store.base import StoreBase, now

# The latest score per instance, for joins (browse sort and filter).
LATEST_SCORES = (
    "(SELECT instance_id, arg_max(score, created_at) AS score, "
    "arg_max(probability, created_at) AS probability FROM realism_scores GROUP BY 1)"
)


@dataclass(frozen=True)
class StoredScore:
    instance_id: str
    model: str  # e.g. "woe:3real" or "calibrated:212labels"
    score: float
    probability: float
    reasons: list[dict[str, Any]]


class RealismMixin(StoreBase):

    def realism_inputs(self, repo: str, version: int) -> list[RealismInput]:
        """Every instance of ``repo`` with its cached features JSON (None when not computed)."""
        cur = self.con.execute(
            "SELECT i.instance_id, i.strategy, i.modifier, i.fail_to_pass, i.lines_changed, "
            "f.features FROM instances i LEFT JOIN (SELECT instance_id, "
            "arg_max(features, created_at) AS features FROM realism_features "
            "WHERE version = ? GROUP BY 1) f USING (instance_id) WHERE i.repo = ? "
            "ORDER BY i.instance_id", [version, repo])
        return [RealismInput(iid, strategy, modifier, list(f2p or ()), lines, features)
                for iid, strategy, modifier, f2p, lines, features in cur.fetchall()]

    def instances_for_features(self, ids: Sequence[str]) -> list[FeatureInput]:
        """What feature computation reads of these instances (patch, F2P, failure texts)."""
        cur = self.con.execute(
            "SELECT instance_id, file, patch, fail_to_pass, failures FROM instances "
            "WHERE instance_id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)])
        return [FeatureInput(iid, file, patch, list(f2p or ()), json.loads(failures or "{}"))
                for iid, file, patch, f2p, failures in cur.fetchall()]

    def save_features(self, version: int, rows: dict[str, dict[str, Any]]) -> None:
        if not rows:
            return
        stamp = now()
        with self.transaction():
            self.con.executemany(
                "INSERT INTO realism_features VALUES (?, ?, ?, ?)",
                [(iid, version, json.dumps(f, sort_keys=True), stamp) for iid, f in rows.items()])

    def save_scores(self, model: str, rows: Sequence[StoredScore]) -> None:
        """Append one scoring pass (one transaction)."""
        if not rows:
            return
        stamp = now()
        with self.transaction():
            self.con.executemany(
                "INSERT INTO realism_scores VALUES (?, ?, ?, ?, ?, ?)",
                [(s.instance_id, model, s.score, s.probability, json.dumps(s.reasons), stamp)
                 for s in rows])

    def realism_scores(self, ids: Sequence[str]) -> dict[str, StoredScore]:
        """The latest stored score of each of ``ids`` that has one."""
        rows = self.con.execute(
            "SELECT instance_id, arg_max(model, created_at), arg_max(score, created_at), "
            "arg_max(probability, created_at), arg_max(reasons, created_at) "
            "FROM realism_scores WHERE instance_id IN (SELECT unnest(?::VARCHAR[])) "
            "GROUP BY 1", [list(ids)]).fetchall()
        return {r[0]: StoredScore(r[0], r[1], r[2], r[3], json.loads(r[4] or "[]"))
                for r in rows}

    def count_scored(self, repo: str) -> int:
        return int(self.scalar(
            f"SELECT count(*) FROM instances i JOIN {LATEST_SCORES} s USING (instance_id) "
            "WHERE i.repo = ?", [repo]))

    def modifier_realism(self, repo: str) -> dict[tuple[str, str], tuple[int, float]]:
        """(strategy, modifier) -> (instances scored, mean latest score) for ``repo``."""
        rows = self.con.execute(
            f"SELECT i.strategy, i.modifier, count(*), avg(s.score) FROM instances i "
            f"JOIN {LATEST_SCORES} s USING (instance_id) WHERE i.repo = ? GROUP BY ALL",
            [repo]).fetchall()
        return {(st, mod): (int(n), float(mean)) for st, mod, n, mean in rows}
