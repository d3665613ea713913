"""Sources an environment build writes into the repo (setuptools-scm's ``_version.py``).

Building an environment installs the project editable in the workspace copy, and some builds
write Python files there: setuptools-scm's ``write_to`` / ``version_file``, hatch-vcs's version
hook, generated parsers. They are git-ignored, so the work trees (``git clone`` of the copy,
with their own source roots first on ``PYTHONPATH``) lack them and every test fails to import.

The build's new files are kept with the environment (``Environment.generated_dir``); every
work tree gets a copy (``install``) and lists them in ``.git/bugfoundry-generated``, which
``keep_args`` turns into ``git clean -e`` patterns, so a reset between candidates keeps them.
Only untracked ``.py`` files inside the source roots count, outside build artefacts (``build/``,
``*.egg-info``, ``__pycache__``, hidden directories, ...). Compiled extensions are left out
on purpose: a package with a pure-Python fallback would start running its C code instead.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

KEEP_LIST = "bugfoundry-generated"  # in a work tree's .git/: the generated files it keeps
SUFFIXES = (".py",)
SKIP_DIRS = frozenset({"build", "dist", "__pycache__", "site-packages", "node_modules",
                       "venv", "wheelhouse"})
SKIP_DIR_SUFFIXES = (".egg-info", ".dist-info", ".egg", ".data")
_GLOB = re.compile(r"([*?\[\\])")


def is_generated_source(rel: str, roots: Sequence[str]) -> bool:
    """Whether an untracked file at ``rel`` is a source the build wrote (pure)."""
    path = PurePosixPath(rel)
    if path.suffix not in SUFFIXES or path.is_absolute() or ".." in path.parts:
        return False
    for part in path.parts[:-1]:
        if part.startswith(".") or part in SKIP_DIRS or part.endswith(SKIP_DIR_SUFFIXES):
            return False
    return any(_under(path, root) for root in roots or ["."])


def _under(path: PurePosixPath, root: str) -> bool:
    base = PurePosixPath(root.strip("/") or ".")
    return base == PurePosixPath(".") or path.parts[: len(base.parts)] == base.parts


def select(paths: Iterable[str], tracked: Iterable[str], roots: Sequence[str]) -> list[str]:
    """The generated sources among ``paths``: untracked and passing ``is_generated_source``."""
    known = set(tracked)
    return sorted({p for p in paths if p not in known and is_generated_source(p, roots)})


def _ls(tree: Path, *args: str) -> list[str]:
    res = subprocess.run(["git", "--literal-pathspecs", "-c", "core.quotepath=off", "ls-files",
                          "-z", *args],
                         cwd=tree, capture_output=True, timeout=300)
    return [f for f in res.stdout.decode(errors="surrogateescape").split("\0") if f]


def tracked_files(tree: Path) -> list[str]:
    return _ls(tree)


def collect(tree: Path, dest: Path, roots: Sequence[str]) -> list[str]:
    """Copy the generated sources of a host ``tree`` the build ran in into ``dest``."""
    files = select(_ls(tree, "--others"), (), roots)  # --others: untracked, ignored or not
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(tree / rel, target)
    return files


def listing(generated: Path | None) -> list[str]:
    """The files kept under ``generated`` (an environment's ``generated_dir``), relative."""
    if generated is None or not generated.is_dir():
        return []
    return sorted(p.relative_to(generated).as_posix() for p in generated.rglob("*")
                  if p.is_file())


def _keep_file(tree: Path) -> Path | None:
    git_dir = tree / ".git"
    return git_dir / KEEP_LIST if git_dir.is_dir() else None


def kept(tree: Path) -> list[str]:
    """The generated files ``tree`` keeps (its ``.git/bugfoundry-generated``)."""
    path = _keep_file(tree)
    if path is None or not path.is_file():
        return []
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln]


def install(generated: Path | None, tree: Path) -> list[str]:
    """Give ``tree`` the files kept under ``generated`` and record them as kept.

    A path tracked at the tree's commit keeps the commit's version (PR-mirror trees at other
    commits); files kept before but no longer generated (a rebuild, another backend) go.
    """
    files = listing(generated)
    before = kept(tree)
    tracked = set(_ls(tree, "--", *sorted({*files, *before}))) if files or before else set()
    keep = [rel for rel in files if rel not in tracked]
    for rel in keep:
        assert generated is not None
        src, dst = generated / rel, tree / rel
        if not dst.is_file() or dst.read_bytes() != src.read_bytes():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    for rel in set(before) - set(keep) - tracked:
        (tree / rel).unlink(missing_ok=True)
    path = _keep_file(tree)
    if path is not None and (keep or before):
        path.write_text("".join(f"{rel}\n" for rel in keep), encoding="utf-8")
    return keep


def keep_args(tree: Path) -> list[str]:
    """``git clean`` options that spare the tree's generated files (``-e`` wins over ``-x``)."""
    return [arg for rel in kept(tree) for arg in ("-e", "/" + _GLOB.sub(r"\\\1", rel))]
