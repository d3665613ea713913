"""Import datasets for review: our exports, SWE-smith and SWE-bench task files (JSONL/Parquet).

Every row is checked first; any malformed row is reported with its number and nothing is
imported (all or nothing, one transaction). Rows become instances exactly as exported: the
bug diff, FAIL_TO_PASS / PASS_TO_PASS, provenance and failure output. A SWE-bench row without
our ``bug_patch`` has a buggy ``base_commit``; its bug diff is stored as the reverse of the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.dataset.rows import instance_from_row
from engine.diffs import PatchError, parse_patch, unsafe_path
from engine.errors import UsageError
from engine.store import Store

REQUIRED = ("instance_id", "repo", "patch", "FAIL_TO_PASS", "PASS_TO_PASS")
MAX_REPORTED = 5


@dataclass
class ImportResult:
    path: str
    rows: int
    imported: int
    already_present: int


def _decode_test_lists(row: dict[str, Any]) -> dict[str, Any]:
    """SWE-bench datasets (as published) hold the test lists as JSON text: decode them."""
    for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        value = row.get(key)
        if isinstance(value, str) and value.lstrip().startswith("["):
            with contextlib.suppress(json.JSONDecodeError):  # else row_problems reports it
                row[key] = json.loads(value)
    return row


def read_rows(path: Path, store: Store | None = None) -> list[dict[str, Any]]:
    """Rows of a JSONL or Parquet file, or of an exported dataset directory; a file that is
    neither (junk, binary, a broken Parquet file) is a UsageError naming it and its line."""
    if path.is_dir():
        from engine.dataset.export import find_layout

        path = find_layout(path).data
    if not path.is_file():
        raise UsageError(f"{path}: no such file.\nGive a JSONL or Parquet export, or a "
                         "dataset directory.")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if path.suffix == ".parquet" or head == b"PAR1":
        if store is None:
            raise UsageError("reading Parquet needs the workspace database")
        with open(path, "rb") as fh:
            fh.seek(max(path.stat().st_size - 4, 0), os.SEEK_SET)
            tail = fh.read(4) if path.stat().st_size >= 8 else b""
        if head != b"PAR1" or tail != b"PAR1":
            raise UsageError(f"{path} is not a Parquet file (no Parquet header and footer).\n"
                             "Give a JSONL or Parquet export (or a dataset directory).")
        return [_decode_test_lists(r) for r in store.read_parquet_rows(path)]
    rows = []
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                row = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.msg
                raise UsageError(f"{path}:{n}: not a JSON lines file ({why}).\nGive a JSONL "
                                 "export (one JSON object per line) or a Parquet file.") from None
            if not isinstance(row, dict):
                raise UsageError(f"{path}:{n}: a row must be a JSON object (one per line).")
            rows.append(_decode_test_lists(row))
    return rows


SHA_RE = re.compile(r"[0-9a-fA-F]{7,40}")


def repo_in(row: dict[str, Any], repos: set[str]) -> str | None:
    """The workspace repo a row belongs to: ``bugfoundry_repo`` (our exports), ``repo``, or
    the NAME of an ``owner/NAME`` (SWE-bench rows); None when none is in ``repos``."""
    names = [row.get("bugfoundry_repo"), row.get("repo")]
    if isinstance(row.get("repo"), str):
        names.append(row["repo"].rsplit("/", 1)[-1])
    return next((n for n in names if isinstance(n, str) and n in repos), None)


def row_problems(row: dict[str, Any], repos: set[str] | None = None) -> list[str]:
    """What is wrong with one row (empty when it can be imported); with ``repos`` (the
    workspace's repo names), a row of another repo is wrong too. Nothing a row holds may
    reach git or pytest as an option, or name a path outside the repo."""
    problems = [f"missing {k}" for k in REQUIRED if k not in row or row[k] is None]
    for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        value = row.get(key)
        if value is not None and (not isinstance(value, list)
                                  or not all(isinstance(t, str) for t in value)):
            problems.append(f"{key} must be a list of test ids")
        elif value and any(t.startswith("-") or not t.strip() for t in value):
            problems.append(f"a {key} test id is empty or starts with '-' (it must not start "
                            "with '-')")
    if isinstance(row.get("FAIL_TO_PASS"), list) and not row["FAIL_TO_PASS"]:
        problems.append("FAIL_TO_PASS is empty")
    for key in ("patch", "bug_patch", "test_patch"):
        value = row.get(key)
        if key in row and value is not None and (value or key != "test_patch"):
            try:
                if not isinstance(value, str) or not (files := parse_patch(value)):
                    problems.append(f"{key} is not a unified diff")
                elif bad := [p for fp in files for p in (fp.old, fp.new)
                             if p is not None and unsafe_path(p)]:
                    problems.append(f"{key} names an unsafe path {bad[0][:80]!r} (absolute, "
                                    "'..', '.git' or a leading '-')")
            except PatchError as exc:
                problems.append(f"{key}: {exc}")
    for key in ("instance_id", "repo"):
        if key in row and not isinstance(row[key], str):
            problems.append(f"{key} must be text")
    for key in ("base_commit", "clean_commit", "environment_setup_commit"):
        value = row.get(key)
        if value and not (isinstance(value, str) and SHA_RE.fullmatch(value)):
            problems.append(f"{key} must be a commit sha (7-40 hex digits), not "
                            f"{str(value)[:40]!r}")
    if repos is not None and isinstance(row.get("repo"), str) and repo_in(row, repos) is None:
        problems.append(f"repo {row_repo_name(row)!r} is not in this workspace (add it first: "
                        "bugfoundry repo add SOURCE --name NAME)")
    return problems


def row_repo_name(row: dict[str, Any]) -> str:
    """The repo a row names (ours first, then the dataset's)."""
    return str(row.get("bugfoundry_repo") or row.get("repo"))


def check_rows(path: Path, rows: list[dict[str, Any]], repos: set[str], what: str) -> None:
    """Refuse the whole file when any row is malformed (numbered, the first few shown)."""
    if not rows:
        raise UsageError(f"{path}: no rows to {what}.\nGive a JSONL or Parquet file with at "
                         "least one row.")
    bad = [(n, p) for n, row in enumerate(rows, 1) if (p := row_problems(row, repos))]
    seen: dict[str, int] = {}
    for n, row in enumerate(rows, 1):
        iid = row.get("instance_id")
        if isinstance(iid, str):
            if iid in seen:
                bad.append((n, [f"duplicate instance_id (also row {seen[iid]})"]))
            seen.setdefault(iid, n)
    if bad:
        bad.sort()
        shown = "; ".join(f"row {n}: {', '.join(p)}" for n, p in bad[:MAX_REPORTED])
        more = f" (and {len(bad) - MAX_REPORTED} more rows)" if len(bad) > MAX_REPORTED else ""
        done = {"import": "imported", "verify": "verified"}.get(what, what)
        raise UsageError(f"{path}: {len(bad)} malformed rows, nothing {done}.\n"
                         f"{shown}{more}")


def import_file(store: Store, path: Path) -> ImportResult:
    """Check every row, then import them all in one transaction (or none)."""
    path = Path(path)
    rows = read_rows(path, store)
    repos = {r.name for r in store.list_repos()}
    check_rows(path, rows, repos, "import")
    instances = [instance_from_row(row, str(path), repo_in(row, repos) or "")
                 for row in rows]
    added = store.import_instances(instances)
    return ImportResult(str(path), len(rows), added, len(rows) - added)
