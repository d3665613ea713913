"""Instance branches: every exported bug as a commit in a bare copy of its repo.

The SWE-bench harness (and SWE-agent on SWE-bench rows) checks out ``base_commit`` and
expects the bug to be in it; SWE-smith's tools check out a branch named after the instance.
Both need the buggy state as a commit, which a diff alone is not. So an export writes, per
repo, a bare repository holding the repo's history plus one branch per instance
(``refs/heads/<instance_id>``): one commit on top of the instance's clean commit that applies
the bug diff. Push it anywhere (``git push --mirror``) to serve the rows.

All branches are written by one ``git fast-import`` stream (thousands of commits a second).
Author, committer and date are fixed (the date is the clean commit's), so the same instance
always gets the same commit sha.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.diffs import PatchError, apply_patch, parse_patch
from engine.errors import UsageError

IDENTITY = "bugfoundry <bugfoundry@localhost>"
_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


@dataclass(frozen=True)
class BranchRequest:
    instance_id: str
    clean_commit: str  # the commit the bug diff applies to
    bug_patch: str


@dataclass
class BranchResult:
    path: str
    shas: dict[str, str] = field(default_factory=dict)  # instance id -> buggy commit
    failed: dict[str, str] = field(default_factory=dict)  # instance id -> why not


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    res = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, env=_ENV,
                         timeout=600)
    if res.returncode:
        tail = res.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"git {args[0]} failed in {cwd}: {tail[-1] if tail else res.returncode}")
    return res.stdout


class _Blobs:
    """File contents and modes at a commit, read through one ``git cat-file --batch``."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=repo, env=_ENV,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.cache: dict[tuple[str, str], bytes | None] = {}
        self.modes: dict[tuple[str, str], str] = {}
        self.dates: dict[str, str] = {}

    def read(self, commit: str, path: str) -> bytes | None:
        key = (commit, path)
        if key not in self.cache:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(f"{commit}:{path}\n".encode())
            self.proc.stdin.flush()
            header = self.proc.stdout.readline().split()
            if len(header) == 3 and header[1] == b"blob":
                data = self.proc.stdout.read(int(header[2]))
                self.proc.stdout.read(1)  # the newline after the object
                self.cache[key] = data
            else:
                self.cache[key] = None  # "<name> missing": a new file
        return self.cache[key]

    def mode(self, commit: str, path: str) -> str:
        key = (commit, path)
        if key not in self.modes:
            out = _git(self.repo, "ls-tree", commit, "--", path).decode().split()
            self.modes[key] = out[0] if out and out[0] in ("100644", "100755") else "100644"
        return self.modes[key]

    def date(self, commit: str) -> str:
        if commit not in self.dates:
            self.dates[commit] = _git(self.repo, "log", "-1", "--format=%ct",
                                      commit).decode().strip()
        return self.dates[commit]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


_BAD_REF = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]|\.\.|@\{|//|^[./-]|[./]$|\.lock$")


def valid_branch(name: str) -> bool:
    """Whether ``name`` is a valid branch name (``git check-ref-format``'s rules, in Python)."""
    return bool(name) and name != "@" and not _BAD_REF.search(name) and not any(
        part.startswith(".") or part.endswith(".lock") for part in name.split("/"))


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def _commit(blobs: _Blobs, req: BranchRequest, mark: int) -> bytes:
    """One fast-import commit: the clean commit plus the bug diff (PatchError if it misfits)."""
    paths = [p for fp in parse_patch(req.bug_patch) for p in (fp.old, fp.new) if p]
    files: dict[str, str] = {}
    for path in dict.fromkeys(paths):
        data = blobs.read(req.clean_commit, path)
        if data is not None:
            files[path] = data.decode("utf-8", errors="surrogateescape")
    changed = apply_patch(files, req.bug_patch)
    date = blobs.date(req.clean_commit)
    message = f"bugfoundry: {req.instance_id}\n".encode()
    out = [f"commit refs/heads/{req.instance_id}\nmark :{mark}\n".encode(),
           f"author {IDENTITY} {date} +0000\ncommitter {IDENTITY} {date} +0000\n".encode(),
           _data(message), f"from {req.clean_commit}\n".encode()]
    for path, text in sorted(changed.items()):
        if text is None:
            out.append(f"D {path}\n".encode())
        else:
            mode = blobs.mode(req.clean_commit, path)
            out.append(f"M {mode} inline {path}\n".encode())
            out.append(_data(text.encode("utf-8", errors="surrogateescape")))
    return b"".join(out)


def write_branches(source: Path, dest: Path, requests: Iterable[BranchRequest]) -> BranchResult:
    """Bare ``dest`` (cloned from ``source`` when new) with a branch per request."""
    dest, source = Path(dest).resolve(), Path(source).resolve()
    if not (dest / "HEAD").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        _git(dest.parent, "clone", "-q", "--bare", str(source), str(dest))
    result = BranchResult(str(dest))
    blobs = _Blobs(dest)
    stream: list[bytes] = []
    marks: dict[int, str] = {}
    try:
        for req in requests:
            if not valid_branch(req.instance_id):
                result.failed[req.instance_id] = "the instance id is not a valid branch name"
                continue
            try:
                stream.append(_commit(blobs, req, len(marks) + 1))
            except PatchError as exc:
                result.failed[req.instance_id] = f"the bug diff does not apply: {exc}"
                continue
            marks[len(marks) + 1] = req.instance_id
    finally:
        blobs.close()
    if not stream:
        return result
    marks_file = dest / "bugfoundry-marks"
    _git(dest, "fast-import", "--quiet", "--force", f"--export-marks={marks_file}",
         stdin=b"".join(stream) + b"done\n")
    for line in marks_file.read_text().splitlines():
        mark, sha = line.split()
        result.shas[marks[int(mark[1:])]] = sha
    marks_file.unlink()
    return result
