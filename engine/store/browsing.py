"""The lean instance listing the TUI browses: filters, keyset-paged sorted pages, counts,
and the review's details.

Never selects a patch or failure text for a page, so a page costs the same at 50k rows. The
decision state it joins in is ``engine.store.curation``'s; the dispute sets
``engine.store.adjudication``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.instances import BaselineFigures, BrowseFilter, InstanceDetail
from engine.store.base import StoreBase
from engine.store.curation import REALISM_VALUES
from engine.store.realism import LATEST_SCORES

if TYPE_CHECKING:
    from engine.instances import EnvironmentRecord, Instance
    from engine.store.adjudication import FinalDecision
    from engine.store.curation import DecisionState
    from engine.store.realism import StoredScore

# "disputed": curators' accept and reject conflict and no adjudicator settled it (any curator)
DECISION_FILTERS = ("", "undecided", "decided", "accept", "reject", "skip", "disputed")
RESOLVED_FILTERS = ("", "undecided", "accept", "reject", "skip")
REALISM_FILTERS = ("", "untagged", *REALISM_VALUES)

# Sort expressions are never null, so keyset comparisons stay total.
SORT_KEYS: dict[str, str] = {
    "instance_id": "instance_id",
    # The id as the TUI shows it, without its ``repo.commit8.`` prefix (the repo has a column);
    # ids without that prefix (imported ones) as they are. split_part: the cheapest (50k rows).
    "short_id": "coalesce(nullif(split_part(instance_id, '.', 3), ''), instance_id)",
    "repo": "repo",
    "strategy": "coalesce(strategy, '') || '/' || coalesce(modifier, '')",
    "modifier": "coalesce(modifier, '')",
    "file": "coalesce(file, '')",
    "n_f2p": "coalesce(n_f2p, -1)",
    "lines_changed": "coalesce(lines_changed, -1)",
    "decision": "coalesce(decision, '')",
    "realism": "coalesce(realism, '')",
    "score": "coalesce(score, -1e9)",  # unscored instances sort first (ascending)
    "created_at": "created_at",
}



@dataclass(frozen=True)
class BrowseRow:
    """One listing row (no patch, no logs) plus its keyset sort key."""

    instance_id: str
    repo: str
    strategy: str
    modifier: str
    file: str
    entity: str
    n_f2p: int
    n_p2p: int
    lines_changed: int
    created_at: datetime
    decision: str | None
    realism: str | None
    score: float | None  # the latest realism score (None: not scored yet)
    sk: Any

    @property
    def key(self) -> tuple[Any, str]:
        return (self.sk, self.instance_id)


class BrowseMixin(StoreBase):
    """The listing, its counts and the review's details; mixed into ``Store``."""

    if TYPE_CHECKING:  # provided by the other parts of ``Store``
        def instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]: ...
        def get_environment(self, repo: str) -> EnvironmentRecord | None: ...
        def realism_scores(self, ids: Sequence[str]) -> dict[str, StoredScore]: ...
        def duplicate_instance_ids(self) -> set[str]: ...
        def _current_sql(self, where: str = "") -> str: ...
        def _disagreement_sql(self) -> str: ...
        def current_decisions(self, curator: str | None = None,
                              instance_ids: Sequence[str] | None = None
                              ) -> list[DecisionState]: ...
        def _unsettled_sql(self) -> str: ...
        def _settled_sql(self) -> str: ...
        def _resolved_ids(self, decision: str) -> tuple[bool, list[str]]: ...
        def final_decisions(self, instance_ids: Sequence[str] | None = None
                            ) -> dict[str, FinalDecision]: ...
        def assigned_curators(self, instance_ids: Sequence[str] | None = None
                              ) -> dict[str, tuple[str, ...]]: ...

    def _browse_where(self, f: BrowseFilter) -> tuple[str, list[Any]]:
        sql = (
            f"WITH {self._current_sql('WHERE curator = ?')} SELECT i.instance_id, i.repo, "
            "i.strategy, i.modifier, i.file, i.entity, i.n_f2p, i.n_p2p, i.lines_changed, "
            "i.created_at, c.decision, c.realism, s.score FROM instances i LEFT JOIN cur c "
            f"ON c.instance_id = i.instance_id LEFT JOIN {LATEST_SCORES} s "
            "ON s.instance_id = i.instance_id WHERE 1=1"
        )
        params: list[Any] = [f.curator]
        for col in ("repo", "strategy", "modifier"):  # substrings, any case (as typed in a filter)
            value = getattr(f, col)
            if value:
                sql += f" AND strpos(lower(coalesce(i.{col}, '')), ?) > 0"
                params.append(value.lower())
        if f.decision == "undecided":
            sql += " AND c.decision IS NULL"
        elif f.decision == "decided":
            sql += " AND c.decision IS NOT NULL"
        elif f.decision == "disputed":
            sql += f" AND i.instance_id IN ({self._unsettled_sql()})"
        elif f.decision:
            sql += " AND c.decision = ?"
            params.append(f.decision)
        if f.realism == "untagged":
            sql += " AND c.realism IS NULL"
        elif f.realism:
            sql += " AND c.realism = ?"
            params.append(f.realism)
        for wanted, query in ((f.disputed, self._unsettled_sql), (f.settled, self._settled_sql),
                              (f.disagreement, self._disagreement_sql)):
            if wanted:
                sql += f" AND i.instance_id IN ({query()})"
        if f.duplicates:
            sql += " AND i.instance_id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(sorted(self.duplicate_instance_ids()))
        if f.labelled_by:
            sql += (f" AND i.instance_id IN (WITH {self._current_sql('WHERE curator = ?')} "
                    "SELECT instance_id FROM cur)")
            params.append(f.labelled_by)
        if f.assigned_to:
            sql += (" AND i.instance_id IN (SELECT instance_id FROM current_assignments "
                    "WHERE curator = ?)")
            params.append(f.assigned_to)
        if f.resolved:
            negate, ids = self._resolved_ids(f.resolved)
            sql += f" AND i.instance_id {'NOT ' if negate else ''}IN (SELECT unnest(?::VARCHAR[]))"
            params.append(ids)
        if f.min_score is not None:
            sql += " AND s.score >= ?"
            params.append(f.min_score)
        if f.max_score is not None:
            sql += " AND s.score <= ?"
            params.append(f.max_score)
        if f.text.strip():
            needle = f.text.strip().lower()
            sql += (" AND (strpos(lower(i.instance_id), ?) > 0 OR strpos(lower(i.file), ?) > 0 "
                    "OR strpos(lower(i.entity), ?) > 0)")
            params += [needle] * 3
        if f.hidden_duplicates and not f.duplicates:
            sql += " AND i.instance_id NOT IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(f.hidden_duplicates))
        for neg in f.negated:  # ``-token``: whatever the token alone would list, left out
            inner, more = self._browse_where(replace(neg, curator=f.curator))
            sql += f" AND i.instance_id NOT IN (SELECT instance_id FROM ({inner}) n)"
            params += more
        return sql, params

    def browse(
        self, filters: BrowseFilter, sort: str = "instance_id", descending: bool = False,
        after_key: tuple[Any, str] | None = None, limit: int = 200,
    ) -> list[BrowseRow]:
        """One page of the listing, keyset-paged on (sort key, instance id): O(page) at any depth.

        Never selects the patch or the failure text, so a page costs the same at 50k rows.
        ``after_key`` is the previous page's last ``BrowseRow.key``.
        """
        if sort not in SORT_KEYS:
            raise ValueError(f"sort must be one of {sorted(SORT_KEYS)}, not {sort!r}")
        inner, params = self._browse_where(filters)
        op, direction = ("<", "DESC") if descending else (">", "ASC")
        sql = f"SELECT *, {SORT_KEYS[sort]} AS sk FROM ({inner}) b"
        if after_key is not None:
            sql = f"SELECT * FROM ({sql}) k WHERE sk {op} ? OR (sk = ? AND instance_id {op} ?)"
            params += [after_key[0], after_key[0], after_key[1]]
        sql += f" ORDER BY sk {direction}, instance_id {direction} LIMIT {int(limit)}"
        return [BrowseRow(*r) for r in self.con.execute(sql, params).fetchall()]

    def count(self, filters: BrowseFilter) -> int:
        """The true number of instances matching ``filters``."""
        inner, params = self._browse_where(filters)
        return int(self.scalar(f"SELECT count(*) FROM ({inner}) b", params))

    def counts(self, filters: BrowseFilter) -> tuple[int, int]:
        """(matching, decided by ``filters.curator`` among them) in one scan: the browse
        status line's figures."""
        inner, params = self._browse_where(filters)
        row = self.con.execute(f"SELECT count(*), count(decision) FROM ({inner}) b",
                               params).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def instance_detail(self, instance_id: str) -> InstanceDetail | None:
        """Everything the review screen shows: the instance, its decisions, env and baseline."""
        return self.instance_details([instance_id]).get(instance_id)

    def instance_details(self, instance_ids: Sequence[str]) -> dict[str, InstanceDetail]:
        """``instance_detail`` for several ids in seven queries (the review screen prefetches).

        Each query scans its table once whatever the number of ids, so reading the next few
        instances ahead costs about what reading one does.
        """
        recs = self.instances(instance_ids)
        if not recs:
            return {}
        scores = self.realism_scores(list(recs))
        decisions: dict[str, list[DecisionState]] = {iid: [] for iid in recs}
        for st in self.current_decisions(instance_ids=list(recs)):
            decisions[st.instance_id].append(st)
        envs = {repo: self.get_environment(repo) for repo in {r.repo for r in recs.values()}}
        base_ids = [b for r in recs.values() if (b := r.meta.get("baseline_id"))]
        rows = self.con.execute(
            "SELECT baseline_id, runs, n_tests, n_passed, n_flaky, seconds FROM baselines "
            "WHERE baseline_id IN (SELECT unnest(?))", [list(dict.fromkeys(base_ids))]
        ).fetchall()
        bases = {r[0]: BaselineFigures(*r[1:]) for r in rows}
        finals = self.final_decisions(list(recs))
        assigned = self.assigned_curators(list(recs))
        return {iid: InstanceDetail(
            **{f.name: getattr(rec, f.name) for f in fields(rec)},
            decisions=decisions[iid], realism_score=scores.get(iid),
            environment=envs.get(rec.repo), baseline=bases.get(rec.meta.get("baseline_id")),
            final=finals.get(iid), assigned=assigned.get(iid, ()),
        ) for iid, rec in recs.items()}

    def find_instance_ids(self, text: str, limit: int = 20) -> list[str]:
        """Instance ids containing ``text`` (case-insensitive), for the palette's jump-to-id."""
        return [r[0] for r in self.con.execute(
            "SELECT instance_id FROM instances WHERE strpos(lower(instance_id), ?) > 0 "
            f"ORDER BY instance_id LIMIT {int(limit)}", [text.strip().lower()],
        ).fetchall()]
