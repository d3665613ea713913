"""The DuckDB store's core: opening and migrating, candidates, results, instances (repos,
environments and baselines: ``engine/store/setup.py``).

The ``engine.store`` package is the only code that speaks SQL.

Design choices, each for a reason:

* **One writer process.** DuckDB lets exactly one process open the file read-write, and while it
  does no other process can open it at all. So the process that forges (the CLI, or the TUI which
  drives the engine in-process) holds the connection for its whole run; a second process gets a
  clear ``DatabaseLocked`` ("in use by process n") instead of a retry loop. Worker threads
  never touch the owner's connection: the forge's validators hand results to the owning
  thread, which writes them; the TUI's worker threads each use ``Store.reader()`` (a cursor).
* **Append-only tables.** DuckDB's PK/UNIQUE checks misfire on UPDATE and delete+insert of the same
  key, so nothing here is updated in place. A candidate is "pending" until a row for it exists in
  ``results``; instances are written in the same transaction as their result row, so a kill -9
  at any point loses at most the candidate that was being validated, never a committed one.
* **Versioned schema.** ``meta.schema_version`` plus an ordered list of migrations applied on open
  (``engine/store/schema.py``).
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Self

import duckdb

from engine.diffs import count_changed_lines
from engine.errors import StoreError
from engine.instances import Instance, InstanceRow
from engine.models import Baseline, Candidate, Verdict
from engine.store.base import now
from engine.store.edge import DatabaseError, damaged, open_error, snapshot_copy
from engine.store.schema import MIGRATIONS, SCHEMA_VERSION
from engine.store.setup import SetupMixin

# Columns of the instance listing; never includes the patch or the failure text (kept lean).
LIST_COLUMNS = (
    "instance_id, repo, base_commit, strategy, modifier, file, entity, n_f2p, n_p2p, "
    "lines_changed, files_changed, validation_seconds, created_at"
)


def instance_id_for(candidate: Candidate, commit: str) -> str:
    """SWE-smith-style id: <repo>.<commit8>.<strategy>_<modifier>__<hash8>."""
    c = candidate
    kind = f"{c.strategy}_{c.modifier}" if c.modifier else c.strategy
    return f"{candidate.repo}.{commit[:8]}.{kind}__{candidate.patch_hash[:8]}"


# Columns of a whole instance, in ``Instance``'s field order (``instance_from_columns``).
INSTANCE_COLUMNS = (
    f"{LIST_COLUMNS}, candidate_id, patch, fail_to_pass, pass_to_pass, failures, "
    "problem_statement, meta"
)


_INSTANCE_FIELDS = tuple(f.name for f in fields(Instance) if f.name != "statement")


def instance_from_columns(row: Sequence[Any]) -> Instance:
    """An ``Instance`` from a row of ``INSTANCE_COLUMNS`` (JSON text decoded)."""
    rec = dict(zip(_INSTANCE_FIELDS, row, strict=True))
    rec["fail_to_pass"] = list(rec["fail_to_pass"] or ())
    rec["pass_to_pass"] = list(rec["pass_to_pass"] or ())
    rec["failures"] = json.loads(rec["failures"] or "{}")
    rec["meta"] = json.loads(rec["meta"] or "{}")
    return Instance(**rec)


@dataclass(frozen=True)
class RepoSummary:
    repo: str
    candidates: int
    validated: int
    dropped: int
    pending: int
    drop_reasons: dict[str, int]


class StoreCore(SetupMixin):
    """A connection to the workspace database, owned by one thread of one process."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, *,
                 owner: bool = True) -> None:
        self.con = con
        self.path = path
        self._owner = owner  # False: a worker thread's cursor (``reader``)

    # ---------------------------------------------------------------- open / close
    @classmethod
    def open(cls, path: Path, read_only: bool = False) -> Self:
        """The store at ``path`` (created and migrated when writable). ``DatabaseLocked``
        when another process holds it, ``DatabaseError`` when it is damaged."""
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            raise open_error(Path(path), exc) from None
        store = cls(con, path)
        try:  # a damaged file often opens, and fails at its first read
            if read_only:
                store.schema_version()
            else:
                store._migrate()
        except (duckdb.Error, DatabaseError) as exc:
            with suppress(duckdb.Error):
                con.close()
            if isinstance(exc, DatabaseError):
                raise
            raise damaged(Path(path), exc) from None
        return store

    @classmethod
    def snapshot(cls, path: Path) -> Self:
        """A read-only store on a copy of ``path`` (its write-ahead log included) in a fresh
        temporary directory, for browsing while another process holds the file.

        The copy is ``store.path``; its directory is the caller's to remove after closing.
        A copy that cannot be read (taken mid-write) is removed and raises ``StoreError``."""
        copy = snapshot_copy(Path(path))
        try:
            return cls.open(copy, read_only=True)
        except StoreError:
            shutil.rmtree(copy.parent, ignore_errors=True)
            raise

    def reader(self) -> Self:
        """This store on a new cursor of the same connection, for one worker thread.

        DuckDB connections are not shared across threads; a cursor is (same database, its
        own transaction context). Close it in the thread when done; closing never
        checkpoints or closes the owner's connection."""
        return type(self)(self.con.cursor(), self.path, owner=False)

    def close(self) -> None:
        if self._owner:
            with suppress(duckdb.Error):
                self.con.execute("CHECKPOINT")
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        try:
            row = self.con.execute(
                "SELECT max(CAST(value AS INTEGER)) FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        except duckdb.CatalogException:
            return 0
        return int(row[0]) if row and row[0] is not None else 0

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this bugfoundry "
                f"({SCHEMA_VERSION}).\nUpgrade bugfoundry to open it."
            )
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            with self.transaction():
                for sql in statements:
                    self.con.execute(sql)
                self.con.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?)", [str(version)]
                )
                self.con.execute(
                    "INSERT INTO meta VALUES ('duckdb_version', ?)", [duckdb.__version__]
                )

    # ---------------------------------------------------------------- runs and candidates
    def start_run(
        self, repo: str, strategies: Sequence[str], seed: int, max_candidates: int | None,
        workers: int, args: dict[str, Any],
    ) -> str:
        run_id = uuid.uuid4().hex[:12]
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, repo, list(strategies), seed, max_candidates, workers, now(),
             json.dumps(args, sort_keys=True)],
        )
        return run_id

    def known_candidate_ids(self, repo: str) -> set[str]:
        rows = self.con.execute(
            "SELECT candidate_id FROM candidates WHERE repo = ?", [repo]
        ).fetchall()
        return {r[0] for r in rows}

    def add_candidates(self, run_id: str, candidates: Iterable[Candidate]) -> int:
        """Insert new candidates (identical diffs collapse); returns how many were new."""
        cands = list(candidates)
        if not cands:
            return 0
        known = self.known_candidate_ids(cands[0].repo)
        rows = []
        stamp = now()
        for c in cands:
            if c.candidate_id in known:
                continue
            known.add(c.candidate_id)
            rows.append((
                c.candidate_id, c.repo, run_id, c.strategy, c.modifier, c.file, c.entity,
                list(c.changed_lines), c.seed, c.patch, c.patch_hash,
                json.dumps(c.meta, sort_keys=True, default=str), stamp,
            ))
        if rows:
            with self.transaction():
                self.con.executemany(
                    "INSERT INTO candidates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
        return len(rows)

    def _candidate_from_row(self, r: Sequence[Any]) -> Candidate:
        return Candidate(
            repo=r[0], strategy=r[1], modifier=r[2], patch=r[3], file=r[4], entity=r[5],
            changed_lines=tuple(r[6] or ()), seed=r[7], meta=json.loads(r[8] or "{}"),
        )

    def pending_candidates(
        self, repo: str, strategies: Sequence[str] | None = None, limit: int | None = None
    ) -> list[Candidate]:
        """Candidates with no result yet, oldest first (the order they were forged in)."""
        return self.stored_candidates(repo, strategies, limit, pending=True)

    def stored_candidates(
        self, repo: str, strategies: Sequence[str] | None = None, limit: int | None = None,
        *, pending: bool = False,
    ) -> list[Candidate]:
        """Every stored candidate of ``repo`` (with ``pending``: those with no result yet),
        oldest first (the order they were forged in)."""
        sql = (
            "SELECT c.repo, c.strategy, c.modifier, c.patch, c.file, c.entity, c.changed_lines, "
            "c.seed, c.meta FROM candidates c "
            + ("ANTI JOIN results r USING (candidate_id) " if pending else "")
            + "WHERE c.repo = ?"
        )
        params: list[Any] = [repo]
        if strategies:
            sql += " AND c.strategy IN (SELECT unnest(?))"
            params.append(list(strategies))
        sql += " ORDER BY c.created_at, c.candidate_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self._candidate_from_row(r) for r in self.con.execute(sql, params).fetchall()]

    def count_candidates(self, repo: str, strategies: Sequence[str] | None = None) -> int:
        sql = "SELECT count(*) FROM candidates WHERE repo = ?"
        params: list[Any] = [repo]
        if strategies:
            sql += " AND strategy IN (SELECT unnest(?))"
            params.append(list(strategies))
        return int(self.scalar(sql, params))

    def get_candidate(self, candidate_id: str) -> Candidate | None:
        row = self.con.execute(
            "SELECT repo, strategy, modifier, patch, file, entity, changed_lines, seed, meta "
            "FROM candidates WHERE candidate_id = ?",
            [candidate_id],
        ).fetchone()
        return self._candidate_from_row(row) if row else None

    # ---------------------------------------------------------------- results and instances
    def record_result(
        self, candidate: Candidate, verdict: Verdict, baseline: Baseline
    ) -> str | None:
        """Store one verdict (and its instance when kept) atomically; returns the instance id."""
        return self.record_results([(candidate, verdict)], baseline)[0]

    def record_results(
        self, pairs: Sequence[tuple[Candidate, Verdict]], baseline: Baseline
    ) -> list[str | None]:
        """Store verdicts that arrived together (and their instances) in one transaction, so
        a driver fed by many machines pays one commit per batch, not per verdict; returns
        each one's instance id (None: dropped, or judged already and not written again)."""
        done = {r[0] for r in self.con.execute(
            "SELECT candidate_id FROM results WHERE candidate_id IN (SELECT unnest(?))",
            [[v.candidate_id for _, v in pairs]]).fetchall()}
        out: list[str | None] = []
        with self.transaction():
            for candidate, verdict in pairs:
                if verdict.candidate_id in done:  # a resumed run never writes one twice
                    out.append(None)
                    continue
                done.add(verdict.candidate_id)
                out.append(self._insert_result(candidate, verdict, baseline))
        return out

    def _insert_result(
        self, candidate: Candidate, verdict: Verdict, baseline: Baseline
    ) -> str | None:
        instance_id = None
        self.con.execute(
            "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                verdict.candidate_id, candidate.repo, baseline.baseline_id, verdict.kept,
                verdict.reason, verdict.detail[:4000], verdict.fail_to_pass,
                verdict.pass_to_pass, len(verdict.tests_run), verdict.duration,
                verdict.worker, now(), verdict.path,
            ],
        )
        if verdict.kept:
            instance_id = instance_id_for(candidate, baseline.commit)
            lines, files = count_changed_lines(candidate.patch)
            meta = dict(candidate.meta)
            statement = meta.pop("problem_statement", None)  # a column of its own
            meta.update(
                seed=candidate.seed, changed_lines=list(candidate.changed_lines),
                baseline_id=baseline.baseline_id, worker=verdict.worker,
                tests_run=len(verdict.tests_run), validation_path=verdict.path,
            )
            if verdict.collection_errors:  # shown first in the review
                meta["collection_errors"] = verdict.collection_errors
            self.con.execute(
                "INSERT INTO instances VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    instance_id, verdict.candidate_id, candidate.repo, baseline.commit,
                    candidate.strategy, candidate.modifier, candidate.file,
                    candidate.entity, candidate.patch, verdict.fail_to_pass,
                    verdict.pass_to_pass, len(verdict.fail_to_pass),
                    len(verdict.pass_to_pass), lines, files,
                    json.dumps(verdict.failures), statement,
                    json.dumps(meta, sort_keys=True, default=str), verdict.duration, now(),
                ],
            )
        return instance_id

    def done_candidate_ids(self, repo: str, seed: int | None = None) -> set[str]:
        """Judged candidates of a repo; with ``seed``, only those first forged with that seed."""
        sql = "SELECT candidate_id FROM results WHERE repo = ?"
        params: list[Any] = [repo]
        if seed is not None:
            sql += (" AND candidate_id IN (SELECT candidate_id FROM candidates"
                    " WHERE repo = ? AND seed = ?)")
            params += [repo, seed]
        return {r[0] for r in self.con.execute(sql, params).fetchall()}

    def list_instances(
        self, repo: str | None = None, strategy: str | None = None, limit: int | None = None
    ) -> list[InstanceRow]:
        sql = f"SELECT {LIST_COLUMNS} FROM instances WHERE 1=1"
        params: list[Any] = []
        if repo:
            sql += " AND repo = ?"
            params.append(repo)
        if strategy:
            sql += " AND strategy = ?"
            params.append(strategy)
        sql += " ORDER BY repo, instance_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [InstanceRow(*row) for row in self.con.execute(sql, params).fetchall()]

    def instances(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        """The instances of these ids that exist, with their newest problem statements."""
        ids = list(dict.fromkeys(instance_ids))
        if not ids:
            return {}
        cur = self.con.execute(
            f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE instance_id IN (SELECT unnest(?))",
            [ids])
        recs = {row[0]: instance_from_columns(row) for row in cur.fetchall()}
        return self.with_statements(recs)

    def get_instance(self, instance_id: str) -> Instance | None:
        return self.instances([instance_id]).get(instance_id)

    def with_statements(self, recs: dict[str, Instance]) -> dict[str, Instance]:
        return recs  # engine.store.lm overlays problem statements written later

    def summary(self, repo: str) -> RepoSummary:
        cands = self.count_candidates(repo)
        rows = self.con.execute(
            "SELECT reason, count(*) FROM results WHERE repo = ? GROUP BY reason", [repo]
        ).fetchall()
        reasons = {r: int(n) for r, n in rows}
        validated = reasons.pop("kept", 0)
        dropped = sum(reasons.values())
        return RepoSummary(
            repo, cands, validated, dropped, cands - validated - dropped,
            dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        )

    def yield_by_modifier(self, repo: str, strategy: str | None = None) -> list[tuple]:
        """(strategy, modifier, candidates validated, kept) for the closing figures."""
        sql = (
            "SELECT c.strategy, c.modifier, count(r.candidate_id), "
            "count(*) FILTER (WHERE r.kept) FROM candidates c JOIN results r "
            "USING (candidate_id) WHERE c.repo = ?"
        )
        params: list[Any] = [repo]
        if strategy:
            sql += " AND c.strategy = ?"
            params.append(strategy)
        sql += " GROUP BY ALL ORDER BY 1, 2"
        return [tuple(r) for r in self.con.execute(sql, params).fetchall()]

    def mean_validation_seconds(self, repo: str) -> float:
        return float(self.scalar(
            "SELECT avg(duration) FROM results WHERE repo = ?", [repo]) or 0.0)

    def verdict_reasons(self, repo: str) -> list[tuple[str, str]]:
        """(candidate_id, reason) for every judged candidate of a repo."""
        return [tuple(r) for r in self.con.execute(
            "SELECT candidate_id, reason FROM results WHERE repo = ?", [repo]
        ).fetchall()]
