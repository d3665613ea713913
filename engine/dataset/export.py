"""Export the curated split (or any filter) in the formats the SWE-bench ecosystem reads.

- ``swesmith``: SWE-smith task JSONL: ``patch`` is the bug-introducing diff.
- ``swebench``: SWE-bench task JSONL: ``patch`` is the fix, ``test_patch`` is empty (the tests
  are the repo's own, unchanged), plus what swebench 5 and mini-swe-agent read.
- ``parquet``: either kind of row (``rows``) as Parquet, with the very same types.

Row contents and names are in ``engine.dataset.rows``. ``-o`` names a dataset directory
(``README.md`` dataset card, ``data/test.jsonl`` or ``.parquet``, ``harness/``), or a single
data file. Either way the manifest and the instance branches (``engine.dataset.branches``) live in a
hidden folder beside the rows (``.bugfoundry/`` in a directory, ``.NAME.bugfoundry/`` beside a
file), so ``load_dataset`` reads the rows alone. ``harness/`` holds the registration that
swebench 4 and SWE-smith need (``engine.dataset.harness_code``). With images (the default when a
repo's environment is docker, or ``images=True``), every instance gets an image that starts
with the bug in ``/testbed`` and a per-repo image holds the branches
(``engine.dataset.harness_images``).
Nothing is overwritten without ``force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.curation import RULES
from engine.dataset import rows as er
from engine.dataset.branches import BranchRequest, Commits, write_branches
from engine.dataset.outpaths import check_directory, check_file, output_path
from engine.dataset.selection import DEDUP, OUTCOMES, Resolved, row_summary, select
from engine.dataset.statements import Chosen, keep_exported, statement_for_export
from engine.errors import BugfoundryError, UsageError
from engine.instances import Instance
from engine.store import Store

if TYPE_CHECKING:
    from engine.workspace import Workspace

FORMATS = ("swesmith", "swebench", "parquet")
ROW_KINDS = ("swesmith", "swebench")
SPLITS = ("curated", "all")
DATA_SUFFIXES = (".jsonl", ".json", ".parquet")
DEFAULT_SESSION = ["--continue-on-collection-errors", "-p", "no:cacheprovider"]


@dataclass
class ExportResult:
    path: str  # the rows
    manifest: str
    format: str
    count: int
    decisions: dict[str, int] = field(default_factory=dict)
    root: str = ""  # the dataset directory, when one was written
    images: dict[str, str] = field(default_factory=dict)  # image -> what it is for
    exported: dict[str, int] = field(default_factory=dict)  # outcome -> rows (sums to count)
    duplicates_left_out: int = 0
    duplicates_by_kind: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)  # other reasons -> instances
    realism_ties: int = 0
    statements: dict[str, int] = field(default_factory=dict)  # source -> rows
    statements_replaced: int = 0
    statements_stored: int = 0  # offline ones written by this export, stored in the workspace


@dataclass(frozen=True)
class Layout:
    """Where an export's parts go: the rows, the hidden sidecar (manifest, branch repos) and,
    for a dataset directory, its root (card, ``harness/``)."""

    data: Path
    sidecar: Path
    root: Path | None = None

    @property
    def manifest(self) -> Path:
        return self.sidecar / "manifest.json"

    @property
    def repos(self) -> Path:
        return self.sidecar / "repos"

    @property
    def harness(self) -> Path:
        return (self.root / "harness") if self.root else self.sidecar / "harness"

    @property
    def card(self) -> Path | None:
        return self.root / "README.md" if self.root else None

    def parts(self) -> list[Path]:
        return [p for p in (self.data, self.sidecar, self.card,
                            self.harness if self.root else None) if p is not None]


@dataclass(frozen=True)
class _Legacy(Layout):
    """An export written before the sidecar: ``PATH.repos`` and ``PATH.manifest.json``."""

    @property
    def repos(self) -> Path:
        return self.data.with_name(self.data.name + ".repos")

    @property
    def manifest(self) -> Path:
        return self.data.with_name(self.data.name + ".manifest.json")


def layout_for(path: Path, fmt: str) -> Layout:
    """A data file (``.jsonl``/``.json``/``.parquet``) or a dataset directory."""
    path = Path(path).absolute()
    if path.suffix in DATA_SUFFIXES:
        return Layout(path, path.parent / f".{path.name}.bugfoundry")
    ext = "parquet" if fmt == "parquet" else "jsonl"
    return Layout(path / "data" / f"test.{ext}", path / ".bugfoundry", path)


def find_layout(path: Path) -> Layout:
    """The layout of an existing export given its directory or its data file (verify,
    import); an export from before the sidecar kept ``PATH.repos`` beside the file."""
    path = Path(path).absolute()
    if path.is_dir():
        data = next((p for p in (path / "data" / "test.jsonl", path / "data" / "test.parquet")
                     if p.is_file()), path / "data" / "test.jsonl")
        return Layout(data, path / ".bugfoundry", path)
    if path.parent.name == "data" and (path.parent.parent / ".bugfoundry").is_dir():
        return Layout(path, path.parent.parent / ".bugfoundry", path.parent.parent)
    if path.with_name(path.name + ".repos").is_dir():
        return _Legacy(path, path.parent / f".{path.name}.bugfoundry")
    return Layout(path, path.parent / f".{path.name}.bugfoundry")


def branches_dir(path: Path) -> Path:
    """Where an export's instance branches live (``<sidecar>/repos/<repo>.git``)."""
    return find_layout(path).repos


@dataclass
class _Item:
    """One instance on its way out: the stored record, its decisions, exported id, test lists
    and problem statement."""

    inst: Instance
    resolved: Resolved
    export_id: str
    f2p: list[str]
    p2p: list[str]
    statement: Chosen


def _items(store: Store, chosen: list[Resolved], rids: dict[str, er.RepoId],
           counts: Counter[str], statements: bool) -> list[_Item]:
    """The instances to write, with test ids no log parser can match left out (an instance
    left without FAIL_TO_PASS is not exported) and, with ``statements``, a problem statement
    for each (an offline one where none was written or the stored one gives the fix away)."""
    out = []
    roots: dict[str, Path | None] = {}
    for r in chosen:
        inst = store.get_instance(r.instance_id)
        if inst is None:
            continue
        f2p, bad_f2p = er.usable_ids(list(inst.fail_to_pass))
        p2p, bad_p2p = er.usable_ids(list(inst.pass_to_pass))
        counts["test_ids_with_whitespace_left_out"] += len(bad_f2p) + len(bad_p2p)
        if not f2p:
            counts["without_usable_fail_to_pass"] += 1
            continue
        if inst.repo not in roots:
            rec = store.get_repo(inst.repo)
            roots[inst.repo] = Path(rec.path) if rec and Path(rec.path).is_dir() else None
        rid = rids[inst.repo]
        out.append(_Item(inst, r, er.export_id(r.instance_id, inst.repo, inst.base_commit, rid),
                         f2p, p2p, statement_for_export(inst, roots[inst.repo], statements)))
    return out


def _restore_copies(ws: Workspace, store: Store, repos: Sequence[str],
                    log: Callable[[str], None]) -> None:
    """A repo copy that is missing here (deleted, or a database copied without it) is restored
    from its recorded source, as every step after ``repo add`` does; one that cannot be is
    said, and its rows go out without branches (the manifest says why)."""
    from engine.repos import ensure_copy

    for name in repos:
        rec = store.get_repo(name)
        if rec is None or Path(rec.path).is_dir():
            continue
        try:
            ensure_copy(ws, rec, log)
        except BugfoundryError as exc:
            log(f"{name}: {' '.join(str(exc).splitlines())}; its rows go out without branches")


def _branches(store: Store, layout: Layout, items: list[_Item]
              ) -> tuple[dict[str, Commits], dict[str, Any]]:
    """Write every instance's branch and snapshot (``engine.dataset.branches``); the manifest's
    account of repositories written and instances left without."""
    by_repo: dict[str, list[BranchRequest]] = {}
    for it in items:
        tests = tuple(dict.fromkeys(t.split("::", 1)[0] for t in it.f2p))
        by_repo.setdefault(it.inst.repo, []).append(
            BranchRequest(it.export_id, it.inst.base_commit, it.inst.patch, tests))
    shas: dict[str, Commits] = {}
    written: dict[str, str] = {}
    missing: dict[str, str] = {}
    for name, requests in by_repo.items():
        rec = store.get_repo(name)
        if rec is None or not Path(rec.path).is_dir():  # imported from elsewhere
            missing.update({r.instance_id: "its repo is not in this workspace" for r in requests})
            continue
        try:
            result = write_branches(Path(rec.path), layout.repos / f"{name}.git", requests)
        except UsageError as exc:  # a broken checkout: the rows still go out, without branches
            missing.update({r.instance_id: str(exc) for r in requests})
            continue
        shas.update(result.shas)
        missing.update(result.failed)
        written[name] = result.path
    return shas, {"repositories": written, "without_branch": len(missing),
                  "without_branch_examples": dict(list(missing.items())[:5])}


def export(store: Store, path: Path, *, fmt: str, split: str = "curated",
           repo: str | None = None, rule: str = "accept-no-reject", force: bool = False,
           dedup: str = "near", rows: str = "swesmith", statements: bool = True,
           progress: Callable[[int], None] | None = None, ws: Workspace | None = None,
           repo_ids: Sequence[str] = (), images: bool | None = False,
           keep_statements: bool = True,
           log: Callable[[str], None] = lambda _m: None) -> ExportResult:
    """Write the split to ``path`` (a data file or a dataset directory) with its manifest,
    branches and harness registration; refuses to overwrite without ``force``.

    ``images`` True builds the harness images, None builds them when a repo's environment is
    docker, False never (the rows still name them). Images and the exact test command need
    ``ws``, the workspace. ``dedup`` leaves near (and exact) duplicates out by default;
    ``statements`` False leaves problem statements as stored (even empty); otherwise the
    offline ones written for rows without a usable statement are stored in the workspace
    (unless ``keep_statements`` is False: a read-only database).
    """
    _check_options(fmt, split, rows, rule, dedup)
    layout = layout_for(output_path(path, "-o"), fmt)
    _check_output(layout, force)
    counts: Counter[str] = Counter()
    kind = rows if fmt == "parquet" else fmt
    sel = select(store, split, repo, rule, dedup)
    repos = store.repos_of([r.instance_id for r in sel.chosen])
    if ws is not None:
        _restore_copies(ws, store, repos, log)
    try:
        rids = er.parse_repo_ids(repo_ids, repos)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    items = _items(store, sel.chosen, rids, counts, statements)
    for p in layout.parts():  # --force: nothing left from the previous export
        if p.is_dir():
            shutil.rmtree(p)
    layout.data.parent.mkdir(parents=True, exist_ok=True)
    shas, branches = _branches(store, layout, items)
    commands = _commands(ws, store, repos, log)
    n, curators, sample = _write_rows(store, layout, fmt, kind, items, shas, rids, commands,
                                      progress)
    stored = keep_exported(store, [(it.inst, it.statement) for it in items]) \
        if statements and keep_statements else 0
    from engine.dataset import harness_code

    written = harness_code.write(layout.harness, _registrations(items, rids, commands),
                                 layout.data)
    if layout.card is not None and layout.root is not None:
        layout.card.write_text(er.dataset_card(
            f"bugfoundry export ({kind} rows)", layout.data.relative_to(layout.root).as_posix(),
            kind, n, [f"harness registration and usage: harness/{f}" for f in written],
            sample, _digest(layout.data)), encoding="utf-8")
    built: dict[str, str] = {}
    image_error = ""
    if ws is not None and images is not False:
        from engine.dataset.harness_images import build_for_export

        try:
            built = build_for_export(ws, store, layout.repos, _image_requests(items, shas, rids),
                                     only_docker=images is None, log=log)
        except UsageError as exc:
            image_error = str(exc)
    exported = Counter(it.resolved.outcome for it in items)
    sources = Counter(it.statement.source for it in items)
    replaced = sum(1 for it in items if it.statement.replaced)
    ties = sum(1 for it in items if row_summary(it.resolved)["realism_tie"])
    manifest = {
        "format": fmt, "rows": kind, "path": str(layout.data), "count": n,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "filter": {"split": split, "repo": repo, "dedup": dedup},
        "decision_rule": {"name": rule, "text": RULES[rule]},
        # every instance in scope by outcome; "exported" the rows written (sums to count)
        "decisions": _ordered(sel.decisions),
        "exported": _ordered(exported),
        "duplicates_left_out": sum(sel.duplicates.values()),
        "duplicates_left_out_by_kind": dict(sel.duplicates),
        "left_out": dict(counts),
        "realism_ties": ties,
        "statements": {"sources": dict(sources), "replaced_for_leaks": replaced,
                       "examples_replaced": _replaced_examples(items),
                       "stored_in_workspace": stored},
        "curators": sorted(curators),
        "repos": {name: rid.slug for name, rid in rids.items()},
        "branches": branches,
        "harness": written,
        "images": built or ({"error": image_error} if image_error else {
            "not built": "pass --images to build them (the default only for repos whose "
                         "environment is docker)"}),
        "versions": _versions(),
    }
    layout.sidecar.mkdir(parents=True, exist_ok=True)
    layout.manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if image_error:
        raise UsageError(f"wrote {n} rows to {layout.data}, but the images could not be "
                         f"built: {image_error}")
    return ExportResult(str(layout.data), str(layout.manifest), fmt, n,
                        _ordered(sel.decisions), str(layout.root or ""), built,
                        _ordered(exported), sum(sel.duplicates.values()),
                        dict(sel.duplicates), dict(counts), ties, dict(sources), replaced,
                        stored)


def _ordered(counts: Counter[str]) -> dict[str, int]:
    return {k: counts[k] for k in OUTCOMES if counts[k]}


def _replaced_examples(items: list[_Item]) -> dict[str, list[str]]:
    """Up to five rows whose stored statement was replaced, and what it gave away."""
    return dict(list({it.export_id: list(it.statement.replaced)
                      for it in items if it.statement.replaced}.items())[:5])


def _check_output(layout: Layout, force: bool) -> None:
    """Refuse an output that cannot be written, or that ``force`` would wrongly delete (a
    directory given as a data file, a directory that is not an export), before writing."""
    for p in layout.parts():
        if (p.exists() or p.is_symlink()) and not force:
            raise UsageError(f"{p} exists; pass --force to overwrite it.")
    if layout.root is None:
        check_file(layout.data, "-o")
        return
    root = layout.root
    if root.exists() and not root.is_dir():
        raise UsageError(f"-o {root} is a file, not a dataset directory.\nName a data file "
                         f"ending in {', '.join(DATA_SUFFIXES)}, or a directory.")
    if root.is_dir() and any(root.iterdir()) and not layout.manifest.is_file():
        raise UsageError(f"-o {root} is a directory that is not a bugfoundry export; "
                         "--force would delete files in it.\nGive a new or empty directory.")
    check_directory(root if root.is_dir() else root.parent, root)
    if layout.data.parent.is_dir():
        check_file(layout.data, "-o")


def _check_options(fmt: str, split: str, rows: str, rule: str, dedup: str) -> None:
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
    if dedup not in DEDUP:
        raise UsageError(f"unknown --dedup {dedup!r}; choose from {', '.join(DEDUP)}.")


def _commands(ws: Workspace | None, store: Store, repos: list[str],
              log: Callable[[str], None]) -> dict[str, tuple[list[str], list[str]]]:
    """Per repo: (the pytest switches validation used, its test paths); a repo this
    workspace cannot probe gets the plain ones."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for name in repos:
        out[name] = (list(DEFAULT_SESSION), [])
        stored = store.get_environment(name)
        if stored is not None:
            out[name] = (list(DEFAULT_SESSION), list(stored.recipe.test_paths))
        if ws is None or stored is None:
            continue
        from engine.dataset.harness_images import probe_session

        session = probe_session(ws, store, name, log)
        if session is not None:
            out[name] = (session, out[name][1])
    return out


def _write_rows(store: Store, layout: Layout, fmt: str, kind: str, items: list[_Item],
                shas: dict[str, Commits], rids: dict[str, er.RepoId],
                commands: dict[str, tuple[list[str], list[str]]],
                progress: Callable[[int], None] | None
                ) -> tuple[int, set[str], dict[str, Any] | None]:
    """Write the rows (never a half-written file at the data path); returns how many, the
    curators and the first row (its columns type the dataset card)."""
    row_of = er.swebench_row if kind == "swebench" else er.swesmith_row
    fd, tmp = tempfile.mkstemp(prefix=".bf-export-", suffix=".jsonl",
                               dir=layout.data.parent)
    n = 0
    curators: set[str] = set()
    first: dict[str, Any] | None = None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for it in items:
                summary = row_summary(it.resolved)
                curators |= set(summary["decisions"])
                commits = shas.get(it.export_id)
                clean = it.inst.base_commit
                session, paths = commands[it.inst.repo]
                rid = rids[it.inst.repo]
                where = er.Where(
                    it.export_id, rid, commits.snapshot if commits else clean,
                    commits.bug if commits else clean, er.instance_image(it.export_id),
                    er.repo_image(rid, clean), er.pytest_command(session, paths, verbose=True))
                inst = replace(it.inst, problem_statement=it.statement.text)
                row = row_of(inst, summary, where, it.f2p, it.p2p)
                row["problem_statement_source"] = it.statement.source
                if "decision_summary" in row:  # free-form keys: JSON text in every format
                    row["decision_summary"] = json.dumps(summary, default=str)
                fh.write(json.dumps(row, default=str) + "\n")
                first = first or row
                n += 1
                if progress and n % 500 == 0:
                    progress(n)
        if fmt == "parquet":
            store.jsonl_to_parquet(Path(tmp), layout.data)
            os.unlink(tmp)
        else:
            os.chmod(tmp, 0o644)  # readable by others, as any dataset file
            os.replace(tmp, layout.data)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if progress and n > 500 and n % 500:  # long exports: the last figure too
        progress(n)
    return n, curators, first


def _registrations(items: list[_Item], rids: dict[str, er.RepoId],
                   commands: dict[str, tuple[list[str], list[str]]]) -> list[dict[str, Any]]:
    """One entry per (repo, clean commit): what swebench 4 and SWE-smith register."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for it in items:
        name, clean = it.inst.repo, it.inst.base_commit
        if (name, clean) in seen:
            continue
        rid = rids[name]
        session, paths = commands[name]
        seen[(name, clean)] = {
            "owner": rid.owner, "name": rid.name, "slug": rid.slug, "commit": clean,
            "version": f"bf-{clean[:12]}", "profile": rid.profile(clean),
            "repo_image": er.repo_image(rid, clean),
            "command": er.pytest_command(session, paths, verbose=True)}
    return list(seen.values())


def _image_requests(items: list[_Item], shas: dict[str, Commits],
                    rids: dict[str, er.RepoId]) -> list[dict[str, Any]]:
    return [{"repo": it.inst.repo, "export_id": it.export_id, "clean": it.inst.base_commit,
             "commits": shas[it.export_id], "image": er.instance_image(it.export_id),
             "repo_image": er.repo_image(rids[it.inst.repo], it.inst.base_commit)}
            for it in items if it.export_id in shas]


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


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
