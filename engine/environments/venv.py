"""The venv backend: a virtualenv under the workspace, filled by uv (fast) or pip (fallback).

uv is a dependency of bugfoundry, so it is normally there; pip is kept as a fallback because
some old projects only install with pip's quirks (legacy ``setup.py develop`` behaviour).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from engine.environments import sandbox as sandboxing
from engine.environments.base import Environment, tree_pythonpath
from engine.environments.processes import ProcResult, run_process, spawn_process
from engine.errors import EnvironmentBuildError
from engine.logs import Log
from engine.models import Recipe

STEP_TIMEOUT = 1800.0  # seconds per install command; generous for sdists that compile
_CA_VARS = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_NOISE = re.compile(
    r"^(hint|note|warning|deprecation)\b|^\[(notice|stderr|stdout|end of output)\]"
    r"|^\[\d+ lines of output\]|^see above for output|^exit code:|^traceback \(most recent"
    r"|^error: (subprocess-exited-with-error|metadata-generation-failed|failed-wheel-build)"
    r"|^(using python|resolved|prepared|audited|installed|uninstalled) ",
    re.IGNORECASE,
)


def find_uv() -> str | None:
    """The uv binary: the one shipped by the ``uv`` package, else whatever is on PATH."""
    try:
        import uv

        path = uv.find_uv_bin()
        if path and os.path.exists(path):
            return str(path)
    except (ImportError, FileNotFoundError):
        pass
    return shutil.which("uv")


class _StepFailed(Exception):
    def __init__(self, step: Sequence[str], tail: str) -> None:
        super().__init__(" ".join(step))
        self.step, self.tail = list(step), tail


class VenvEnvironment(Environment):
    """A venv at ``<root>/venv``; ``<root>/build.log`` keeps the full installer output."""

    backend = "venv"

    def __init__(
        self,
        root: Path,
        repo_root: Path,
        recipe: Recipe,
        *,
        cache_dir: Path | None = None,
        use_uv: bool = True,
        sandbox: sandboxing.Sandbox | None = None,
    ) -> None:
        super().__init__(root, repo_root, recipe)
        self.cache_dir = Path(cache_dir).resolve() if cache_dir else None
        self.use_uv = use_uv
        self._sandbox = sandbox

    @property
    def sandbox(self) -> sandboxing.Sandbox:
        """How test runs are wrapped (``engine/environments/sandbox.py``), decided on first
        use; the build never is."""
        if self._sandbox is None:
            self._sandbox = sandboxing.current()
            sandboxing.warn_once(self._sandbox)
        return self._sandbox

    @property
    def memory_limit(self) -> int | None:
        return self.sandbox.settings.memory

    @property
    def sandbox_root(self) -> Path:
        """The runs' writable scratch: ``home/`` (HOME) and ``tmp/`` (TMPDIR, our reports)."""
        return self.root / "scratch"

    @property
    def scratch_dir(self) -> Path | None:
        if not self.sandbox.active:
            return None
        tmp = self.sandbox_root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    @property
    def venv_dir(self) -> Path:
        return self.root / "venv"

    @property
    def python_path(self) -> Path:
        """The environment's interpreter (what ``run(["python", ...])`` executes)."""
        return self.venv_dir / "bin" / "python"

    @property
    def log_path(self) -> Path:
        return self.root / "build.log"

    def _exists(self) -> bool:
        return self.python_path.exists()

    # ------------------------------------------------------------ build

    def _build(self, log: Log) -> None:
        with open(self.log_path, "w", encoding="utf-8") as fh:
            uv = find_uv() if self.use_uv else None
            uv_failure: _StepFailed | None = None
            if uv:
                try:
                    self._install(fh, log, uv)
                    return
                except _StepFailed as e:
                    uv_failure = e
                    log(f"uv could not install ({' '.join(e.step)}); retrying with pip")
                    fh.write("\n### uv failed; falling back to pip\n\n")
            else:
                log("uv not found; using python -m venv + pip")
            try:
                self._install(fh, log, None, seed_with=uv)
            except _StepFailed as e:
                # Same step failed under both: the step is broken and uv explains it better.
                why = uv_failure if uv_failure and uv_failure.step == e.step else e
                raise EnvironmentBuildError(
                    f"could not install {self.repo_root.name}: {' '.join(e.step)}\n"
                    f"installer said: {why.tail}"
                ) from None

    def _install(
        self, fh: IO[str], log: Log, uv: str | None, seed_with: str | None = None
    ) -> None:
        """Create the venv and run every step, with uv, or with pip when ``uv`` is None.

        ``seed_with`` (a uv binary) creates the pip-fallback venv with ``uv venv --seed``:
        same result as ``python -m venv`` but seconds faster.
        """
        shutil.rmtree(self.venv_dir, ignore_errors=True)
        env = self._install_env()
        if uv:
            create = [uv, "venv", "--python", self._python_request(), str(self.venv_dir)]
            # Byte-compiled like pip does: every validation run is a new interpreter with
            # bytecode writing off, and compiling pytest from source each time costs more
            # than the run (0.43 s -> 0.19 s for a one-test run).
            installer = [uv, "pip", "install", "--compile-bytecode", "--python",
                         str(self.python_path)]
        else:
            create = [self._python_executable(), "-m", "venv", str(self.venv_dir)]
            if seed_with:
                create = [seed_with, "venv", "--seed", "--python", self._python_request()]
                create.append(str(self.venv_dir))
            installer = [str(self.python_path), "-m", "pip", "install"]
        tool = "uv" if uv else "pip"
        log(f"creating venv ({self.recipe.python}, {tool}): {self.venv_dir}")
        self._step(fh, create, ["venv", "--python", self.recipe.python], env, self.root)
        for step in self.recipe.steps:
            log(f"installing ({tool}): {' '.join(step)}")
            self._step(fh, installer + list(step), step, env, self.repo_root)

    def _step(
        self, fh: IO[str], argv: list[str], step: Sequence[str], env: dict[str, str], cwd: Path
    ) -> None:
        fh.write(f"$ {' '.join(argv)}\n")
        fh.flush()
        try:
            res = run_process(argv, cwd=cwd, env=env, timeout=STEP_TIMEOUT)
        except OSError as e:  # the installer or interpreter itself is missing
            fh.write(f"{e}\n")
            raise _StepFailed(step, str(e)) from None
        fh.write(res.stdout + res.stderr + f"\n[exit {res.returncode} in {res.duration:.1f}s]\n\n")
        fh.flush()
        if res.timed_out:
            raise _StepFailed(step, f"timed out after {STEP_TIMEOUT:.0f}s")
        if res.returncode != 0 and _tls_problem(res.stderr) and "UV_SYSTEM_CERTS" not in env:
            env.update(UV_SYSTEM_CERTS="1", UV_NATIVE_TLS="1")  # use the OS trust store
            fh.write("### TLS verification failed; retrying with the system certificate store\n")
            return self._step(fh, argv, step, env, cwd)
        if res.returncode != 0:
            raise _StepFailed(step, installer_tail(res.stdout + "\n" + res.stderr))

    def _install_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env.pop("PYTHONHOME", None)
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        if self.cache_dir:
            env["UV_CACHE_DIR"] = str(self.cache_dir)
        if not env.get("SSL_CERT_FILE"):
            # uv ignores pip's config; a CA bundle configured for pip/requests (corporate
            # proxies) is what uv needs too, and SSL_CERT_FILE is how uv is told about it.
            bundle = next((env[v] for v in _CA_VARS if os.path.isfile(env.get(v, ""))), None)
            if bundle:
                env["SSL_CERT_FILE"] = bundle
        env.update(self.recipe.env)
        return env

    def _python_request(self) -> str:
        """What to pass to ``uv venv --python``: exact path for the running version."""
        m = re.fullmatch(r"python(\d+)\.(\d+)", self.recipe.python)
        if m and (int(m[1]), int(m[2])) == sys.version_info[:2]:
            return sys.executable
        return f"{m[1]}.{m[2]}" if m else self.recipe.python

    def _python_executable(self) -> str:
        m = re.fullmatch(r"python(\d+)\.(\d+)", self.recipe.python)
        if m and (int(m[1]), int(m[2])) == sys.version_info[:2]:
            return sys.executable
        return shutil.which(self.recipe.python) or self.recipe.python

    # ------------------------------------------------------------ run

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> ProcResult:
        """Run in the venv with the recipe's env and ``cwd``'s source roots on PYTHONPATH.

        PYTHONPATH points at the *tree being tested* (a worker's scratch copy may differ from
        the editable install's repo_root), and wins over the editable install's path hooks.
        """
        return run_process(self._wrap(argv, cwd), cwd=cwd, env=self.run_env(cwd, env),
                           timeout=timeout)

    def spawn(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        stderr_path: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        return spawn_process(self._wrap(argv, cwd), cwd=cwd, env=self.run_env(cwd, env),
                             stderr_path=stderr_path)

    def _wrap(self, argv: Sequence[str], cwd: Path) -> list[str]:
        """The command as run: the venv's interpreter for ``python``, in the sandbox (the
        work tree and the scratch writable; the venv, repo copy and our plugins readable)."""
        argv = list(argv)
        if argv and argv[0] == "python":
            argv[0] = str(self.python_path)
        box = self.sandbox
        writable = [Path(cwd)]
        if box.active:
            for sub in ("home", "tmp"):
                (self.sandbox_root / sub).mkdir(parents=True, exist_ok=True)
            writable.append(self.sandbox_root)
        keep = [self.root, self.repo_root, sandboxing.ENGINE_DIR,
                self.python_path.resolve().parents[1]]
        return box.wrap(argv, cwd=cwd, writable=writable, keep=keep)

    def run_env(self, cwd: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
        if self.sandbox.active:  # no credentials, and a home and temp dir of its own
            env = sandboxing.scrub(env)
            env["HOME"] = str(self.sandbox_root / "home")
            env["TMPDIR"] = str(self.sandbox_root / "tmp")
        env.update(self.recipe.env)
        env["VIRTUAL_ENV"] = str(self.venv_dir)
        env["PATH"] = os.pathsep.join([str(self.venv_dir / "bin"), env.get("PATH", "")])
        extra = dict(extra or {})
        env["PYTHONPATH"] = tree_pythonpath(cwd, self.recipe, extra)
        env.update(extra)
        return env


def _tls_problem(text: str) -> bool:
    return bool(re.search(r"invalid peer certificate|UnknownIssuer|CERTIFICATE_VERIFY", text))


def installer_tail(output: str, n: int = 3) -> str:
    """The last ``n`` informative lines of pip/uv output, joined with `` | ``.

    Drops blank lines, tree-drawing glyphs, hints/notes, progress lines and traceback frames
    so what remains is usually the actual error ("No solution found ...", "ModuleNotFoundError").
    """
    lines: list[str] = []
    frame_indent = -1  # indentation of the last traceback "File ..." line
    for raw in output.splitlines():
        indent = len(raw) - len(raw.lstrip())
        line = raw.strip().lstrip("×├╰│╭─▶>|┬┴ ").strip()
        if frame_indent >= 0 and indent > frame_indent:
            continue  # the source line echoed under a traceback frame
        frame_indent = -1
        if re.match(r'^File ".*", line \d+', line):
            frame_indent = indent
            continue
        if not line or _NOISE.search(line) or not re.search(r"\w", line):
            continue
        if line in lines:
            lines.remove(line)
        lines.append(line)
    picked = lines[-n:]
    errors = [x for x in lines if re.search(r"\w(Error|Exception)\b:|^error:", x, re.IGNORECASE)]
    if errors and errors[-1] not in picked:  # keep the exception line: it names the cause
        picked = [errors[-1], *lines[-(n - 1) :]] if n > 1 else [errors[-1]]
    return " | ".join(picked) or "(no output)"
