"""``bugfoundry blindtest new|status|report``: set up the blind "real or forged?" test and
report on it (the answering is in the TUI: ``bugfoundry tui --blindtest``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engine.cli.args import integer, positive_int
from engine.cli.common import dump_json, open_ws, to_stderr
from engine.dataset.outpaths import check_file, output_path
from engine.realism.blindtest import DEFAULT_ITEMS, DEFAULT_SHARE, new_session, session
from engine.store import Store


def share(text: str) -> float:
    """The real share: a number strictly between 0 and 1 (0.5, or 50%)."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a share like 0.5 or 50% (got {text!r})"
                                         ) from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, exclusive (got {text})")
    return value


def cmd_new(args: argparse.Namespace) -> int:
    strategies = [s.strip() for s in (args.strategies or "").split(",") if s.strip()]
    _, store = open_ws(args)
    with store:
        sess, picked = new_session(store, items=args.items, real_share=args.real_share,
                                   repo=args.repo, seed=args.seed, strategies=strategies)
    for note in picked.notes:
        to_stderr(f"blindtest: {note}")
    mix: dict[str, int] = {}
    for it in picked.items:
        if it.truth == "forged":
            mix[it.strategy] = mix.get(it.strategy, 0) + 1
    if args.json:
        dump_json({"session": sess.session_id, "repo": sess.repo, "items": sess.items,
                   "real": picked.n_real, "forged": mix, "seed": sess.seed,
                   "notes": picked.notes})
        return 0
    print(f"blind test {sess.session_id} on {sess.repo}: {sess.items} items, "
          f"{picked.n_real} real and {sess.items - picked.n_real} forged ("
          + ", ".join(f"{k} {v}" for k, v in sorted(mix.items())) + f"), seed {sess.seed}")
    print("  answer it in the TUI: bugfoundry tui --blindtest (r/f, then confidence 1-5)")
    return 0


def _status(store: Store, session_id: int | None) -> dict[str, Any]:
    sess = session(store, session_id)
    items = store.blind_items(sess.session_id)
    answered: dict[str, int] = {}
    for a in store.blind_answers(sess.session_id):
        answered[a.curator] = answered.get(a.curator, 0) + 1
    return {"session": sess.session_id, "repo": sess.repo, "items": len(items),
            "real": sum(it.truth == "real" for it in items), "created_at": sess.created_at,
            "answered": answered,
            "sessions": [s.session_id for s in store.blind_sessions()]}


def cmd_status(args: argparse.Namespace) -> int:
    _, store = open_ws(args)
    with store:
        data = _status(store, args.session)
    if args.json:
        dump_json(data)
        return 0
    print(f"blind test {data['session']} on {data['repo']} ({data['created_at'][:16]}): "
          f"{data['items']} items, {data['real']} of them real")
    for curator, n in sorted(data["answered"].items()):
        print(f"  {curator}: {n}/{data['items']} answered")
    if not data["answered"]:
        print("  no answers yet: bugfoundry tui --blindtest")
    if len(data["sessions"]) > 1:
        print(f"  sessions: {', '.join(map(str, data['sessions']))} (--session N picks one)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from engine.realism.blindreport import build_report, render_html, render_text
    from engine.realism.blindtest import session_scores

    fmt = "json" if args.json else args.format
    out = output_path(args.out, "--out") if args.out is not None else None
    if out is not None:
        check_file(out, "--out")  # before the scoring, which can take a while
    _, store = open_ws(args)
    with store:
        sess = session(store, args.session)
        items = store.blind_items(sess.session_id)
        answers = store.blind_answers(sess.session_id)
        scores: dict[str, float] = {}
        if not args.no_score:
            rec = store.get_repo(sess.repo)
            root = Path(rec.path) if rec and Path(rec.path).is_dir() else None
            scores = session_scores(store, sess, root, log=to_stderr)
    report = build_report(sess, items, answers, scores)
    text = (json.dumps(report, indent=2) + "\n" if fmt == "json"
            else render_html(report) if fmt == "html" else render_text(report) + "\n")
    if out is None:
        print(text, end="")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        to_stderr(f"blindtest: report written to {out}")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    bt = sub.add_parser("blindtest", help='the blind "real or forged?" test: set up, status, '
                                          "report")
    bsub = bt.add_subparsers(dest="blindtest_command", required=True)
    new = bsub.add_parser("new", parents=[common],
                          help="draw a new session: real (pr_mirror) and forged bugs, shuffled")
    new.add_argument("--items", type=positive_int, default=DEFAULT_ITEMS,
                     help=f"how many items (default {DEFAULT_ITEMS})")
    new.add_argument("--real-share", type=share, default=DEFAULT_SHARE,
                     help=f"share of real items, 0.5 or 50%% (default {DEFAULT_SHARE})")
    new.add_argument("--repo", default=None,
                     help="the repo to draw from (default: the only one with pr_mirror bugs)")
    new.add_argument("--seed", type=integer, default=0, help="the draw and the order")
    new.add_argument("--strategies", default=None, metavar="A,B",
                     help="forged strategies to draw from (default: every one in the repo)")
    new.set_defaults(func=cmd_new)
    st = bsub.add_parser("status", parents=[common], help="a session's items and answers")
    st.add_argument("--session", type=positive_int, default=None,
                    help="session number (default: the newest)")
    st.set_defaults(func=cmd_status)
    rep = bsub.add_parser("report", parents=[common],
                          help="human AUC, fooled rate, agreement, the score's AUC beside")
    rep.add_argument("--session", type=positive_int, default=None,
                     help="session number (default: the newest)")
    rep.add_argument("--format", choices=("text", "json", "html"), default="text")
    rep.add_argument("--out", default=None, metavar="FILE",
                     help="write the report to FILE (default: stdout)")
    rep.add_argument("--no-score", action="store_true",
                     help="leave the realism score out (no scoring pass)")
    rep.set_defaults(func=cmd_report)

