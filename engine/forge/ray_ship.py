"""What a Ray node lacks to validate a repo, shipped to it: the repo's workspace copy and, for
the docker backend, the repo's image (``forge --ray``; see ``engine.forge.ray_pool``).

A node that shares the driver's file system finds the copy at the workspace path and uses it
as it is. Any other node makes that path its own workspace (a directory under the temp one when
the path cannot be created there) and gets the copy as a tarball through Ray's object store.
A docker node that lacks the image loads it from a ``docker save`` in the object store, or,
when the user named a registry (``--ray-registry HOST/PREFIX``), pulls what the driver pushed
there once. The venv backend replays the stored recipe on the node (a venv does not move).

The tarball and the saved image are made once, and only when some node asks: by a ``Depot``
actor pinned to the driver's node, which reads the driver's files there (a driver connected
through Ray's client, ``ray://``, ships them up front instead); a cluster of one node, the
driver's own, ships nothing. The baseline and test map need no shipping: they travel in the
actors' arguments.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.environments.base import Environment
from engine.environments.docker_image import IMAGE_PREFIX, connect, short_error
from engine.errors import EnvironmentBuildError, UsageError
from engine.models import RepoRecord
from engine.repos import copy_problem, ensure_copy
from engine.workspace import Workspace

LOCK = ".ray-ship.lock"


@dataclass(frozen=True)
class Shipment:
    """How a node gets what it lacks: from the ``depot`` actor (made on first ask), or from
    objects put up front (``tree``, ``saved``); ``image`` is the name a docker node looks the
    image up under, ``pull`` the registry copy to pull ("" none)."""

    depot: Any = None
    tree: Any = None
    saved: Any = None
    image: str = ""
    pull: str = ""

    def tree_bytes(self, ray: Any) -> bytes:
        ref = self.tree if self.depot is None else ray.get(self.depot.tree.remote())[0]
        return bytes(ray.get(ref))

    def image_bytes(self, ray: Any) -> bytes:
        ref = self.saved if self.depot is None else ray.get(self.depot.image.remote())[0]
        return bytes(ray.get(ref))


class Depot:
    """The body of an actor on the driver's node: the copy's tarball and the saved image,
    each put in the object store the first time a node asks, the same object after."""

    def __init__(self, copy: str, image: str) -> None:
        self.copy, self.image_name = copy, image
        self._tree: Any = None
        self._saved: Any = None

    def tree(self) -> list[Any]:  # in a list: the caller gets the reference, not the bytes
        import ray

        if self._tree is None:
            self._tree = ray.put(tar_tree(Path(self.copy)))
        return [self._tree]

    def image(self) -> list[Any]:
        import ray

        if self._saved is None:
            self._saved = ray.put(save_image(self.image_name))
        return [self._saved]


def ship(ray: Any, repo: RepoRecord, image: str, *, node_image: str = "",
         registry: str = "", eager: bool = False) -> Shipment:
    """The driver's side: a depot pinned to its node (or, ``eager``, the objects themselves);
    with ``registry`` and an ``image``, the image pushed there once, now."""
    pull = push_image(image, registry) if registry and image else ""
    name = node_image or image
    if eager:
        saved = ray.put(save_image(image)) if image and not pull else None
        return Shipment(tree=ray.put(tar_tree(Path(repo.path))), saved=saved, image=name,
                        pull=pull)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    depot = ray.remote(num_cpus=0)(Depot).options(scheduling_strategy=here).remote(
        repo.path, image)
    return Shipment(depot=depot, image=name, pull=pull)


def one_node(ray: Any) -> bool:
    """Whether the cluster is the driver's node alone (a local Ray): nothing to ship."""
    try:
        here = ray.get_runtime_context().get_node_id()
        alive = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
    except Exception:  # noqa: BLE001 - through Ray's client: assume other nodes
        return False
    return alive == [here]


# ---------------------------------------------------------------------- the node's side
def node_workspace(home: str, repo: RepoRecord, shipment: Shipment | None, ray: Any
              ) -> tuple[Path, RepoRecord]:
    """(the node's workspace home, the repo record with the node's copy): the copy at the
    workspace path when it is usable there (a shared file system), else one unpacked from
    the shipped tarball (once per node: the node's other actors wait for it)."""
    at = Path(home)
    local = replace(repo, path=str(at / "repos" / repo.name))
    if not copy_problem(local):
        return at, local
    if shipment is None:  # no shipping: restore it from its recorded source (as before)
        return at, ensure_copy(Workspace(at), repo)
    at = _writable_home(at)
    local = replace(repo, path=str(at / "repos" / repo.name))
    with _node_lock(at):
        if copy_problem(local):
            _unpack(shipment.tree_bytes(ray), Path(local.path))
    return at, local


def ensure_image(env: Environment, shipment: Shipment | None, home: Path, ray: Any) -> None:
    """A docker node without the repo's image gets it: pulled from the registry the driver
    pushed it to, or loaded from the saved image in the object store (once per node)."""
    from engine.environments.docker_env import DockerEnvironment

    if shipment is None or not isinstance(env, DockerEnvironment):
        return
    env.image_override = shipment.image
    if env.has_image():
        return
    with _node_lock(home):
        if env.has_image():  # another actor of this node fetched it while we waited
            return
        client = connect()
        try:
            if shipment.pull:
                got = client.images.pull(shipment.pull)
            else:
                got = client.images.load(shipment.image_bytes(ray))[0]
            repo, tag = split_name(shipment.image)
            got.tag(repo, tag)
        except Exception as exc:  # noqa: BLE001 - the docker SDK's errors, and Ray's
            raise EnvironmentBuildError(
                f"this Ray node could not get the image {shipment.image} "
                f"({'pull ' + shipment.pull if shipment.pull else 'load from the driver'}): "
                f"{short_error(exc)}") from None


def _writable_home(home: Path) -> Path:
    """The workspace path on this node, or, when it cannot be created here, a directory of
    the node's temp one named after it."""
    try:
        (home / "repos").mkdir(parents=True, exist_ok=True)
        return home
    except OSError:
        key = hashlib.sha256(str(home).encode()).hexdigest()[:12]
        alt = Path(tempfile.gettempdir()) / "bugfoundry-ray" / key
        (alt / "repos").mkdir(parents=True, exist_ok=True)
        return alt


@contextlib.contextmanager
def _node_lock(home: Path) -> Iterator[None]:
    with open(home / LOCK, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _unpack(data: bytes, dest: Path) -> None:
    """The copy from its tarball, replacing what was at ``dest`` once it is whole."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tmp, filter="tar")
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------- the driver's side
def tar_tree(root: Path) -> bytes:
    """The workspace copy (its ``.git`` too: work trees are clones of it), gzipped."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        tar.add(root, arcname=".")
    return buf.getvalue()


def save_image(image: str) -> bytes:
    """``docker save`` of the image, in memory."""
    try:
        return b"".join(connect().images.get(image).save(named=True))
    except Exception as exc:  # noqa: BLE001 - the docker SDK's errors
        raise EnvironmentBuildError(f"could not save the image {image} to ship it to Ray's "
                                    f"nodes: {short_error(exc)}") from None


def split_name(image: str) -> tuple[str, str]:
    """``repository``, ``tag`` of an image name (a registry's ``host:port`` is no tag)."""
    repo, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, "latest"
    return repo, tag


def registry_name(image: str, registry: str) -> str:
    """The image's name in the registry: ``HOST/PREFIX/<repo>:<tag>``."""
    return f"{registry.strip().rstrip('/')}/{image.removeprefix(IMAGE_PREFIX)}"


def push_image(image: str, registry: str) -> str:
    """Push ``image`` to ``registry`` once (under ``registry_name``); the local tag made for
    the push is removed after it. Returns what nodes pull."""
    target = registry_name(image, registry)
    client = connect()
    repo, tag = split_name(target)
    try:
        client.images.get(image).tag(repo, tag)
        try:
            for line in client.images.push(repo, tag, stream=True, decode=True):
                if isinstance(line, dict) and line.get("error"):
                    raise UsageError(str(line["error"]).splitlines()[0])
        finally:
            with contextlib.suppress(Exception):
                client.images.remove(target)
    except UsageError as exc:
        raise UsageError(f"--ray-registry: could not push {image} to {target}: {exc}\n"
                         "Check the registry's address, that you are logged in to it "
                         "(docker login), and that this engine may push there.") from None
    except Exception as exc:  # noqa: BLE001 - the docker SDK's errors
        raise UsageError(f"--ray-registry: could not push {image} to {target}: "
                         f"{short_error(exc)}\nCheck the registry's address and that you are "
                         "logged in to it (docker login).") from None
    return target
