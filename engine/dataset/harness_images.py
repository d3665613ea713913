"""Images a harness can run an exported instance in, built from the repo's docker environment.

The docker backend's environment image holds the pinned commit's files at ``/testbed`` (no
``.git``: validation mounts its own work trees) and the installed venv. Harnesses need more,
and not the same thing (see ``engine.dataset.rows``):

- **harness base** (per repo): the environment image plus ``git``, a system git config that
  trusts ``/testbed``, a silent ``.bashrc`` (mini-swe-agent sources it before every command),
  and the run environment validation used (``PYTHONPATH`` on the source roots, the recipe's
  variables), so a plain ``python -m pytest`` in ``/testbed`` behaves as our runs did;
- **per instance** (SWE-bench rows, mini-swe-agent): ``/testbed`` a git work tree at the
  instance's snapshot, a single parentless commit holding the bug, with a clean status: the
  container starts with the bug in place and ``git log`` shows nothing to diff against;
- **per repo and clean commit** (SWE-smith): ``/testbed`` at the clean commit on ``main``, with
  every instance's branch (the bug, then its FAIL_TO_PASS test files removed).

Files the build left in ``/testbed`` (egg-info, generated version files) are listed in
``.git/info/exclude``, files the target commit does not have are removed. An image whose labels
say it was built from the same base and commit (and, for a SWE-smith image, with the same
instance branches at the same commits) is not built again.
"""

from __future__ import annotations

import hashlib
import io
import shlex
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from engine.environments.docker_image import short_error
from engine.environments.factory import make_environment
from engine.errors import BugfoundryError, EnvironmentBuildError, StoreError
from engine.forge.setup import ensure_environment, env_root, open_repo
from engine.logs import Log
from engine.repos import make_worker_tree

if TYPE_CHECKING:
    from engine.environments.docker_env import DockerEnvironment
    from engine.models import Recipe
    from engine.store import Store
    from engine.workspace import Workspace

LABEL = "bugfoundry.repo"
KIND = "bugfoundry.harness"  # base | repo | instance
FROM = "bugfoundry.from"  # the image id it was built on
TARGET = "bugfoundry.target"  # the commit its /testbed holds
REFS = "bugfoundry.refs"  # a SWE-smith image's instance branches and their commits (digest)


def probe_session(ws: Workspace, store: Store, name: str, log: Log) -> list[str] | None:
    """The pytest switches validation used for ``name`` (its environment probed), or None."""
    try:
        rec = open_repo(ws, store, name, log)
        env, _recipe = ensure_environment(ws, store, rec, log=log)
        try:
            tree = make_worker_tree(rec, ws.worker_path(name, 0), generated=env.generated_dir)
            return env.session_args(tree)
        finally:
            env.close()
    except StoreError:
        raise  # a damaged or locked database is the user's problem to hear, not a fallback
    except BugfoundryError as exc:
        log(f"{name}: the export uses plain pytest switches ({str(exc).splitlines()[0]})")
        return None


@dataclass
class _Repo:
    """One repo's share of the export's images."""

    name: str
    env: DockerEnvironment
    recipe: Recipe
    branches: Path  # the export's bare repo with the instance refs
    pinned: str  # the commit the environment image holds


def build_for_export(ws: Workspace, store: Store, repos_dir: Path,
                     requests: list[dict[str, Any]], *, only_docker: bool,
                     log: Log) -> dict[str, str]:
    """Build the images the export's rows name; returns image -> what it serves.

    ``only_docker``: only for repos whose environment is docker (the default of an export);
    otherwise every repo gets a docker environment image first (built if missing).
    Raises EnvironmentBuildError when an image cannot be built.
    """
    built: dict[str, str] = {}
    by_repo: dict[str, list[dict[str, Any]]] = {}
    for req in requests:
        by_repo.setdefault(req["repo"], []).append(req)
    for name, reqs in by_repo.items():
        stored = store.get_environment(name)
        rec = store.get_repo(name)
        if rec is None or stored is None or (only_docker and stored.backend != "docker"):
            continue
        env = cast("DockerEnvironment", make_environment(
            "docker", env_root(ws, name, "docker"), Path(rec.path), stored.recipe))
        try:
            if not env.is_built():
                log(f"{name}: building its docker environment image first ...")
            env.build(log=log)
            repo = _Repo(name, env, stored.recipe, repos_dir / f"{name}.git", rec.commit)
            built.update(_build_repo(repo, reqs, log))
        finally:
            env.close()
    return built


def _build_repo(repo: _Repo, reqs: list[dict[str, Any]], log: Log) -> dict[str, str]:
    client = repo.env.client
    base = f"{repo.env.image.rsplit(':', 1)[0]}-harness:{repo.pinned[:12]}"
    _build(client, base, _base_dockerfile(repo), {}, {KIND: "base", LABEL: repo.name},
           repo.env.image, log, network=repo.env.settings.build_network)
    out = {base: f"{repo.name}: harness base"}
    for clean in dict.fromkeys(r["clean"] for r in reqs):
        mine = [r for r in reqs if r["clean"] == clean]
        image = mine[0]["repo_image"]
        refs = [f"refs/heads/{r['export_id']}" for r in mine]
        with tempfile.TemporaryDirectory(prefix="bf-harness-") as tmp:
            git = _git_dir(repo.branches, Path(tmp) / "git", refs, head=clean, branch="main")
            # Another export of other instances needs other branches in the same image: an
            # image holding only the last export's branches made the harness fail to check
            # out the new ones (gold graded unresolved).
            _build(client, image, _tree_dockerfile(base, "main", _deleted(repo, clean)),
                   {"git": git}, {KIND: "repo", LABEL: repo.name, TARGET: clean,
                                  REFS: _refs_digest(git, refs)}, base, log)
        out[image] = f"{repo.name}: {len(mine)} instance branches at {clean[:12]} (SWE-smith)"
    for k, r in enumerate(reqs, 1):
        snapshot = r["commits"].snapshot
        with tempfile.TemporaryDirectory(prefix="bf-harness-") as tmp:
            git = _git_dir(repo.branches, Path(tmp) / "git",
                           [f"refs/snapshots/{r['export_id']}"], head=snapshot)
            _build(client, r["image"], _tree_dockerfile(base, snapshot,
                                                        _deleted(repo, snapshot)),
                   {"git": git}, {KIND: "instance", LABEL: repo.name, TARGET: snapshot},
                   base, log, quiet=True)
        out[r["image"]] = r["export_id"]
        if k % 25 == 0 or k == len(reqs):
            log(f"{repo.name}: {k}/{len(reqs)} instance images")
    return out


def _base_dockerfile(repo: _Repo) -> str:
    roots = ":".join(f"/testbed/{r}".rstrip("/.") or "/testbed"
                     for r in repo.recipe.source_roots)
    env = {"LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8", "PYTHONPATH": roots,
           **repo.recipe.env}
    install = ("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
               "--no-install-recommends git ca-certificates >/dev/null && "
               "rm -rf /var/lib/apt/lists/*")
    return "\n".join([
        f"FROM {repo.env.image}",
        "USER root",
        f"RUN command -v git >/dev/null 2>&1 || ({install})",
        "RUN git config --system --add safe.directory '*' && "
        "git config --system user.name bugfoundry && "
        "git config --system user.email bugfoundry@localhost && "
        "git config --system advice.detachedHead false && : > /root/.bashrc",
        "ENV " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()),
        "WORKDIR /testbed",
    ]) + "\n"


def _tree_dockerfile(base: str, target: str, deleted: list[str]) -> str:
    """``/testbed`` becomes a git work tree at ``target`` (a branch or a commit), with what the
    environment build left there excluded and a clean status checked."""
    remove = " ".join(shlex.quote(p) for p in deleted)
    return "\n".join([
        f"FROM {base}",
        "COPY git /testbed/.git",
        "RUN cd /testbed && git checkout -q -f " + shlex.quote(target)
        + (f" && rm -rf -- {remove}" if remove else "")
        + " && git ls-files -o --exclude-standard | sed 's|^|/|' >> .git/info/exclude"
        + ' && test -z "$(git status --porcelain)"',
    ]) + "\n"


def _deleted(repo: _Repo, target: str) -> list[str]:
    """Files the environment image has (pinned commit) that ``target`` does not."""
    res = subprocess.run(["git", "diff", "--name-only", "--diff-filter=D", "-z",
                          "--end-of-options", repo.pinned, target], cwd=repo.branches,
                         capture_output=True, timeout=300)
    return [p for p in res.stdout.decode(errors="replace").split("\0") if p]


def _refs_digest(git_dir: Path, refs: list[str]) -> str:
    """One digest of ``refs`` and the commits they name in ``git_dir``."""
    res = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", *refs],
                         capture_output=True, text=True, timeout=300, check=False)
    if res.returncode:
        raise EnvironmentBuildError(f"git rev-parse failed while preparing an image: "
                                    f"{res.stderr.strip()[-300:]}")
    pairs = sorted(zip(refs, res.stdout.split(), strict=True))
    return hashlib.sha256("\n".join(f"{r} {c}" for r, c in pairs).encode()).hexdigest()[:32]


def _git_dir(source: Path, dest: Path, refs: Iterable[str], *, head: str,
             branch: str | None = None) -> Path:
    """A ``.git`` directory holding ``refs`` (and what they reach) from ``source``, its HEAD
    at ``head`` (on ``branch`` when given, else detached)."""
    def git(*args: str) -> None:
        res = subprocess.run(["git", *args], cwd=dest, capture_output=True, text=True,
                             timeout=600)
        if res.returncode:
            raise EnvironmentBuildError(f"git {args[0]} failed while preparing an image: "
                                        f"{res.stderr.strip()[-300:]}")

    dest.mkdir(parents=True)
    git("init", "-q", "--bare")
    git("fetch", "-q", "--no-tags", str(source), *[f"+{r}:{r}" for r in refs])
    if branch:
        git("update-ref", f"refs/heads/{branch}", head)
        git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
    else:
        git("update-ref", "--no-deref", "HEAD", head)
    git("config", "core.bare", "false")
    git("gc", "-q", "--prune=now")
    return dest


def _build(client: Any, tag: str, dockerfile: str, dirs: dict[str, Path],
           labels: dict[str, str], parent: str, log: Log, *, network: str = "none",
           quiet: bool = False) -> None:
    """Build ``tag`` from ``dockerfile`` and ``dirs`` unless an image built from the same
    parent and for the same target is already there."""
    import docker.errors

    parent_id = client.images.get(parent).id
    labels = {**labels, FROM: parent_id}
    try:
        have = client.images.get(tag).labels or {}
        if all(have.get(k) == v for k, v in labels.items()):
            return
    except docker.errors.ImageNotFound:
        pass
    if not quiet:
        log(f"building image {tag} ...")
    started = time.monotonic()
    with tempfile.TemporaryFile() as context:
        with tarfile.open(fileobj=context, mode="w") as tar:
            data = dockerfile.encode()
            info = tarfile.TarInfo("Dockerfile")
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))
            for name, path in dirs.items():
                tar.add(path, name)
        context.seek(0)
        tail: list[str] = []
        try:
            for chunk in client.api.build(fileobj=context, custom_context=True, tag=tag, rm=True,
                                          forcerm=True, decode=True, labels=labels, pull=False,
                                          network_mode=network):
                tail = [*tail[-20:], *(chunk.get("stream") or "").splitlines()]
                if chunk.get("error"):
                    raise EnvironmentBuildError(
                        f"could not build image {tag}: {chunk['error'].strip()[:300]}\n"
                        + "\n".join(t for t in tail[-5:] if t.strip()))
        except EnvironmentBuildError:
            raise
        except Exception as exc:  # noqa: BLE001 - the daemon went away, ...
            raise EnvironmentBuildError(f"could not build image {tag}: {short_error(exc)}") \
                from None
    if not quiet:
        log(f"  {tag} built in {time.monotonic() - started:.1f}s")
