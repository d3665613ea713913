"""Instance branches: every exported bug as commits in a bare copy of its repo.

Harnesses take the buggy state as a commit, never as a diff: SWE-smith checks out a branch
named after the instance and then ``HEAD~1``, expecting two commits on the clean one, the bug
and then the FAIL_TO_PASS test files removed; SWE-bench clients start a container whose
``/testbed`` already holds the bug at ``base_commit``. So an export writes, per repo, a bare
repository holding the repo's history plus, per instance:

- ``refs/heads/<id>``: the clean commit -> the bug -> the FAIL_TO_PASS test files removed
  (SWE-smith's layout); messages are neutral, they say nothing of the bug;
- ``refs/snapshots/<id>``: one parentless commit with the buggy tree, for images an agent works
  in (``git log`` there shows no clean parent to diff against).

Both come from one ``git fast-import`` stream (thousands of commits a second) plus one
``commit-tree`` per snapshot. Author, committer and date are fixed (the date is the clean
commit's), so the same instance always gets the same commit shas.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.diffs import PatchError, apply_patch, parse_patch, unsafe_path
from engine.errors import UsageError

IDENTITY = "bugfoundry <bugfoundry@localhost>"
_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


BUG_MESSAGE = "Update files\n"
TESTS_MESSAGE = "Remove tests\n"
SNAPSHOT_MESSAGE = "Snapshot\n"


@dataclass(frozen=True)
class BranchRequest:
    instance_id: str  # the branch name (the exported instance id)
    clean_commit: str  # the commit the bug diff applies to
    bug_patch: str
    test_files: tuple[str, ...] = ()  # FAIL_TO_PASS test files, removed by the second commit


@dataclass(frozen=True)
class Commits:
    """An instance's commits: the bug on the clean commit, the tests removed on top (the
    branch tip), and the parentless snapshot of the buggy tree."""

    bug: str
    tip: str
    snapshot: str


@dataclass
class BranchResult:
    path: str
    shas: dict[str, Commits] = field(default_factory=dict)  # instance id -> its commits
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


_SHA = re.compile(r"[0-9a-f]{7,40}")
_BAD_REF = re.compile(r"[\x00-\x20~^:?*\[\\\x7f]|\.\.|@\{|//|^[./-]|[./]$|\.lock$")


def valid_branch(name: str) -> bool:
    """Whether ``name`` is a valid branch name (``git check-ref-format``'s rules, in Python)."""
    return bool(name) and name != "@" and not _BAD_REF.search(name) and not any(
        part.startswith(".") or part.endswith(".lock") for part in name.split("/"))


def _unusable(req: BranchRequest) -> str:
    """Why a request cannot become commits ("" when it can): its commit is not a sha, or its
    diff names a path outside the repo. fast-import takes one stream for all instances, so
    such a path would fail the whole stream (every instance's branch lost)."""
    if not _SHA.fullmatch(req.clean_commit):
        return f"the clean commit {req.clean_commit[:40]!r} is not a commit sha"
    try:
        paths = [p for fp in parse_patch(req.bug_patch) for p in (fp.old, fp.new) if p]
    except PatchError as exc:
        return f"the bug diff cannot be read: {exc}"
    bad = [p for p in paths + list(req.test_files) if unsafe_path(p)]
    return f"the bug diff names a path outside the repo: {bad[0][:80]!r}" if bad else ""


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def _commits(blobs: _Blobs, req: BranchRequest, mark: int) -> bytes:
    """Two fast-import commits on the instance's branch: the clean commit plus the bug diff
    (mark ``mark``; PatchError if it misfits), then its FAIL_TO_PASS test files removed
    (mark ``mark + 1``)."""
    paths = [p for fp in parse_patch(req.bug_patch) for p in (fp.old, fp.new) if p]
    files: dict[str, str] = {}
    for path in dict.fromkeys(paths):
        data = blobs.read(req.clean_commit, path)
        if data is not None:
            files[path] = data.decode("utf-8", errors="surrogateescape")
    changed = apply_patch(files, req.bug_patch)
    date = blobs.date(req.clean_commit)
    who = f"author {IDENTITY} {date} +0000\ncommitter {IDENTITY} {date} +0000\n".encode()
    ref = f"commit refs/heads/{req.instance_id}\n"
    out = [f"{ref}mark :{mark}\n".encode(), who, _data(BUG_MESSAGE.encode()),
           f"from {req.clean_commit}\n".encode()]
    for path, text in sorted(changed.items()):
        if text is None:
            out.append(f"D {path}\n".encode())
        else:
            mode = blobs.mode(req.clean_commit, path)
            out.append(f"M {mode} inline {path}\n".encode())
            out.append(_data(text.encode("utf-8", errors="surrogateescape")))
    out += [f"{ref}mark :{mark + 1}\n".encode(), who, _data(TESTS_MESSAGE.encode()),
            f"from :{mark}\n".encode()]
    present = {p for p, text in changed.items() if text is not None}
    for path in sorted(set(req.test_files)):
        if path in present or blobs.read(req.clean_commit, path) is not None:
            out.append(f"D {path}\n".encode())
    return b"".join(out)


def _snapshot(dest: Path, bug: str, date: str) -> str:
    """A parentless commit with ``bug``'s tree (same identity and date: reproducible)."""
    tree = _git(dest, "rev-parse", f"{bug}^{{tree}}").decode().strip()
    name, email = IDENTITY.split(" <")
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">"),
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email.rstrip(">"),
           "GIT_AUTHOR_DATE": f"{date} +0000", "GIT_COMMITTER_DATE": f"{date} +0000"}
    res = subprocess.run(["git", "commit-tree", tree], cwd=dest, input=SNAPSHOT_MESSAGE.encode(),
                         capture_output=True, env={**_ENV, **env}, timeout=120)
    if res.returncode:
        raise UsageError(f"git commit-tree failed in {dest}: {res.stderr.decode()[-300:]}")
    return res.stdout.decode().strip()


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
    dates: dict[str, str] = {}
    try:
        for req in requests:
            if not valid_branch(req.instance_id):
                result.failed[req.instance_id] = "the instance id is not a valid branch name"
                continue
            why = _unusable(req)
            if why:  # one bad row must not cost every other instance its branch
                result.failed[req.instance_id] = why
                continue
            mark = 2 * len(marks) + 1
            try:
                stream.append(_commits(blobs, req, mark))
            except PatchError as exc:
                result.failed[req.instance_id] = f"the bug diff does not apply: {exc}"
                continue
            marks[mark] = req.instance_id
            dates[req.instance_id] = blobs.date(req.clean_commit)
    finally:
        blobs.close()
    if not stream:
        return result
    marks_file = dest / "bugfoundry-marks"
    _git(dest, "fast-import", "--quiet", "--force", f"--export-marks={marks_file}",
         stdin=b"".join(stream) + b"done\n")
    by_mark = dict(line.split() for line in marks_file.read_text().splitlines())
    marks_file.unlink()
    refs = []
    for mark, iid in marks.items():
        bug, tip = by_mark[f":{mark}"], by_mark[f":{mark + 1}"]
        snapshot = _snapshot(dest, bug, dates[iid])
        result.shas[iid] = Commits(bug, tip, snapshot)
        refs.append(f"update refs/snapshots/{iid} {snapshot}\n")
    _git(dest, "update-ref", "--stdin", stdin="".join(refs).encode())
    return result


def branch_repo_problem(repo: Path, commit: str | None = None) -> str:
    """Why an export's bare branch repository is not sound ("" when it is): git cannot walk
    its objects, it has no branch, or it lacks ``commit`` (the repo's pinned one)."""
    fsck = subprocess.run(["git", "--git-dir", str(repo), "fsck", "--connectivity-only",
                           "--no-progress", "--no-dangling"], capture_output=True, env=_ENV,
                          timeout=600)
    if fsck.returncode != 0:
        said = fsck.stderr.decode(errors="replace").strip().splitlines()
        return f"git fsck failed: {said[-1] if said else f'exit code {fsck.returncode}'}"
    heads = subprocess.run(["git", "--git-dir", str(repo), "for-each-ref", "--count=1",
                            "refs/heads/"], capture_output=True, env=_ENV, timeout=120)
    if not heads.stdout.strip():
        return "it holds no branch"
    if commit and subprocess.run(["git", "--git-dir", str(repo), "cat-file", "-e",
                                  f"{commit}^{{commit}}"], capture_output=True, env=_ENV,
                                 timeout=120).returncode != 0:
        return f"it lacks the pinned commit {commit[:8]}"
    return ""
