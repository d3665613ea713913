"""The blind "real or forged?" test's tables: sessions, their items, the curators' answers.

A session is written once, items and all, in one transaction (``engine.realism.blindtest``
picks and shuffles them). Answers are an append-only log like the curation decisions: each
key press that answers is one committed row, and a curator's later answer on the same item
replaces the earlier one in ``current`` reads (nothing is updated, so a crash or a kill never
loses an answer already given). The truth (real or forged, the strategy) sits beside each item
for the report; the test screen reads only ``display_id`` and the instance's diff and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.store.base import StoreBase, now

ANSWERS = ("real", "forged")
CONFIDENCES = (1, 2, 3, 4, 5)
REAL_STRATEGY = "pr_mirror"  # a reverted real fix; every other strategy forges


@dataclass(frozen=True)
class BlindSession:
    """One blind test: which repo, how many items and what share of them are real."""

    session_id: int
    repo: str
    items: int
    real_share: float
    seed: int
    strategies: tuple[str, ...]  # the forged strategies drawn from
    created_at: str


@dataclass(frozen=True)
class BlindItem:
    """One item of a session, in its shuffled position; ``truth`` and ``strategy`` are for
    the report only."""

    position: int
    instance_id: str
    display_id: str
    truth: str  # "real" | "forged"
    strategy: str
    modifier: str


@dataclass(frozen=True)
class BlindAnswer:
    """A curator's current answer on one item (the latest they gave)."""

    instance_id: str
    curator: str
    answer: str  # "real" | "forged"
    confidence: int  # 1 (a guess) .. 5 (certain)
    seconds: float
    answered_at: str


@dataclass(frozen=True)
class PoolEntry:
    """An instance a session may draw: its id, strategy and modifier."""

    instance_id: str
    strategy: str
    modifier: str


class BlindTestMixin(StoreBase):
    """Blind-test sessions and answers; mixed into ``Store``."""

    def blind_pool(self, repo: str) -> list[PoolEntry]:
        """Every instance of ``repo`` with a diff, by id (the draw's stable input order)."""
        rows = self.con.execute(
            "SELECT instance_id, strategy, coalesce(modifier, '') FROM instances "
            "WHERE repo = ? AND coalesce(patch, '') <> '' ORDER BY instance_id",
            [repo]).fetchall()
        return [PoolEntry(*r) for r in rows]

    def real_counts(self) -> dict[str, int]:
        """Repo -> how many real (pr_mirror) instances it has, for repos with any."""
        rows = self.con.execute(
            "SELECT repo, count(*) FROM instances WHERE strategy = ? GROUP BY 1 ORDER BY 1",
            [REAL_STRATEGY]).fetchall()
        return {repo: int(n) for repo, n in rows}

    def create_blind_session(self, repo: str, real_share: float, seed: int,
                             strategies: Sequence[str], items: Sequence[BlindItem]) -> int:
        """Store a session and its items at once; returns its number."""
        with self.transaction():
            sid = int(self.scalar("SELECT nextval('blindtest_seq')"))
            self.con.execute(
                "INSERT INTO blindtest_sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [sid, repo, len(items), real_share, seed, list(strategies), now()])
            self.con.executemany(
                "INSERT INTO blindtest_items VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(sid, it.position, it.instance_id, it.display_id, it.truth, it.strategy,
                  it.modifier) for it in items])
        return sid

    def blind_sessions(self) -> list[BlindSession]:
        """Every session, newest first."""
        rows = self.con.execute(
            "SELECT session_id, repo, items, real_share, seed, strategies, "
            "CAST(created_at AS VARCHAR) FROM blindtest_sessions "
            "ORDER BY session_id DESC").fetchall()
        return [BlindSession(int(r[0]), r[1], int(r[2]), float(r[3]), int(r[4]),
                             tuple(r[5] or ()), r[6]) for r in rows]

    def blind_items(self, session_id: int) -> list[BlindItem]:
        rows = self.con.execute(
            "SELECT position, instance_id, display_id, truth, strategy, modifier "
            "FROM blindtest_items WHERE session_id = ? ORDER BY position",
            [session_id]).fetchall()
        return [BlindItem(int(r[0]), r[1], r[2], r[3], r[4] or "", r[5] or "") for r in rows]

    def record_blind_answer(self, session_id: int, instance_id: str, curator: str,
                            answer: str, confidence: int, seconds: float) -> int:
        """Append one answer (committed at once); returns its id."""
        if answer not in ANSWERS or confidence not in CONFIDENCES:
            raise ValueError(f"answer {answer!r} with confidence {confidence!r}: expected "
                             f"one of {ANSWERS} and 1-5")
        with self.transaction():
            aid = int(self.scalar("SELECT nextval('blindtest_answer_seq')"))
            self.con.execute(
                "INSERT INTO blindtest_answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [aid, session_id, instance_id, curator, answer, confidence,
                 round(max(seconds, 0.0), 3), now()])
        return aid

    def blind_answers(self, session_id: int, curator: str | None = None) -> list[BlindAnswer]:
        """The current answer (the latest) per item and curator, by curator then item."""
        sql = ("SELECT instance_id, curator, arg_max(answer, answer_id), "
               "arg_max(confidence, answer_id), arg_max(seconds, answer_id), "
               "CAST(max(answered_at) AS VARCHAR) FROM blindtest_answers "
               "WHERE session_id = ?")
        params: list[object] = [session_id]
        if curator is not None:
            sql += " AND curator = ?"
            params.append(curator)
        rows = self.con.execute(sql + " GROUP BY 1, 2 ORDER BY 2, 1", params).fetchall()
        return [BlindAnswer(r[0], r[1], r[2], int(r[3]), float(r[4] or 0.0), r[5])
                for r in rows]
