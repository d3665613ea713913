"""The store's records of what comes before forging: repos, their environments, baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.instances import EnvironmentRecord
from engine.models import Baseline, BaselineTest, Recipe, RepoRecord
from engine.store.base import StoreBase, now


class SetupMixin(StoreBase):
    """Repos as added, each build of their environment, each baseline and its tests."""

    # ---------------------------------------------------------------- repos
    def add_repo(self, rec: RepoRecord) -> None:
        with self.transaction():
            self.con.execute("DELETE FROM repos WHERE name = ?", [rec.name])
            self.con.execute(
                "INSERT INTO repos VALUES (?, ?, ?, ?, ?, ?)",
                [rec.name, rec.source, rec.kind, rec.commit, rec.path, now()],
            )

    def get_repo(self, name: str) -> RepoRecord | None:
        row = self.con.execute(
            "SELECT name, source, kind, commit, path, CAST(added_at AS VARCHAR) FROM repos "
            "WHERE name = ?",
            [name],
        ).fetchone()
        return RepoRecord(*row) if row else None

    def list_repos(self) -> list[RepoRecord]:
        rows = self.con.execute(
            "SELECT name, source, kind, commit, path, CAST(added_at AS VARCHAR) FROM repos "
            "ORDER BY name"
        ).fetchall()
        return [RepoRecord(*r) for r in rows]

    def relocate_repos(self, repos_dir: Path, moved: list[RepoRecord]) -> None:
        """Point the records of ``moved`` at their copies under ``repos_dir`` (``<home>/repos``,
        where ``repo add`` puts them): a workspace copied or moved keeps the old paths."""
        if moved:
            with self.transaction():
                for rec in moved:
                    self.con.execute("UPDATE repos SET path = ? WHERE name = ?",
                                     [str(repos_dir / rec.name), rec.name])

    # ---------------------------------------------------------------- environments
    def save_environment(
        self, repo: str, backend: str, recipe: Recipe, root: str, seconds: float
    ) -> None:
        self.con.execute(
            "INSERT INTO environments VALUES (?, ?, ?, ?, ?, ?, ?)",
            [repo, backend, recipe.to_json(), recipe.hash, root, now(), seconds],
        )

    def get_environment(self, repo: str) -> EnvironmentRecord | None:
        row = self.con.execute(
            "SELECT backend, recipe, recipe_hash, root, CAST(built_at AS VARCHAR), build_seconds "
            "FROM environments WHERE repo = ? ORDER BY built_at DESC LIMIT 1",
            [repo],
        ).fetchone()
        if not row:
            return None
        backend, recipe, recipe_hash, root, built_at, seconds = row
        return EnvironmentRecord(backend, Recipe.from_json(recipe), recipe_hash, root, built_at,
                                 seconds)

    # ---------------------------------------------------------------- baselines
    def save_baseline(self, b: Baseline, recipe_hash: str, backend: str = "venv") -> None:
        with self.transaction():
            self.con.execute(
                "INSERT INTO baselines (baseline_id, repo, commit, recipe_hash, created_at, "
                "runs, n_tests, n_passed, n_flaky, pass_rate, seconds, backend, n_unstable) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    b.baseline_id, b.repo, b.commit, recipe_hash, now(), b.runs,
                    len(b.tests), len(b.passing), len(b.flaky), b.pass_rate, b.seconds,
                    backend, len(b.unstable),
                ],
            )
            rows = [
                (b.baseline_id, t.nodeid, t.outcome, list(t.outcomes), t.duration, t.flaky,
                 t.unstable_id)
                for t in b.tests.values()
            ]
            if rows:
                self.con.executemany(
                    "INSERT INTO baseline_tests VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                )

    def latest_baseline(self, repo: str, commit: str | None = None,
                        backend: str | None = None) -> Baseline | None:
        """The newest baseline of ``repo`` (at ``commit``, run in ``backend``, when given)."""
        sql = (
            "SELECT baseline_id, repo, commit, runs, seconds, CAST(created_at AS VARCHAR) "
            "FROM baselines WHERE repo = ?"
        )
        params: list[Any] = [repo]
        if commit:
            sql += " AND commit = ?"
            params.append(commit)
        if backend:
            sql += " AND backend = ?"
            params.append(backend)
        row = self.con.execute(sql + " ORDER BY created_at DESC LIMIT 1", params).fetchone()
        if not row:
            return None
        bid, repo_, commit_, runs, seconds, created = row
        tests = {
            r[0]: BaselineTest(r[0], r[1], r[3], r[4], tuple(r[2]), bool(r[5]))
            for r in self.con.execute(
                "SELECT nodeid, outcome, outcomes, duration, flaky, unstable_id "
                "FROM baseline_tests "
                "WHERE baseline_id = ?",
                [bid],
            ).fetchall()
        }
        return Baseline(bid, repo_, commit_, runs, tests, seconds, created)
