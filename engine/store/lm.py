"""LM answers (the response cache), the log of every LM call, and problem statements.

The cache is what makes a rerun free: an answer is stored the moment it arrives, keyed by
(prompt, model, parameters), so a crash after paying for it never pays twice. The call log
keeps one row per attempt to make a candidate, including rejected answers and their reason.
Statements are append-only: the latest per instance is the one shown and exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from engine.store.base import StoreBase, now

if TYPE_CHECKING:
    from engine.instances import Instance



@dataclass(frozen=True)
class LMCall:
    """One attempt to turn an LM answer into a candidate (or a statement)."""

    repo: str
    purpose: str  # lm_modify | lm_rewrite | statement | pr_mirror
    file: str
    entity: str
    key: str
    status: str  # ok | rejected | error
    reason: str = ""  # why rejected / failed ("" when ok)
    detail: str = ""
    candidate_id: str = ""
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cached: bool = False


@dataclass(frozen=True)
class Statement:
    """A problem statement for one instance and where it came from."""

    instance_id: str
    kind: str  # lm | template | tests
    text: str
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    leaks: tuple[str, ...] = ()  # changed diff lines the text quotes (empty = clean)


class LMMixin(StoreBase):

    def lm_cached(self, keys: Sequence[str]) -> dict[str, str]:
        """Stored answers (``Completion`` JSON) for those of ``keys`` that have one."""
        if not keys:
            return {}
        rows = self.con.execute(
            "SELECT key, arg_max(response, created_at) FROM lm_responses "
            "WHERE key IN (SELECT unnest(?)) GROUP BY key", [list(keys)]).fetchall()
        return dict(rows)

    def save_lm_response(self, key: str, model: str, purpose: str, response: str) -> None:
        self.con.execute("INSERT INTO lm_responses VALUES (?, ?, ?, ?, ?)",
                         [key, model, purpose, response, now()])

    def log_lm_calls(self, calls: Sequence[LMCall]) -> None:
        if not calls:
            return
        self.con.executemany(
            "INSERT INTO lm_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[c.repo, c.purpose, c.file, c.entity, c.key, c.status, c.reason, c.detail,
              c.candidate_id, c.model, c.prompt_tokens, c.completion_tokens, c.cost, c.cached,
              now()] for c in calls])

    def lm_call_summary(self, repo: str) -> list[tuple[str, str, str, int, float]]:
        """(purpose, status, reason, calls, cost) for ``bugfoundry status``."""
        rows = self.con.execute(
            "SELECT purpose, status, reason, count(*), sum(CASE WHEN cached THEN 0 ELSE cost "
            "END) FROM lm_calls WHERE repo = ? GROUP BY ALL ORDER BY 1, 2, 4 DESC",
            [repo]).fetchall()
        return [(p, s, r, int(n), float(c or 0)) for p, s, r, n, c in rows]

    def save_statement(self, st: Statement) -> None:
        self.con.execute(
            "INSERT INTO statements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [st.instance_id, st.kind, st.text, st.model, st.prompt_tokens,
             st.completion_tokens, st.cost, list(st.leaks), now()])

    def latest_statements(self, instance_ids: Sequence[str] | None = None
                          ) -> dict[str, Statement]:
        """The newest statement of each instance (of ``instance_ids``, or all)."""
        sql = ("SELECT instance_id, arg_max(kind, created_at), arg_max(text, created_at), "
               "arg_max(model, created_at), arg_max(prompt_tokens, created_at), "
               "arg_max(completion_tokens, created_at), arg_max(cost, created_at), "
               "arg_max(leaks, created_at) FROM statements")
        params: list[Any] = []
        if instance_ids is not None:
            if not instance_ids:
                return {}
            sql += " WHERE instance_id IN (SELECT unnest(?))"
            params.append(list(instance_ids))
        rows = self.con.execute(sql + " GROUP BY instance_id", params).fetchall()
        return {r[0]: Statement(r[0], r[1], r[2], r[3] or "", int(r[4] or 0), int(r[5] or 0),
                                float(r[6] or 0), tuple(r[7] or ())) for r in rows}

    def with_statements(self, recs: dict[str, Instance]) -> dict[str, Instance]:
        """Overlay each record's newest statement: its text becomes ``problem_statement`` and
        the whole stored statement ``statement`` (kind, model, tokens, cost, leaks)."""
        for iid, st in self.latest_statements(list(recs)).items():
            recs[iid] = replace(recs[iid], problem_statement=st.text, statement=st)
        return recs
