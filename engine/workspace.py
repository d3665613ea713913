"""The workspace: one directory that owns the database, the repo copies and the environments.

Layout::

    <home>/bugfoundry.duckdb   the store (the only file SQL touches)
    <home>/repos/<name>/       workspace-owned git checkout, pinned (never the user's own)
    <home>/envs/<name>/        the repo's environment: venv/, and docker/ (image metadata)
    <home>/work/<name>/<k>/    per-worker scratch trees used by validation
    <home>/cache/              downloads (sdists) and the installer cache
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".bugfoundry"


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--workspace beats BUGFOUNDRY_HOME beats ./.bugfoundry."""
    raw = explicit or os.environ.get("BUGFOUNDRY_HOME") or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def open(cls, explicit: str | os.PathLike[str] | None = None) -> Workspace:
        ws = cls(resolve_home(explicit))
        for d in (ws.home, ws.repos_dir, ws.envs_dir, ws.work_dir, ws.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
        return ws

    @property
    def db_path(self) -> Path:
        return self.home / "bugfoundry.duckdb"

    @property
    def repos_dir(self) -> Path:
        return self.home / "repos"

    @property
    def envs_dir(self) -> Path:
        return self.home / "envs"

    @property
    def work_dir(self) -> Path:
        return self.home / "work"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def repo_path(self, name: str) -> Path:
        return self.repos_dir / name

    def env_path(self, name: str) -> Path:
        return self.envs_dir / name

    def worker_path(self, name: str, worker: int | str) -> Path:
        return self.work_dir / name / str(worker)
