"""Export the curated split (or any filter) in the formats the SWE-bench ecosystem reads.

- ``swesmith``: SWE-smith task JSONL: ``patch`` is the bug-introducing diff, plus our
  provenance (strategy, modifier, clean commit, realism, decision summary).
- ``swebench``: SWE-bench task JSONL: ``patch`` is the fix (the bug diff reversed) and
  ``test_patch`` is empty, because the tests are the repo's own, unchanged; ``bug_patch`` keeps
  the bug diff, for harnesses that start from ``clean_commit``.
- ``parquet``: either kind of row (``rows``: SWE-smith by default, or SWE-bench) as Parquet
  (zstd), written by DuckDB from the same JSON lines.

Every export writes a manifest beside it (``PATH.manifest.json``): the filter, counts per
decision, curators, the decision rule and versions; and the instances as git branches
(``PATH.repos/<repo>.git``, see ``engine.branches``), because both harnesses check out the
buggy state as a commit: rows name it in ``base_commit`` and keep the commit the bug diff
applies to in ``clean_commit``. Nothing is overwritten without ``force``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.branches import BranchRequest, write_branches
from engine.dedup import duplicate_ids, find_groups
from engine.diffs import reverse_patch
from engine.environments.docker_image import image_alias
from engine.errors import UsageError
from engine.store import Store

FORMATS = ("swesmith", "swebench", "parquet")
ROW_KINDS = ("swesmith", "swebench")
SPLITS = ("curated", "all")
DEDUP: dict[str, tuple[str, ...]] = {"none": (), "exact": ("exact",), "near": ("exact", "near")}
RULES = {
    "accept-no-reject": "in the split when at least one curator's current decision is accept "
                        "and none is reject",
    "any-accept": "in the split when at least one curator's current decision is accept",
    "unanimous": "in the split when every curator who decided accepted",
}


@dataclass
class ExportResult:
    path: str
    manifest: str
    format: str
    count: int
    decisions: dict[str, int] = field(default_factory=dict)


def in_split(decisions: list[str], rule: str) -> bool:
    """Whether an instance with these current decisions (one per curator) is curated (pure)."""
    made = [d for d in decisions if d in ("accept", "reject")]
    if rule == "any-accept":
        return "accept" in made
    if rule == "unanimous":
        return bool(made) and all(d == "accept" for d in made)
    return "accept" in made and "reject" not in made


def _summary(states: list[Any]) -> dict[str, Any]:
    decisions = {s.curator: s.decision for s in states if s.decision}
    realism = Counter(s.realism for s in states if s.realism)
    return {
        "decisions": decisions,
        "realism": realism.most_common(1)[0][0] if realism else None,
        "realism_votes": dict(realism),
        "rubric": {s.curator: {"clarity": s.clarity, "test_validity": s.test_validity,
                               "difficulty": s.difficulty} for s in states
                   if s.clarity is not None or s.test_validity is not None or s.difficulty},
        "notes": {s.curator: s.note for s in states if s.note},
    }


@dataclass(frozen=True)
class _Where:
    """Where an exported instance runs: the commit holding the bug (its branch's; the clean
    commit when no branch could be written) and the image of its repo's environment."""

    buggy: str
    image: str


def _swesmith_row(inst: dict[str, Any], summary: dict[str, Any], where: _Where
                  ) -> dict[str, Any]:
    return {
        "instance_id": inst["instance_id"],
        "repo": inst["repo"],
        "patch": inst["patch"],
        "FAIL_TO_PASS": list(inst["fail_to_pass"]),
        "PASS_TO_PASS": list(inst["pass_to_pass"]),
        "image_name": where.image,
        "problem_statement": inst.get("problem_statement") or "",
        "base_commit": where.buggy,  # as in SWE-smith: the instance branch's commit
        "clean_commit": inst["base_commit"],
        "strategy": inst["strategy"],
        "modifier": inst["modifier"],
        "file": inst["file"],
        "entity": inst["entity"],
        "realism": summary["realism"],
        "decision_summary": summary,
        "failures": _failures(inst),
        "created_at": str(inst["created_at"]),
    }


def _failures(inst: dict[str, Any]) -> list[dict[str, str]]:
    """The curator-facing failure output per F2P test, as uniform records (Parquet-friendly)."""
    return [{"test": t, "output": o} for t, o in (inst.get("failures") or {}).items()]


def _swebench_row(inst: dict[str, Any], summary: dict[str, Any], where: _Where
                  ) -> dict[str, Any]:
    return {
        "instance_id": inst["instance_id"],
        "repo": inst["repo"],
        "base_commit": where.buggy,  # as in SWE-bench: the state the fix applies to
        "clean_commit": inst["base_commit"],
        "patch": reverse_patch(inst["patch"]),
        "test_patch": "",
        "problem_statement": inst.get("problem_statement") or "",
        "hints_text": "",
        "FAIL_TO_PASS": list(inst["fail_to_pass"]),
        "PASS_TO_PASS": list(inst["pass_to_pass"]),
        "created_at": str(inst["created_at"]),
        "environment_setup_commit": inst["base_commit"],
        "version": inst["base_commit"][:12],
        "bug_patch": inst["patch"],
        "strategy": inst["strategy"],
        "modifier": inst["modifier"],
        "file": inst["file"],
        "entity": inst["entity"],
        "realism": summary["realism"],
        "failures": _failures(inst),
    }


def _select(store: Store, split: str, repo: str | None, rule: str, counts: Counter[str],
            skip: set[str]) -> list[tuple[str, list[Any]]]:
    """The instances in the split (ids and their curators' states), counting decisions."""
    states_by_id: dict[str, list[Any]] = {}
    for s in store.current_decisions():
        states_by_id.setdefault(s.instance_id, []).append(s)
    out = []
    for iid in store.instance_ids(repo):
        states = states_by_id.get(iid, [])
        decided = [s.decision for s in states if s.decision]
        counts["accept" if "accept" in decided else "reject" if "reject" in decided
               else "skip" if decided else "undecided"] += 1
        if split == "curated" and not in_split(decided, rule):
            continue
        if iid in skip:
            counts["duplicates_left_out"] += 1
            continue
        out.append((iid, states))
    return out


def _branches(store: Store, path: Path, ids: list[str]) -> tuple[dict[str, str], dict[str, Any]]:
    """Write every instance's branch (``engine.branches``): the buggy commit per instance id,
    and the manifest's account (repositories written, instances left without a branch)."""
    by_repo: dict[str, list[BranchRequest]] = {}
    for iid, repo, base, patch in store.bug_patches(ids):
        by_repo.setdefault(repo, []).append(BranchRequest(iid, base, patch))
    shas: dict[str, str] = {}
    written: dict[str, str] = {}
    missing: dict[str, str] = {}
    for name, requests in by_repo.items():
        rec = store.get_repo(name)
        if rec is None or not Path(rec.path).is_dir():  # imported from elsewhere
            missing.update({r.instance_id: "its repo is not in this workspace" for r in requests})
            continue
        try:
            result = write_branches(Path(rec.path), branches_dir(path) / f"{name}.git",
                                    requests)
        except UsageError as exc:  # a broken checkout: the rows still go out, without branches
            missing.update({r.instance_id: str(exc) for r in requests})
            continue
        shas.update(result.shas)
        missing.update(result.failed)
        written[name] = result.path
    return shas, {"repositories": written, "without_branch": len(missing),
                  "without_branch_examples": dict(list(missing.items())[:5])}


def branches_dir(path: Path) -> Path:
    """Where an export's instance branches live: ``PATH.repos/<repo>.git``."""
    return path.with_name(path.name + ".repos")


def export(store: Store, path: Path, *, fmt: str, split: str = "curated",
           repo: str | None = None, rule: str = "accept-no-reject", force: bool = False,
           dedup: str = "exact", rows: str = "swesmith",
           progress: Callable[[int], None] | None = None) -> ExportResult:
    """Write the split to ``path`` (+ manifest); refuses to overwrite without ``force``."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}.")
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}.")
    if rows not in ROW_KINDS:
        raise UsageError(f"unknown row kind {rows!r}; choose from {', '.join(ROW_KINDS)}.")
    if fmt != "parquet" and rows != "swesmith":
        raise UsageError("--rows applies to --format parquet only.")
    if rule not in RULES:
        raise UsageError(f"unknown decision rule {rule!r}; choose from {', '.join(RULES)}.")
    path = Path(path)
    manifest_path = path.with_name(path.name + ".manifest.json")
    for p in (path, manifest_path, branches_dir(path)):
        if p.exists() and not force:
            raise UsageError(f"{p} exists; pass --force to overwrite it.")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: {path.parent} is not a directory.")
    counts: Counter[str] = Counter()
    if dedup not in DEDUP:
        raise UsageError(f"unknown --dedup {dedup!r}; choose from {', '.join(DEDUP)}.")
    skip = duplicate_ids(find_groups(store.dedup_records(repo)), DEDUP[dedup])
    kind = rows if fmt == "parquet" else fmt
    row_of = _swebench_row if kind == "swebench" else _swesmith_row
    selected = _select(store, split, repo, rule, counts, skip)
    if branches_dir(path).exists():  # --force: no branch left from the previous export
        shutil.rmtree(branches_dir(path))
    shas, branches = _branches(store, path, [iid for iid, _ in selected])
    fd, tmp = tempfile.mkstemp(prefix=".bf-export-", suffix=".jsonl", dir=path.parent)
    n = 0
    curators: set[str] = set()
    images: dict[str, str] = {}
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for iid, states in selected:
                inst = store.get_instance(iid)
                if inst is None:
                    continue
                summary = _summary(states)
                curators |= set(summary["decisions"])
                if inst["repo"] not in images:  # the image is built at the pinned commit
                    rec = store.get_repo(inst["repo"])
                    pinned = rec.commit if rec else inst["base_commit"]
                    images[inst["repo"]] = image_alias(inst["repo"], pinned)
                where = _Where(shas.get(iid, inst["base_commit"]), images[inst["repo"]])
                row = row_of(inst, summary, where)
                if fmt == "parquet" and "decision_summary" in row:
                    # free-form keys (curator names) as JSON text
                    row["decision_summary"] = json.dumps(summary, default=str)
                fh.write(json.dumps(row, default=str) + "\n")
                n += 1
                if progress and n % 500 == 0:
                    progress(n)
        if fmt == "parquet":
            store.jsonl_to_parquet(Path(tmp), path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)  # never a half-written file at ``path``
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if progress and n > 500 and n % 500:  # long exports: the last figure too
        progress(n)
    left_out = counts.pop("duplicates_left_out", 0)
    result = ExportResult(str(path), str(manifest_path), fmt, n, dict(counts))
    manifest = {
        "format": fmt, "rows": kind, "path": str(path), "count": n, "created_at":
        datetime.now(UTC).isoformat(timespec="seconds"),
        "filter": {"split": split, "repo": repo, "dedup": dedup},
        "decision_rule": {"name": rule, "text": RULES[rule]},
        "decisions": dict(counts), "duplicates_left_out": left_out,
        "curators": sorted(curators),
        "branches": branches,
        "versions": _versions(),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return result


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("bugfoundry", "duckdb"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def result_dict(result: ExportResult) -> dict[str, Any]:
    return asdict(result)
