"""The backend-neutral environment interface: build once per recipe, then run commands in it.

Two backends implement it: ``venv`` (a virtualenv on the host) and ``docker`` (one image per
repo, commands in locked-down containers), so callers (baseline, validation workers) only ever
see ``Environment``, ``ProcResult`` and ``ServerProcess``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from engine import generated
from engine.environments.detect import pytest_addopts
from engine.environments.probe import probe_environment, session_args
from engine.environments.processes import ProcResult, ServerProcess, forget_process, terminate_all
from engine.logs import Log
from engine.models import Recipe

BACKENDS = ("venv", "docker")
MARKER = "env.json"  # records the recipe hash the environment was built from
LOCK = ".build.lock"
GENERATED = "generated"  # under the root: source files the build wrote into the repo
# Our own pytest plugins (run in the repo's interpreter): every backend makes them importable.
PLUGIN_DIR = Path(__file__).resolve().parents[1] / "pytest_support"


class Environment(ABC):
    """One repo's isolated interpreter plus its installed test dependencies."""

    backend: str = ""

    def __init__(self, root: Path, repo_root: Path, recipe: Recipe) -> None:
        self._root = Path(root).resolve()
        self.repo_root = Path(repo_root).resolve()
        self.recipe = recipe
        self._session: list[str] | None = None
        self._session_lock = threading.Lock()

    @property
    def root(self) -> Path:
        """Directory the environment lives in (removed wholesale by ``remove``)."""
        return self._root

    @property
    def marker_path(self) -> Path:
        return self._root / MARKER

    def is_built(self) -> bool:
        """True when a build of *this* recipe finished (a changed recipe means rebuild)."""
        try:
            data = json.loads(self.marker_path.read_text())
        except (OSError, ValueError):
            return False
        return data.get("recipe_hash") == self.recipe.hash and self._exists()

    def build(self, log: Log = print) -> None:
        """Build unless already built from the same recipe; safe to call from many processes."""
        if self.is_built():
            log(f"{self.backend} environment up to date ({self.recipe.hash}): {self._root}")
            return
        self._root.mkdir(parents=True, exist_ok=True)
        with _locked(self._root / LOCK):
            if self.is_built():  # another process built it while we waited for the lock
                return
            self.marker_path.unlink(missing_ok=True)
            started = time.monotonic()
            self._build(log)
            files = self.save_generated()
            if files:
                log(f"the build generated {len(files)} source file(s) the work trees get: "
                    f"{', '.join(files[:3])}{' ...' if len(files) > 3 else ''}")
            record = {
                "recipe_hash": self.recipe.hash,
                "backend": self.backend,
                "recipe": json.loads(self.recipe.to_json()),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "build_seconds": round(time.monotonic() - started, 1),
            }
            self.marker_path.write_text(json.dumps(record, indent=2))

    def session_args(self, cwd: Path) -> list[str]:
        """The pytest arguments every run here needs (``engine/environments/probe.py``);
        the environment is probed on first use, which also proves pytest runs in it."""
        with self._session_lock:
            if self._session is None:
                probe = probe_environment(self, cwd, self.repo_root.name)
                self._session = session_args(probe, pytest_addopts(self.repo_root))
            return list(self._session)

    @property
    def generated_dir(self) -> Path:
        """The source files the build wrote into the repo (setuptools-scm's version file),
        laid out as in the repo: the work trees get them (``engine.generated``)."""
        return self._root / GENERATED

    def save_generated(self) -> list[str]:
        """Keep what the build generated in ``generated_dir`` (replacing what an earlier
        build kept); returns the files, relative to the repo."""
        self._root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{GENERATED}-", dir=self._root))
        try:
            files = self._collect_generated(tmp)
            shutil.rmtree(self.generated_dir, ignore_errors=True)
            tmp.rename(self.generated_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return files

    def _collect_generated(self, dest: Path) -> list[str]:
        """Copy the build's generated sources into ``dest``: by default the build ran on
        this host in ``repo_root``, so they are its new untracked files."""
        return generated.collect(self.repo_root, dest, self.recipe.source_roots)

    def terminate_all(self) -> None:
        """Kill every command this process is still running (validation cancelled)."""
        terminate_all()

    def remove(self) -> None:
        """Delete the environment and everything under ``root``."""
        shutil.rmtree(self._root, ignore_errors=True)

    @property
    def scratch_dir(self) -> Path | None:
        """Where to put files the test process must read or write (reports, selections);
        None means the system temp directory (the process runs on this host)."""
        return None

    def forget(self, proc: ServerProcess) -> None:
        """Kill what is left of a spawned server and stop tracking it (it has been reaped)."""
        forget_process(proc.pid)  # type: ignore[attr-defined]

    def close(self) -> None:
        """Release what runs between commands (containers); the environment stays built."""
        return None

    def reap(self, cwd: Path) -> None:
        """After a timeout in ``cwd``: kill what escaped the process-group kill (a test that
        started its own session). A host process cannot be found safely, so venv does nothing."""
        return None

    @abstractmethod
    def _build(self, log: Log) -> None:
        """Create the environment from scratch; raise EnvironmentBuildError on failure."""

    @abstractmethod
    def _exists(self) -> bool:
        """Whether the built artefact (interpreter, image, ...) is still present."""

    @abstractmethod
    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> ProcResult:
        """Run ``argv`` inside the environment; ``argv[0] == "python"`` is its interpreter."""

    @abstractmethod
    def spawn(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        stderr_path: Path | None = None,
    ) -> ServerProcess:
        """Start a long-lived process in the environment with binary stdin/stdout pipes
        (the fork server); ``forget`` must be called once it has been reaped."""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def tree_pythonpath(cwd: Path, recipe: Recipe, extra: dict[str, str]) -> str:
    """PYTHONPATH for a run in ``cwd``: the caller's entries (our plugins) first, then the
    tree's source roots, so the tree being tested wins over the editable install's paths.
    Pops ``PYTHONPATH`` from ``extra``."""
    paths = [p for p in extra.pop("PYTHONPATH", "").split(os.pathsep) if p]
    paths += [str((Path(cwd) / r).resolve()) for r in recipe.source_roots]
    return os.pathsep.join(paths)
