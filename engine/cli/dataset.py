"""The dataset commands: export, verify, import and dedup.

Apart from ``main`` so each command module stays a readable size; ``main.build_parser`` calls
``register``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.cli.args import count, positive_int
from engine.cli.common import dump_json, input_path, open_ws, to_stderr
from engine.cli.env import sandbox_options


def cmd_export(args: argparse.Namespace) -> int:
    from engine.dataset.export import export, result_dict
    from engine.dataset.outpaths import output_path

    output = output_path(args.output, "-o")  # Path("") would be the current directory
    ws, store = open_ws(args)
    with store:
        def progress(n: int) -> None:
            to_stderr(f"exported {n} instances ...")

        result = export(store, output, fmt=args.format, split=args.split,
                        repo=args.repo, rule=args.rule, force=args.force,
                        dedup="none" if args.keep_duplicates else args.dedup, rows=args.rows,
                        statements=args.statements, progress=progress, ws=ws,
                        repo_ids=args.repo_id, images=args.images, log=to_stderr)
    if args.json:
        dump_json(result_dict(result))
    else:
        for line in export_summary(result, args.split, args.rule):
            print(line)
        instance_images = sum(1 for v in result.images.values() if ":" not in v)
        if result.images:
            print(f"  images: {len(result.images)} ({instance_images} per instance)")
    return 0


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def export_summary(result: Any, split: str, rule: str) -> list[str]:
    """What an export wrote, counted so the figures add up to the rows: the rows by decision
    outcome, every instance in scope, what was left out and why, statements by source."""
    where = f"{result.root} (rows: {result.path})" if result.root else result.path
    rule_note = f", rule {rule}" if split == "curated" else ""
    lines = [f"wrote {result.count} instances ({result.format}, {split} split{rule_note}) to "
             f"{where}", f"  manifest: {result.manifest}",
             f"  exported: {_counts(result.exported)}",
             f"  decisions of all {sum(result.decisions.values())} instances: "
             f"{_counts(result.decisions)}"]
    left = [f"{n} {kind} duplicates" for kind, n in result.duplicates_by_kind.items() if n]
    left += [f"{n} {why.replace('_', ' ')}" for why, n in result.left_out.items()
             if n and why != "test_ids_with_whitespace_left_out"]
    lines.append(f"  left out: {', '.join(left) or 'nothing'}"
                 + (" (--keep-duplicates keeps duplicates)" if result.duplicates_left_out
                    else ""))
    lines.append(f"  problem statements: {_counts(result.statements)}"
                 + (f"; {result.statements_replaced} replaced by an offline one because they "
                    "gave the fix away (manifest: statements)" if result.statements_replaced
                    else "")
                 + (f"; {result.statements_stored} offline ones written now, stored in the "
                    "workspace" if result.statements_stored else ""))
    if result.statements.get("none"):
        lines.append(f"  warning: {result.statements['none']} rows have an empty "
                     "problem_statement (--no-statements)")
    if result.realism_ties:
        lines.append(f"  warning: {result.realism_ties} rows have a realism tie between "
                     "curators: exported with realism null and realism_tie true (the votes "
                     "are in decision_summary.realism_votes)")
    return lines


def cmd_verify(args: argparse.Namespace) -> int:
    from engine.dataset.export import branches_dir
    from engine.dataset.verify import check_dict, guard_foreign, load_rows, verify_rows

    ws, store = open_ws(args)
    with store:
        rows = load_rows(input_path(args.file), store)
        if args.max:
            rows = rows[: args.max]
        foreign, isolation = guard_foreign(store, rows, args.file, to_stderr)
        checks = []
        branches = branches_dir(Path(args.file))
        for check in verify_rows(ws, store, rows, log=to_stderr,
                                 branches=branches if branches.is_dir() else None,
                                 share=not args.each):
            checks.append(check)
            if not args.json:
                mark = "ok  " if check.ok else "FAIL"
                to_stderr(f"[{len(checks)}/{len(rows)}] {mark} {check.instance_id}")
    failed = [c for c in checks if not c.ok]
    if args.json:
        dump_json([check_dict(c) for c in checks])
    else:
        on_branch = sum(c.start == "branch" for c in checks)
        print(f"verified {len(checks)} instances from {args.file}: {len(checks) - len(failed)} "
              f"hold, {len(failed)} fail ({on_branch} checked out from their instance branch)")
        if foreign:
            print(f"  {len(foreign)} rows from elsewhere: {isolation}")
        if failed:
            print(f"{'instance':<60} {'F2P fail w/ bug':>16} {'pass w/ fix':>12}  problem")
            for c in failed:
                print(f"{c.instance_id:<60} {c.f2p_failing_with_bug:>7}/{c.f2p:<8} "
                      f"{c.passing_with_fix:>5}/{c.tests_with_fix:<6}  {c.problems[0]}")
    return 1 if failed else 0


def cmd_import(args: argparse.Namespace) -> int:
    from engine.dataset.importing import import_file

    _, store = open_ws(args)
    with store:
        result = import_file(store, input_path(args.file))
    if args.json:
        dump_json(vars(result))
    else:
        print(f"imported {result.imported} instances from {result.path} "
              f"({result.already_present} already present)")
    return 0


def cmd_dedup(args: argparse.Namespace) -> int:
    from engine.dedup import find_groups

    _, store = open_ws(args)
    with store:
        records = store.dedup_records(args.repo)
    groups = find_groups(records)
    if args.json:
        dump_json([{"kind": g.kind, "key": g.key, "representative": g.representative,
                "duplicates": g.duplicates} for g in groups])
        return 0
    n_dup = sum(len(g.duplicates) for g in groups)
    n_exact = sum(len(g.duplicates) for g in groups if g.kind == "exact")
    print(f"{len(records)} instances: {len(groups)} duplicate groups, {n_dup} duplicates "
          f"({n_exact} exact); exports keep one per group unless --keep-duplicates")
    for g in groups[: args.show]:
        print(f"  {g.kind:5} {g.representative}  <- {', '.join(g.duplicates)}")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """The parsers of the dataset commands."""
    ex = sub.add_parser("export", parents=[common],
                        help="write the curated split (or all instances) as JSONL or Parquet")
    ex.add_argument("--format", required=True, choices=("swesmith", "swebench", "parquet"))
    ex.add_argument("-o", "--output", required=True,
                    help="a dataset directory to write (card, data/, harness/), or a .jsonl / "
                         ".parquet file")
    ex.add_argument("--rows", default="swesmith", choices=("swesmith", "swebench"),
                    help="with --format parquet: which rows to write (default swesmith)")
    ex.add_argument("--split", default="curated", choices=("curated", "all"))
    ex.add_argument("--repo", default=None)
    ex.add_argument("--rule", default="accept-no-reject",
                    choices=("accept-no-reject", "any-accept", "unanimous"),
                    help="when several curators decided: which instances are curated")
    ex.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    ex.add_argument("--images", dest="images", action="store_true", default=None,
                    help="build the harness images (default: when the repo's environment is "
                         "docker)")
    ex.add_argument("--no-images", dest="images", action="store_false",
                    help="never build images (the rows still name them)")
    ex.add_argument("--repo-id", action="append", default=[], metavar="[NAME=]OWNER/REPO",
                    help="how a repo is named in the rows (default bugfoundry/NAME)")
    ex.add_argument("--dedup", default="near", choices=("exact", "near", "none"),
                    help="leave out duplicates (see `bugfoundry dedup`), keeping one per group: "
                         "near (default: exact ones and the same entity failing the same "
                         "FAIL_TO_PASS set), exact, none")
    ex.add_argument("--keep-duplicates", action="store_true",
                    help="export duplicates too (the same as --dedup none)")
    ex.add_argument("--no-statements", dest="statements", action="store_false",
                    help="leave problem statements as stored, even empty (default: an "
                         "offline one, marked in problem_statement_source, where none was "
                         "written or the stored one gives the fix away)")
    ex.set_defaults(func=cmd_export)

    ver = sub.add_parser("verify", parents=[common],
                         help="replay exported instances: the bug fails F2P, the fix passes all")
    ver.add_argument("file", help="an export (JSONL or Parquet) of repos in this workspace")
    ver.add_argument("--max", type=positive_int, default=None, help="only the first N rows")
    ver.add_argument("--each", action="store_true",
                     help="run the tests with the fix for every row, even when an earlier "
                          "row's fix left the very same tree (by default that run is shared)")
    sandbox_options(ver)
    ver.set_defaults(func=cmd_verify)

    imp = sub.add_parser("import", parents=[common],
                         help="import an export or a SWE-smith / SWE-bench dataset for review")
    imp.add_argument("file", help="JSONL or Parquet; malformed rows are reported, none imported")
    imp.set_defaults(func=cmd_import)

    dd = sub.add_parser("dedup", parents=[common],
                        help="duplicate bugs: same normalised diff, or same entity and F2P set")
    dd.add_argument("--repo", default=None)
    dd.add_argument("--show", type=count, default=20, help="groups to list (default 20)")
    dd.set_defaults(func=cmd_dedup)
