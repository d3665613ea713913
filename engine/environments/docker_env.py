"""The docker backend: one image per repo, tests in locked-down, long-lived containers.

Build: the docker SDK builds ``bugfoundry/<repo>:<commit>-<key>`` from a configurable base
image (``python:3.11-slim`` by default, or a local one such as ``scripts/docker-base.sh``
makes): the pinned commit's files at ``/testbed``, a venv at ``/opt/venv`` and one ``pip
install`` layer per recipe step, the same steps the venv backend runs. The key hashes the
recipe and the base image, so an image is rebuilt only when the repo, its commit, the recipe
or the base change. Installing needs an index: the build uses host networking and the host's
CA bundle, or installs offline from a wheelhouse.

Run: one container per work tree, started on first use and reused for every candidate (the
tree is reset on the host between candidates). It has no network, memory / CPU / pids limits,
no capabilities, a read-only root and a tmpfs ``/tmp``. The tree, our pytest plugins and a
scratch directory are bind-mounted at their host paths, so every path the engine hands to the
test process (reports, selections, the fork server's swaps) means the same inside and out,
and tracebacks and the test map match the venv backend's. Each command is a ``docker exec``
under ``timeout -s KILL`` (the per-candidate timeout kills the test's process group); a
command that outlives even that restarts its container.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import json
import os
import subprocess
import tarfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine import generated
from engine.environments.base import PLUGIN_DIR, Environment, tree_pythonpath
from engine.environments.docker_exec import ExecHandle, ExecProcess, run_exec, start_exec
from engine.environments.docker_image import (
    FORMAT,
    IMAGE_PREFIX,
    LABEL,
    TESTBED,
    VENV,
    DockerSettings,
    ImageBuild,
    connect,
    docker_name,
    image_alias,
    image_record,
    list_images,
    short_error,
)
from engine.environments.processes import ProcResult, ServerProcess
from engine.errors import EnvironmentBuildError
from engine.logs import Log
from engine.models import Recipe

KILL_GRACE = 15.0  # past a command's timeout: restart its container if it still runs
PATH_IN = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Lists the .py files under the source roots of /testbed (argv: /testbed, roots...).
_LIST_SOURCES = (
    "import os, sys\n"
    "top = sys.argv[1]\n"
    "for root in sys.argv[2:]:\n"
    "    for d, _, fs in os.walk(os.path.join(top, root)):\n"
    "        for f in fs:\n"
    "            if f.endswith('.py'):\n"
    "                print(os.path.relpath(os.path.join(d, f), top))\n"
)

_LIVE_ENVS: weakref.WeakSet[DockerEnvironment] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:  # pragma: no cover - runs at interpreter exit
    for env in list(_LIVE_ENVS):
        env.close()


@dataclass
class _Slot:
    """The long-lived container serving one work tree."""

    container: Any
    key: str  # the tree's resolved path
    servers: list[ExecProcess] = field(default_factory=list)  # fork / warm servers in it


class DockerEnvironment(Environment):
    """A repo's image plus one warm container per work tree (see the module docstring)."""

    backend = "docker"

    def __init__(self, root: Path, repo_root: Path, recipe: Recipe, *,
                 base_image: str | None = None, wheelhouse: Path | None = None) -> None:
        super().__init__(root, repo_root, recipe)
        self.settings = DockerSettings.load(self.settings_path)
        if base_image:
            self.settings.base_image = base_image
        if wheelhouse:
            self.settings.wheelhouse = str(Path(wheelhouse).resolve())
        self._save_settings = bool(base_image or wheelhouse)
        self.repo_name = docker_name(self.repo_root.name)
        self._client: Any = None
        self._commit = ""
        # The name to find the image under instead of the derived one (a Ray node that got
        # the driver's image shipped: engine.forge.ray_ship).
        self.image_override = ""
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        _LIVE_ENVS.add(self)

    # ------------------------------------------------------------------ naming
    @property
    def settings_path(self) -> Path:
        return self.root / "settings.json"

    @property
    def log_path(self) -> Path:
        return self.root / "build.log"

    @property
    def commit(self) -> str:
        if not self._commit:
            res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=self.repo_root,
                                 capture_output=True, text=True, timeout=60)
            self._commit = res.stdout.strip() or "unknown"
        return self._commit

    @property
    def image_key(self) -> str:
        """Changes exactly when the image must be rebuilt (commit aside, which is in the tag)."""
        parts = [FORMAT, self.recipe.hash, self.settings.base_image, self.settings.wheelhouse]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]

    @property
    def image(self) -> str:
        """``bugfoundry/<repo>:<commit12>-<key>``: one image per repo, commit and recipe."""
        return (self.image_override
                or f"{IMAGE_PREFIX}{self.repo_name}:{self.commit[:12]}-{self.image_key}")

    @property
    def alias(self) -> str:
        """``bugfoundry/<repo>:<commit12>``: the name exports give as ``image_name``."""
        return image_alias(self.repo_name, self.commit)

    @property
    def scratch_dir(self) -> Path:
        path = self.root / "scratch"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect()
            self._sweep_stale()
        return self._client

    # ------------------------------------------------------------------ build
    def _exists(self) -> bool:
        import docker.errors

        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            return False
        return True

    def has_image(self) -> bool:
        """Whether this engine holds the image (built here, pulled or loaded)."""
        return self._exists()

    def _build(self, log: Log) -> None:
        if self._exists():  # built by another workspace, or the marker was lost
            log(f"docker image {self.image} is already built")
            info = image_record(self.client, self.image, self.alias,
                                self.settings.base_image, 0.0)
        else:
            info = ImageBuild(self.client, self.repo_root.name, self.repo_root, self.commit,
                              self.recipe, self.settings, self.image, self.alias,
                              self.log_path).run(log)
        (self.root / "image.json").write_text(json.dumps(info, indent=2))
        # Remembered only once an image was built from them (a typo must not stick).
        if self._save_settings or not self.settings_path.exists():
            self.settings_path.write_text(json.dumps(asdict(self.settings), indent=2))

    def _collect_generated(self, dest: Path) -> list[str]:
        """The build ran in the image's ``/testbed`` (the pinned commit's tracked files): its
        other sources under the source roots are what it generated; copy them out to
        ``dest``, as the work trees mounted from the host need them too."""
        import docker.errors

        roots = self.recipe.source_roots
        try:
            out = self.client.containers.run(
                self.image, [f"{VENV}/bin/python", "-c", _LIST_SOURCES, TESTBED, *roots],
                remove=True, network_mode="none", user=_user(),
                labels={LABEL: self.repo_root.name, "bugfoundry.owner": _owner()})
            files = generated.select(out.decode(errors="replace").splitlines(),
                                     generated.tracked_files(self.repo_root), roots)
            if files:
                self._copy_out(files, dest)
        except docker.errors.DockerException as exc:
            raise EnvironmentBuildError(
                f"could not read the files the build generated in {self.image}: "
                f"{short_error(exc)}\nrebuild it: bugfoundry env build "
                f"{self.repo_root.name} --backend docker --rebuild") from None
        return files

    def _copy_out(self, files: Sequence[str], dest: Path) -> None:
        """Copy ``files`` (relative to ``/testbed``) out of a stopped container of the image."""
        box = self.client.containers.create(
            self.image, ["true"], network_mode="none",
            labels={LABEL: self.repo_root.name, "bugfoundry.owner": _owner()})
        try:
            for rel in files:
                stream, _stat = box.get_archive(f"{TESTBED}/{rel}")
                with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                    member = next(m for m in tar.getmembers() if m.isfile())
                    data = tar.extractfile(member)
                    assert data is not None
                    target = dest / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data.read())
        finally:
            with contextlib.suppress(Exception):
                box.remove(force=True)

    def image_info(self) -> dict[str, Any]:
        """What the last build recorded in ``image.json`` ({} before one)."""
        try:
            return dict(json.loads((self.root / "image.json").read_text()))
        except (OSError, ValueError):
            return {}

    def remove(self) -> None:
        """Stop its containers, delete this repo's images (every commit and recipe) and root."""
        import docker.errors

        self.close()
        for info in list_images(self.client, self.repo_root.name):
            with contextlib.suppress(docker.errors.APIError):
                self.client.images.remove(info.image_id, force=True)
        super().remove()

    # ------------------------------------------------------------------ containers
    def _slot(self, cwd: Path) -> _Slot:
        key = str(Path(cwd).resolve())
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = _Slot(self._start_container(Path(key)), key)
                self._slots[key] = slot
            return slot

    def _start_container(self, tree: Path) -> Any:
        import docker.errors

        if not tree.is_dir():
            raise EnvironmentBuildError(f"{tree} is not a directory; cannot mount it")
        mounts = {str(tree): {"bind": str(tree), "mode": "rw"},
                  str(PLUGIN_DIR): {"bind": str(PLUGIN_DIR), "mode": "ro"},
                  str(self.scratch_dir): {"bind": str(self.scratch_dir), "mode": "rw"}}
        s = self.settings
        name = (f"bf-{self.repo_name}-{hashlib.sha1(str(tree).encode()).hexdigest()[:8]}"
                f"-{os.getpid()}")
        with contextlib.suppress(docker.errors.NotFound):
            self.client.containers.get(name).remove(force=True)
        try:
            return self.client.containers.run(
                self.image, ["sleep", "infinity"], name=name, detach=True, init=True,
                network_mode="none", mem_limit=s.memory, memswap_limit=s.memory,
                nano_cpus=int(s.cpus * 1e9), pids_limit=s.pids, cap_drop=["ALL"],
                security_opt=["no-new-privileges"], read_only=True,
                tmpfs={"/tmp": f"rw,exec,size={s.tmpfs_size}"}, user=_user(),
                volumes=mounts, working_dir=str(tree), environment={"HOME": "/tmp"},
                labels={LABEL: self.repo_root.name, "bugfoundry.owner": _owner()})
        except docker.errors.ImageNotFound:
            raise EnvironmentBuildError(
                f"docker image {self.image} is gone\n"
                f"rebuild it: bugfoundry env build {self.repo_root.name} --backend docker"
            ) from None
        except docker.errors.DockerException as exc:
            raise EnvironmentBuildError(
                f"could not start a container from {self.image}: {short_error(exc)}\n"
                "is the Docker daemon healthy? (docker info)") from None

    def _sweep_stale(self) -> None:
        """Remove containers a killed bugfoundry left behind (their owner PID is gone)."""
        host = os.uname().nodename
        for c in self.client.containers.list(all=True, filters={"label": LABEL}):
            owner = (c.labels or {}).get("bugfoundry.owner", "")
            node, _, pid = owner.rpartition(":")
            if node == host and pid.isdigit() and not _pid_alive(int(pid)):
                with contextlib.suppress(Exception):
                    c.remove(force=True)

    def _exec(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None,
              stdin: bool) -> tuple[_Slot, ExecHandle]:
        import docker.errors

        run_env = self.run_env(cwd, env)
        for attempt in (1, 2):
            slot = self._slot(cwd)
            try:
                handle = start_exec(self.client.api, slot.container.id, argv, workdir=str(cwd),
                                    env=run_env, user=_user(), stdin=stdin)
                return slot, handle
            except docker.errors.APIError as exc:  # the container died: start a new one once
                self._drop(slot)
                if attempt == 2:
                    raise EnvironmentBuildError(f"docker exec failed in {self.image}: "
                                                f"{short_error(exc)}") from None
        raise AssertionError("unreachable")

    def run(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
            timeout: float | None = None) -> ProcResult:
        """``argv`` in the tree's container; on timeout the whole process group is killed."""
        argv = _in_venv(argv)
        if timeout:
            argv = ["timeout", "-s", "KILL", f"{timeout:.3f}", *argv]
        started = time.monotonic()
        slot, handle = self._exec(argv, cwd, env, stdin=False)
        deadline = started + timeout + KILL_GRACE if timeout else None
        res = run_exec(self.client.api, handle, deadline)
        duration = time.monotonic() - started
        if res.deadline_hit:  # even the in-container kill did not end it
            self._restart(slot)
        code = -9 if res.returncode is None else res.returncode
        timed_out = res.deadline_hit or bool(
            timeout and code in (124, 137, -9) and duration >= 0.95 * timeout)
        if timed_out:
            self.reap(cwd)
        return ProcResult(code, res.stdout.decode(errors="replace"),
                          res.stderr.decode(errors="replace"), duration, timed_out)

    def spawn(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
              stderr_path: Path | None = None) -> ServerProcess:
        slot, handle = self._exec(_in_venv(argv), cwd, env, stdin=True)
        proc = ExecProcess(self.client.api, handle, stderr_path, lambda: self._restart(slot))
        slot.servers = [p for p in slot.servers if p.poll() is None] + [proc]
        return proc

    def reap(self, cwd: Path, grace: float = 3.0) -> None:
        """Restart the tree's container when processes outlive a timeout: besides init,
        ``sleep`` and the live servers (whose forked children are gone between requests)
        nothing should run. Killed processes may need a moment (CPU quota) to exit."""
        with self._lock:
            slot = self._slots.get(str(Path(cwd).resolve()))
        if slot is None:
            return
        deadline = time.monotonic() + grace
        while True:
            try:
                running = len(slot.container.top(ps_args="-e -o pid")["Processes"] or [])
            except Exception:  # noqa: BLE001 - the container is gone: nothing to reap
                return
            expected = 2 + sum(1 for p in slot.servers if p.poll() is None)
            if running <= expected:
                return
            if time.monotonic() >= deadline:
                self._restart(slot)
                return
            time.sleep(0.1)

    def forget(self, proc: ServerProcess) -> None:
        if isinstance(proc, ExecProcess):
            if proc.poll() is None:
                proc.kill()
            proc.release()

    def run_env(self, cwd: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The container-side environment: nothing from the host's but what we pass."""
        env = {"PATH": PATH_IN, "VIRTUAL_ENV": VENV, "HOME": "/tmp", "LANG": "C.UTF-8"}
        env.update(self.recipe.env)
        extra = dict(extra or {})
        env["PYTHONPATH"] = tree_pythonpath(cwd, self.recipe, extra)
        env.update(extra)
        return env

    def _restart(self, slot: _Slot) -> None:
        """Kill everything in a container (a process that escaped every other kill)."""
        with contextlib.suppress(Exception):
            slot.container.restart(timeout=0)

    def _drop(self, slot: _Slot) -> None:
        with self._lock:
            if self._slots.get(slot.key) is slot:
                del self._slots[slot.key]
        with contextlib.suppress(Exception):
            slot.container.remove(force=True)

    def terminate_all(self) -> None:
        """Cancel: kill every container of this environment (recreated on next use)."""
        super().terminate_all()
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            with contextlib.suppress(Exception):
                slot.container.kill()
            self._drop(slot)

    def close(self) -> None:
        """Remove the containers; the image stays."""
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            self._drop(slot)

    def containers(self) -> list[Any]:
        """The running containers (tests and benchmarks inspect their limits)."""
        with self._lock:
            return [s.container for s in self._slots.values()]



def _in_venv(argv: Sequence[str]) -> list[str]:
    """``python`` means the image's venv interpreter (as the venv backend's does its own)."""
    argv = list(argv)
    if argv and argv[0] == "python":
        argv[0] = f"{VENV}/bin/python"
    return argv


def _user() -> str:
    """Run as the host user, so files the tests write into the tree stay ours."""
    return f"{os.getuid()}:{os.getgid()}"


def _owner() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


