"""Make a repo's environment for a backend by name (``venv`` or ``docker``).

Apart from ``base`` because both backends import ``base``: the interface cannot also import
its implementations without a cycle.
"""

from __future__ import annotations

from pathlib import Path

from engine.environments.base import BACKENDS, Environment
from engine.environments.venv import VenvEnvironment
from engine.errors import UsageError
from engine.models import Recipe


def make_environment(
    backend: str,
    root: Path,
    repo_root: Path,
    recipe: Recipe,
    *,
    cache_dir: Path | None = None,
    base_image: str | None = None,
    wheelhouse: Path | None = None,
) -> Environment:
    """The environment for ``backend``: "venv" or "docker" (``base_image`` and ``wheelhouse``
    are docker's: what to build on, and wheels to install offline from)."""
    if backend == "venv":
        return VenvEnvironment(root, repo_root, recipe, cache_dir=cache_dir)
    if backend == "docker":  # imported on demand: the docker backend adds ~40 ms to startup
        from engine.environments.docker_env import DockerEnvironment

        return DockerEnvironment(root, repo_root, recipe, base_image=base_image,
                                 wheelhouse=wheelhouse)
    raise UsageError(f"unknown environment backend {backend!r}\n"
                     f"choose one of: {', '.join(BACKENDS)}")
