"""Forging beyond one machine without a cluster engine: ``forge --prepare``, ``forge --shard
I/N`` (one array task of a batch scheduler) and ``bugfoundry merge``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.cli.args import positive_int
from engine.cli.common import dump_json, to_stderr
from engine.cli.progress import Progress, print_summary
from engine.errors import UsageError
from engine.forge.stages import ForgeHooks, ForgeOptions
from engine.forge.summary import ForgeSummary
from engine.shards import parse_shard
from engine.store import ShardMerge, Store
from engine.workspace import Workspace


def add_shard_options(fg: argparse.ArgumentParser) -> None:
    fg.add_argument("--prepare", action="store_true",
                    help="build the environment, run the baseline and its test map and store "
                         "the candidates (--strategy, --max, --seed), validating none: the "
                         "step before --shard")
    fg.add_argument("--shard", metavar="I/N", default=None,
                    help="validate shard I (from 0) of N of the candidates --prepare stored, "
                         "into a shard file (merge it with: bugfoundry merge); auto/N takes I "
                         "from $JOB_COMPLETION_INDEX (Kubernetes), $SLURM_ARRAY_TASK_ID or "
                         "$BUGFOUNDRY_SHARD_INDEX")
    fg.add_argument("--shard-file", type=Path, default=None, metavar="PATH",
                    help="with --shard: the file to write (default: "
                         "WORKSPACE/shards/REPO.I-of-N.duckdb); the same file resumes")
    fg.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                    help="validate on Ray actors, one per CPU of the cluster at ADDRESS (none: "
                         "a local Ray; needs the optional extra: pip install 'bugfoundry[ray]')")
    fg.add_argument("--ray-shard", type=positive_int, default=100, metavar="N",
                    help="with --ray: at most N candidates per shard sent to an actor "
                         "(default 100, at most 500)")
    fg.add_argument("--ray-registry", default="", metavar="HOST/PREFIX",
                    help="with --ray and the docker backend: push the repo's image to this "
                         "registry once, and nodes that lack it pull it (default: nodes "
                         "that lack it load it from Ray's object store)")


def check_shard_args(args: argparse.Namespace) -> None:
    if args.prepare and args.shard:
        raise UsageError("--prepare and --shard are two steps: prepare once, then run each "
                         "shard.\nFirst: bugfoundry forge REPO --prepare; then on each "
                         "machine: bugfoundry forge REPO --shard I/N")
    if args.ray is not None and (args.prepare or args.shard):
        raise UsageError("--ray validates on a Ray cluster; --prepare and --shard are for "
                         "batch schedulers without one.\nGive one of them: --ray [ADDRESS], "
                         "or --prepare then --shard I/N")
    if args.ray_registry and args.ray is None:
        raise UsageError("--ray-registry names where Ray's nodes pull the repo's image: give "
                         "--ray too.\ne.g. bugfoundry forge REPO --ray auto --ray-registry "
                         "registry.example:5000/bf")
    if args.shard_file and not args.shard:
        raise UsageError("--shard-file names the file of a shard: give --shard I/N too.\n"
                         "e.g. bugfoundry forge REPO --shard 0/4 --shard-file out/0.duckdb")


def run_shard(args: argparse.Namespace, ws: Workspace, strategies: Sequence[str],
              options: ForgeOptions) -> int:
    """``forge REPO --shard I/N``: never opens the workspace database for writing, so any
    number of shards run at once against one (shared) workspace."""
    from engine.forge.shards import forge_shard

    spec = parse_shard(args.shard)
    progress = Progress(enabled=sys.stderr.isatty())
    run = forge_shard(ws, args.repo, spec, strategies, options, ForgeHooks(
        log=progress.log, on_total=progress.start, on_verdict=progress.advance),
        path=args.shard_file)
    progress.stop()
    summary = run.summary
    empty = "" if summary.candidates else (
        f"shard {spec} holds no candidate of {summary.repo} (too few were prepared for "
        f"{spec.count} shards, or none is pending)")
    if args.json:
        dump_json({**summary.to_dict(), "nothing_forged": empty or summary.nothing_forged(),
                   "shard": str(spec),
                   "shard_file": str(run.path), "pending_at_start": run.pending})
    elif empty:
        print(empty)
    else:
        print_summary(summary)
        print(f"  shard {spec}: {summary.validated_now} verdicts written to {run.path}; "
              f"merge with: bugfoundry merge {run.path}")
    return 130 if summary.interrupted else 0  # a shard that kept nothing is no failure


def print_prepared(args: argparse.Namespace, summary: ForgeSummary) -> int:
    """``forge --prepare``'s answer: what is stored, and the next two commands."""
    pending = summary.candidates - summary.already_done
    if args.json:
        dump_json({**summary.to_dict(), "prepared": True, "pending": pending})
        return 0
    print(f"prepared {summary.repo}: {summary.candidates} candidates stored ({pending} to "
          f"validate, {summary.already_done} already judged)")
    print(f"  baseline ({summary.backend}): {summary.baseline_passing}/"
          f"{summary.baseline_tests} tests pass stably, test map of "
          f"{summary.mapped_functions} functions")
    print(f"  next, on each machine: bugfoundry forge {summary.repo} --shard I/N "
          f"(I = 0 .. N-1); then: bugfoundry merge WORKSPACE/shards")
    return 0


# ---------------------------------------------------------------------- merge
def shard_files(raw: Sequence[str]) -> list[Path]:
    """The files named, a directory standing for the ``*.duckdb`` files in it."""
    out: list[Path] = []
    for name in raw:
        path = Path(name)
        if path.is_dir():
            found = sorted(path.glob("*.duckdb"))
            if not found:
                raise UsageError(f"no shard file (*.duckdb) in {path}.\nName the files "
                                 "forge --shard wrote, e.g. WORKSPACE/shards/*.duckdb")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise UsageError(f"no shard file at {path}.\nName the files forge --shard wrote "
                             "(or their directory), e.g. WORKSPACE/shards")
    return list(dict.fromkeys(p.resolve() for p in out))


def cmd_merge(args: argparse.Namespace) -> int:
    paths = shard_files(args.shards)
    ws = Workspace.open(getattr(args, "workspace", None))
    merged: list[ShardMerge] = []
    with Store.open(ws.db_path) as store:
        for path in paths:
            if path == ws.db_path.resolve():
                raise UsageError(f"{path} is this workspace's own database, not a shard.\n"
                                 "Name the files forge --shard wrote.")
            report = store.merge_shard(path)
            merged.append(report)
            if not args.json:
                print(f"merged {path} ({report.repo}, shard {report.shard}): "
                      f"{report.verdicts} verdicts, {report.merged} new "
                      f"({report.instances} instances), {report.already} already merged")
        statements = _statements(args, ws, store, {m.repo for m in merged if m.instances})
    if args.json:
        dump_json({"shards": [{**m.__dict__, "already": m.already} for m in merged],
                   "statements": statements})
    return 0


def _statements(args: argparse.Namespace, ws: Workspace, store: Store, repos: set[str]
                ) -> dict[str, Any]:
    """Offline problem statements for the merged instances, as a forge writes them."""
    if not args.statements:
        return {}
    from engine.dataset.statements import fill_missing
    from engine.forge.setup import open_repo

    written: dict[str, Any] = {}
    for name in sorted(repos):
        repo = open_repo(ws, store, name, to_stderr)
        written[name] = fill_missing(store, name, Path(repo.path), log=to_stderr)
    return written


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    mg = sub.add_parser("merge", parents=[common],
                        help="fold shard files (forge --shard) into the workspace")
    mg.add_argument("shards", nargs="+", metavar="SHARD",
                    help="shard files, or directories of them (WORKSPACE/shards)")
    mg.add_argument("--no-statements", dest="statements", action="store_false",
                    help="write no offline problem statements for the merged instances")
    mg.set_defaults(func=cmd_merge)
