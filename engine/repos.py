"""Repos: turn a path, git URL, git bundle or ``pypi:NAME==VER`` into a workspace-owned checkout.

The user's own checkout is only ever read (cloned from); every later step works on the copy under
``<workspace>/repos/<name>``, pinned to one commit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import git

from engine.environments.venv import installer_tail
from engine.errors import RepoError
from engine.models import RepoRecord
from engine.workspace import Workspace

_URL_RE = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")
_PYPI_RE = re.compile(r"^pypi:([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")
_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]+")
PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
# Deterministic identity for commits we create (sdist snapshots), so shas are reproducible.
SNAPSHOT_ENV = {
    "GIT_AUTHOR_NAME": "bugfoundry", "GIT_AUTHOR_EMAIL": "bugfoundry@localhost",
    "GIT_COMMITTER_NAME": "bugfoundry", "GIT_COMMITTER_EMAIL": "bugfoundry@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


@dataclass(frozen=True)
class Source:
    kind: str  # path | bundle | git | pypi
    value: str
    default_name: str


def classify(source: str) -> Source:
    """Work out what kind of source the user typed (pure)."""
    m = _PYPI_RE.match(source)
    if source.startswith("pypi:"):
        if not m:
            raise RepoError(f"{source!r} is not a PyPI source; write it as pypi:NAME==VERSION.")
        return Source("pypi", source, m.group(1).lower())
    if _URL_RE.match(source):
        tail = source.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return Source("git", source, tail.removesuffix(".git") or "repo")
    path = Path(source).expanduser()
    if path.is_file() and path.suffix == ".bundle":
        return Source("bundle", str(path.resolve()), path.stem)
    return Source("path", str(path.resolve()), path.resolve().name)


def sanitize_name(name: str) -> str:
    clean = _NAME_RE.sub("-", name).strip("-.")
    if not clean:
        raise RepoError(f"{name!r} cannot be used as a repo name; pass --name NAME.")
    return clean


def add_repo(
    ws: Workspace, source: str, name: str | None = None, commit: str | None = None,
    existing: RepoRecord | None = None,
) -> RepoRecord:
    """Make (or reuse) the workspace copy of ``source``, pinned to ``commit`` (default HEAD)."""
    src = classify(source)
    repo_name = sanitize_name(name or src.default_name)
    dest = ws.repo_path(repo_name)
    if existing is not None:
        if existing.source == source and (commit is None or existing.commit.startswith(commit)):
            return existing
        raise RepoError(
            f"a repo named {repo_name!r} already exists (from {existing.source} @ "
            f"{existing.commit[:8]}).\nPass --name to add this one under another name."
        )
    if dest.exists():  # left over from an interrupted add: start again from the source
        shutil.rmtree(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{repo_name}-", dir=ws.repos_dir))
    try:
        if src.kind == "pypi":
            _snapshot_sdist(ws, src.value, tmp)
        elif src.kind == "git":
            _clone(src.value, tmp, what="clone")
        elif src.kind == "bundle":
            _clone(src.value, tmp, what="read the bundle")
        else:
            _from_path(Path(src.value), tmp)
        pinned = _pin(tmp, commit, source)
        _require_tests(tmp, source)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RepoRecord(repo_name, source, src.kind, pinned, str(dest))


def _git(args: list[str], cwd: Path | None = None, timeout: float = 600,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def _clone(url: str, dest: Path, what: str) -> None:
    try:
        git.Repo.clone_from(url, dest, env={"GIT_TERMINAL_PROMPT": "0"}, no_hardlinks=True)
    except git.GitCommandError as exc:
        lines = [ln.strip() for ln in str(exc.stderr or exc).splitlines() if ln.strip()]
        said = lines[-1].removeprefix("stderr: ").strip("'") if lines else "unknown error"
        raise RepoError(f"could not {what} {url}: {said}\n"
                        "Check the URL/path and your network, then try again.") from None


def _from_path(path: Path, dest: Path) -> None:
    if not path.exists():
        raise RepoError(f"{path} does not exist.\nGive a path to a git checkout, a git URL, "
                        "or pypi:NAME==VERSION.")
    if not path.is_dir():
        raise RepoError(f"{path} is not a repository (it is a file).\nGive a git checkout "
                        "directory, a .bundle file, a git URL, or pypi:NAME==VERSION.")
    probe = _git(["rev-parse", "--show-toplevel"], cwd=path)
    if probe.returncode == 0:
        _clone(str(path), dest, what="clone")
        return
    if not any((path / f).exists() for f in PROJECT_FILES):
        raise RepoError(f"{path} is not a git repository nor a Python project "
                        f"(no .git, {', '.join(PROJECT_FILES)}).\n"
                        "Point at the repository's root directory.")
    shutil.rmtree(dest)
    shutil.copytree(path, dest, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", "*.pyc", ".venv", "venv", ".tox", ".bugfoundry", "build", "dist"))
    _init_snapshot(dest, f"snapshot of {path.name}")


def _init_snapshot(tree: Path, message: str) -> None:
    for args in (["init", "-q", "-b", "main"], ["add", "-A", "-f", "."],
                 ["-c", "commit.gpgsign=false", "commit", "-q", "-m", message]):
        res = _git(args, cwd=tree, env=SNAPSHOT_ENV)
        if res.returncode != 0:
            raise RepoError(f"could not snapshot {tree.name} into git: "
                            f"{(res.stderr or res.stdout).strip().splitlines()[-1:]}")


def _snapshot_sdist(ws: Workspace, spec: str, dest: Path) -> None:
    m = _PYPI_RE.match(spec)
    assert m
    pkg, version = m.groups()
    cache = Path(os.environ.get("BUGFOUNDRY_SDIST_CACHE") or ws.cache_dir / "sdists")
    cache.mkdir(parents=True, exist_ok=True)
    archive = _find_sdist(cache, pkg, version)
    if archive is None:
        res = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
             "-q", "-d", str(cache), f"{pkg}=={version}"],
            capture_output=True, text=True, timeout=600,
        )
        archive = _find_sdist(cache, pkg, version)
        if res.returncode != 0 or archive is None:
            said = installer_tail("\n".join(
                ln for ln in (res.stdout + "\n" + res.stderr).splitlines()
                if "is ignored" not in ln), n=1)
            raise RepoError(f"could not download the sdist of {pkg}=={version} from PyPI: "
                            f"{said}\n"
                            "Check the name and version (an sdist must exist for it).")
    unpack = Path(tempfile.mkdtemp(prefix="sdist-", dir=ws.cache_dir))
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(unpack)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(unpack, filter="data")
        entries = [p for p in unpack.iterdir()]
        top = entries[0] if len(entries) == 1 and entries[0].is_dir() else unpack
        shutil.rmtree(dest)
        shutil.copytree(top, dest)
    finally:
        shutil.rmtree(unpack, ignore_errors=True)
    _init_snapshot(dest, f"sdist {pkg}=={version}")


def _find_sdist(cache: Path, pkg: str, version: str) -> Path | None:
    norm = re.sub(r"[-_.]+", "[-_.]", re.escape(pkg.lower()).replace("\\", ""))
    pat = re.compile(rf"^{norm}-{re.escape(version)}\.(tar\.gz|zip|tar\.bz2)$", re.I)
    for p in sorted(cache.iterdir()):
        if pat.match(p.name):
            return p
    return None


def _pin(tree: Path, commit: str | None, source: str) -> str:
    repo = git.Repo(tree)
    rev = commit or "HEAD"
    try:
        sha = repo.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}")
    except git.GitCommandError:
        sha = ""
    if not sha:
        raise RepoError(f"{source} has no commit {rev!r}.\nGive a commit, tag or branch that "
                        "exists there (or leave --commit out for HEAD).")
    repo.git.checkout("-q", "-B", "bugfoundry-base", sha)
    return sha


def _require_tests(tree: Path, source: str) -> None:
    res = _git(["ls-files"], cwd=tree)
    files = res.stdout.splitlines()
    for f in files:
        parts = f.split("/")
        base = parts[-1]
        if not base.endswith(".py"):
            continue
        if (base.startswith("test") or base.endswith("_test.py")
                or any(p in ("tests", "test", "testing") for p in parts[:-1])):
            return
    raise RepoError(f"{source} has no tests (no test_*.py / *_test.py / tests/ found).\n"
                    "bugfoundry keeps only bugs a test catches; pick a repo that ships its tests.")


def make_worker_tree(repo: RepoRecord, dest: Path, commit: str | None = None) -> Path:
    """A private checkout of ``commit`` (default: the pinned one) for one validation worker.

    Reused across runs; a tree at another commit is switched in place (PR mirrors validate at
    their fix commits), which is far cheaper than a new clone of a large repo.
    """
    target = commit or repo.commit
    if not (dest / ".git").exists():
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        res = _git(["clone", "-q", "--shared", "--no-checkout", repo.path, str(dest)])
        if res.returncode != 0:
            raise RepoError(f"could not make a work tree for {repo.name}: {res.stderr.strip()}")
    if _git(["rev-parse", "HEAD"], cwd=dest).stdout.strip() != target:
        res = _git(["checkout", "-q", "--force", "--detach", target], cwd=dest)
        if res.returncode != 0:
            raise RepoError(f"could not check out {target[:8]}: {res.stderr.strip()}")
    reset_tree(dest)
    return dest


def reset_tree(tree: Path) -> None:
    """Back to the pinned commit exactly: tracked files restored, untracked ones removed."""
    _git(["reset", "-q", "--hard"], cwd=tree)
    _git(["clean", "-q", "-f", "-d", "-x"], cwd=tree)
