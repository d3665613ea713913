"""Building a repo's docker image with the docker SDK (the docker backend's build half).

The image: the chosen base, the pinned commit's tracked files at ``/testbed``, a venv at
``/opt/venv``, and one ``pip install`` layer per recipe step (the steps the venv backend runs,
so both backends install the same things; a changed late step rebuilds only its layer).
Installing needs the package index: the build runs with host networking and, when this host
trusts a CA bundle of its own (a proxy that re-signs TLS), that bundle is copied in for the
install steps. With a wheelhouse the build installs offline from it instead, network off.
Proxy variables (``HTTP(S)_PROXY``) and a non-file ``PIP_INDEX_URL`` are passed through.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.environments.venv import installer_tail
from engine.errors import EnvironmentBuildError
from engine.logs import Log
from engine.models import Recipe

DEFAULT_BASE_IMAGE = "python:3.11-slim"
BASE_ENV_VAR = "BUGFOUNDRY_DOCKER_BASE"  # overrides the default base image (CI, air-gapped)
IMAGE_PREFIX = "bugfoundry/"
LABEL = "bugfoundry.repo"
VENV = "/opt/venv"
TESTBED = "/testbed"
FORMAT = "1"  # bump when the Dockerfile layout changes: every image key changes with it
API_TIMEOUT = 1800.0  # seconds; a silent pip step must not trip the HTTP read timeout
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
_INDEX_VARS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
_CA_VARS = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_PIP_CONFIGS = ("/etc/pip.conf", "/etc/xdg/pip/pip.conf", "~/.config/pip/pip.conf",
                "~/.pip/pip.conf")


@dataclass
class DockerSettings:
    """What a repo's docker environment is built from and run with (``settings.json``)."""

    base_image: str = ""
    memory: str = "2g"  # per container (= per validation worker)
    cpus: float = 1.0
    pids: int = 512  # caps a fork bomb; pytest needs a few dozen
    tmpfs_size: str = "512m"
    build_network: str = "host"  # the install steps reach the index through the host
    wheelhouse: str = ""  # a directory of wheels: install offline from it instead

    @classmethod
    def load(cls, path: Path) -> DockerSettings:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        settings = cls(**known)
        settings.base_image = (settings.base_image or os.environ.get(BASE_ENV_VAR)
                               or DEFAULT_BASE_IMAGE)
        return settings


def connect(timeout: float = API_TIMEOUT) -> Any:
    """A docker SDK client, or a clear error when the daemon cannot be reached."""
    try:
        import docker
    except ImportError:  # pragma: no cover - docker is a dependency
        raise EnvironmentBuildError("the docker Python package is missing\n"
                                    "reinstall bugfoundry (pip install -e .)") from None
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as exc:  # noqa: BLE001 - every cause gets the same advice
        raise EnvironmentBuildError(
            f"cannot reach the Docker daemon ({short_error(exc)})\n"
            "start it (as root: `dockerd &`, or `systemctl start docker`) or use "
            "--backend venv") from None
    return client


def find_ca_bundle() -> Path | None:
    """The CA bundle pip/requests are configured with here (corporate proxies re-sign TLS)."""
    for var in _CA_VARS:
        value = os.environ.get(var, "")
        if value and os.path.isfile(value):
            return Path(value)
    import configparser

    configs = [os.environ.get("PIP_CONFIG_FILE", ""), *_PIP_CONFIGS]
    for raw in configs:
        path = Path(raw).expanduser() if raw else None
        if path is None or not path.is_file():
            continue
        cp = configparser.ConfigParser(interpolation=None, strict=False)
        with contextlib.suppress(configparser.Error, OSError):
            cp.read(path)
            for section in ("global", "install"):
                cert = cp.get(section, "cert", fallback="")
                if cert and os.path.isfile(cert):
                    return Path(cert)
    return None


def docker_name(text: str) -> str:
    """A valid image repository component: lowercase alphanumerics and ``._-``."""
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("._-")
    return name or "repo"


def image_alias(repo: str, commit: str) -> str:
    """``bugfoundry/<repo>:<commit12>``: a repo's image by repo and commit (exports name it)."""
    return f"{IMAGE_PREFIX}{docker_name(repo)}:{commit[:12]}"


def dockerfile(base_image: str, recipe: Recipe, python: str, *, ca: bool, wheels: bool,
               index_vars: Sequence[str] = ()) -> str:
    """The image's Dockerfile (pure): one cached layer per recipe step, like the venv build."""
    ca_env = (f"PIP_CERT={shlex.quote('/opt/bugfoundry/ca.pem')} "
              "SSL_CERT_FILE=/opt/bugfoundry/ca.pem REQUESTS_CA_BUNDLE=/opt/bugfoundry/ca.pem "
              if ca else "")
    recipe_env = "".join(f"{k}={shlex.quote(v)} " for k, v in sorted(recipe.env.items()))
    pip = f"{VENV}/bin/python -m pip install --no-cache-dir"
    if wheels:
        pip += " --no-index --find-links /opt/bugfoundry/wheels"
    lines = [
        f"FROM {base_image}",
        *(f"ARG {v}" for v in index_vars),
        "ENV LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "
        "PIP_ROOT_USER_ACTION=ignore PYTHONDONTWRITEBYTECODE=1",
        "COPY bugfoundry /opt/bugfoundry",
        f'RUN py="$(command -v {shlex.quote(python)} || command -v python3)" && '
        f'"$py" -m venv {VENV} && {VENV}/bin/python -V',
        f"COPY testbed {TESTBED}",
        f"WORKDIR {TESTBED}",
    ]
    for step in recipe.steps:
        lines.append(f"RUN {ca_env}{recipe_env}{pip} {shlex.join(step)}")
    lines.append(f"ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH")
    return "\n".join(lines) + "\n"


@dataclass
class ImageInfo:
    """One bugfoundry image in the daemon (``bugfoundry env ls``)."""

    repo: str
    tags: list[str]
    image_id: str
    size_mb: float
    created: str
    commit: str = ""
    recipe_hash: str = ""
    base_image: str = ""


def list_images(client: Any, repo: str | None = None) -> list[ImageInfo]:
    """bugfoundry images in the daemon, newest first (all repos, or one)."""
    label = f"{LABEL}={repo}" if repo else LABEL
    out = []
    for img in client.images.list(filters={"label": label}):
        labels = img.labels or {}
        out.append(ImageInfo(labels.get(LABEL, ""), sorted(img.tags), img.short_id,
                             round(img.attrs.get("Size", 0) / 1e6, 1),
                             str(img.attrs.get("Created", ""))[:19],
                             labels.get("bugfoundry.commit", ""),
                             labels.get("bugfoundry.recipe_hash", ""),
                             labels.get("bugfoundry.base_image", "")))
    return sorted(out, key=lambda i: i.created, reverse=True)


@dataclass
class ImageBuild:
    """One image build: what goes into the context and how the daemon's stream is shown."""

    client: Any
    repo: str  # the repo's name (image label)
    repo_root: Path  # the workspace's pinned checkout
    commit: str
    recipe: Recipe
    settings: DockerSettings
    image: str  # the tag to build
    alias: str  # a second tag: repo and commit only
    log_path: Path  # the daemon's whole output

    def run(self, log: Log) -> dict[str, Any]:
        """Build and tag the image; returns what ``image.json`` records."""
        self._ensure_base(log)
        started = time.monotonic()
        with tempfile.TemporaryFile(dir=self.log_path.parent) as context:
            self._write_context(context)
            context.seek(0)
            log(f"building docker image {self.image} from {self.settings.base_image} ...")
            self._stream_build(context, log)
        self.client.api.tag(self.image, self.alias.split(":")[0], self.commit[:12])
        seconds = time.monotonic() - started
        info = image_record(self.client, self.image, self.alias, self.settings.base_image, seconds)
        log(f"docker image {self.image}: {info['size_mb']} MB, built in {seconds:.1f}s")
        return info

    def _ensure_base(self, log: Log) -> None:
        """The base image must be local or pullable; say how to get one when it is neither."""
        import docker.errors

        base = self.settings.base_image
        try:
            self.client.images.get(base)
            return
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            raise EnvironmentBuildError(f"bad base image {base!r}: {short_error(exc)}\n"
                                        "pass --base-image IMAGE (e.g. python:3.11-slim)") from None
        log(f"pulling base image {base} ...")
        try:
            self.client.images.pull(base)
        except docker.errors.DockerException as exc:
            raise EnvironmentBuildError(
                f"base image {base!r} is not on this machine and could not be pulled "
                f"({short_error(exc)})\nbuild a local one with `bash scripts/docker-base.sh` and "
                "pass --base-image bugfoundry-base:bookworm, or name another image") from None

    def _write_context(self, fh: Any) -> None:
        """The build context as a tar: Dockerfile, the pinned files, CA bundle, wheels."""
        ca = find_ca_bundle() if self.settings.build_network != "none" else None
        wheels = Path(self.settings.wheelhouse) if self.settings.wheelhouse else None
        if wheels is not None and not wheels.is_dir():
            raise EnvironmentBuildError(f"wheelhouse {wheels} is not a directory\n"
                                        "pass a directory of wheels (pip download -d DIR ...)")
        index_vars = [v for v in _INDEX_VARS
                      if os.environ.get(v) and not os.environ[v].startswith("file:")]
        text = dockerfile(self.settings.base_image, self.recipe, self.recipe.python,
                          ca=ca is not None, wheels=wheels is not None, index_vars=index_vars)
        meta = {"repo": self.repo, "commit": self.commit, "recipe": self.recipe.hash,
                "base_image": self.settings.base_image}
        with tarfile.open(fileobj=fh, mode="w") as tar:
            _add_bytes(tar, "Dockerfile", text.encode())
            _add_bytes(tar, "bugfoundry/image.json", json.dumps(meta, indent=2).encode())
            if ca is not None:
                tar.add(ca, "bugfoundry/ca.pem")
            if wheels is not None:
                tar.add(wheels, "bugfoundry/wheels")
            files = subprocess.run(["git", "ls-files", "-z"], cwd=self.repo_root,
                                   capture_output=True, timeout=120).stdout
            for rel in (f for f in files.decode(errors="replace").split("\0") if f):
                path = self.repo_root / rel
                if path.is_file() or path.is_symlink():
                    tar.add(path, f"testbed/{rel}", recursive=False)

    def _stream_build(self, context: Any, log: Log) -> None:
        buildargs = {v: os.environ[v] for v in (*_PROXY_VARS, *_INDEX_VARS)
                     if os.environ.get(v) and not os.environ[v].startswith("file:")}
        labels = {LABEL: self.repo, "bugfoundry.commit": self.commit,
                  "bugfoundry.recipe_hash": self.recipe.hash,
                  "bugfoundry.base_image": self.settings.base_image}
        network = "none" if self.settings.wheelhouse else self.settings.build_network
        step = ""
        tail: list[str] = []
        with open(self.log_path, "w", encoding="utf-8") as out:
            try:
                for chunk in self.client.api.build(
                        fileobj=context, custom_context=True, tag=self.image, rm=True,
                        forcerm=True, decode=True, network_mode=network, buildargs=buildargs,
                        labels=labels, pull=False):
                    text = chunk.get("stream") or ""
                    if chunk.get("error"):
                        text = f"ERROR: {chunk['error']}\n"
                    out.write(text)
                    for line in text.splitlines():
                        if line.startswith("Step "):
                            step, tail = line.split(" : ", 1)[-1], []
                            log(f"  {line[:160]}")
                        elif line.strip():
                            tail = [*tail[-40:], line]
                    if chunk.get("error"):
                        raise EnvironmentBuildError(
                            f"could not build the docker image for {self.repo}: "
                            f"{step[:120]}\ninstaller said: {installer_tail(chr(10).join(tail))}"
                            f" (full log: {self.log_path})")
            except EnvironmentBuildError:
                raise
            except Exception as exc:  # noqa: BLE001 - the daemon went away mid-build, ...
                raise EnvironmentBuildError(
                    f"the docker build for {self.repo} failed: {short_error(exc)}\n"
                    f"see {self.log_path}") from None


def image_record(client: Any, image: str, alias: str, base_image: str,
                 seconds: float) -> dict[str, Any]:
    """What ``image.json`` keeps about a built image (size, id, base, build time)."""
    img = client.images.get(image)
    return {"image": image, "alias": alias, "id": img.short_id,
            "size_mb": round(img.attrs.get("Size", 0) / 1e6, 1),
            "base_image": base_image, "build_seconds": round(seconds, 1)}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))



def short_error(exc: BaseException) -> str:
    """The gist of a docker SDK error (they embed whole HTTP responses)."""
    text = str(getattr(exc, "explanation", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:240]
