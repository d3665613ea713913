"""Repos: turn a path, git URL, git bundle or ``pypi:NAME==VER`` into a workspace-owned checkout.

The user's own checkout is only ever read (cloned from); every later step works on the copy under
``<workspace>/repos/<name>``, pinned to one commit. A copy that was deleted is re-created from
the recorded source at the recorded commit (``ensure_copy``). Validation works in private work
trees cloned from the copy (``make_worker_tree``), which also get the files the environment
build generated (``engine.generated``).
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

from engine import generated as gen
from engine.environments.venv import installer_tail
from engine.errors import RepoError
from engine.logs import Log, quiet
from engine.models import RepoRecord
from engine.workspace import Workspace

_URL_RE = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")
_PYPI_RE = re.compile(r"^pypi:([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")
_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]+")
_GOOD_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
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
    """A repo name from a source's own name (characters a directory or branch name cannot
    hold become ``-``)."""
    clean = _NAME_RE.sub("-", name).strip("-.")
    if not clean:
        raise RepoError(f"{name!r} cannot be used as a repo name; pass --name NAME.")
    return clean


def check_name(name: str) -> str:
    """A name the user chose (``--name``): used as given or refused, never rewritten, since it
    becomes a directory, a branch prefix and an option-like word on command lines."""
    if not _GOOD_NAME_RE.fullmatch(name) or ".." in name:
        raise RepoError(f"{name!r} cannot be used as a repo name: use letters, digits, '_', "
                        "'-' and '.', starting with a letter or digit (no '/' nor '..').")
    return name


def check_ref(ref: str) -> str:
    """A commit, tag or branch the user typed (``--commit``): never an option to git."""
    if not ref or ref.startswith("-") or any(c.isspace() or ord(c) < 32 for c in ref):
        raise RepoError(f"--commit {ref!r}: a commit, tag or branch must not start with '-' "
                        "nor hold spaces.\nGive a commit sha, a tag or a branch name.")
    return ref


def add_repo(
    ws: Workspace, source: str, name: str | None = None, commit: str | None = None,
    existing: RepoRecord | None = None, log: Log = quiet,
) -> RepoRecord:
    """Make (or reuse) the workspace copy of ``source``, pinned to ``commit`` (default HEAD).

    Adding a repo again from the same source re-creates its copy when that was deleted.
    """
    src = classify(source)
    # A local path is recorded absolute: a lost copy is re-created from it whatever the cwd.
    recorded = src.value if src.kind in ("path", "bundle") else source
    repo_name = check_name(name) if name else sanitize_name(src.default_name)
    if commit is not None:
        check_ref(commit)
    dest = ws.repo_path(repo_name)
    if existing is not None:
        if existing.source in (source, recorded) and (commit is None
                                                      or existing.commit.startswith(commit)):
            return ensure_copy(ws, existing, log)
        raise RepoError(
            f"a repo named {repo_name!r} already exists (from {existing.source} @ "
            f"{existing.commit[:8]}).\nPass --name to add this one under another name."
        )
    if dest.exists():  # left over from an interrupted add: start again from the source
        shutil.rmtree(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{repo_name}-", dir=ws.repos_dir))
    try:
        _fetch(ws, src, tmp)
        pinned = _pin(tmp, commit, source)
        _require_tests(tmp, source)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RepoRecord(repo_name, recorded, src.kind, pinned, str(dest))


def _fetch(ws: Workspace, src: Source, tmp: Path) -> None:
    """Fill the empty directory ``tmp`` with a git checkout of ``src`` (HEAD not yet pinned)."""
    if src.kind == "pypi":
        _snapshot_sdist(ws, src.value, tmp)
    elif src.kind == "git":
        _clone(src.value, tmp, what="clone")
    elif src.kind == "bundle":
        _clone(src.value, tmp, what="read the bundle")
    else:
        _from_path(Path(src.value), tmp)


# ---------------------------------------------------------------------- a lost copy
def copy_problem(rec: RepoRecord) -> str:
    """Why the workspace copy cannot be used as it is ("" when it can): deleted, emptied,
    its ``.git`` gone or unreadable, or checked out at another commit."""
    path = Path(rec.path)
    if not path.is_dir() or not any(path.iterdir()):
        return "missing"
    if not (path / ".git").is_dir():
        return "missing its .git"
    # --git-dir: a broken .git must not make git look further up (a workspace in a checkout).
    head = _git(["--git-dir", str(path / ".git"), "rev-parse", "-q", "--verify",
                 "HEAD^{commit}"])
    if head.returncode != 0:
        return "broken (git cannot read it)"
    if head.stdout.strip() != rec.commit:
        return f"checked out at another commit ({head.stdout.strip()[:8]})"
    return ""


def ensure_copy(ws: Workspace, rec: RepoRecord,
                log: Log = quiet) -> RepoRecord:
    """The record, its workspace copy restored from the recorded source at the recorded
    commit if it was deleted or damaged (every step after ``repo add`` reads the copy)."""
    problem = copy_problem(rec)
    if problem:
        restore_copy(ws, rec, problem)
        log(f"workspace copy of {rec.name} was {problem}; restored from {rec.source} "
            f"at {rec.commit[:8]}")
    return rec


def restore_copy(ws: Workspace, rec: RepoRecord, problem: str = "missing") -> None:
    """Re-create the copy from ``rec.source`` at exactly ``rec.commit``, or say why not."""
    dest = Path(rec.path)
    what = f"the workspace copy of {rec.name} is {problem}"
    if dest.parent.resolve() != ws.repos_dir.resolve():
        raise RepoError(f"{what} and is not under this workspace's {ws.repos_dir} "
                        f"(was the workspace moved?).\nAdd the repo again in this workspace: "
                        f"bugfoundry repo add {rec.source} --name NEW_NAME")
    ws.repos_dir.mkdir(parents=True, exist_ok=True)  # a database copied without its repos/
    tmp = Path(tempfile.mkdtemp(prefix=f".{rec.name}-", dir=ws.repos_dir))
    try:
        _fetch(ws, classify(rec.source), tmp)
        _pin_recorded(tmp, rec)
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    except RepoError as exc:
        said = str(exc).splitlines()[0].rstrip(".")
        raise RepoError(f"{what} and could not be restored at {rec.commit[:8]}: {said}.\n"
                        "Make the source available again, or add it anew under another name: "
                        f"bugfoundry repo add {rec.source} --name NEW_NAME") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _pin_recorded(tree: Path, rec: RepoRecord) -> None:
    """Check out ``rec.commit`` in a fresh fetch of the source; a snapshot (sdist, plain
    directory) must re-create that very commit, so a changed source is caught, not used."""
    if _git(["cat-file", "-e", f"{rec.commit}^{{commit}}"], cwd=tree).returncode == 0:
        _pin(tree, rec.commit, rec.source)
        return
    head = _git(["log", "-1", "--format=%H %ce"], cwd=tree).stdout.split()
    if head[1:] == [SNAPSHOT_ENV["GIT_COMMITTER_EMAIL"]]:  # a commit _init_snapshot made
        raise RepoError(f"a new snapshot of {rec.source} is commit {head[0][:8]}, not the "
                        f"recorded {rec.commit[:8]} (its files changed)")
    raise RepoError(f"{rec.source} no longer has commit {rec.commit[:8]}")


def _git(args: list[str], cwd: Path | None = None, timeout: float = 600,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def _clone(url: str, dest: Path, what: str) -> None:
    """``git clone`` (``--`` first: a source is never read as an option); a failure names
    git's own last error line."""
    res = _git(["clone", "-q", "--no-hardlinks", "--", url, str(dest)])
    if res.returncode != 0:
        raise RepoError(f"could not {what} {url}: {git_said(res.stderr, res.returncode)}\n"
                        "Check the URL/path and your network, then try again.")


def git_said(stderr: str, code: int) -> str:
    """The line of git's stderr that says what went wrong (its first ``fatal:``/``error:``
    line, else its last line), never empty."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip().strip("'")]
    errors = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    said = (errors or lines[-1:] or [f"git exited with status {code}"])[0]
    return said.removeprefix("fatal: ").removeprefix("error: ")[:300]


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
        # The project itself as an sdist; its build dependencies (which pip needs for the
        # metadata) may come as wheels: with ":all:" a build dependency that needs a Rust or
        # C toolchain makes the download fail.
        res = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", pkg, "--no-deps",
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
    rev = check_ref(commit) if commit else "HEAD"
    try:
        sha = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
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


def make_worker_tree(repo: RepoRecord, dest: Path, commit: str | None = None,
                     generated: Path | None = None) -> Path:
    """A private checkout of ``commit`` (default: the pinned one) for one validation worker,
    with the files the environment's build generated (``generated``, the environment's
    ``generated_dir``), which resets keep.

    Reused across runs; a tree at another commit is switched in place (PR mirrors validate at
    their fix commits), which is far cheaper than a new clone of a large repo. A tree that no
    longer works (it borrows the copy's objects, and the copy was deleted or re-created) is
    cloned again.
    """
    target = commit or repo.commit
    if target.startswith("-"):  # a commit from a dataset or a user: never an option to git
        raise RepoError(f"{target[:40]!r} is not a commit: it starts with '-'.")
    if not _tree_usable(repo, dest, target):
        _clone_tree(repo, dest)
    if _git(["rev-parse", "HEAD"], cwd=dest).stdout.strip() != target:
        res = _git(["checkout", "-q", "--force", "--detach", target], cwd=dest)
        if res.returncode != 0:
            raise RepoError(f"could not check out {target[:8]}: {res.stderr.strip()}")
    reset_tree(dest)
    gen.install(generated, dest)
    return dest


def _tree_usable(repo: RepoRecord, tree: Path, target: str) -> bool:
    """Whether ``tree`` is a clone of the current copy that can read its HEAD and ``target``.

    ``clone --shared`` reads the copy's object store (``objects/info/alternates``): a copy
    deleted or moved leaves the tree unable to read any commit, a reset silently failing.
    """
    git_dir = tree / ".git"
    alternates = git_dir / "objects" / "info" / "alternates"
    if not git_dir.is_dir() or not alternates.is_file():
        return False
    lines = alternates.read_text(encoding="utf-8", errors="replace").split()
    objects = (Path(repo.path) / ".git" / "objects").resolve()
    if not objects.is_dir() or [Path(p).resolve() for p in lines] != [objects]:
        return False
    res = _git(["--git-dir", str(git_dir), "rev-parse", "-q", "HEAD^{tree}",
                f"{target}^{{tree}}"])
    return res.returncode == 0


def _clone_tree(repo: RepoRecord, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    res = _git(["clone", "-q", "--shared", "--no-checkout", "--", repo.path, str(dest)])
    if res.returncode != 0:
        raise RepoError(f"could not make a work tree for {repo.name}: {res.stderr.strip()}")


def reset_tree(tree: Path) -> None:
    """Back to the tree's commit exactly: tracked files restored, untracked ones removed but
    the build's generated files (see ``engine.generated``)."""
    _git(["reset", "-q", "--hard"], cwd=tree)
    _git(["clean", "-q", "-f", "-d", "-x", *gen.keep_args(tree)], cwd=tree)


def tree_problem(repo: RepoRecord, tree: Path, commit: str | None = None) -> str:
    """Why a work tree cannot be used as it is ("" when it can): not a clone of the current
    copy, at another commit than ``commit`` (any commit when None: trees of other bases), or
    with changes left by a run that was killed (validation resets it before use anyway)."""
    head = _git(["--git-dir", str(tree / ".git"), "rev-parse", "-q", "--verify", "HEAD"])
    if head.returncode != 0 or not _tree_usable(repo, tree, head.stdout.strip()):
        return "not a readable clone of the repo copy"
    if commit and head.stdout.strip() != commit:
        return f"checked out at {head.stdout.strip()[:8]}, not the pinned {commit[:8]}"
    dirty = _git(["status", "--porcelain", "--untracked-files=all"], cwd=tree).stdout
    generated = set(gen.kept(tree))
    changed = [line for line in dirty.splitlines() if line[3:] not in generated]
    return f"{len(changed)} files changed or left behind" if changed else ""
