"""``bugfoundry realism [REPO]``: the per-strategy realism report (text, JSON, HTML, PNG)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.cli.common import open_ws
from engine.dataset.outpaths import check_file, output_path
from engine.errors import UsageError
from engine.store import Store


def _pick_repo(store: Store, name: str | None) -> str:
    repos = [r.name for r in store.list_repos()]
    if name:
        if name not in repos:
            raise UsageError(f"no repo named {name!r} in this workspace (known: "
                             f"{', '.join(repos) or 'none yet'}).")
        return name
    with_instances = sorted({r.repo for r in store.list_instances()})
    if len(with_instances) == 1:
        return with_instances[0]
    if not with_instances:
        raise UsageError("no instances yet: forge some first (bugfoundry forge REPO).")
    raise UsageError(f"several repos have instances ({', '.join(with_instances)}): "
                     "name one, e.g. bugfoundry realism REPO.")


def cmd_realism(args: argparse.Namespace) -> int:
    from engine.realism.charts import render_html, render_text, write_png
    from engine.realism.pipeline import score_repo
    from engine.realism.report import build_report

    for flag, value in (("--html", args.html), ("--png", args.png)):
        if value is not None:  # checked before the scoring, which takes a while
            check_file(output_path(value, flag), flag)
    _ws, store = open_ws(args)  # a copied workspace reads its own repo copy
    with store:
        name = _pick_repo(store, args.repo)
        rec = store.get_repo(name)
        root = Path(rec.path) if rec else None
        rr = score_repo(store, name, root,
                        log=lambda m: print(m, file=sys.stderr, flush=True))
    report: dict[str, Any] = build_report(rr)
    if args.html:
        Path(args.html).parent.mkdir(parents=True, exist_ok=True)
        Path(args.html).write_text(render_html(report), encoding="utf-8")
    if args.png:
        write_png(report, Path(args.png))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_text(report))
        for flag, value in (("HTML", args.html), ("PNG", args.png)):
            if value:
                print(f"  {flag}: {value}")
    return 0


def register_realism(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("realism", parents=[common],
                       help="realism score per instance and the per-strategy report")
    p.add_argument("repo", nargs="?", default=None,
                   help="repo name (default: the only repo with instances)")
    p.add_argument("--html", default=None, metavar="PATH",
                   help="also write a self-contained HTML report with histograms")
    p.add_argument("--png", default=None, metavar="PATH",
                   help="also write the histograms as a PNG (needs matplotlib)")
    p.set_defaults(func=cmd_realism)
