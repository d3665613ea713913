"""The ``bugfoundry`` command line: every engine capability, scriptable, with ``--json`` output.

Field names in ``--json`` output are stable (see README "JSON fields").
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine import __version__
from engine.cli import env as cli_env
from engine.cli.args import Parser, finite, integer, positive_int, seconds
from engine.cli.blindtest import register as register_blindtest
from engine.cli.common import common_options, dump_json, open_ws, to_stderr
from engine.cli.curation import (
    curation_json,
    curation_line,
    decision_filter,
    print_curation_status,
    print_decisions,
    status_json,
)
from engine.cli.curation import register as register_curation
from engine.cli.dataset import register as register_dataset
from engine.cli.env import configure_sandbox, sandbox_options
from engine.cli.lm import add_lm_options, register_statements
from engine.cli.mirror import add_combine_options, mining_options, register_mine
from engine.cli.progress import Progress, print_summary, sandbox_note
from engine.cli.realism import register_realism
from engine.cli.shards import add_shard_options
from engine.cli.shards import register as register_shards
from engine.dataset.rows import instance_json
from engine.doctor import register_doctor
from engine.environments.base import BACKENDS
from engine.errors import BugfoundryError, UsageError


# ---------------------------------------------------------------------- commands
def cmd_repo_add(args: argparse.Namespace) -> int:
    from engine.repos import add_repo, check_name, classify, sanitize_name

    name = check_name(args.name) if args.name else sanitize_name(
        classify(args.source).default_name)
    ws, store = open_ws(args)
    with store:
        rec = add_repo(ws, args.source, args.name, args.commit, existing=store.get_repo(name),
                       log=to_stderr)
        store.add_repo(rec)
        if args.backend or args.base_image or args.wheelhouse:  # build it now
            from engine.forge.setup import ensure_environment

            ensure_environment(ws, store, rec, backend=args.backend or "docker",
                               base_image=args.base_image, wheelhouse=args.wheelhouse,
                               log=to_stderr)
        if args.json:
            dump_json(rec.__dict__)
        else:
            print(f"repo {rec.name}: {rec.source} pinned at {rec.commit[:12]} ({rec.path})")
    return 0


def cmd_repo_ls(args: argparse.Namespace) -> int:
    _, store = open_ws(args)
    with store:
        repos = store.list_repos()
        if args.json:
            dump_json([r.__dict__ for r in repos])
        else:
            for r in repos:
                print(f"{r.name:24} {r.commit[:12]}  {r.kind:6} {r.source}")
            if not repos:
                print("no repos yet; add one with: bugfoundry repo add SOURCE")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from engine.forge.setup import ensure_baseline, ensure_environment, open_repo

    ws, store = open_ws(args)
    with store:
        repo = open_repo(ws, store, args.repo, to_stderr)
        env, recipe = ensure_environment(ws, store, repo, log=to_stderr)
        try:
            b = ensure_baseline(ws, store, repo, env, recipe, runs=args.runs, log=to_stderr,
                                fresh=args.fresh, timeout=args.baseline_timeout)
        finally:
            env.close()  # docker: its container goes (the image stays)
        data = {"repo": repo.name, "baseline_id": b.baseline_id, "commit": b.commit,
                "runs": b.runs, "tests": len(b.tests), "passing": len(b.passing),
                "flaky": sorted(b.flaky), "pass_rate": round(b.pass_rate, 4),
                "suite_seconds": b.seconds}
        if args.json:
            dump_json(data)
        else:
            print(f"{repo.name}: {data['passing']}/{data['tests']} tests pass stably "
                  f"(pass rate {data['pass_rate']:.1%}), {len(b.flaky)} flaky, "
                  f"suite {b.seconds:.2f}s")
    return 0


def cmd_forge(args: argparse.Namespace) -> int:
    from engine.cli.lm import lm_settings
    from engine.cli.mirror import forge_kwargs
    from engine.cli.several import run_several
    from engine.cli.shards import check_shard_args, print_prepared, run_shard
    from engine.forge.run import ForgeHooks, ForgeOptions, forge, lm_settings_for, parse_strategies
    from engine.store import Store
    from engine.strategies.procedural import parse_modifiers
    from engine.workspace import Workspace

    strategies = parse_strategies(args.strategy)
    modifiers = parse_modifiers(args.modifiers) if args.modifiers is not None else None
    check_shard_args(args)
    several = args.all or len(args.repos) != 1
    if several and (args.prepare or args.shard):
        raise UsageError("--prepare and --shard take one repo.\nRun them once per repo: "
                         "bugfoundry forge REPO --prepare, then bugfoundry forge REPO --shard I/N")
    args.repo = None if several else args.repos[0]
    stage_options = forge_kwargs(args)
    ws = Workspace.open(getattr(args, "workspace", None))
    lm = lm_settings_for(strategies, lambda: lm_settings(args, ws))
    options = ForgeOptions(
        max_candidates=args.max, seed=args.seed, workers=args.workers,
        force_workers=args.force_workers, retry_timeouts=args.retry_timeouts,
        timeout=args.timeout, validation="full" if args.full_suite else args.validation,
        baseline_runs=args.baseline_runs, baseline_timeout=args.baseline_timeout,
        backend=args.backend, lm=lm, min_realism=args.min_realism,
        prefer_realistic=args.prefer_realistic, modifiers=modifiers, prepare=args.prepare,
        ray=args.ray, ray_shard=args.ray_shard, ray_registry=args.ray_registry,
        **stage_options)
    if args.ray is not None:  # said up front, even when nothing is left to validate
        from engine.forge.ray_pool import import_ray

        import_ray()
    if args.shard:
        return run_shard(args, ws, strategies, options)
    with Store.open(ws.db_path) as store:
        def statements(db: Store, name: str, _summary: object) -> None:
            repo = db.get_repo(name)
            if args.statements and repo is not None and Path(repo.path).is_dir():
                from engine.dataset.statements import fill_missing

                fill_missing(db, repo.name, Path(repo.path), log=to_stderr)

        if several:
            return run_several(args, ws, store, strategies, options, statements)
        progress = Progress(enabled=sys.stderr.isatty())
        summary = forge(ws, store, args.repo, strategies, options, ForgeHooks(
            log=progress.log, on_total=progress.start, on_verdict=progress.advance))
        progress.stop()
        if args.prepare:
            return print_prepared(args, summary)
        statements(store, args.repo, summary)
    boxed = sandbox_note(summary.backend)
    if args.json:
        dump_json({**summary.to_dict(), "sandbox": boxed})
    else:
        print_summary(summary)
        print(f"  {boxed}")
    if summary.interrupted:
        return 130
    nothing = summary.nothing_forged()
    if nothing:
        to_stderr(f"forge: nothing forged for {summary.repo}: {nothing}")
        return 1
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    _, store = open_ws(args)
    with store:
        rows: list[dict[str, Any]] = []
        for r in store.list_repos():
            s = store.summary(r.name)
            b = store.latest_baseline(r.name, r.commit)
            env = store.get_environment(r.name)
            rows.append({
                "repo": r.name, "commit": r.commit, "source": r.source,
                "environment": env.backend if env else None,
                "sandbox": sandbox_note(env.backend) if env else None,
                "baseline_pass_rate": round(b.pass_rate, 4) if b else None,
                "baseline_tests": len(b.tests) if b else None,
                "candidates": s.candidates, "validated": s.validated, "dropped": s.dropped,
                "pending": s.pending, "drop_reasons": s.drop_reasons,
                "yield": round(s.validated / (s.validated + s.dropped), 4)
                if (s.validated + s.dropped) else None,
            })
        curation = status_json(store)
    if args.json:
        dump_json({"workspace": str(store.path.parent), "repos": rows, "curation": curation})
        return 0
    print(f"workspace {store.path.parent}")
    if not rows:
        print("no repos yet; add one with: bugfoundry repo add SOURCE")
    for row in rows:
        y = f"{row['yield']:.1%}" if row["yield"] is not None else "-"
        rate = row["baseline_pass_rate"]
        rate_s = f"{rate:.1%}" if rate is not None else "not run"
        print(f"{row['repo']}: {row['validated']} instances, {row['candidates']} candidates "
              f"({row['pending']} pending), yield {y}, baseline pass rate {rate_s}")
        if row["sandbox"]:
            print(f"  {row['sandbox']}")
        if row["drop_reasons"]:
            print("  drops: " + ", ".join(f"{k} {v}" for k, v in row["drop_reasons"].items()))
    print_curation_status(curation)
    return 0


def cmd_instances(args: argparse.Namespace) -> int:
    _, store = open_ws(args)
    with store:
        rows = store.browse(decision_filter(args), sort="repo",
                            limit=args.limit or 1 << 62)
        ids = [r.instance_id for r in rows]
        curation = store.curation(ids)
        if args.json:
            recs = store.instances(ids)
            dump_json([{**instance_json(recs[i]), "curation": curation_json(curation.get(i))}
                       for i in ids if i in recs])
            return 0
    for r in rows:
        said = curation_line(curation.get(r.instance_id))
        print(f"{r.instance_id:64} F2P {r.n_f2p:>4}  P2P {r.n_p2p:>4}  "
              f"{r.file}::{r.entity}" + (f"  [{said}]" if said else ""))
    print(f"{len(rows)} instance{'' if len(rows) == 1 else 's'}", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:

    _, store = open_ws(args)
    with store:
        rec = store.get_instance(args.instance_id)
        cur = store.curation_of(args.instance_id)
    if rec is None:
        raise UsageError(f"no instance {args.instance_id!r}; list them with: "
                         "bugfoundry instances")
    data = instance_json(rec)
    if args.json:
        dump_json({**data, "curation": curation_json(cur)})
        return 0
    print(f"{data['instance_id']}\n  repo {data['repo']} @ {data['base_commit'][:12]}  "
          f"{data['strategy']}/{data['modifier']}  {data['file']}::{data['entity']}")
    print(f"  FAIL_TO_PASS ({len(data['FAIL_TO_PASS'])}):")
    for t in data["FAIL_TO_PASS"][:20]:
        print(f"    {t}")
    print(f"  PASS_TO_PASS: {len(data['PASS_TO_PASS'])} tests")
    print_decisions(cur)
    print()
    print(data["patch"])
    for where, text in (data["meta"].get("collection_errors") or {}).items():
        print(f"--- collection error in {where or 'the session'} ---\n{text}")
    failures = list(data["failures"].items())
    for nodeid, text in failures[: 1 if args.all_failures is False else None]:
        print(f"--- failure of {nodeid} ---\n{text}")
    if len(failures) > 1 and not args.all_failures:
        print(f"({len(failures) - 1} more failures stored: --all-failures prints them)")
    return 0


# ---------------------------------------------------------------------- parser
Register = Callable[[Any, argparse.ArgumentParser], None]


def build_parser(register: Register | None = None) -> argparse.ArgumentParser:
    """The headless command set; ``register(subparsers, common)`` lets a front end add more."""
    common = common_options()
    p = Parser(prog="bugfoundry", description=__doc__.splitlines()[0])
    p.add_argument("--workspace", help="workspace directory")
    p.add_argument("--version", action="version", version=f"bugfoundry {__version__}")
    sub = p.add_subparsers(dest="command")

    repo = sub.add_parser("repo", help="add and list repositories")
    rsub = repo.add_subparsers(dest="repo_command", required=True)
    add = rsub.add_parser("add", parents=[common], help="add a path, git URL or pypi:NAME==VER")
    add.add_argument("source")
    add.add_argument("--name")
    add.add_argument("--commit", help="commit, tag or branch to pin (default HEAD)")
    cli_env.add_backend_options(add)
    add.set_defaults(func=cmd_repo_add)
    ls = rsub.add_parser("ls", parents=[common], help="list repositories")
    ls.set_defaults(func=cmd_repo_ls)

    cli_env.register(sub, common)

    base = sub.add_parser("baseline", parents=[common], help="run the clean suite (flake check)")
    base.add_argument("repo")
    base.add_argument("--runs", type=positive_int, default=2)
    base.add_argument("--fresh", action="store_true", help="run again even if one is stored")
    base.add_argument("--baseline-timeout", type=seconds, default=1800.0)
    base.set_defaults(func=cmd_baseline)

    fg = sub.add_parser("forge", parents=[common, mining_options()],
                        help="forge and validate candidate bugs")
    fg.add_argument("repos", nargs="*", metavar="REPO",
                    help="the repos to forge: one after another, or with --ray two at a time "
                         "on one cluster")
    fg.add_argument("--all", action="store_true", help="forge every repo of the workspace")
    fg.add_argument("--strategy", default="procedural",
                    help="comma list of procedural, lm_modify, lm_rewrite (a model rewrites "
                         "functions), pr_mirror (real fix commits reverted), combine "
                         "(validated bugs merged)")
    fg.add_argument("--modifiers", default=None, metavar="NAMES",
                    help="comma list of procedural modifiers to use (default: all); 'real' "
                         "stands for the ones aimed at real bug shapes")
    fg.add_argument("--max", type=positive_int, default=None,
                    help="at most N candidates per stage (fix commits for pr_mirror)")
    fg.add_argument("--seed", type=integer, default=0)
    fg.add_argument("--workers", type=positive_int, default=None,
                    help="validation workers (default and most: the number of cores)")
    fg.add_argument("--force-workers", action="store_true",
                    help="use --workers as given even when it exceeds the cores (tests slowed "
                         "by the load may then time out)")
    fg.add_argument("--retry-timeouts", action="store_true",
                    help="validate again the candidates stored as timeout (each is retried "
                         "alone; runs before this version did not)")
    fg.add_argument("--timeout", type=seconds, default=None,
                    help="seconds per test run (default: scaled on the selected tests' "
                         "baseline time)")
    fg.add_argument("--validation", choices=("auto", "cold", "full"), default="auto",
                    help="auto: warm fork server on the covering tests where the diff allows "
                         "(default); cold: a fresh pytest on the covering tests; full: the "
                         "whole suite per candidate")
    fg.add_argument("--full-suite", action="store_true",
                    help="run the whole suite for every candidate (same as --validation full)")
    fg.add_argument("--baseline-runs", type=positive_int, default=2)
    fg.add_argument("--baseline-timeout", type=seconds, default=1800.0)
    fg.add_argument("--min-realism", type=finite, default=None, metavar="SCORE",
                    help="drop validated bugs whose realism score is below SCORE (log-odds; "
                         "> 0 leans realistic), recorded as low_realism")
    fg.add_argument("--no-statements", dest="statements", action="store_false",
                    help="write no problem statements (default: an offline one, from the "
                         "failing tests, for each instance without one)")
    fg.add_argument("--prefer-realistic", action="store_true",
                    help="with --max: sample modifiers in proportion to how well their bugs "
                         "validate and score in this repo so far")
    add_lm_options(fg)
    add_combine_options(fg)
    fg.add_argument("--backend", choices=BACKENDS, default=None,
                    help="environment to validate in (default: the repo's current one)")
    sandbox_options(fg)
    add_shard_options(fg)
    fg.set_defaults(func=cmd_forge)
    register_mine(sub, common)

    st = sub.add_parser("status", parents=[common], help="per-repo counts, yield, drop reasons")
    st.set_defaults(func=cmd_status)

    ins = sub.add_parser("instances", parents=[common], help="list validated instances")
    ins.add_argument("--repo")
    ins.add_argument("--strategy")
    ins.add_argument("--limit", type=positive_int)
    ins.add_argument("--decision", choices=("accept", "reject", "skip", "undecided",
                                            "disputed"),
                     help="with --curator: that curator's current decision; without: the "
                          "resolved one (final, else the default export rule); disputed: "
                          "conflicting curators, no final decision")
    ins.add_argument("--curator", help="only instances this curator labelled (with "
                                       "--decision: whose decision is compared)")
    ins.add_argument("--assigned-to", metavar="NAME", help="only NAME's assigned queue")
    ins.set_defaults(func=cmd_instances)

    show = sub.add_parser("show", parents=[common], help="one instance: diff, tests, failure")
    show.add_argument("instance_id")
    show.add_argument("--all-failures", action="store_true",
                      help="print every failing test's output, not only the first")
    show.set_defaults(func=cmd_show)

    register_dataset(sub, common)
    register_shards(sub, common)
    register_curation(sub, common)

    register_statements(sub, common)
    register_realism(sub, common)
    register_blindtest(sub, common)
    register_doctor(sub, common)
    if register is not None:
        register(sub, common)
    return p


def main(argv: Sequence[str] | None = None, *, register: Register | None = None,
         default: Callable[[argparse.Namespace], int] | None = None) -> int:
    """Run one command. Front ends (the TUI) pass extra subcommands and a no-command default;
    the engine itself never imports them, so it stays headless."""
    parser = build_parser(register)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        if default is None:
            parser.print_help()
            return 0
        args.func = default
    if getattr(args, "workspace", None) is None:
        args.workspace = os.environ.get("BUGFOUNDRY_HOME")
    try:
        configure_sandbox(args)
        return int(args.func(args) or 0)
    except BugfoundryError as exc:  # the store's errors too: its edge translates DuckDB's
        to_stderr(f"bugfoundry: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        to_stderr("bugfoundry: interrupted; every finished result is saved. "
             "Rerun the same command to resume.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
