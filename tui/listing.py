"""The browse listing's state: filters, sort and the keyset-paged rows loaded so far.

Kept free of Textual so the browse table and the review screen share one ordered list
(next / previous walk it) and tests can drive it without an app.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from engine.store import BrowseFilter, BrowseRow, Store

PAGE = 200


@dataclass
class Listing:
    """Rows for the active filter, loaded a page at a time in keyset order."""

    store: Store
    filters: BrowseFilter
    sort: str = "short_id"  # the id as shown (its repo.commit8. prefix would decide otherwise)
    descending: bool = False
    rows: list[BrowseRow] = field(default_factory=list)
    total: int = 0  # what matches the filter now (a decision can take a row out of it)
    listed: int = 0  # what matched at the last reload: the list n/p walk, rows stay in it
    decided: int = 0
    current: str | None = None  # the instance last opened or walked to (browse follows it)
    exhausted: bool = False
    _index: dict[str, int] = field(default_factory=dict, repr=False)  # id -> row position

    def reload(self) -> None:
        """Start over for new filters or sort: the first page plus true counts."""
        self.rows = []
        self._index = {}
        self.exhausted = False
        self.refresh_counts()
        self.listed = self.total
        self.load_more()

    def refresh_counts(self) -> None:
        """True counts for the active filter (one scan; no page is materialised)."""
        self.total, self.decided = self.store.counts(self.filters)

    def load_more(self) -> list[BrowseRow]:
        """Fetch the next page after the last loaded row; [] once everything is loaded."""
        if self.exhausted:
            return []
        after = self.rows[-1].key if self.rows else None
        page = self.store.browse(self.filters, self.sort, self.descending, after, PAGE)
        for row in page:
            self._index[row.instance_id] = len(self.rows)
            self.rows.append(row)
        if len(page) < PAGE:
            self.exhausted = True
        # Once all is loaded the walk is exactly the rows; before, at least them.
        self.listed = len(self.rows) if self.exhausted else max(self.listed, len(self.rows))
        return page

    def index_of(self, instance_id: str) -> int | None:
        return self._index.get(instance_id)

    def refresh_row(self, instance_id: str) -> BrowseRow | None:
        """Re-read one row's decision and realism after an event touched it."""
        i = self.index_of(instance_id)
        if i is None:
            return None
        states = self.store.current_decisions(self.filters.curator, [instance_id])
        st = states[0] if states else None
        self.rows[i] = replace(
            self.rows[i], decision=st.decision if st else None, realism=st.realism if st else None
        )
        return self.rows[i]

    def next_undecided(self, after: int) -> int | None:
        """Index of the first loaded-or-loadable row after ``after`` that is undecided."""
        if self.filters.decision not in ("", "undecided"):
            return None  # the listing holds decided instances only
        key = self.rows[after].key if 0 <= after < len(self.rows) else None
        nxt = self.store.browse(
            replace(self.filters, decision="undecided"), self.sort, self.descending, key, 1
        )
        if not nxt:
            return None
        target = nxt[0].instance_id
        while (i := self.index_of(target)) is None:
            if not self.load_more():
                return None
        return i


def plural(n: int, word: str) -> str:
    """``1 instance``, ``2 instances`` (the number with its noun)."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def session_pace(decisions: int, minutes: float, left: int) -> str:
    """`` · this session N at R/min, ETA T`` once there is a meaningful rate, else ""."""
    if decisions < 2 or minutes < 0.5:  # too early for a meaningful rate
        return ""
    rate = decisions / minutes
    eta = left / rate
    eta_s = f"{eta:.0f}m" if eta < 90 else f"{eta / 60:.1f}h"
    return f" · this session {decisions} at {rate:.1f}/min, ETA {eta_s}"
