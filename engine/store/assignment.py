"""Overlap assignment: which curators each instance is queued for.

Append-only like the decisions: each ``assign`` is a batch of rows, and an instance's current
curators are those of the latest batch that assigned it (the ``current_assignments`` view).
The split itself is ``engine.curation.balanced_assignment`` (pure, deterministic).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.curation import balanced_assignment
from engine.store.base import StoreBase, now


@dataclass(frozen=True)
class AssignmentBatch:
    """What one ``assign`` did: its batch number, the instances it assigned and each
    curator's share."""

    batch: int
    overlap: int
    instances: int
    per_curator: dict[str, int]


@dataclass(frozen=True)
class CuratorQueue:
    """One curator's assigned queue: how many instances, how many they decided."""

    curator: str
    assigned: int
    decided: int

    @property
    def remaining(self) -> int:
        return self.assigned - self.decided


class AssignmentMixin(StoreBase):
    """Assignment batches and per-curator queues; mixed into ``Store``."""

    if TYPE_CHECKING:  # provided by ``CurationMixin``
        def _current_sql(self, where: str = "") -> str: ...

    def _undecided_ids(self, repo: str | None, unassigned: bool) -> list[str]:
        """Instances no curator has a current decision on and no adjudicator settled (and,
        with ``unassigned``, that no batch assigned yet)."""
        sql = (f"WITH {self._current_sql()} SELECT instance_id FROM instances WHERE "
               "instance_id NOT IN (SELECT instance_id FROM cur WHERE decision IS NOT NULL) "
               "AND instance_id NOT IN (SELECT instance_id FROM decisions "
               "WHERE role = 'adjudicator')")
        if unassigned:
            sql += " AND instance_id NOT IN (SELECT instance_id FROM assignments)"
        params: list[Any] = []
        if repo:
            sql += " AND repo = ?"
            params.append(repo)
        return [r[0] for r in self.con.execute(sql + " ORDER BY instance_id", params).fetchall()]

    def assign(self, curators: Sequence[str], overlap: int, repo: str | None = None, *,
               reassign: bool = False) -> AssignmentBatch:
        """Assign the undecided instances (of ``repo``, or all) not assigned yet to
        ``overlap`` of ``curators`` each, balanced and deterministic; ``reassign`` takes every
        undecided instance, replacing its earlier assignment. Curators with the shortest
        open queues get the first turns, so batches added over time stay balanced.
        ``UsageError`` when the overlap does not fit the curators."""
        ids = self._undecided_ids(repo, unassigned=not reassign)
        load = {q.curator: q.remaining for q in self.curator_queues()}
        plan = balanced_assignment(ids, curators, overlap, load)
        pairs = [(iid, c) for iid, cs in plan.items() for c in cs]
        with self.transaction():
            batch = int(self.scalar("SELECT nextval('assignment_seq')"))
            if pairs:
                self.con.execute(
                    "INSERT INTO assignments SELECT ?, unnest(?::VARCHAR[]), "
                    "unnest(?::VARCHAR[]), ?, ?",
                    [batch, [p[0] for p in pairs], [p[1] for p in pairs], overlap, now()])
        return AssignmentBatch(batch, overlap, len(plan),
                               dict(sorted(Counter(c for _, c in pairs).items())))

    def assigned_curators(self, instance_ids: Sequence[str] | None = None
                          ) -> dict[str, tuple[str, ...]]:
        """Each assigned instance's current curators (sorted), or only these ids'."""
        sql = "SELECT instance_id, list(curator ORDER BY curator) FROM current_assignments"
        params: list[Any] = []
        if instance_ids is not None:
            sql += " WHERE instance_id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(instance_ids))
        rows = self.con.execute(sql + " GROUP BY instance_id", params).fetchall()
        return {r[0]: tuple(r[1]) for r in rows}

    def curator_queues(self) -> list[CuratorQueue]:
        """Every curator with an assignment: their queue's size and how much they decided."""
        cur = self._current_sql()
        rows = self.con.execute(
            f"WITH {cur} SELECT a.curator, count(*), count(c.decision) "
            "FROM current_assignments a LEFT JOIN cur c ON c.instance_id = a.instance_id "
            "AND c.curator = a.curator GROUP BY a.curator ORDER BY a.curator").fetchall()
        return [CuratorQueue(r[0], int(r[1]), int(r[2])) for r in rows]
