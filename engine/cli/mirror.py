"""Command-line pieces for PR mirroring and combine: ``bugfoundry mine`` and the forge options.

Kept out of ``engine/cli/main.py`` so each file stays readable; ``cli.build_parser`` wires them in.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from engine.cli.args import Parser, count, positive_int
from engine.cli.common import dump_json, open_ws, to_stderr
from engine.errors import UsageError
from engine.mining import MiningConfig, load_issues, mine
from engine.strategies.combine import SCOPES, CombineConfig


def mining_options() -> Parser:
    """The fix-commit filters, shared by ``mine`` and ``forge`` (``parents=[...]``)."""
    p = Parser(add_help=False)
    g = p.add_argument_group("PR mirroring (fix commits from the repo's history)")
    g.add_argument("--pr-max-files", type=positive_int, default=8, metavar="N",
                   help="skip fixes touching more than N source files (default 8)")
    g.add_argument("--pr-max-lines", type=positive_int, default=500, metavar="N",
                   help="skip fixes changing more than N lines (default 500)")
    g.add_argument("--pr-allow-binary", action="store_true",
                   help="do not skip fixes that touch binary files")
    g.add_argument("--pr-any-message", action="store_true",
                   help="any commit touching source and tests, not only fix-like messages")
    g.add_argument("--pr-history", type=count, default=5000, metavar="N",
                   help="scan the newest N commits (0: the whole history; default 5000)")
    g.add_argument("--issues", metavar="FILE", default=None,
                   help="issue texts (JSON list or lines of {number, title, body}, e.g. from "
                        "`gh issue list --json number,title,body`): a fix that closes #N gets "
                        "issue N's text as its problem statement")
    return p


def add_combine_options(fg: argparse.ArgumentParser) -> None:
    g = fg.add_argument_group("combine (validated bugs merged into one)")
    g.add_argument("--combine-scope", default="file,module",
                   help="comma list of file, module (default both)")
    g.add_argument("--combine-max", type=positive_int, default=3, metavar="N",
                   help="at most N bugs per combination (2..N, default 3)")
    g.add_argument("--combine-depth", type=positive_int, default=None, metavar="D",
                   help="a module is the first D directories of a file's path (default: "
                        "the file's own directory)")
    g.add_argument("--combine-per-group", type=positive_int, default=4, metavar="N",
                   help="at most N combinations per file or module (default 4)")


def mining_config(args: argparse.Namespace) -> MiningConfig:
    for name in ("pr_max_files", "pr_max_lines"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1.")
    return MiningConfig(max_source_files=args.pr_max_files, max_lines=args.pr_max_lines,
                        allow_binary=args.pr_allow_binary,
                        require_fix_message=not args.pr_any_message,
                        max_commits=args.pr_history or None)


def combine_config(args: argparse.Namespace) -> CombineConfig:
    scopes = tuple(dict.fromkeys(s.strip() for s in args.combine_scope.split(",") if s.strip()))
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise UsageError(f"--combine-scope takes {', '.join(SCOPES)} (comma list), "
                         f"not {args.combine_scope!r}.")
    if args.combine_max < 2:
        raise UsageError("--combine-max must be at least 2 (a combination merges 2..N bugs).")
    if args.combine_depth is not None and args.combine_depth < 0:
        raise UsageError("--combine-depth must be 0 or more.")
    if args.combine_per_group < 1:
        raise UsageError("--combine-per-group must be at least 1.")
    return CombineConfig(scopes=scopes, max_bugs=args.combine_max, depth=args.combine_depth,
                         per_group=args.combine_per_group)


def forge_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The stage options of ``bugfoundry forge``, as fields of ``engine.forge.run.ForgeOptions``."""
    return {"mining": mining_config(args), "combine": combine_config(args),
            "issues": load_issues(Path(args.issues)) if args.issues else None}


# ---------------------------------------------------------------------- bugfoundry mine
def cmd_mine(args: argparse.Namespace) -> int:
    from engine.environments.detect import detect_recipe
    from engine.forge.setup import open_repo
    from engine.strategies.pr_mirror import Mirror, outside_roots

    ws, store = open_ws(args)
    with store:
        repo = open_repo(ws, store, args.repo, to_stderr)
        checks = store.base_checks(repo.name)
        env = store.get_environment(repo.name)
    roots = (env.recipe if env else detect_recipe(Path(repo.path))).source_roots
    commits = mine(Path(repo.path), repo.commit, mining_config(args))
    mirror = Mirror(repo)
    rows = []
    for c in commits:
        row = c.to_dict()
        if not c.skip:
            at = mirror.attempt(c)
            cand = mirror.route_a(at)
            row["route_a"] = cand.meta["apply"] if cand else ""
            row["route_a_failure"] = at.failed.get("a", "")
            ok, why = checks.get(c.sha, (None, ""))
            outside = outside_roots(c.source_files, roots)
            if outside:
                ok, why = False, f"the layout changed: {outside[0]} is outside {roots}"
            row["route_b"] = {True: "runs", False: "fails", None: "unchecked"}[ok]
            row["route_b_failure"] = why
            row["problem_statement"] = at.statement
        rows.append(row)
    fixes = [r for r in rows if not r["skip"]]
    skipped = Counter(r["skip"] for r in rows if r["skip"])
    if args.json:
        dump_json({"repo": repo.name, "commit": repo.commit, "commits_scanned": len(rows),
               "fix_commits": len(fixes), "skipped": dict(skipped.most_common()),
               "commits": rows if args.all else fixes})
        return 0
    print(f"{repo.name}: {len(fixes)} fix commits in {len(rows)} commits scanned "
          f"(history of {repo.commit[:12]})")
    for r in fixes:
        a = f"a:{r['route_a']}" if r["route_a"] else "a:-"
        print(f"  {r['sha'][:10]} {r['kind']:6} {a:8} b:{r['route_b']:9} "
              f"{len(r['source_files'])}src {len(r['test_files'])}test {r['lines_changed']:>4}l  "
              f"{r['subject'][:60]}")
    if skipped:
        print("skipped: " + ", ".join(f"{k} {v}" for k, v in skipped.most_common()))
    if args.all:
        for r in rows:
            if r["skip"]:
                detail = f" ({r['skip_detail']})" if r["skip_detail"] else ""
                print(f"  {r['sha'][:10]} {r['skip']}{detail}: {r['subject'][:60]}")
    print("a: reverse-applies at the pinned commit (plain or 3way); b: its own commit as the "
          "base (checked by forge)", file=sys.stderr)
    return 0


def register_mine(sub: Any, common: argparse.ArgumentParser) -> None:
    mn = sub.add_parser("mine", parents=[common, mining_options()],
                        help="list the fix commits PR mirroring would use, and why others "
                             "were skipped")
    mn.add_argument("repo")
    mn.add_argument("--all", action="store_true",
                    help="also list every skipped commit with its reason")
    mn.set_defaults(func=cmd_mine)
