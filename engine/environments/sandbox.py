"""The venv backend's sandbox: every test run in its own user, pid, network, mount and IPC
namespaces, with a scrubbed environment and memory and process limits.

What the sandbox gives (README "What each backend protects against"): no network (only its
own loopback), the host's filesystem read-only except the work tree and a scratch directory
of the workspace, private /tmp and /dev/shm, ``HOME`` and ``TMPDIR`` in that scratch
directory, no secrets in the environment, a per-process memory limit, a process cap, and a
pid namespace whose processes all die when its first process dies (so a kill -9 of forge
leaves nothing behind). It uses bubblewrap when installed, else util-linux ``unshare``; when
neither can make the namespaces (a kernel or container that forbids user namespaces) runs
go unsandboxed and one line says so. The environment *build* is never sandboxed: it needs
the network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UsageError

MODES = ("auto", "on", "off")
DEFAULT_MEMORY = 3 * 2**30  # per process: stops a runaway allocation, fits real suites
DEFAULT_PROCESSES = 512
INIT = Path(__file__).with_name("sandbox_init.py")
MEMORY_REASON = "memory"
ENGINE_DIR = Path(__file__).resolve().parents[1]
_TMPFS = ("/tmp", "/dev/shm")

# Environment variables that must not reach code under test: credentials by name, and
# whole families of cloud and service configuration.
_SECRET_PART = re.compile(
    r"(?:.*KEYS?|.*TOKENS?|.*SECRETS?|PASSWORDS?|PASSWD|PASSPHRASE|CREDENTIALS?|AUTH|AUTHORIZATION|AUTHTOKEN|"
    r"COOKIES?|SESSION|PRIVATE|PAT|DSN|SIGNATURE|CERT(?:IFICATE)?PASS)")
_SECRET_PREFIX = ("AWS_", "AZURE_", "GOOGLE_", "GCP_", "GCLOUD_", "CLOUDSDK_", "GITHUB_",
                  "GH_", "GITLAB_", "OPENAI_", "ANTHROPIC_", "HF_", "HUGGING", "NPM_", "PYPI_",
                  "TWINE_", "DOCKER_", "KUBE", "VAULT_", "SSH_", "GPG_", "GNUPG", "NETRC",
                  "DATABASE_URL", "REDIS_URL", "SENTRY_", "SLACK_", "STRIPE_", "XDG_",
                  "BUGFOUNDRY_LM", "DBUS_")


def is_secret(name: str) -> bool:
    """Whether an environment variable may hold a credential (or points at a user's config)."""
    upper = name.upper()
    if upper.startswith(_SECRET_PREFIX):
        return True
    return any(_SECRET_PART.fullmatch(part) for part in upper.split("_") if part)


def scrub(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not is_secret(k)}


def parse_size(text: str) -> int | None:
    """``3G``, ``512M``, ``2.5GiB``, a number of bytes; ``0``/``none``/``off`` means no limit."""
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    if t in ("0", "none", "off", "unlimited", ""):
        return None
    scale = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if t[-1:] in "kmgt" else t) * scale
    except ValueError:
        raise UsageError(f"memory limit {text!r} is not a size\n"
                         "give one like 3G, 512M, or 0 for no limit") from None
    if value < 64 * 2**20:
        raise UsageError(f"memory limit {text!r} is too small for a Python test run\n"
                         "give at least 64M, or 0 for no limit")
    return int(value)


def gib(n: int) -> str:
    return f"{n / 2**30:g} GiB"


@dataclass(frozen=True)
class Settings:
    """What the user chose: ``--sandbox``, ``--memory-limit`` and ``--max-processes`` (or
    ``BUGFOUNDRY_SANDBOX``, ``BUGFOUNDRY_MEMORY_LIMIT``, ``BUGFOUNDRY_MAX_PROCESSES``)."""

    mode: str = "auto"
    memory: int | None = DEFAULT_MEMORY
    processes: int | None = DEFAULT_PROCESSES

    @classmethod
    def from_env(cls) -> Settings:
        mode = os.environ.get("BUGFOUNDRY_SANDBOX", "auto").strip().lower() or "auto"
        if mode not in MODES:
            raise UsageError(f"BUGFOUNDRY_SANDBOX={mode!r} is not one of {', '.join(MODES)}\n"
                             "unset it or set it to auto, on or off")
        memory = os.environ.get("BUGFOUNDRY_MEMORY_LIMIT")
        procs = os.environ.get("BUGFOUNDRY_MAX_PROCESSES")
        return cls(mode, parse_size(memory) if memory is not None else DEFAULT_MEMORY,
                   parse_count(procs) if procs is not None else DEFAULT_PROCESSES)


def parse_count(text: str) -> int | None:
    if text.strip().lower() in ("0", "none", "off", "unlimited"):
        return None
    if not text.strip().isdigit() or int(text) < 16:
        raise UsageError(f"process cap {text!r} is not a whole number >= 16\n"
                         "give one like 512, or 0 for no cap")
    return int(text)


@dataclass(frozen=True)
class Sandbox:
    """How runs are wrapped: ``kind`` is ``bwrap``, ``unshare`` or ``none`` (then ``why``)."""

    kind: str
    settings: Settings
    tool: str = ""
    why: str = ""

    @property
    def active(self) -> bool:
        return self.kind != "none"

    def describe(self) -> str:
        """One line for forge, verify and status."""
        limits = (f"memory {gib(self.settings.memory)}" if self.settings.memory
                  else "no memory limit")
        if not self.active:
            return f"test runs are NOT sandboxed ({self.why}); {limits} per process"
        procs = self.settings.processes
        cap = f"at most {procs} processes" if procs else "no process cap"
        if procs and os.geteuid() == 0:
            cap += " (not enforced as root)"
        return (f"test runs are sandboxed ({self.kind}: no network, read-only host, private "
                f"/tmp and HOME, secrets scrubbed; {limits} per process, {cap})")

    def rlimits(self) -> dict[str, int]:
        out = {}
        if self.settings.memory:
            out["DATA"] = self.settings.memory
        if self.settings.processes and self.active:  # outside a user namespace the cap
            out["NPROC"] = self.settings.processes  # would count all the user's processes
        return out

    def wrap(self, argv: Sequence[str], *, cwd: Path, writable: Sequence[Path],
             keep: Sequence[Path], check: bool = False) -> list[str]:
        """``argv`` as run in the sandbox: ``writable`` directories stay writable, ``keep``
        ones (the venv, the repo copy, our plugins) stay readable even under /tmp."""
        rw = _distinct([Path(p).resolve() for p in writable])
        ro = [p for p in _distinct([Path(p).resolve() for p in keep])
              if not any(p == w or w in p.parents for w in rw)]
        spec = {"mount": self.kind == "unshare", "readonly": self.active, "tmpfs": list(_TMPFS),
                "tmpfs_size": self.settings.memory or 2**30, "cwd": str(Path(cwd).resolve()),
                "rw": [str(p) for p in rw], "keep": [str(p) for p in ro],
                "rlimits": self.rlimits(), "check": check, "own_group": self.kind == "unshare",
                "parent": 0 if self.active else os.getpid()}
        init = [sys.executable, "-I", "-S", str(INIT), json.dumps(spec), "--", *argv]
        if self.kind == "unshare":
            return [self.tool, "--user", "--map-root-user", "--net", "--pid", "--ipc",
                    "--uts", "--mount", "--fork", "--kill-child", "--mount-proc", "--", *init]
        if self.kind == "bwrap":
            cmd = [self.tool, "--die-with-parent", "--unshare-user", "--unshare-pid",
                   "--unshare-net", "--unshare-ipc", "--unshare-uts", "--ro-bind", "/", "/",
                   "--dev", "/dev", "--proc", "/proc"]
            for t in _TMPFS:
                cmd += ["--tmpfs", t]
            binds = [(p, "--bind") for p in rw] + [
                (p, "--ro-bind") for p in ro
                if any(p == Path(t) or Path(t) in p.parents for t in _TMPFS)]
            for p, how in sorted(binds, key=lambda b: len(b[0].parts)):  # outer ones first
                cmd += [how, str(p), str(p)]
            return [*cmd, "--chdir", str(Path(cwd).resolve()), "--", *init]
        return init  # no namespaces: the init sets the limits and reaps the run at our death


def _distinct(paths: list[Path]) -> list[Path]:
    """Paths without those inside another one of the list."""
    paths = sorted(set(paths), key=lambda p: len(p.parts))
    out: list[Path] = []
    for p in paths:
        if not any(q == p or q in p.parents for q in out):
            out.append(p)
    return out


_override: Settings | None = None
_cache: dict[tuple[Settings, str], Sandbox] = {}
_lock = threading.Lock()
_warned: set[str] = set()


def configure(settings: Settings | None) -> None:
    """Set this process's choice (the CLI's options); None goes back to the environment."""
    global _override
    _override = settings


def settings() -> Settings:
    return _override or Settings.from_env()


def current() -> Sandbox:
    """The sandbox runs get now (probed once per process and choice)."""
    chosen = settings()
    key = (chosen, os.environ.get("PATH", ""))
    with _lock:
        if key not in _cache:
            _cache[key] = _resolve(chosen)
        return _cache[key]


def _resolve(chosen: Settings) -> Sandbox:
    if chosen.mode == "off":
        return Sandbox("none", chosen, why="--sandbox off")
    if not sys.platform.startswith("linux"):
        return _unavailable(chosen, "namespaces need Linux")
    problems = []
    for kind in ("bwrap", "unshare"):
        tool = shutil.which(kind)
        if tool is None:
            problems.append(f"{kind} not found")
            continue
        box = Sandbox(kind, chosen, tool)
        why = _probe(box)
        if not why:
            return box
        problems.append(f"{kind}: {why}")
    return _unavailable(chosen, "; ".join(problems))


def _unavailable(chosen: Settings, why: str) -> Sandbox:
    if chosen.mode == "on":
        raise UsageError(f"--sandbox on, but no sandbox can be made here ({why})\n"
                         "install bubblewrap, allow user namespaces, or use --sandbox off")
    return Sandbox("none", chosen, why=f"no sandbox available: {why}")


def _probe(box: Sandbox) -> str:
    """'' when the tool makes the namespaces (and mounts) here, else what went wrong."""
    cwd = Path.cwd() if os.access(Path.cwd(), os.R_OK) else Path("/")
    argv = box.wrap(["true"], cwd=cwd, writable=[], keep=[], check=True)
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if res.returncode == 0:
        return ""
    lines = [ln.strip() for ln in res.stderr.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else f"exit code {res.returncode}"


def warn_once(box: Sandbox) -> None:
    """Say once per process (and reason) that runs are not sandboxed."""
    if box.active or box.why in _warned or box.settings.mode == "off":
        return
    _warned.add(box.why)
    print(f"bugfoundry: warning: {box.describe()}", file=sys.stderr, flush=True)


def memory_problem(limit: int | None, messages: Sequence[str]) -> str:
    """The ``memory`` drop detail when a run's failures are the memory limit being hit."""
    if limit and any("MemoryError" in m for m in messages):
        return f"the test run hit the {gib(limit)} memory limit (MemoryError)"
    return ""
