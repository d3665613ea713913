"""Curating as a team from the command line: adjudicate, disputes, assign, agreement,
guidelines; and the decisions ``instances``, ``show`` and ``status`` print.

Decisions themselves are made in the TUI; these commands settle, split and measure them.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, replace
from typing import Any

from engine.cli.args import positive_int
from engine.cli.common import dump_json, open_ws
from engine.curation import FINAL_DECISIONS, load_config, load_guidelines
from engine.errors import UsageError
from engine.reliability import AgreementReport, Confusion, agreement_report
from engine.store import BrowseFilter, DecisionState, FinalDecision, InstanceCuration, Store
from engine.workspace import Workspace

# ---------------------------------------------------------------------- JSON forms


def state_json(s: DecisionState) -> dict[str, Any]:
    """One curator's current view of an instance (``--json`` field names are stable)."""
    return {"curator": s.curator, "decision": s.decision, "reasons": list(s.reasons),
            "realism": s.realism, "note": s.note,
            "rubric": {"clarity": s.clarity, "test_validity": s.test_validity,
                       "difficulty": s.difficulty},
            "guidelines_version": s.guidelines_version, "seconds_spent": s.seconds_spent,
            "decided_at": s.decided_at.isoformat(timespec="seconds")}


def final_json(f: FinalDecision | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"decision": f.decision, "adjudicator": f.adjudicator, "reasons": list(f.reasons),
            "note": f.note, "guidelines_version": f.guidelines_version,
            "decided_at": f.decided_at.isoformat(timespec="seconds")}


def curation_json(c: InstanceCuration | None) -> dict[str, Any]:
    """What ``instances --json`` and ``show --json`` carry under ``curation``."""
    if c is None:
        return {"decisions": [], "final": None, "disputed": False, "assigned": []}
    return {"decisions": [state_json(s) for s in c.decisions], "final": final_json(c.final),
            "disputed": c.disputed, "assigned": list(c.assigned)}


def curation_line(c: InstanceCuration | None) -> str:
    """``ann accept, bob reject (tests-wrong); final reject by cy`` (empty: nothing said)."""
    if c is None:
        return ""
    parts = [f"{s.curator} {s.decision or '-'}" + (f" ({', '.join(s.reasons)})" if s.reasons
                                                    else "")
             for s in c.decisions]
    text = ", ".join(parts)
    if c.final is not None:
        text += f"; final {c.final.decision} by {c.final.adjudicator}"
    elif c.disputed:
        text += "; disputed"
    return text


def print_decisions(c: InstanceCuration | None) -> None:
    """``show``'s curation block: each curator, then the final decision."""
    if c is None or (not c.decisions and c.final is None and not c.assigned):
        print("  decisions: none yet")
        return
    if c.assigned:
        print(f"  assigned to: {', '.join(c.assigned)}")
    for s in c.decisions:
        rubric = ", ".join(f"{k} {v}" for k, v in (
            ("clarity", s.clarity), ("test validity", s.test_validity),
            ("difficulty", s.difficulty)) if v is not None)
        print(f"  {s.curator}: {s.decision or 'no decision'}"
              + (f" ({', '.join(s.reasons)})" if s.reasons else "")
              + (f", realism {s.realism}" if s.realism else "")
              + (f", {rubric}" if rubric else "")
              + (f", note {s.note!r}" if s.note else "")
              + (f", guidelines {s.guidelines_version}" if s.guidelines_version else ""))
    if c.final is not None:
        f = c.final
        print(f"  final: {f.decision} by {f.adjudicator}"
              + (f" ({', '.join(f.reasons)})" if f.reasons else "")
              + (f", note {f.note!r}" if f.note else ""))
    elif c.disputed:
        print("  disputed: settle it with bugfoundry adjudicate ID accept|reject --curator NAME")


def decision_filter(args: argparse.Namespace) -> BrowseFilter:
    """``instances``' options as a store filter (see ``--decision``'s help)."""
    curator = (args.curator or "").strip()
    decision = args.decision or ""
    base = BrowseFilter(repo=args.repo or "", strategy=args.strategy or "",
                        assigned_to=(args.assigned_to or "").strip())
    if decision == "disputed":
        return replace(base, decision="disputed", labelled_by=curator)
    if curator:
        return replace(base, curator=curator, decision=decision,
                       labelled_by="" if decision == "undecided" else curator)
    return replace(base, resolved=decision)


def status_json(store: Store) -> dict[str, Any]:
    """``status``' curation counts: overall, and per curator with their queues."""
    counts = store.decision_counts()
    queues = {q.curator: q for q in store.curator_queues()}
    curators = []
    for p in store.curator_progress():
        q = queues.pop(p.curator, None)
        curators.append({"curator": p.curator, "decided": p.decided, "accept": p.accepted,
                         "reject": p.rejected, "skip": p.skipped, "tagged": p.tagged,
                         "assigned": q.assigned if q else 0,
                         "remaining": q.remaining if q else 0})
    curators += [{"curator": q.curator, "decided": 0, "accept": 0, "reject": 0, "skip": 0,
                  "tagged": 0, "assigned": q.assigned, "remaining": q.remaining}
                 for q in queues.values()]
    adjudicators: dict[str, int] = {}
    for f in store.final_decisions().values():
        adjudicators[f.adjudicator] = adjudicators.get(f.adjudicator, 0) + 1
    return {**asdict(counts), "adjudicators": adjudicators, "curators": curators}


def print_curation_status(data: dict[str, Any]) -> None:
    if not data["instances"]:
        return
    res = data["resolved"]
    print(f"curation: {data['instances']} instances, {data['undecided']} undecided, "
          f"accept {res.get('accept', 0)}, reject {res.get('reject', 0)}, "
          f"skip {res.get('skip', 0)} (final first, else the accept-no-reject rule); "
          f"disputed {data['disputed']}, settled {data['settled']}, final "
          + (", ".join(f"{k} {v}" for k, v in data["final"].items()) or "none"))
    for c in data["curators"]:
        queue = f", queue {c['assigned']} ({c['remaining']} left)" if c["assigned"] else ""
        print(f"  {c['curator']}: {c['decided']} decided (accept {c['accept']}, reject "
              f"{c['reject']}, skip {c['skip']}), {c['tagged']} tagged{queue}")


# ---------------------------------------------------------------------- commands
def _curator(args: argparse.Namespace) -> str:
    name = (args.curator or os.environ.get("BUGFOUNDRY_CURATOR") or "").strip()
    if not name:
        raise UsageError("who is adjudicating? Pass --curator NAME (or set "
                         "$BUGFOUNDRY_CURATOR).")
    return name


def _instance(store: Store, instance_id: str) -> InstanceCuration:
    cur = store.curation_of(instance_id)
    if cur is None:
        raise UsageError(f"no instance {instance_id!r}; list them with: bugfoundry instances")
    return cur


def cmd_adjudicate(args: argparse.Namespace) -> int:
    ws, store = open_ws(args)
    curator = _curator(args)
    config = load_config(ws.home)
    with store:
        _instance(store, args.instance_id)
        if args.decision == "undo":
            done = store.undo(curator, instance_id=args.instance_id, role="adjudicator")
            if done is None:
                raise UsageError(f"{curator} has no final decision on {args.instance_id} to "
                                 "undo; see it with: bugfoundry show ID")
        else:
            reasons = config.reason_ids(args.reason or [])
            if reasons and args.decision != "reject":
                raise UsageError("--reason goes with reject; drop it or adjudicate reject.")
            store.set_final(args.instance_id, curator, args.decision, note=args.note,
                            reasons=reasons,
                            guidelines_version=load_guidelines(config).version)
        cur = _instance(store, args.instance_id)
    if args.json:
        dump_json({"instance_id": cur.instance_id, **curation_json(cur)})
    elif cur.final is None:
        print(f"{cur.instance_id}: final decision undone; "
              + ("disputed again" if cur.disputed else "no final decision"))
    else:
        print(f"{cur.instance_id}: final {cur.final.decision} by {cur.final.adjudicator}"
              f" ({curation_line(cur).split(';')[0] or 'no curator decisions'})")
    return 0


def cmd_disputes(args: argparse.Namespace) -> int:
    _, store = open_ws(args)
    with store:
        queue = store.disputes(args.repo)
    if args.json:
        dump_json([{"instance_id": c.instance_id, **curation_json(c)} for c in queue])
        return 0
    for c in queue:
        print(f"{c.instance_id}\n  " + "\n  ".join(
            f"{s.curator:12} {s.decision or '-':7}"
            + (f" [{', '.join(s.reasons)}]" if s.reasons else "")
            + (f" {s.realism}" if s.realism else "") + (f"  {s.note!r}" if s.note else "")
            for s in c.decisions))
    print(f"{len(queue)} disputed; settle one with: bugfoundry adjudicate ID accept|reject "
          "--curator NAME" if queue else "no disputes: every conflict is settled")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    ws, store = open_ws(args)
    overlap = args.overlap or load_config(ws.home).overlap
    names = [c for c in args.curators.split(",") if c.strip()]
    with store:
        if args.repo and store.get_repo(args.repo) is None and not store.instance_ids(
                args.repo):
            raise UsageError(f"no repo named {args.repo!r}; list them with: bugfoundry repo ls")
        batch = store.assign(names, overlap, args.repo, reassign=args.reassign)
        queues = store.curator_queues()
    if args.json:
        dump_json({**asdict(batch), "queues": [{**asdict(q), "remaining": q.remaining}
                                               for q in queues]})
        return 0
    print(f"assigned {batch.instances} undecided instances to {overlap} curators each "
          f"(batch {batch.batch})" + (": " + ", ".join(
              f"{c} {n}" for c, n in batch.per_curator.items()) if batch.per_curator else ""))
    for q in queues:
        print(f"  {q.curator:16} queue {q.assigned:6}  decided {q.decided:6}  "
              f"remaining {q.remaining}")
    return 0


def _confusion_json(c: Confusion) -> dict[str, Any]:
    return {"a": c.a, "b": c.b, "n": c.n, "labels": list(c.labels), "matrix": c.rows()}


def report_json(r: AgreementReport) -> dict[str, Any]:
    return {
        "curators": list(r.curators),
        "decision": {**asdict(r.decision),
                     "confusion": [_confusion_json(c) for c in r.decision_confusion]},
        "realism": {**asdict(r.realism),
                    "confusion": [_confusion_json(c) for c in r.realism_confusion]},
        "pairs": [{"a": p.a, "b": p.b, "shared": p.shared,
                   "decision": asdict(p.decision), "realism": asdict(p.realism)}
                  for p in r.pairs],
    }


def _fmt(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.3f}"


def _print_confusion(c: Confusion) -> None:
    width = max(8, *(len(lab) for lab in c.labels))
    print(f"  {c.a} (rows) x {c.b} (columns), {c.n} shared")
    print("    " + " " * width + "".join(f"{lab:>{width + 1}}" for lab in c.labels))
    for lab, row in zip(c.labels, c.rows(), strict=True):
        print(f"    {lab:{width}}" + "".join(f"{n:>{width + 1}}" for n in row))


def cmd_agreement(args: argparse.Namespace) -> int:
    _, store = open_ws(args)
    with store:
        report = agreement_report(store.shared_labels())
    if args.json:
        dump_json(report_json(report))
        return 0
    if not report.curators:
        print("no instance has labels from two curators yet; with several curators, "
              "`bugfoundry assign --curators a,b --overlap 2` shares instances between them")
        return 0
    print(f"curators: {', '.join(report.curators)}")
    for axis, m in (("decision (accept vs reject; a skip abstains)", report.decision),
                    ("realism", report.realism)):
        print(f"{axis}: {m.items} instances, {m.ratings} labels from {m.raters} curators; "
              f"Fleiss' kappa {_fmt(m.fleiss_kappa)}, Krippendorff's alpha "
              f"{_fmt(m.krippendorff_alpha)}")
    for p in report.pairs:
        print(f"  {p.a} x {p.b}: {p.shared} shared, Cohen's kappa decision "
              f"{_fmt(p.decision.kappa)} (n {p.decision.n}), realism {_fmt(p.realism.kappa)} "
              f"(n {p.realism.n})")
    print("decision confusion matrices:")
    for c in report.decision_confusion:
        _print_confusion(c)
    if report.realism_confusion:
        print("realism confusion matrices:")
        for c in report.realism_confusion:
            _print_confusion(c)
    return 0


def cmd_guidelines(args: argparse.Namespace) -> int:
    ws = Workspace.open(getattr(args, "workspace", None))  # no store needed
    config = load_config(ws.home)
    g = load_guidelines(config)
    data = {"path": str(g.path), "version": g.version, "created": g.created,
            "reasons": [asdict(r) for r in config.reasons], "overlap": config.overlap}
    if args.json:
        dump_json({**data, "text": g.text})
        return 0
    print(f"{g.path} ({g.version}{', written from the default' if g.created else ''})")
    print("reject reasons: " + ", ".join(f"{r.key or '-'} {r.id}" for r in config.reasons))
    return 0


# ---------------------------------------------------------------------- parsers
def register(sub: Any, common: argparse.ArgumentParser) -> None:
    adj = sub.add_parser("adjudicate", parents=[common],
                         help="set (or undo) the final decision on an instance")
    adj.add_argument("instance_id")
    adj.add_argument("decision", choices=(*FINAL_DECISIONS, "undo"))
    adj.add_argument("--curator", help="who adjudicates (default $BUGFOUNDRY_CURATOR)")
    adj.add_argument("--note", help="why (stored with the final decision)")
    adj.add_argument("--reason", action="append", metavar="REASON",
                     help="a reject reason (id, key or label; repeatable); see: "
                          "bugfoundry guidelines")
    adj.set_defaults(func=cmd_adjudicate)

    dis = sub.add_parser("disputes", parents=[common],
                         help="instances whose curators conflict, not settled yet")
    dis.add_argument("--repo")
    dis.set_defaults(func=cmd_disputes)

    asg = sub.add_parser("assign", parents=[common],
                         help="queue each undecided instance for K curators")
    asg.add_argument("--curators", required=True, help="comma list of curator names")
    asg.add_argument("--overlap", type=positive_int, default=None,
                     help="curators per instance (default: overlap in curation.toml, else 2)")
    asg.add_argument("--repo")
    asg.add_argument("--reassign", action="store_true",
                     help="assign every undecided instance again, not only new ones")
    asg.set_defaults(func=cmd_assign)

    agr = sub.add_parser("agreement", parents=[common],
                         help="Fleiss' kappa, Krippendorff's alpha, Cohen's kappa per pair, "
                              "confusion matrices")
    agr.set_defaults(func=cmd_agreement)

    gui = sub.add_parser("guidelines", parents=[common],
                         help="the guidelines file, its version and the reject reasons")
    gui.set_defaults(func=cmd_guidelines)
