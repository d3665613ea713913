"""Instances to and from dataset rows, in one place (pure; no store, no docker).

Every mapping between an ``Instance`` and a row lives here: ``instance_json`` (the CLI's
``--json`` fields), ``swesmith_row`` / ``swebench_row`` (exports) and ``instance_from_row``
(imports of our exports and of SWE-smith / SWE-bench task files).

Checked against the clients themselves (swebench 5.0.2 and 4.1.0, swesmith 0.0.9,
mini-swe-agent 2.4.6, Hugging Face datasets 5.2):

- **Names.** SWE-smith finds a repo's profile by ``owner__name.commit8`` and asserts that an
  instance id is that plus ``.suffix`` (no dot in the suffix); swebench 4 derives the image
  name from the id. So an exported id is ``<owner>__<name>.<commit8>.<suffix>``, whatever our
  own id is, and the row keeps ours in ``bugfoundry_id`` (import maps it back).
- **SWE-bench rows** hold every official column as text, FAIL_TO_PASS / PASS_TO_PASS as JSON
  text, ``repo`` as ``owner/name``; plus what swebench 5 needs (``image``, ``eval_script``,
  ``log_parser``, ``eval_type``) and ``image_name`` (mini-swe-agent). ``base_commit`` is the
  commit the instance's image starts at, with the bug in place.
- **SWE-smith rows** hold the test lists as lists and ``repo`` as the profile's name.
- A test id with whitespace can never be matched by either log parser (they split lines on
  whitespace): such ids are left out, and an instance left without FAIL_TO_PASS is not
  exported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from engine.diffs import count_changed_lines, parse_patch, reverse_patch
from engine.instances import Instance, InstanceRow

DEFAULT_OWNER = "bugfoundry"
IMAGE_NAMESPACE = "bugfoundry"  # swebench 4: --namespace bugfoundry
LOG_PARSER = "parse_log_pytest"
# The columns of the published SWE-bench datasets (every one a string there).
SWEBENCH_COLUMNS = ("repo", "instance_id", "base_commit", "patch", "test_patch",
                    "problem_statement", "hints_text", "created_at", "version", "FAIL_TO_PASS",
                    "PASS_TO_PASS", "environment_setup_commit")
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class RepoId:
    """How a workspace repo is named in exports: ``owner/name`` at a clean commit."""

    owner: str
    name: str

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"

    def profile(self, commit: str) -> str:
        """SWE-smith's repo name for the repo at ``commit``: ``owner__name.commit8``."""
        return f"{self.owner}__{self.name}.{commit[:8]}"


def parse_repo_ids(values: Sequence[str], repos: Sequence[str]) -> dict[str, RepoId]:
    """``--repo-id`` values (``NAME=OWNER/REPO``, or ``OWNER/REPO`` when one repo is exported)
    -> the id of every repo; the others get ``bugfoundry/<name>``. Raises ValueError."""
    out = {r: RepoId(DEFAULT_OWNER, r) for r in repos}
    for value in values:
        target, _, slug = value.rpartition("=")
        if not target:
            if len(repos) != 1:
                raise ValueError(f"--repo-id {value}: the export has {len(repos)} repos; "
                                 "write NAME=OWNER/REPO")
            target = repos[0]
        owner, _, name = slug.partition("/")
        if not _OWNER.match(owner) or "__" in owner or not _NAME.match(name):
            raise ValueError(f"--repo-id {value}: write OWNER/REPO (letters, digits, '-'; "
                             "the repo may also use '.' and '_')")
        out[target] = RepoId(owner, name)
    return out


def export_id(internal_id: str, repo: str, clean_commit: str, rid: RepoId) -> str:
    """``owner__name.commit8.suffix`` for our ``repo.commit8.suffix`` (any other id keeps its
    own characters, dots made underscores, as the suffix)."""
    prefix = f"{repo}.{clean_commit[:8]}."
    suffix = internal_id[len(prefix):] if internal_id.startswith(prefix) else internal_id
    suffix = re.sub(r"[^A-Za-z0-9_-]+", "_", suffix).strip("_") or "instance"
    return f"{rid.profile(clean_commit)}.{suffix}"


def instance_image(export_id_: str) -> str:
    """The per-instance image every SWE-bench-style client finds: swebench 4's name for the
    id in namespace ``bugfoundry`` (``__`` -> ``_1776_``, lowercase), also the row's
    ``image`` (swebench 5) and ``image_name`` (mini-swe-agent)."""
    key = f"{IMAGE_NAMESPACE}/sweb.eval.x86_64.{export_id_.lower()}:latest"
    return key.replace("__", "_1776_")


def repo_image(rid: RepoId, commit: str) -> str:
    """The per-repo image with every instance branch (SWE-smith's profile names it)."""
    return f"{IMAGE_NAMESPACE}/swesmith.x86_64.{rid.owner}_1776_{rid.name}.{commit[:8]}".lower()


def usable_ids(tests: Sequence[str]) -> tuple[list[str], list[str]]:
    """(ids a log parser can match, ids with whitespace, which none can)."""
    ok = [t for t in tests if not any(c.isspace() for c in t)]
    return ok, [t for t in tests if any(c.isspace() for c in t)]


def pytest_command(session_args: Sequence[str], test_paths: Sequence[str], *,
                   verbose: bool) -> str:
    """The command a harness runs in ``/testbed``: the repo's suite as validation ran it
    (``python -m pytest``, the same plugin switches), reporting every test's outcome in the
    form the harness parses (``-rA`` summary lines for swebench, ``--verbose`` lines for
    SWE-smith; both at once satisfy both)."""
    args = ["python", "-m", "pytest", "-rA", "--tb=no", "--color=no"]
    if verbose:
        args.append("--verbose")
    return shlex.join([*args, *session_args, *test_paths])


def eval_script(command: str) -> str:
    """swebench 5's ``eval_script``: the test command alone on the line before the end
    marker, so the harness records its exit code."""
    return (f"cd /testbed\n: '>>>>> Start Test Output'\n{command}\n"
            ": '>>>>> End Test Output'\n")


def iso_time(value: Any) -> str:
    """``created_at`` as the published datasets write it: ``2023-06-08T14:53:32Z``."""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(value or "")
    try:
        return iso_time(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text


@dataclass(frozen=True)
class Where:
    """Where an exported instance runs: its id and images, and the commits holding the bug
    (the image's snapshot for SWE-bench rows, the branch's bug commit for SWE-smith rows)."""

    export_id: str
    rid: RepoId
    snapshot: str  # single-commit buggy state (the per-instance image's HEAD)
    branch_bug: str  # the bug commit on the instance branch (SWE-smith checks it out)
    image: str  # per-instance image
    repo_image: str  # per-repo image (SWE-smith)
    command: str  # the test command, as the harness runs it


def provenance(inst: Instance, summary: dict[str, Any], f2p: list[str],
               p2p: list[str]) -> dict[str, Any]:
    """What we add to every row: our own id and repo (import maps back), the test ids left
    out because no harness can match them (JSON text; import puts them back), the clean
    commit, how the bug was made, its realism and the curator-facing failure output."""
    left = {"FAIL_TO_PASS": [t for t in inst.fail_to_pass if t not in set(f2p)],
            "PASS_TO_PASS": [t for t in inst.pass_to_pass if t not in set(p2p)]}
    return {
        "bugfoundry_id": inst.instance_id,
        "bugfoundry_repo": inst.repo,
        "bugfoundry_left_out": json.dumps(left),
        "clean_commit": inst.base_commit,
        "strategy": inst.strategy,
        "modifier": inst.modifier,
        "file": inst.file,
        "entity": inst.entity,
        "realism": summary["realism"],
        "failures": [{"test": t, "output": o} for t, o in (inst.failures or {}).items()],
    }


def swesmith_row(inst: Instance, summary: dict[str, Any], where: Where,
                 f2p: list[str], p2p: list[str]) -> dict[str, Any]:
    return {
        "instance_id": where.export_id,
        "repo": where.rid.profile(inst.base_commit),
        "patch": inst.patch,
        "FAIL_TO_PASS": f2p,
        "PASS_TO_PASS": p2p,
        "image_name": where.image,
        "problem_statement": inst.problem_statement or "",
        "base_commit": where.branch_bug,
        "created_at": iso_time(inst.created_at),
        **provenance(inst, summary, f2p, p2p),
        "decision_summary": summary,
    }


def swebench_row(inst: Instance, summary: dict[str, Any], where: Where,
                 f2p: list[str], p2p: list[str]) -> dict[str, Any]:
    return {
        "instance_id": where.export_id,
        "repo": where.rid.slug,
        "base_commit": where.snapshot,  # the state the fix applies to: the image's HEAD
        "patch": reverse_patch(inst.patch),
        "test_patch": "",
        "problem_statement": inst.problem_statement or "",
        "hints_text": "",
        "created_at": iso_time(inst.created_at),
        "version": f"bf-{inst.base_commit[:12]}",
        "FAIL_TO_PASS": json.dumps(f2p),
        "PASS_TO_PASS": json.dumps(p2p),
        "environment_setup_commit": inst.base_commit,
        "image": where.image,
        "image_name": where.image,
        "eval_script": eval_script(where.command),
        "log_parser": LOG_PARSER,
        "eval_type": "pass_and_fail",
        "bug_patch": inst.patch,
        **provenance(inst, summary, f2p, p2p),
    }


def instance_json(rec: InstanceRow) -> dict[str, Any]:
    """An instance under the CLI's documented ``--json`` field names (SWE-smith/SWE-bench
    style): the listing's fields, and for a whole instance its diff, tests and output."""
    out: dict[str, Any] = {f.name: getattr(rec, f.name) for f in fields(InstanceRow)}
    out["created_at"] = str(rec.created_at)
    if isinstance(rec, Instance):
        out.update(
            patch=rec.patch,
            FAIL_TO_PASS=list(rec.fail_to_pass),
            PASS_TO_PASS=list(rec.pass_to_pass),
            problem_statement=rec.problem_statement or "",
            failures=rec.failures,
            meta=rec.meta,
        )
    return out


def bug_patch(row: dict[str, Any]) -> tuple[str, str]:
    """The row's bug diff, and which kind of row it is."""
    if row.get("bug_patch"):
        return row["bug_patch"], "swebench"
    if "environment_setup_commit" in row or "test_patch" in row:
        return reverse_patch(row["patch"]), "swebench-external"
    return row["patch"], "swesmith"


def instance_from_row(row: dict[str, Any], source: str, repo: str) -> Instance:
    """The instance a checked dataset row holds, as exported: the bug diff, the test lists
    (with the ids left out of ours put back), provenance and failure output. ``source``
    (the file) and the row's kind go in ``meta``; ``repo`` is the workspace repo."""
    patch, kind = bug_patch(row)
    lines, files = count_changed_lines(patch)
    paths = [fp.path for fp in parse_patch(patch)]
    failures = row.get("failures") or []
    if isinstance(failures, list):
        failures = {f["test"]: f["output"] for f in failures if isinstance(f, dict)}
    summary = row.get("decision_summary")
    if isinstance(summary, str):
        summary = json.loads(summary or "null")
    meta = {"imported_from": source, "imported_format": kind,
            "decision_summary": summary, "realism": row.get("realism"),
            "problem_statement_source": row.get("problem_statement_source")}
    # Our exports name instances and repos for the harnesses, and keep our own names too,
    # and the test ids no harness could match (left out of the rows' lists).
    left = _json(row.get("bugfoundry_left_out")) or {}
    f2p = sorted([*row["FAIL_TO_PASS"], *left.get("FAIL_TO_PASS", [])])
    p2p = sorted([*row["PASS_TO_PASS"], *left.get("PASS_TO_PASS", [])])
    return Instance(
        instance_id=row.get("bugfoundry_id") or row["instance_id"],
        repo=repo,
        # Our exports name the buggy branch commit in base_commit, the bug's own in
        # clean_commit.
        base_commit=row.get("clean_commit") or row.get("base_commit") or "",
        strategy=row.get("strategy") or "imported",
        modifier=row.get("modifier") or kind,
        file=row.get("file") or (paths[0] if paths else ""),
        entity=row.get("entity") or "",
        n_f2p=len(f2p),
        n_p2p=len(p2p),
        lines_changed=lines,
        files_changed=files,
        validation_seconds=0.0,
        created_at=_timestamp(row.get("created_at")),
        candidate_id=f"{repo}.{hashlib.sha256(patch.encode()).hexdigest()[:16]}",
        patch=patch,
        fail_to_pass=f2p,
        pass_to_pass=p2p,
        failures=json.loads(json.dumps(failures)),  # stored as JSON: plain values only
        problem_statement=row.get("problem_statement") or None,
        meta=json.loads(json.dumps(meta, sort_keys=True, default=str)),
    )


def _json(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(value)
        return None
    return value


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
        except ValueError:
            pass
    return datetime.now(UTC).replace(tzinfo=None)


def features(row: dict[str, Any]) -> list[str]:
    """The ``features`` YAML lines of a row's columns (pure): text stays text when Arrow
    reads the JSON lines (it would make ``created_at`` a timestamp, which no longer
    concatenates with the published datasets' string column)."""
    lines = []
    for name, value in row.items():
        lines.append(f"  - name: {name}")
        if name == "failures":  # records of text (the curator's failure output per test)
            kind = ["list:", "- name: test", "  dtype: string", "- name: output",
                    "  dtype: string"]
        else:
            kind = ["list: string" if isinstance(value, list) else "dtype: string"]
        lines += [f"    {ln}" for ln in kind]
    return lines


def dataset_card(title: str, data_path: str, kind: str, count: int, notes: Sequence[str],
                 row: dict[str, Any] | None = None, digest: str = "") -> str:
    """A README.md with a ``configs`` block, so ``load_dataset(DIR)`` reads the rows (and
    only them: the manifest and the branch repositories live in a hidden folder), with
    every column's type when a row is given.

    ``datasets`` caches a directory's rows under its name and the config's hash, which the
    rows' content does not enter: a second export into a directory of the same name would
    load the first one's rows. The config is named after the rows' ``digest`` instead."""
    name = f"bugfoundry-{digest[:12]}" if digest else "default"
    lines = ["---", "configs:", f"- config_name: {name}", "  data_files:", "  - split: test",
             f"    path: {data_path}"]
    if row is not None:
        lines += ["  features:", *features(row)]
    lines += ["---", "", f"# {title}", "", f"{count} {kind} rows exported by bugfoundry.", ""]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"
