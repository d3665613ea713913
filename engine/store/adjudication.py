"""Adjudication: final decisions, the disputes queue, and how each instance's decisions resolve.

A final decision is an event in the same append-only ``decisions`` log, with role
``adjudicator`` (any curator may adjudicate; the role says in which capacity they spoke), so
it is undone and redone like every other event and never rewrites a curator's own decision.
An instance's final decision is its latest effective adjudicator event, whoever set it.

The export and every count resolve an instance the same way (``resolved_decisions``): the
final decision when there is one, else the rule (``engine.curation.RULES``) over the
curators' current decisions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.curation import FINAL_DECISIONS, RULES, Resolution, is_conflict, resolve
from engine.store.base import StoreBase

if TYPE_CHECKING:
    from engine.store.curation import CuratorProgress, DecisionState


@dataclass(frozen=True)
class FinalDecision:
    """An adjudicator's settled decision on one instance."""

    instance_id: str
    decision: str  # accept | reject
    adjudicator: str
    note: str | None
    reasons: tuple[str, ...]
    guidelines_version: str | None
    decided_at: datetime
    event_id: int


@dataclass(frozen=True)
class InstanceCuration:
    """Everything said about one instance: each curator's current decision, tags, notes and
    reasons (sorted by curator), the final decision, and who it is assigned to."""

    instance_id: str
    decisions: list[DecisionState] = field(default_factory=list)
    final: FinalDecision | None = None
    assigned: tuple[str, ...] = ()

    @property
    def conflict(self) -> bool:
        """Curators' accept and reject both present (a skip abstains)."""
        return is_conflict([s.decision for s in self.decisions if s.decision])

    @property
    def disputed(self) -> bool:
        """A conflict nobody has settled yet: it is in the disputes queue."""
        return self.conflict and self.final is None


@dataclass(frozen=True)
class DecisionCounts:
    """What ``bugfoundry status`` says about curation (over one repo or all)."""

    instances: int
    undecided: int  # no curator decision and no final decision
    disputed: int  # conflicts not settled
    settled: int  # conflicts an adjudicator settled
    final: dict[str, int]  # final decisions by value
    resolved: dict[str, int]  # accept / reject / skip, final first, else the default rule


class AdjudicationMixin(StoreBase):
    """Final decisions and resolution; mixed into ``Store``."""

    if TYPE_CHECKING:  # provided by the other parts of ``Store``
        def _effective_sql(self, where: str = "", role: str | None = "curator") -> str: ...
        def _current_sql(self, where: str = "") -> str: ...
        def _check_decider(self, instance_id: str, curator: str) -> None: ...
        def _append_event(self, instance_id: str, curator: str, action: str,
                          realism: str | None, clarity: int | None,
                          test_validity: int | None, difficulty: str | None,
                          note: str | None, seconds_spent: float, undoes: int | None, *,
                          role: str = "curator", reasons: Sequence[str] = (),
                          guidelines_version: str | None = None) -> int: ...
        def current_decisions(self, curator: str | None = None,
                              instance_ids: Sequence[str] | None = None
                              ) -> list[DecisionState]: ...
        def assigned_curators(self, instance_ids: Sequence[str] | None = None
                              ) -> dict[str, tuple[str, ...]]: ...
        def curator_progress(self) -> list[CuratorProgress]: ...

    def set_final(
        self, instance_id: str, adjudicator: str, decision: str, *, note: str | None = None,
        reasons: Sequence[str] = (), guidelines_version: str | None = None,
    ) -> int:
        """Append an adjudicator's final accept/reject for one instance; its event id.

        Undo it with ``undo(adjudicator, instance_id=..., role="adjudicator")`` (or the
        adjudicator's plain ``undo``, which takes back their latest event of either role).
        """
        if decision not in FINAL_DECISIONS:
            raise ValueError(f"a final decision is one of {FINAL_DECISIONS}, not {decision!r}")
        if reasons and decision != "reject":
            raise ValueError("reasons go with a reject")
        self._check_decider(instance_id, adjudicator)
        return self._append_event(instance_id, adjudicator, decision, None, None, None, None,
                                  note, 0.0, None, role="adjudicator", reasons=reasons,
                                  guidelines_version=guidelines_version)

    def _finals_sql(self, where: str = "") -> str:
        """A self-contained query: one row per instance with an effective final decision."""
        return (
            f"WITH {self._effective_sql(where, 'adjudicator')} SELECT instance_id, "
            "arg_max(action, event_id), arg_max(curator, event_id), "
            "arg_max_null(note, event_id), arg_max_null(reasons, event_id), "
            "arg_max_null(guidelines_version, event_id), arg_max(created_at, event_id), "
            "max(event_id) FROM eff GROUP BY instance_id"
        )

    def final_decisions(self, instance_ids: Sequence[str] | None = None
                        ) -> dict[str, FinalDecision]:
        """The final decision of every instance that has one (or of these ids)."""
        where, params = "", []
        if instance_ids is not None:
            where = "WHERE instance_id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(instance_ids))
        rows = self.con.execute(self._finals_sql(where), params).fetchall()
        return {r[0]: FinalDecision(r[0], r[1], r[2], r[3], tuple(r[4] or ()), r[5], r[6],
                                    int(r[7])) for r in rows}

    def curation(self, instance_ids: Sequence[str]) -> dict[str, InstanceCuration]:
        """``InstanceCuration`` of each of these ids that exists, in three queries."""
        ids = [r[0] for r in self.con.execute(
            "SELECT instance_id FROM instances WHERE instance_id IN (SELECT unnest(?)) "
            "ORDER BY instance_id", [list(instance_ids)]).fetchall()]
        states: dict[str, list[DecisionState]] = {iid: [] for iid in ids}
        for st in self.current_decisions(instance_ids=ids):
            states[st.instance_id].append(st)
        finals = self.final_decisions(ids)
        assigned = self.assigned_curators(ids)
        return {iid: InstanceCuration(iid, states[iid], finals.get(iid), assigned.get(iid, ()))
                for iid in ids}

    def curation_of(self, instance_id: str) -> InstanceCuration | None:
        """Every curator's decision, tags, notes and reasons for one instance, its final
        decision and its assigned curators, in one call (None: no such instance)."""
        return self.curation([instance_id]).get(instance_id)

    def _conflict_sql(self, finals: str) -> str:
        """Ids whose curators' accept and reject conflict, ``finals`` (EXCEPT: without a
        final decision; INTERSECT: with one) a self-contained query."""
        return (
            f"WITH {self._current_sql()} SELECT instance_id FROM cur GROUP BY instance_id "
            "HAVING count(DISTINCT decision) FILTER (WHERE decision IN ('accept', 'reject')) "
            f"> 1 {finals} SELECT instance_id FROM ({self._finals_sql()})"
        )

    def _unsettled_sql(self) -> str:
        """The open disputes: conflicts with no final decision (``disputes``' ids)."""
        return self._conflict_sql("EXCEPT")

    def _settled_sql(self) -> str:
        """The settled disputes: conflicts an adjudicator gave a final decision."""
        return self._conflict_sql("INTERSECT")

    def disputes(self, repo: str | None = None) -> list[InstanceCuration]:
        """The disputes queue: conflicting curator decisions, no final decision yet; it
        empties as an adjudicator settles each. Sorted by instance id."""
        sql = f"SELECT instance_id FROM instances WHERE instance_id IN ({self._unsettled_sql()})"
        params: list[Any] = []
        if repo:
            sql += " AND repo = ?"
            params.append(repo)
        ids = [r[0] for r in self.con.execute(sql + " ORDER BY instance_id", params).fetchall()]
        found = self.curation(ids)
        return [found[i] for i in ids if i in found]

    def resolved_decisions(self, rule: str = "accept-no-reject", repo: str | None = None
                           ) -> dict[str, Resolution]:
        """Each decided instance's resolution: its final decision if set, else ``rule`` over
        the curators' current decisions (``engine.curation.resolve``). Undecided instances
        (no curator decision, no final) are absent. What the export selects by."""
        if rule not in RULES:
            raise ValueError(f"rule must be one of {sorted(RULES)}, not {rule!r}")
        sql = "SELECT instance_id FROM instances"
        params: list[Any] = []
        if repo:
            sql += " WHERE repo = ?"
            params.append(repo)
        ids = {r[0] for r in self.con.execute(sql, params).fetchall()}
        made: dict[str, list[str]] = {}
        for st in self.current_decisions():
            if st.decision and st.instance_id in ids:
                made.setdefault(st.instance_id, []).append(st.decision)
        finals = {iid: f.decision for iid, f in self.final_decisions().items() if iid in ids}
        out = {}
        for iid in sorted(made.keys() | finals.keys()):
            res = resolve(iid, made.get(iid, []), finals.get(iid), rule)
            if res is not None:
                out[iid] = res
        return out

    def _resolved_ids(self, decision: str) -> tuple[bool, list[str]]:
        """For ``BrowseFilter.resolved``: (negate, ids) such that ``[NOT] IN ids`` matches."""
        res = self.resolved_decisions()
        if decision == "undecided":
            return True, sorted(res)
        return False, sorted(i for i, r in res.items() if r.decision == decision)

    def decision_counts(self, repo: str | None = None) -> DecisionCounts:
        """Undecided, disputed, settled, final and resolved counts over one repo or all."""
        n = int(self.scalar("SELECT count(*) FROM instances" + (" WHERE repo = ?" if repo
                                                                 else ""),
                            [repo] if repo else []))
        res = self.resolved_decisions(repo=repo)
        finals = Counter(r.decision for r in res.values() if r.source == "final")
        return DecisionCounts(
            instances=n, undecided=n - len(res),
            disputed=sum(r.disputed and r.source != "final" for r in res.values()),
            settled=sum(r.disputed and r.source == "final" for r in res.values()),
            final=dict(sorted(finals.items())),
            resolved=dict(sorted(Counter(r.decision for r in res.values()).items())))
