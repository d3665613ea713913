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

from engine.errors import UsageError

DEFAULT_HOME = ".bugfoundry"


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--workspace beats BUGFOUNDRY_HOME beats ./.bugfoundry; an empty --workspace is refused
    (it would silently mean the default)."""
    if explicit is not None and not str(explicit).strip():
        raise UsageError("--workspace is empty: give a directory (a new one is created), or "
                         "leave the option out for $BUGFOUNDRY_HOME or ./.bugfoundry.")
    raw = explicit or os.environ.get("BUGFOUNDRY_HOME") or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


def _make_home(home: Path) -> None:
    """Create the workspace directory, or say in one line why it cannot be one."""
    if home.exists() and not home.is_dir():
        raise UsageError(f"the workspace {home} is a file, not a directory.\n"
                         "Pass --workspace DIR naming a directory (a new one is created).")
    ancestor = next((p for p in home.parents if p.exists()), None)
    if ancestor is not None and not ancestor.is_dir():
        raise UsageError(f"cannot create the workspace {home}: {ancestor} is not a directory."
                         "\nPass --workspace DIR naming a directory (a new one is created).")
    try:
        home.mkdir(parents=True, exist_ok=True)
        for sub in ("repos", "envs", "work", "cache"):
            (home / sub).mkdir(exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the workspace {home}: {exc.strerror or exc}.\n"
                         "Pass --workspace DIR naming a directory you can write.") from None


@dataclass(frozen=True)
class Workspace:
    home: Path
    # Worker trees elsewhere than ``<home>/work`` (a shard's own, so shards sharing one
    # workspace on a shared volume never use the same trees).
    scratch: Path | None = None

    @classmethod
    def open(cls, explicit: str | os.PathLike[str] | None = None) -> Workspace:
        ws = cls(resolve_home(explicit))
        _make_home(ws.home)
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
        return self.scratch or self.home / "work"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def repo_path(self, name: str) -> Path:
        return self.repos_dir / name

    def env_path(self, name: str) -> Path:
        return self.envs_dir / name

    def worker_path(self, name: str, worker: int | str) -> Path:
        return self.work_dir / name / str(worker)

    def elsewhere(self, recorded: str | os.PathLike[str], sub: str) -> Path | None:
        """The root of the other workspace a recorded path lies in (``<root>/<sub>/...``,
        ``sub`` being ``repos`` or ``envs``), or None when it lies in this one. A workspace
        copied (``cp -a``) or moved keeps the old absolute paths in its database."""
        path = Path(recorded)
        if path.is_relative_to(self.home):
            return None
        parts = path.parts
        at = max((i for i, part in enumerate(parts) if part == sub), default=0)
        return Path(*parts[:at]) if at else path.parent
