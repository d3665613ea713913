"""The LM side of the command line: endpoint options shared by ``forge`` and ``statements``,
and the ``statements`` command itself."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.cli.args import amount, positive_int
from engine.errors import UsageError
from engine.lm.client import LMClient, LMSettings, load_settings
from engine.store import Store
from engine.workspace import Workspace


def add_lm_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "language model", "any OpenAI-compatible endpoint; the key comes from OPENAI_API_KEY "
        "or the workspace's config.toml [lm] table, never from a flag")
    g.add_argument("--model", default=None,
                   help="model name (or BUGFOUNDRY_LM_MODEL, or [lm] model in config.toml)")
    g.add_argument("--base-url", default=None,
                   help="endpoint, e.g. http://localhost:11434/v1 (default: OPENAI_BASE_URL, "
                        "then config.toml, then OpenAI)")
    g.add_argument("--lm-concurrency", type=positive_int, default=None,
                   help="requests in flight at once (default 4)")
    g.add_argument("--max-cost", type=amount, default=None,
                   help="USD budget for this run: no request is sent once it is spent")
    g.add_argument("--price", default=None,
                   help="IN,OUT: USD per million input and output tokens for --model")
    g.add_argument("--temperature", type=amount, default=None)


def lm_settings(args: argparse.Namespace, ws: Workspace) -> LMSettings:
    return load_settings(ws.home, model=args.model, base_url=args.base_url,
                         concurrency=args.lm_concurrency, max_cost=args.max_cost,
                         price=args.price, temperature=args.temperature)


def cmd_statements(args: argparse.Namespace) -> int:
    from engine.dataset.statements import write_statements
    from engine.forge.setup import open_repo

    ws = Workspace.open(getattr(args, "workspace", None))
    settings = lm_settings(args, ws)
    mode = args.mode or ("lm" if settings.model else "tests")
    if mode == "lm" and not settings.model:
        raise UsageError("--mode lm needs a model: pass --model NAME (or use --mode tests / "
                         "--mode template, which need no model).")
    with Store.open(ws.db_path) as store:
        def log(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

        repo = open_repo(ws, store, args.repo, log)
        client = LMClient(settings) if mode == "lm" else None
        report = write_statements(store, repo.name, Path(repo.path), mode, client=client,
                                  redo=args.redo, limit=args.max, log=log)
    out: dict[str, Any] = {"repo": repo.name, "mode": mode, **report.to_dict()}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    written = ", ".join(f"{k} {v}" for k, v in report.written.items()) or "none"
    print(f"statements for {repo.name} ({mode}): written {written}; "
          f"{report.skipped_existing} already had one")
    if mode == "lm":
        print(f"  {report.batch.requested} requested, {report.batch.cached} cached, "
              f"${report.cost:.4f}")
    if report.failed:
        print("  failed: " + ", ".join(f"{k} {v}" for k, v in report.failed.items()))
    if report.leaking:
        print(f"  {report.leaking} statements quote the diff or name a failing test: "
              "flagged in the TUI (rerun with --redo to rewrite)")
    if report.batch.budget_stopped:
        print("  the budget ran out: rerun with a higher --max-cost for the rest")
    return 0


def register_statements(sub: Any, common: argparse.ArgumentParser) -> None:
    st = sub.add_parser("statements", parents=[common],
                        help="write GitHub-issue-style problem statements for instances")
    st.add_argument("repo")
    st.add_argument("--mode", choices=("lm", "tests", "template"), default=None,
                    help="lm (default when a model is configured), or offline: tests (from "
                         "the failing tests) or template")
    st.add_argument("--redo", action="store_true",
                    help="write a new statement even where one exists (the newest is used)")
    st.add_argument("--max", type=positive_int, default=None, help="at most N instances")
    add_lm_options(st)
    st.set_defaults(func=cmd_statements)
