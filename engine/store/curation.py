"""Curation decisions: an append-only event log, each curator's current state folded from
it, and what several curators' labels say together (shared labels, progress, disagreements).

The listing the TUI browses is ``engine.store.browsing``; final decisions and disputes are
``engine.store.adjudication``. ``Store`` combines them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.agreement import DECISION_LABELS, Label
from engine.store.base import StoreBase, now

DECISION_ACTIONS = ("accept", "reject", "skip", "tag")
REALISM_VALUES = ("realistic", "plausible", "artificial")
DIFFICULTY_VALUES = ("<15m", "15m-1h", "1-4h", ">4h")  # SWE-bench Verified's buckets


@dataclass(frozen=True)
class DecisionState:
    """A curator's current view of one instance, folded from the effective events."""

    instance_id: str
    curator: str
    decision: str | None
    realism: str | None
    clarity: int | None
    test_validity: int | None
    difficulty: str | None
    note: str | None
    seconds_spent: float
    decided_at: datetime
    events: int
    reasons: tuple[str, ...] = ()  # reject reasons of the current decision (ids)
    guidelines_version: str | None = None  # of the guidelines the latest event was made under


@dataclass(frozen=True)
class DecisionEvent:
    """One row of the append-only decision log (``undoes_event_id``: the event an undo or
    redo flips)."""

    event_id: int
    instance_id: str
    curator: str
    action: str
    realism: str | None
    clarity: int | None
    test_validity: int | None
    difficulty: str | None
    note: str | None
    seconds_spent: float
    undoes_event_id: int | None
    created_at: datetime
    role: str = "curator"  # or "adjudicator": a final decision (engine/store/adjudication.py)
    reasons: tuple[str, ...] = ()
    guidelines_version: str | None = None


@dataclass(frozen=True)
class CuratorProgress:
    """One curator's totals over every instance (the progress pane's per-curator row)."""

    curator: str
    decided: int
    accepted: int
    rejected: int
    skipped: int
    tagged: int  # instances with a realism tag
    seconds_spent: float
    last_at: datetime | None


@dataclass(frozen=True)
class UndoRedo:
    """What an undo or redo did: its own event, the event it flipped, and that instance."""

    event_id: int
    target_event_id: int
    instance_id: str

class CurationMixin(StoreBase):
    """Decision events and what several curators' labels say; mixed into ``Store``."""

    # ---------------------------------------------------------------- curation decisions
    # Decisions are an append-only event log. A normal event (accept/reject/skip/tag) is
    # effective while as many redo events as undo events aim at it; undo and redo append
    # events too, so they never rewrite history, and a kill -9 between two keystrokes loses
    # nothing that was acknowledged. Current state per (instance, curator) folds the effective
    # events: the latest decision wins, and each rubric field takes its latest non-null value.

    def _effective_sql(self, where: str = "", role: str | None = "curator") -> str:
        """CTEs ``dec``, ``flips`` and ``eff`` (effective normal events), for a WITH clause.

        ``where`` ("WHERE ...") narrows the events scanned (by curator or instance), ``role``
        to curators' or adjudicators' events (None: both); it is safe because an undo/redo
        event carries the same curator, instance and role as the event it flips.
        """
        if role is not None:
            where = f"{where or 'WHERE 1=1'} AND role = '{role}'"
        return (
            f"dec AS (SELECT * FROM decisions {where}), "
            "flips AS (SELECT undoes_event_id AS eid, "
            "count(*) FILTER (WHERE action = 'undo') AS u, "
            "count(*) FILTER (WHERE action = 'redo') AS r "
            "FROM dec WHERE action IN ('undo', 'redo') GROUP BY 1), "
            "eff AS (SELECT d.* FROM dec d LEFT JOIN flips f ON f.eid = d.event_id "
            "WHERE d.action NOT IN ('undo', 'redo') AND coalesce(f.u, 0) = coalesce(f.r, 0))"
        )

    def _current_sql(self, where: str = "") -> str:
        """CTE ``cur``: one row per (instance, curator) holding the derived current state."""
        latest = "arg_max({0}, event_id) FILTER (WHERE {0} IS NOT NULL) AS {0}"
        fields = ", ".join(
            latest.format(f) for f in ("realism", "clarity", "test_validity", "difficulty", "note")
        )
        return (
            self._effective_sql(where) + ", cur AS (SELECT instance_id, curator, "
            "arg_max(action, event_id) FILTER (WHERE action IN ('accept', 'reject', 'skip')) "
            f"AS decision, {fields}, sum(seconds_spent) AS seconds_spent, "
            "max(created_at) AS decided_at, count(*) AS events, "
            "arg_max_null(reasons, event_id) FILTER (WHERE action IN ('accept', 'reject', "
            "'skip')) AS reasons, arg_max(guidelines_version, event_id) FILTER "
            "(WHERE guidelines_version IS NOT NULL) AS guidelines_version "
            "FROM eff GROUP BY instance_id, curator)"
        )

    def record_decision(
        self, instance_id: str, curator: str, action: str, *, realism: str | None = None,
        clarity: int | None = None, test_validity: int | None = None,
        difficulty: str | None = None, note: str | None = None, seconds_spent: float = 0.0,
        reasons: Sequence[str] = (), guidelines_version: str | None = None,
    ) -> int:
        """Append one accept/reject/skip/tag event (committed at once); returns its event id.

        ``reasons`` (reject only) are reject-reason ids (``engine.curation.Reason.id``; the
        caller checks them against the workspace's list); ``guidelines_version`` is
        ``engine.curation.Guidelines.version`` of the guidelines the curator worked under.
        """
        if action not in DECISION_ACTIONS:
            raise ValueError(f"action must be one of {DECISION_ACTIONS}, not {action!r}")
        if realism is not None and realism not in REALISM_VALUES:
            raise ValueError(f"realism must be one of {REALISM_VALUES}, not {realism!r}")
        for name, score in (("clarity", clarity), ("test_validity", test_validity)):
            if score is not None and score not in range(4):
                raise ValueError(f"{name} must be 0-3, not {score!r}")
        if difficulty is not None and difficulty not in DIFFICULTY_VALUES:
            raise ValueError(f"difficulty must be one of {DIFFICULTY_VALUES}, not {difficulty!r}")
        if reasons and action != "reject":
            raise ValueError(f"reasons go with a reject, not with {action!r}")
        self._check_decider(instance_id, curator)
        return self._append_event(
            instance_id, curator, action, realism, clarity, test_validity, difficulty, note,
            seconds_spent, None, reasons=reasons, guidelines_version=guidelines_version,
        )

    def _check_decider(self, instance_id: str, curator: str) -> None:
        if not curator or not curator.strip():
            raise ValueError("a decision needs a curator name")
        known = self.scalar(
            "SELECT count(*) FROM instances WHERE instance_id = ?", [instance_id])
        if not known:
            raise ValueError(f"no instance {instance_id!r}")

    def _append_event(
        self, instance_id: str, curator: str, action: str, realism: str | None,
        clarity: int | None, test_validity: int | None, difficulty: str | None,
        note: str | None, seconds_spent: float, undoes: int | None, *, role: str = "curator",
        reasons: Sequence[str] = (), guidelines_version: str | None = None,
    ) -> int:
        return int(self.scalar(
            "INSERT INTO decisions (event_id, instance_id, curator, action, realism, clarity, "
            "test_validity, difficulty, note, seconds_spent, undoes_event_id, created_at, "
            "role, reasons, guidelines_version) VALUES (nextval('decision_seq'), ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING event_id",
            [instance_id, curator, action, realism, clarity, test_validity, difficulty, note,
             float(seconds_spent), undoes, now(), role, list(reasons) or None,
             guidelines_version]))

    def undo(self, curator: str, *, instance_id: str | None = None,
             role: str | None = None) -> UndoRedo | None:
        """Cancel the curator's latest still-effective event (a final decision they set
        included; ``instance_id``/``role`` narrow which); None when there is nothing."""
        where, params = "WHERE curator = ?", [curator]
        if instance_id is not None:
            where += " AND instance_id = ?"
            params.append(instance_id)
        row = self.con.execute(
            f"WITH {self._effective_sql(where, role)} SELECT event_id, instance_id, role "
            "FROM eff ORDER BY event_id DESC LIMIT 1",
            params,
        ).fetchone()
        if not row:
            return None
        target, iid = int(row[0]), row[1]
        eid = self._append_event(iid, curator, "undo", None, None, None, None, None,
                                 0.0, target, role=row[2])
        return UndoRedo(eid, target, iid)

    def redo(self, curator: str) -> UndoRedo | None:
        """Re-apply the latest undone event, unless a new decision came after the undo."""
        row = self.con.execute(
            f"WITH {self._effective_sql('WHERE curator = ?', None)} SELECT d.undoes_event_id, "
            "d.instance_id, d.role FROM dec d LEFT JOIN flips f ON f.eid = d.undoes_event_id "
            "WHERE d.action = 'undo' AND coalesce(f.u, 0) > coalesce(f.r, 0) "
            "AND d.event_id > (SELECT coalesce(max(event_id), 0) FROM dec "
            "WHERE action NOT IN ('undo', 'redo')) "
            "ORDER BY d.event_id DESC LIMIT 1",
            [curator],
        ).fetchone()
        if not row:
            return None
        target, instance_id = int(row[0]), row[1]
        eid = self._append_event(instance_id, curator, "redo", None, None, None, None, None,
                                 0.0, target, role=row[2])
        return UndoRedo(eid, target, instance_id)

    def current_decisions(
        self, curator: str | None = None, instance_ids: Sequence[str] | None = None
    ) -> list[DecisionState]:
        """Derived current state, one per (instance, curator) that has any effective event."""
        where = "WHERE 1=1"
        params: list[Any] = []
        if curator is not None:
            where += " AND curator = ?"
            params.append(curator)
        if instance_ids is not None:
            where += " AND instance_id IN (SELECT unnest(?))"
            params.append(list(instance_ids))
        sql = (
            f"WITH {self._current_sql(where)} SELECT instance_id, curator, decision, realism, "
            "clarity, test_validity, difficulty, note, seconds_spent, decided_at, events, "
            "reasons, guidelines_version FROM cur ORDER BY instance_id, curator"
        )
        rows = self.con.execute(sql, params).fetchall()
        return [DecisionState(*r[:-2], reasons=tuple(r[-2] or ()),  # type: ignore[misc]
                              guidelines_version=r[-1]) for r in rows]

    def decision_events(self, curator: str | None = None) -> list[DecisionEvent]:
        """The raw event log in order, both roles (for audits, exports and tests)."""
        sql = ("SELECT event_id, instance_id, curator, action, realism, clarity, test_validity, "
               "difficulty, note, seconds_spent, undoes_event_id, created_at, role, reasons, "
               "guidelines_version FROM decisions")
        params: list[Any] = []
        if curator is not None:
            sql += " WHERE curator = ?"
            params.append(curator)
        rows = self.con.execute(sql + " ORDER BY event_id", params).fetchall()
        return [DecisionEvent(*r[:-2], reasons=tuple(r[-2] or ()),  # type: ignore[misc]
                              guidelines_version=r[-1]) for r in rows]

    # ---------------------------------------------------------------- several curators
    def _disagreement_sql(self) -> str:
        """Ids where curators' current accept/reject or realism differ (a self-contained query).

        The same rule as ``engine.agreement.disagreements`` (a skip abstains); tests hold the
        two to each other.
        """
        decided = ", ".join(f"'{d}'" for d in DECISION_LABELS)
        return (
            f"WITH {self._current_sql()} SELECT instance_id FROM cur GROUP BY instance_id "
            f"HAVING count(DISTINCT decision) FILTER (WHERE decision IN ({decided})) > 1 "
            "OR count(DISTINCT realism) > 1"
        )

    def shared_labels(self) -> list[Label]:
        """Current labels of every instance that two or more curators labelled (for kappa)."""
        sql = (
            f"WITH {self._current_sql()} SELECT instance_id, curator, decision, realism "
            "FROM cur WHERE instance_id IN (SELECT instance_id FROM cur GROUP BY 1 "
            "HAVING count(*) > 1) ORDER BY instance_id, curator"
        )
        return [Label(*r) for r in self.con.execute(sql).fetchall()]

    def curator_progress(self) -> list[CuratorProgress]:
        """Per-curator counts over all instances, busiest curator first."""
        sql = (
            f"WITH {self._current_sql()} SELECT curator, count(decision), "
            "count(*) FILTER (WHERE decision = 'accept'), "
            "count(*) FILTER (WHERE decision = 'reject'), "
            "count(*) FILTER (WHERE decision = 'skip'), count(realism), "
            "coalesce(sum(seconds_spent), 0), max(decided_at) FROM cur GROUP BY curator "
            "ORDER BY 2 DESC, curator"
        )
        return [CuratorProgress(*r) for r in self.con.execute(sql).fetchall()]
