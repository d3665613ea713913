"""PR mirroring: turn a real fix commit back into a bug by reverting its source half.

The tests the fix added stay, so they are what fails. Three routes, cheapest first, and the
route is recorded on the candidate (``meta["route"]``):

* **a**: reverse-apply the fix's source diff at the pinned commit: exactly (our in-memory
  applier, which tolerates moved lines), then a three-way merge (``git merge-file`` of the
  pinned file, the fixed one and the one before the fix), which merges around later edits.
* **b**: the fix commit itself as the instance's base: the bug is the fix's source half
  reversed on that commit, validated by that commit's own tests, when the repo's environment can
  run them (a baseline at that commit; the caller's ``base_check`` decides).
* **c**: an undo function (an LM, wired by the caller) rewrites each file's current text with the
  fix undone; without one the route says "no LM configured".
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.diffs import PatchError, apply_patch, changed_lines, file_patch, reverse_patch
from engine.entities import touched_entities
from engine.errors import RepoError
from engine.mining import (
    FixCommit,
    file_at,
    fix_diff,
    renames,
    split_files,
    split_patch,
    statement_for,
)
from engine.models import Candidate, RepoRecord

# rel_path, the file's text at the pinned commit, the fix's diff of that file -> the text with
# the fix undone (None: could not). The LM route plugs in here.
Undo = Callable[[str, str, str], str | None]
# A fix commit -> "" when its own commit can be the base (route b), else why not.
BaseCheck = Callable[[FixCommit], str]

NO_LM = "no LM configured"
ROUTES: dict[str, str] = {
    "a": "the fix's source half reverse-applied at the pinned commit (plain, then 3-way)",
    "b": "the fix commit as the base, its source half reversed, validated by its own tests",
    "c": "an LM undid the fix in the current version of each file",
}


def outside_roots(files: list[str], roots: list[str]) -> list[str]:
    """Files not under any source root: at such a commit the layout differs from the pinned
    one, so its tests would import the pinned commit's package (the only one on the path)."""
    clean = [r.strip("/") for r in roots]
    return [f for f in files
            if not any(r in ("", ".") or f.startswith(r + "/") for r in clean)]


@dataclass
class Attempt:
    """One fix commit on its way through the routes."""

    commit: FixCommit
    source_diff: str = ""  # the fix's source half (full blob ids)
    statement: str = ""
    statement_source: str = ""
    failed: dict[str, str] = field(default_factory=dict)  # route -> why it did not work
    route: str = ""  # the route whose candidate was kept ("" = not recovered yet)


class Mirror:
    """Builds PR-mirror candidates for one repo (it only reads the workspace's git copy)."""

    def __init__(self, repo: RepoRecord, *, base_check: BaseCheck | None = None,
                 undo: Undo | None = None, issues: dict[int, str] | None = None) -> None:
        self.repo = repo
        self.root = Path(repo.path)
        self.base_check = base_check
        self.undo = undo
        self.issues = issues

    def attempt(self, commit: FixCommit) -> Attempt:
        statement, source = statement_for(commit, self.issues)
        try:
            diff = split_patch(fix_diff(self.root, commit))["source"]
        except (RepoError, UnicodeDecodeError) as exc:  # e.g. a diff that is not UTF-8
            return Attempt(commit, "", statement, source,
                           failed={"a": f"cannot read the fix's diff: {exc}"[:300]})
        return Attempt(commit, diff, statement, source)

    # ------------------------------------------------------------------ routes
    def route_a(self, at: Attempt) -> Candidate | None:
        """Reverse-apply at the pinned commit: plain, then a three-way merge."""
        if not at.source_diff:
            at.failed.setdefault("a", "the fix has no readable source diff")
            return None
        paths = self._current_paths(at)
        files = self._files(self.repo.commit, list(paths.values()))
        plain_error = "a file was renamed since the fix"
        if all(rel == cur for rel, cur in paths.items()):
            try:
                new = apply_patch({r: t for r, t in files.items() if t is not None},
                                  reverse_patch(at.source_diff))
                return self._candidate(at, "a", "plain", self.repo.commit, files, new)
            except PatchError as exc:
                plain_error = str(exc)
        result = self._three_way(at, paths)
        if isinstance(result, str):
            at.failed["a"] = f"plain: {plain_error}; 3-way: {result}"
            return None
        how = "3way" if all(rel == cur for rel, cur in paths.items()) else "3way_renamed"
        return self._candidate(at, "a", how, self.repo.commit, files, result)

    def route_b(self, at: Attempt) -> Candidate | None:
        """The fix commit as the base, when the environment can run its tests there."""
        why = self.base_check(at.commit) if self.base_check else "no environment to check it"
        if why:
            at.failed["b"] = why
            return None
        fixed = self._files(at.commit.sha, at.commit.source_files)
        before = self._files(at.commit.parent, at.commit.source_files)
        return self._candidate(at, "b", "fix_commit", at.commit.sha, fixed, before)

    def route_c(self, at: Attempt) -> Candidate | None:
        """Ask the undo function (an LM) for each file's current text with the fix undone."""
        if self.undo is None:
            at.failed["c"] = NO_LM
            return None
        paths = self._current_paths(at)
        files = self._files(self.repo.commit, list(paths.values()))
        per_file = {paths.get(rel, rel): d for rel, d in split_files(at.source_diff).items()}
        new: dict[str, str | None] = {}
        for rel, text in files.items():
            if text is None or rel not in per_file:
                continue
            try:
                undone = self.undo(rel, text, per_file[rel])
            except Exception as exc:  # noqa: BLE001 - an LM failure is a route failure
                at.failed["c"] = f"{rel}: {type(exc).__name__}: {str(exc)[:200]}"
                return None
            if undone is None:
                at.failed["c"] = f"the LM could not undo the fix in {rel}"
                return None
            new[rel] = undone
        if not new:
            at.failed["c"] = "none of the fix's source files exists at the pinned commit"
            return None
        return self._candidate(at, "c", "lm", self.repo.commit, files, new)

    # ------------------------------------------------------------------ helpers
    def _files(self, sha: str, rels: list[str]) -> dict[str, str | None]:
        return {rel: file_at(self.root, sha, rel) for rel in rels}

    def _current_paths(self, at: Attempt) -> dict[str, str]:
        """Each source file's path at the pinned commit: a file the fix touched that is gone
        there may have moved (a src-layout migration, a module split off) and git's rename
        detection between the fix and the pinned commit finds it."""
        paths = {rel: rel for rel in at.commit.source_files}
        missing = [rel for rel in paths if file_at(self.root, self.repo.commit, rel) is None]
        if missing:
            moved = renames(self.root, at.commit.sha, self.repo.commit)
            paths.update({rel: moved[rel] for rel in missing if rel in moved})
        return paths

    def _three_way(self, at: Attempt, paths: dict[str, str]) -> dict[str, str | None] | str:
        """Per file, a three-way merge of the fix's reversal onto the pinned text: ours = the
        pinned file (where it lives now), base = the file as the fix left it, theirs = the file
        before the fix.

        ``git merge-file``, not ``git apply -3 -R``: git 2.39's three-way fallback ignores
        ``-R`` and merges the fix forward, reporting success (seen on more-itertools).
        """
        c = at.commit
        out: dict[str, str | None] = {}
        for rel in c.source_files:
            cur = paths.get(rel, rel)
            ours = file_at(self.root, self.repo.commit, cur)
            base = file_at(self.root, c.sha, rel)
            theirs = file_at(self.root, c.parent, rel)
            if base == theirs:
                continue
            if ours is None:
                if base is not None:
                    return f"{rel} no longer exists at the pinned commit"
                out[cur] = theirs  # the fix deleted it and it is still gone: bring it back
            elif base is None or theirs is None:
                if ours != base:  # the fix created (or deleted) it; it changed since
                    return f"{rel} changed since the fix created or deleted it"
                out[cur] = theirs
            else:
                merged = merge_file(ours, base, theirs)
                if merged is None:
                    return f"{cur}: the three-way merge conflicts"
                out[cur] = merged
        return out

    def _candidate(self, at: Attempt, route: str, how: str, base: str,
                   old: dict[str, str | None], new: dict[str, str | None]) -> Candidate | None:
        patches, sizes = [], {}
        for rel in sorted(new):
            p = file_patch(rel, old.get(rel), new[rel])
            if p:
                patches.append(p)
                sizes[rel] = sum(1 for ln in p.splitlines()
                                 if ln[:1] in "+-" and not ln.startswith(("+++", "---")))
        if not patches:
            at.failed[route] = "reverting the source half changes nothing"
            return None
        main = max(sizes, key=lambda r: (sizes[r], r))
        before, after = old.get(main) or "", new.get(main) or ""
        lines = changed_lines(before, after)
        c = at.commit
        meta = {
            "route": route, "apply": how, "base_commit": base, "fix_commit": c.sha,
            "fix_kind": c.kind, "pr": c.pr, "issues": c.issues, "subject": c.subject,
            "fix_tests": c.test_files, "source_files": c.source_files,
            "problem_statement": at.statement, "statement_source": at.statement_source,
        }
        return Candidate(
            repo=self.repo.name, strategy="pr_mirror", modifier=f"route_{route}",
            patch="".join(patches), file=main,
            entity=", ".join(touched_entities(main, before, lines)) if before else "",
            changed_lines=lines, meta=meta)


def merge_file(ours: str, base: str, theirs: str) -> str | None:
    """``git merge-file``: the change base -> theirs applied to ours; None on a conflict."""
    with tempfile.TemporaryDirectory(prefix="bf-merge-") as tmp:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_bytes(text.encode("utf-8"))
            paths.append(str(path))
        res = subprocess.run(["git", "merge-file", "-p", "--quiet", *paths],
                             capture_output=True, timeout=120)
    return res.stdout.decode("utf-8") if res.returncode == 0 else None
