"""``bugfoundry doctor``: check a workspace and repair what can be repaired.

What a workspace holds can go bad behind bugfoundry's back: a repo copy deleted or checked out
elsewhere, an environment whose interpreter was removed, a work tree left dirty by a kill, a
database file truncated or overwritten. Each check prints one line (ok, or the problem and its
fix); ``--repair`` re-creates a repo copy from its recorded source, rebuilds an environment
from its stored recipe, resets or deletes work trees (validation re-creates them on demand).
A damaged database is never written: ``--salvage`` (and ``--repair``) copy every row that still
reads into a new file beside it and say how to switch to it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.dataset.branches import branch_repo_problem
from engine.dataset.export import find_layout
from engine.errors import BugfoundryError, StoreError, UsageError
from engine.forge.setup import adopt_copies, built_elsewhere, ensure_environment, repo_environment
from engine.instances import EnvironmentRecord
from engine.logs import Log, quiet
from engine.models import RepoRecord
from engine.repos import copy_problem, reset_tree, restore_copy, tree_problem
from engine.store import DatabaseLocked, Store
from engine.store.salvage import Salvaged, TableRead, read_tables, salvage
from engine.workspace import Workspace, resolve_home

RECORD_TABLES = ("repos", "environments")  # what the checks after the database read


@dataclass
class Check:
    kind: str  # database | repo | environment | work_tree | branches
    subject: str
    note: str = ""  # what was found when all is well
    problem: str = ""
    fix: str = ""  # what --repair does, or what the user can do
    repaired: str = ""  # what --repair did

    @property
    def ok(self) -> bool:
        return not self.problem or bool(self.repaired)

    def line(self) -> str:
        head = f"{self.kind:<11} {self.subject}"
        if not self.problem:
            return f"ok        {head}: {self.note or 'ok'}"
        if self.repaired:
            return f"repaired  {head}: {self.problem}; {self.repaired}"
        return f"PROBLEM   {head}: {self.problem}; fix: {self.fix}"


@dataclass
class Salvage:
    path: str  # the new database file
    tables: list[Salvaged] = field(default_factory=list)
    switch: str = ""  # the commands that put it in place
    error: str = ""  # why nothing could be salvaged


@dataclass
class Report:
    workspace: str
    checks: list[Check] = field(default_factory=list)
    salvage: Salvage | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        checks = [{**asdict(c), "ok": c.ok} for c in self.checks]
        return {"workspace": self.workspace, "ok": self.ok, "checks": checks,
                "salvage": asdict(self.salvage) if self.salvage else None}


class Doctor:
    """One doctor run over a workspace (``repair``: fix what can be fixed; ``salvage``: copy
    a damaged database's readable rows to a new file; ``exports``: exports whose branch
    repositories to check)."""

    def __init__(self, home: str | Path | None, *, repair: bool = False,
                 salvage: bool = False, exports: Sequence[str] = (), log: Log = quiet) -> None:
        path = resolve_home(home)
        if not (path / "bugfoundry.duckdb").is_file():
            raise UsageError(f"no bugfoundry workspace at {path} (no bugfoundry.duckdb).\n"
                             "Pass --workspace DIR, or set BUGFOUNDRY_HOME.")
        self.ws = Workspace(path)
        self.repair = repair
        self.salvage = salvage or repair
        self.repos: dict[str, RepoRecord] = {}
        self.unreadable = ""  # why the records cannot be checked
        self.exports = list(exports)
        self.log = log
        self.report = Report(str(path))

    def add(self, check: Check) -> Check:
        self.report.checks.append(check)
        return check

    def run(self) -> Report:
        readable = self._database()
        if readable:
            with Store.open(self.ws.db_path, read_only=True) as store:
                repos = store.list_repos()
                envs = {r.name: store.get_environment(r.name) for r in repos}
            repos = [self._moved(r) for r in repos]
            self.repos = {r.name: r for r in repos}
            copies = {r.name: self._copy(r) for r in repos}
            for rec in repos:
                self._environment(rec, envs[rec.name], copies[rec.name])
            self._work_trees(self.repos)
        else:
            self.add(Check("records", "repos, environments, work trees",
                           problem=f"not checked: {self.unreadable}",
                           fix="switch to a salvaged database (doctor --salvage), then run "
                               "doctor again"))
        for export in self.exports:
            self._branches(export, self.repos)
        return self.report

    # ------------------------------------------------------------------ the database
    def _database(self) -> bool:
        """Check every table; salvage when asked. True when the records read."""
        path = self.ws.db_path
        try:
            Store.open(path, read_only=True).close()
            tables: list[TableRead] = read_tables(path)
        except DatabaseLocked:
            raise  # a forge or the TUI holds it: nothing is wrong with the file
        except StoreError as exc:
            said = str(exc).splitlines()[0].replace(f"{path} is ", "").rstrip(".")
            self.add(Check("database", str(path), problem=said,
                           fix="doctor --salvage tries to copy what still reads into a new "
                               "file (the damaged one is never changed)"))
            if self.salvage:
                self._salvage(path)
            self.unreadable = "the database cannot be opened"
            return False
        bad = [t for t in tables if t.rows is None]
        rows = sum(t.rows or 0 for t in tables)
        check = self.add(Check("database", str(path),
                               note=f"{len(tables)} tables, {rows:,} rows read"))
        if bad:
            check.problem = (f"damaged: {len(bad)} of {len(tables)} tables cannot be read "
                             f"({', '.join(t.table for t in bad)}: {bad[0].error})")
            check.fix = ("doctor --salvage copies every row that still reads into a new file "
                         "next to it (the damaged one is never changed)")
        if bad and self.salvage:
            self._salvage(path)
        elif self.salvage:
            check.note += "; nothing to salvage"
        lost = [t.table for t in bad if t.table in RECORD_TABLES]
        self.unreadable = f"the database's {' and '.join(lost)} table cannot be read"
        return not lost

    def _salvage(self, path: Path) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest = path.with_name(f"bugfoundry.salvaged-{stamp}.duckdb")
        n = 1
        while dest.exists():
            n += 1
            dest = path.with_name(f"bugfoundry.salvaged-{stamp}-{n}.duckdb")
        result = Salvage(str(dest))
        self.report.salvage = result
        try:
            result.tables = salvage(path, dest)
        except StoreError as exc:
            result.error = str(exc).splitlines()[0]
            return
        aside = path.with_name(f"bugfoundry.damaged-{stamp}.duckdb")
        result.switch = f"mv {path} {aside} && mv {dest} {path}"

    # ------------------------------------------------------------------ repo copies
    def _moved(self, rec: RepoRecord) -> RepoRecord:
        """A record pointing into another workspace (this one was copied or moved) is a
        problem: commands would read and write that workspace's copy. The checks after this
        one look at this workspace's own copy; ``--repair`` points the record at it."""
        other = self.ws.elsewhere(rec.path, "repos")
        if other is None:
            return rec
        here = self.ws.repo_path(rec.name)
        check = self.add(Check("repo", rec.name,
                               problem=f"recorded at {rec.path}, in another workspace "
                                       f"({other}): this one was copied or moved from there",
                               fix=f"doctor --repair (or any other command) points it at "
                                   f"this workspace's copy {here}"))
        if self.repair:
            with Store.open(self.ws.db_path) as store:
                adopt_copies(self.ws, store, self.log)
            check.repaired = f"now points at this workspace's copy {here}"
        return replace(rec, path=str(here))

    def _copy(self, rec: RepoRecord) -> bool:
        """Check (and repair) the repo's workspace copy; True when it is usable now."""
        problem = copy_problem(rec)
        check = self.add(Check("repo", rec.name, note=f"copy at {rec.commit[:8]} ({rec.path})",
                               problem=problem,
                               fix=f"doctor --repair re-creates it from {rec.source} at "
                                   f"{rec.commit[:8]}"))
        if not problem:
            return True
        if not self.repair:
            return False
        try:
            restore_copy(self.ws, rec, problem)
        except BugfoundryError as exc:
            check.fix = " ".join(str(exc).splitlines())
            return False
        check.repaired = f"re-created from {rec.source} at {rec.commit[:8]}"
        return True

    # ------------------------------------------------------------------ environments
    def _environment(self, rec: RepoRecord, stored: EnvironmentRecord | None,
                     copy_ok: bool) -> None:
        if stored is None:
            self.add(Check("environment", rec.name, note="not built yet (forge builds it)"))
            return
        backend = stored.backend
        check = self.add(Check("environment", rec.name, note=f"{backend}, pytest imports",
                               fix=f"doctor --repair rebuilds it (or: bugfoundry env build "
                                   f"{rec.name} --rebuild)"))
        env = repo_environment(self.ws, rec, backend, stored.recipe)
        other = built_elsewhere(self.ws, stored) if backend == "venv" else None
        if other is not None:
            check.problem = (f"built in another workspace ({other}; this one was copied or "
                             "moved from there): it imports that workspace's repo copy")
            check.fix = ("doctor --repair rebuilds it here from its stored recipe (forge, "
                         "verify and env build do so on first use)")
        else:
            check.problem = _env_problem(env, rec, probe=copy_ok)
        if not check.problem and not copy_ok:
            check.problem = "not checked: its repo copy is not usable"
            check.fix = "repair the repo copy first (doctor --repair)"
            return
        if not check.problem or not self.repair or not copy_ok:
            return
        self.log(f"rebuilding the {backend} environment of {rec.name} ...")
        try:
            env.remove()
            if other is not None:  # rebuilt and recorded as this workspace's
                with Store.open(self.ws.db_path) as store:
                    env, _ = ensure_environment(self.ws, store, rec, backend=backend,
                                                log=self.log)
            else:
                env.build(log=self.log)
            still = _env_problem(env, rec, probe=True)
        except BugfoundryError as exc:
            still = " ".join(str(exc).splitlines())
        if still:
            check.fix = f"the rebuild failed: {still}"
        else:
            check.repaired = f"rebuilt from its stored recipe ({stored.recipe.hash})"

    # ------------------------------------------------------------------ work trees
    def _work_trees(self, repos: dict[str, RepoRecord]) -> None:
        trees = sorted(t for d in self.ws.work_dir.iterdir() if d.is_dir()
                       for t in d.iterdir() if t.is_dir()) if self.ws.work_dir.is_dir() else []
        for tree in trees:
            rec = repos.get(tree.parent.name)
            subject = f"{tree.parent.name}/{tree.name}"
            if rec is None:
                problem = "belongs to no repo of this workspace"
            else:  # numbered trees sit at the pinned commit; base trees at other commits
                pinned = rec.commit if tree.name.isdigit() else None
                problem = tree_problem(rec, tree, pinned)
            check = self.add(Check("work_tree", subject, note="clean, at its commit",
                                   problem=problem,
                                   fix="doctor --repair resets or deletes it (validation "
                                       "re-creates it)"))
            if problem and self.repair:
                check.repaired = _repair_tree(tree, problem)

    # ------------------------------------------------------------------ exports
    def _branches(self, export: str, repos: dict[str, RepoRecord]) -> None:
        layout = find_layout(Path(export))
        found = sorted(layout.repos.glob("*.git")) if layout.repos.is_dir() else []
        if not found:
            self.add(Check("branches", export, problem=f"no branch repositories in "
                           f"{layout.repos}", fix=f"export again with --force -o {export}"))
        for repo in found:
            rec = repos.get(repo.name.removesuffix(".git"))
            self.add(Check("branches", str(repo), note="sound",
                           problem=branch_repo_problem(repo, rec.commit if rec else None),
                           fix=f"export again with --force -o {export} (branch repositories "
                               "are rewritten from the repo copies)"))


def _env_problem(env: Any, rec: RepoRecord, *, probe: bool) -> str:
    """Why ``env`` cannot run the tests ("" when it can): not built, or (``probe``: in the
    repo copy) its interpreter or pytest does not start."""
    try:
        if not env.is_built():
            where = getattr(env, "python_path", env.root)
            return f"missing or incomplete ({where} not found, or its build did not finish)"
        if probe and env.backend == "venv":  # a docker probe would start a container
            from engine.environments.probe import probe_environment

            probe_environment(env, Path(rec.path), rec.name)
    except BugfoundryError as exc:
        return str(exc).splitlines()[0]
    return ""


def _repair_tree(tree: Path, problem: str) -> str:
    if problem.endswith("left behind"):
        reset_tree(tree)
        return "reset to its commit"
    shutil.rmtree(tree, ignore_errors=True)
    return "deleted (validation re-creates it on demand)"


# ---------------------------------------------------------------------- the command
def register_doctor(sub: Any, common: Any) -> None:
    doc = sub.add_parser("doctor", parents=[common],
                         help="check the workspace (database, repo copies, environments, work "
                              "trees) and repair what can be repaired")
    doc.add_argument("--repair", action="store_true",
                     help="re-create repo copies, rebuild environments, reset or delete work "
                          "trees, salvage a damaged database")
    doc.add_argument("--salvage", action="store_true",
                     help="copy every row of a damaged database that still reads into "
                          "bugfoundry.salvaged-TIMESTAMP.duckdb beside it")
    doc.add_argument("--export", action="append", default=[], metavar="PATH",
                     help="also check the branch repositories of this export (repeatable)")
    doc.set_defaults(func=cmd_doctor)


def cmd_doctor(args: Any) -> int:
    import json
    import sys

    doctor = Doctor(getattr(args, "workspace", None), repair=args.repair, salvage=args.salvage,
                    exports=args.export, log=lambda m: print(m, file=sys.stderr, flush=True))
    report = doctor.run()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0 if report.ok else 1
    for check in report.checks:
        print(check.line())
    if report.salvage is not None:
        _print_salvage(report.salvage)
    problems = [c for c in report.checks if c.problem]
    left = [c for c in problems if not c.ok]
    if not problems:
        print(f"doctor: all {len(report.checks)} checks ok ({report.workspace})")
    else:
        print(f"doctor: {len(problems)} problems, {len(problems) - len(left)} repaired"
              + ("" if left or args.repair else "; doctor --repair fixes what it can"))
    return 0 if report.ok else 1


def _print_salvage(result: Salvage) -> None:
    if result.error:
        print(f"salvage: nothing salvaged: {result.error}")
        return
    print(f"salvaged into {result.path}:")
    for t in result.tables:
        if t.rows or t.lost:
            lost = f" ({t.lost:,} could not be read)" if t.lost else ""
            dropped = "; left empty, the next forge recomputes it" if t.dropped else ""
            print(f"  {t.table}: {t.rows:,} rows{' read' if dropped else ''}{lost}{dropped}")
    print(f"the damaged file is left as it was; to use the salvaged one:\n  {result.switch}")
