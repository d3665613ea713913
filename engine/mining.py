"""Mine fix commits from a repo's own history: the raw material of PR mirroring.

A fix commit is a non-merge commit, or the merge commit of a pull request (diffed against its
first parent, i.e. the whole PR), that touches both library source and tests and whose message
reads like a fix (fix, bug, regression, closes #N, ...). Oversized or binary changes are
skipped, and every commit that is passed over records why, so ``bugfoundry mine`` can show
what was considered. Git is read through GitPython; one ``git log`` call yields every commit's
message and file stats, so long histories mine in seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import git

from engine.diffs import split_lines
from engine.entities import _NON_SOURCE_DIRS, _NON_SOURCE_FILES, _TEST_DIRS
from engine.errors import RepoError, UsageError

# Why a commit is passed over (``FixCommit.skip``); "" means it is a fix commit to mirror.
SKIP_REASONS: dict[str, str] = {
    "root_commit": "the first commit has no parent to diff against",
    "not_a_pr_merge": "a merge commit that is not a pull-request merge",
    "in_merged_pr": "part of a pull request whose merge commit is mirrored instead",
    "not_a_fix": "the message does not read like a fix (fix, bug, regression, closes #N, ...)",
    "cosmetic": "a fix of typos, style, linters or CI, which no test checks",
    "no_source_change": "no library source file (.py outside tests and docs) changed",
    "no_test_change": "no test file changed",
    "too_many_files": "more source files changed than the limit",
    "too_many_lines": "more lines changed than the limit",
    "binary": "a binary file changed",
}

_FIX_WORDS = re.compile(
    r"\b(fix(?:e[sd])?|fixing|bug(?:s|fix)?|hotfix|regression|crash(?:es|ed)?|"
    r"incorrect(?:ly)?|wrong(?:ly)?|broken)\b", re.I)
_COSMETIC = re.compile(
    r"\b(typos?|spelling|codespell|flake8|pep[ -]?8|lint(?:er|ing)?|pyright|mypy|black|ruff|isort|"
    r"pre-commit|formatting|whitespace|docstrings?|long lines|ci)\b", re.I)
_ISSUE_REF = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?::)?\s+(?:[\w.-]+/[\w.-]+)?#(\d+)", re.I)
_PR_MERGE = re.compile(r"^Merge (?:pull request|PR) #(\d+)\b", re.I)
_GITLAB_MR = re.compile(r"^See merge request [\w./-]+!(\d+)\s*$", re.M)
_TRAILER = re.compile(
    r"^\s*(?:(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?::)?\s+(?:[\w.-]+/[\w.-]+)?#\d+"
    r"(?:\s*,\s*#\d+)*\.?|(?:signed-off-by|co-authored-by|reviewed-by|acked-by|tested-by|"
    r"reported-by|cc|change-id|see merge request)\b.*)\s*$", re.I)
_SUBJECT_REF = re.compile(
    r"\s*\((?:(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s+)?(?:[\w.-]+/[\w.-]+)?#\d+\)\s*$",
    re.I)

_RS, _US = "\x1e", "\x1f"  # record / unit separators in the git log format


@dataclass
class MiningConfig:
    """Filters SWE-smith also uses (8 source files, 500 lines, no binaries), configurable."""

    max_source_files: int = 8
    max_lines: int = 500
    allow_binary: bool = False
    require_fix_message: bool = True  # False: any commit touching source and tests
    max_commits: int | None = 5000  # newest commits scanned (None: the whole history)


@dataclass
class FixCommit:
    """One commit of the history and what mining concluded about it."""

    sha: str
    parent: str  # what the fix is diffed against (the first parent for a PR merge)
    kind: str  # commit | merge
    subject: str
    body: str
    date: str
    signal: str = ""  # the message heuristic that matched ("fix", "issue_ref", ...)
    issues: list[int] = field(default_factory=list)  # "closes #N" and friends
    pr: int | None = None  # the pull request number of a merge (or a squash "(#N)")
    source_files: list[str] = field(default_factory=list)
    test_files: list[str] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)
    lines_changed: int = 0
    skip: str = ""  # a SKIP_REASONS key, "" for a fix commit
    skip_detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------- pure heuristics
def classify_path(rel: str) -> str:
    """"test", "source" (library Python code) or "other" (docs, config, data)."""
    path = PurePosixPath(rel)
    dirs, name = path.parts[:-1], path.name
    stem = path.stem
    if (any(d in _TEST_DIRS for d in dirs) or name == "conftest.py"
            or (path.suffix == ".py" and (stem.startswith("test_") or stem.endswith(
                ("_test", "_tests")) or (not dirs and stem in ("test", "tests"))))):
        return "test"  # a package's own test.py (werkzeug.test) is library code
    if (path.suffix == ".py" and name not in _NON_SOURCE_FILES
            and not any(d in _NON_SOURCE_DIRS or d.startswith(".") for d in dirs)):
        return "source"
    return "other"


def issue_refs(text: str) -> list[int]:
    """Issue numbers a message closes ("closes #12", "Fixes org/repo#3"), in order, unique."""
    return list(dict.fromkeys(int(n) for n in _ISSUE_REF.findall(text)))


def fix_signal(subject: str, body: str) -> str:
    """Which heuristic says this message describes a fix; "" when none does.

    The subject counts most: "Fix ..." or "... bug ...". A body that closes an issue counts
    too (real projects often write "Round halves up (closes #3)"), and so do fix words in the
    body of a pull request's merge commit, whose subject is only "Merge pull request #N".
    """
    if _FIX_WORDS.search(subject):
        return "subject"
    if issue_refs(f"{subject}\n{body}"):
        return "issue_ref"
    if _PR_MERGE.match(subject) and _FIX_WORDS.search(f"{subject}\n{body}"):
        return "pr_body"
    return ""


def problem_statement(subject: str, body: str) -> str:
    """The commit message as an issue text: PR-merge boilerplate, issue trailers
    ("closes #N") and sign-offs dropped, paragraphs kept."""
    title = subject.strip()
    lines = split_lines(body.strip("\n"))
    if _PR_MERGE.match(title) or title.lower().startswith("merge branch"):
        first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
        title = lines[first].strip() if first is not None else title
        lines = lines[first + 1:] if first is not None else []
    title = _SUBJECT_REF.sub("", title).strip()
    kept = [ln.rstrip() for ln in lines if not _TRAILER.match(ln)]
    text = "\n".join(kept).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return f"{title}\n\n{text}".strip() if text else title


def split_files(patch: str) -> dict[str, str]:
    """A multi-file ``git diff`` cut into one valid diff per file, keyed by its path."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in split_lines(patch):
        if line.startswith("diff --git "):
            m = re.match(r"diff --git a/(.+?) b/(.+?)\s*$", line)
            rel = m.group(2) if m else line.split()[-1].removeprefix("b/")
            current = out.setdefault(rel, [])
        if current is not None:
            current.append(line)
    return {rel: "".join(lines) for rel, lines in out.items()}


def split_patch(patch: str) -> dict[str, str]:
    """A fix's diff split by classify_path: {"source": ..., "test": ..., "other": ...}, each a
    valid diff (maybe ""). The source half is what PR mirroring reverts; tests stay."""
    halves = {"source": "", "test": "", "other": ""}
    for rel, chunk in split_files(patch).items():
        halves[classify_path(rel)] += chunk
    return halves


def judge(commit: FixCommit, numstat: list[tuple[str, str, str]],
          config: MiningConfig) -> FixCommit:
    """Fill the file lists and the skip reason of one commit from its ``--numstat`` rows."""
    binary: list[str] = []
    lines = 0
    for added, deleted, rel in numstat:
        kind = classify_path(rel)
        {"source": commit.source_files, "test": commit.test_files,
         "other": commit.other_files}[kind].append(rel)
        if added == "-" or deleted == "-":
            binary.append(rel)
        else:
            lines += int(added) + int(deleted)
    commit.lines_changed = lines
    commit.signal = fix_signal(commit.subject, commit.body)
    commit.issues = issue_refs(f"{commit.subject}\n{commit.body}")
    checks = [
        ("not_a_fix", config.require_fix_message and not commit.signal, commit.subject[:80]),
        ("cosmetic", config.require_fix_message and bool(_COSMETIC.search(commit.subject)),
         commit.subject[:80]),
        ("no_source_change", not commit.source_files, ""),
        ("no_test_change", not commit.test_files, ""),
        ("binary", binary and not config.allow_binary, ", ".join(binary[:3])),
        ("too_many_files", len(commit.source_files) > config.max_source_files,
         f"{len(commit.source_files)} source files > {config.max_source_files}"),
        ("too_many_lines", lines > config.max_lines, f"{lines} lines > {config.max_lines}"),
    ]
    for reason, failed, detail in checks:
        if failed:
            commit.skip, commit.skip_detail = reason, detail
            break
    return commit


# ---------------------------------------------------------------------- git
def _open_repo(path: Path) -> git.Repo:
    try:
        return git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RepoError(f"{path} is not a git repository, so it has no history to mine.\n"
                        "PR mirroring needs a repo added from a git checkout, URL or bundle."
                        ) from None


def _log(repo: git.Repo, rev: str, max_commits: int | None) -> Iterable[tuple[str, str]]:
    """(header, numstat block) per commit, newest first; merges diffed against parent 1."""
    args = ["--numstat", "--no-renames", "--diff-merges=first-parent",
            f"--format={_RS}%H{_US}%P{_US}%cI{_US}%s{_US}%b{_US}"]
    if max_commits:
        args.append(f"--max-count={max_commits}")
    args += ["--end-of-options", rev]  # a rev is never read as an option
    out = repo.git.log(*args, strip_newline_in_stdout=False)
    for record in out.split(_RS)[1:]:
        header, _, stats = record.rpartition(_US)
        yield header, stats


def mine(repo_path: Path, rev: str = "HEAD",
         config: MiningConfig | None = None) -> list[FixCommit]:
    """Every commit reachable from ``rev`` (newest first) with its verdict; fixes have skip ""."""
    config = config or MiningConfig()
    repo = _open_repo(repo_path)
    commits: list[FixCommit] = []
    for header, stats in _log(repo, rev, config.max_commits):
        sha, parents, date, subject, body = header.split(_US)
        parent_list = parents.split()
        kind = "merge" if len(parent_list) > 1 else "commit"
        c = FixCommit(sha, parent_list[0] if parent_list else "", kind, subject, body, date)
        m = _PR_MERGE.match(subject) or _GITLAB_MR.search(body)
        if m:
            c.pr = int(m.group(1))
        elif sq := re.search(r"\(#(\d+)\)\s*$", subject):
            c.pr = int(sq.group(1))
        rows = [tuple(ln.split("\t", 2)) for ln in stats.strip("\n").splitlines() if "\t" in ln]
        judge(c, [r for r in rows if len(r) == 3], config)
        if not parent_list:
            c.skip, c.skip_detail = "root_commit", ""
        elif kind == "merge" and c.pr is None:
            c.skip, c.skip_detail = "not_a_pr_merge", subject[:80]
        commits.append(c)
    by_sha = {c.sha: c for c in commits}
    for c in commits:  # a mirrored PR merge stands for the commits it brought in
        if c.kind != "merge" or c.skip:
            continue
        for member in repo.git.rev_list(f"{c.sha}^2", f"^{c.parent}").split():
            inner = by_sha.get(member)
            if inner is not None and not inner.skip:
                inner.skip, inner.skip_detail = "in_merged_pr", f"PR #{c.pr} ({c.sha[:10]})"
    return commits


def fix_diff(repo_path: Path, commit: FixCommit) -> str:
    """The commit's whole change (source, tests, other) as one ``git diff`` with full blob ids
    (so ``git apply -3`` can fall back on a three-way merge)."""
    repo = _open_repo(repo_path)
    try:
        return repo.git.diff(commit.parent, commit.sha, "--full-index", "--no-renames",
                             "--no-color", "--no-ext-diff", strip_newline_in_stdout=False)
    except git.GitCommandError as exc:
        raise RepoError(f"could not diff {commit.sha[:10]}: {exc.stderr.strip()}") from None


def renames(repo_path: Path, old: str, new: str) -> dict[str, str]:
    """Where files of ``old`` live at ``new``: renames followed commit by commit (one move
    commit is easy for git to detect; a diff across years of edits often is not)."""
    try:
        out = _open_repo(repo_path).git.log("--format=", "--name-status", "-M",
                                            "--diff-filter=R", "--reverse", f"{old}..{new}")
    except git.GitCommandError:
        return {}
    moved: dict[str, str] = {}  # path at ``old`` -> path now
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0].startswith("R"):
            continue
        src, dst = parts[1], parts[2]
        hit = [k for k, v in moved.items() if v == src]
        for k in hit:
            moved[k] = dst
        if not hit and src not in moved:
            moved[src] = dst
    return moved


def file_at(repo_path: Path, sha: str, rel: str) -> str | None:
    """A file's text at a commit (None when it does not exist there or is not UTF-8)."""
    try:
        return _open_repo(repo_path).git.show(f"{sha}:{rel}", strip_newline_in_stdout=False)
    except (git.GitCommandError, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------------- issue texts
def load_issues(path: Path) -> dict[int, str]:
    """Issue texts from a local file: a JSON list (or JSON lines) of {number, title, body},
    e.g. what ``gh issue list --json number,title,body`` prints."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the issues file {path}: {exc.strerror}") from None
    try:
        rows = json.loads(raw) if raw.lstrip().startswith("[") else [
            json.loads(ln) for ln in raw.splitlines() if ln.strip()]
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON or JSON lines ({exc.msg} at line {exc.lineno}).\n"
                         "Give a list of {number, title, body} objects.") from None
    out: dict[int, str] = {}
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("number"), int):
            raise UsageError(f"{path}: issue {n} has no integer 'number' field.")
        title, body = str(row.get("title") or ""), str(row.get("body") or "")
        out[row["number"]] = f"{title.strip()}\n\n{body.strip()}".strip()
    return out


def statement_for(commit: FixCommit, issues: dict[int, str] | None = None) -> tuple[str, str]:
    """(problem statement, where it came from): a linked issue's text when the issues file has
    it, else the cleaned commit (or PR merge) message."""
    for n in commit.issues:
        if issues and n in issues:
            return issues[n], f"issue #{n}"
    return problem_statement(commit.subject, commit.body), "commit message"
