"""The blind test's report: how well people tell real from forged, next to the realism score.

Per curator and pooled (an item's pooled score is the mean of its curators' graded scores; the
pooled fooled rate counts every answer): the human AUC overall and per forged strategy (all
the real items against that strategy's), the fooled rate, the realism score's AUC on the same
items, and, pooled, the human-minus-score difference with a paired interval. Agreement between
curators on the items they share: Cohen's kappa per pair, Fleiss' kappa and Krippendorff's
alpha over all (``engine.agreement``, ``engine.reliability``). The statistics and their
intervals are ``engine.realism.blindstats``; text, JSON and HTML are rendered from one dict.
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from engine.agreement import cohen_kappa, kappa_band
from engine.realism.blindstats import (
    LEVELS,
    REPS,
    AucEstimate,
    Rate,
    estimate,
    fooled,
    graded,
    paired_difference,
)
from engine.reliability import multi_agreement
from engine.store import BlindAnswer, BlindItem, BlindSession

CI_METHOD = (f"95% stratified percentile bootstrap ({REPS} resamples of real and forged items, "
             "seeded); DeLong's standard error beside the overall AUCs")
GRADING = ("answer 'real' with confidence c (1 guess .. 5 certain) scores p = 0.5 + (c-1)/8 "
           "for real, 'forged' scores 1 - p")


def _labels(ids: Sequence[str], truth: dict[str, BlindItem]) -> list[int]:
    return [int(truth[i].truth == "real") for i in ids]


def _auc(values: dict[str, float], ids: Sequence[str], truth: dict[str, BlindItem],
         seed: int) -> AucEstimate:
    have = [i for i in ids if i in values]
    return estimate([values[i] for i in have], _labels(have, truth), seed=seed)


def _block(graded_by_item: dict[str, float], said: Sequence[tuple[str, str, int]],
           truth: dict[str, BlindItem], scores: dict[str, float], strategies: Sequence[str],
           seed: int, paired: bool = False) -> dict[str, Any]:
    """The figures for one curator (or the pool): ``graded_by_item`` their score per item,
    ``said`` every (item, answer, confidence) they gave."""
    ids = sorted(graded_by_item)
    forged_said = [(i, a) for i, a, _ in said if truth[i].truth == "forged"]
    out: dict[str, Any] = {
        "items": len(ids),
        "human": _auc(graded_by_item, ids, truth, seed).to_dict(),
        "score": _auc(scores, ids, truth, seed).to_dict(),
        "accuracy": Rate(sum(a == truth[i].truth for i, a, _ in said), len(said)).to_dict(),
        # Is a sure answer more often right? (a curator's calibration, per level)
        "by_confidence": [
            {"confidence": c, **Rate(sum(a == truth[i].truth for i, a, k in said if k == c),
                                     sum(k == c for _, _, k in said)).to_dict()}
            for c in range(1, LEVELS + 1)],
        "fooled": fooled([a for _, a in forged_said]).to_dict(),
    }
    if paired:
        both = [i for i in ids if i in scores]
        out["human_minus_score"] = paired_difference(
            [graded_by_item[i] for i in both], [scores[i] for i in both],
            _labels(both, truth), seed=seed).to_dict()
    rows = []
    real = [i for i in ids if truth[i].truth == "real"]
    for k, name in enumerate(strategies):
        mine = [i for i in ids if truth[i].strategy == name and truth[i].truth == "forged"]
        sub = real + mine
        rows.append({
            "strategy": name, "n_forged": len(mine),
            "human": _auc(graded_by_item, sub, truth, seed + 1 + k).to_dict(),
            "score": _auc(scores, sub, truth, seed + 1 + k).to_dict(),
            "fooled": fooled([a for i, a in forged_said
                              if truth[i].strategy == name]).to_dict()})
    out["strategies"] = rows
    return out


def _agreement(answers: Sequence[BlindAnswer]) -> dict[str, Any]:
    by: dict[str, dict[str, str]] = {}
    for a in answers:
        by.setdefault(a.curator, {})[a.instance_id] = a.answer
    pairs = []
    for x, y in combinations(sorted(by), 2):
        shared = sorted(by[x].keys() & by[y].keys())
        k = cohen_kappa([(by[x][i], by[y][i]) for i in shared])
        pairs.append({"a": x, "b": y, "shared": len(shared),
                      "agreement": None if k.observed is None else round(k.observed, 3),
                      "kappa": None if k.kappa is None else round(k.kappa, 3),
                      "band": kappa_band(k.kappa)})
    multi = multi_agreement((a.instance_id, a.curator, a.answer) for a in answers)
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return {"curators": len(by), "shared_items": multi.items, "pairs": pairs,
            "fleiss_kappa": r(multi.fleiss_kappa),
            "krippendorff_alpha": r(multi.krippendorff_alpha)}


def build_report(sess: BlindSession, items: Sequence[BlindItem],
                 answers: Sequence[BlindAnswer], scores: dict[str, float]) -> dict[str, Any]:
    """The whole report as plain data (JSON as is; text and HTML render it)."""
    truth = {it.instance_id: it for it in items}
    answers = [a for a in answers if a.instance_id in truth]
    strategies = sorted({it.strategy for it in items if it.truth == "forged"})
    per: dict[str, list[BlindAnswer]] = {}
    for a in answers:
        per.setdefault(a.curator, []).append(a)
    curators = []
    for name in sorted(per):
        mine = per[name]
        block = _block({a.instance_id: graded(a.answer, a.confidence) for a in mine},
                       [(a.instance_id, a.answer, a.confidence) for a in mine], truth, scores,
                       strategies,
                       sess.seed)
        block["curator"] = name
        block["median_seconds"] = round(statistics.median(a.seconds for a in mine), 1)
        curators.append(block)
    pooled_by: dict[str, list[float]] = {}
    for a in answers:
        pooled_by.setdefault(a.instance_id, []).append(graded(a.answer, a.confidence))
    pooled = _block({i: statistics.fmean(v) for i, v in pooled_by.items()},
                    [(a.instance_id, a.answer, a.confidence) for a in answers], truth, scores,
                    strategies, sess.seed, paired=True)
    pooled["curators"] = len(per)
    count = {s: sum(it.strategy == s and it.truth == "forged" for it in items)
             for s in strategies}
    return {
        "session": {"id": sess.session_id, "repo": sess.repo, "created_at": sess.created_at,
                    "items": len(items), "real": sum(it.truth == "real" for it in items),
                    "forged": sum(it.truth == "forged" for it in items),
                    "real_share": sess.real_share, "seed": sess.seed, "per_strategy": count},
        "ci_method": CI_METHOD, "grading": GRADING,
        "scored_items": sum(it.instance_id in scores for it in items),
        "pooled": pooled, "curators": curators, "agreement": _agreement(answers),
    }


# ---------------------------------------------------------------------- text
def fmt_auc(d: dict[str, Any], se: bool = False) -> str:
    if d.get("auc") is None:
        return "n/a"
    out = f"{d['auc']:.2f} [{d['low']:.2f}, {d['high']:.2f}]"
    if se and d.get("se_delong") is not None:
        out += f" (DeLong SE {d['se_delong']:.2f})"
    return out


def fmt_rate(d: dict[str, Any]) -> str:
    if d.get("rate") is None:
        return "n/a"
    return f"{d['rate']:.0%} ({d['k']}/{d['n']}) [{d['low']:.0%}, {d['high']:.0%}]"


def _block_lines(b: dict[str, Any]) -> list[str]:
    lines = [f"  human AUC {fmt_auc(b['human'], se=True)}   realism score AUC "
             f"{fmt_auc(b['score'], se=True)}"]
    diff = b.get("human_minus_score")
    if diff and diff.get("diff") is not None:
        lines.append(f"  human - score {diff['diff']:+.2f} [{diff['low']:+.2f}, "
                     f"{diff['high']:+.2f}]")
    lines.append(f"  accuracy {fmt_rate(b['accuracy'])}   fooled (forged taken for real) "
                 f"{fmt_rate(b['fooled'])}")
    sure = [f"{d['confidence']}: {d['rate']:.0%} of {d['n']}" for d in b["by_confidence"]
            if d["n"]]
    lines.append("  right by confidence " + " · ".join(sure))
    lines.append(f"  {'strategy':<16} {'n':>3}  {'human AUC':<18}  {'score AUC':<18}  fooled")
    for s in b["strategies"]:
        lines.append(f"  {s['strategy']:<16} {s['n_forged']:>3}  {fmt_auc(s['human']):<18}  "
                     f"{fmt_auc(s['score']):<18}  {fmt_rate(s['fooled'])}")
    return lines


def render_text(report: dict[str, Any]) -> str:
    s = report["session"]
    mix = ", ".join(f"{k} {v}" for k, v in s["per_strategy"].items())
    out = [f"Blind test {s['id']} on {s['repo']}: {s['items']} items, {s['real']} real "
           f"(pr_mirror) and {s['forged']} forged ({mix}), seed {s['seed']}",
           f"intervals: {report['ci_method']}",
           f"graded: {report['grading']}",
           f"realism scores: {report['scored_items']}/{s['items']} items scored"]
    p = report["pooled"]
    if not p["items"]:
        out.append("no answers yet: bugfoundry tui --blindtest")
        return "\n".join(out)
    out.append("")
    out.append(f"pooled: {p['curators']} curator(s), {p['items']} items answered (an item's "
               "score is the mean of its curators')")
    out.extend(_block_lines(p))
    for c in report["curators"]:
        out.append("")
        out.append(f"{c['curator']}: {c['items']}/{s['items']} answered, median "
                   f"{c['median_seconds']} s per item")
        out.extend(_block_lines(c))
    ag = report["agreement"]
    out.append("")
    if ag["curators"] < 2:
        out.append("agreement: one curator so far (needs two on the same items)")
    else:
        out.append(f"agreement ({ag['curators']} curators, {ag['shared_items']} items answered "
                   f"by two or more): Fleiss' kappa {_num(ag['fleiss_kappa'])}, "
                   f"Krippendorff's alpha {_num(ag['krippendorff_alpha'])}")
        for pr in ag["pairs"]:
            out.append(f"  {pr['a']} / {pr['b']}: {pr['shared']} shared, Cohen's kappa "
                       f"{_num(pr['kappa'])} ({pr['band']})")
    return "\n".join(out)


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


# ---------------------------------------------------------------------- HTML
def _table(b: dict[str, Any]) -> str:
    e = html.escape
    head = ("<tr><th>strategy</th><th>forged items</th><th>human AUC</th>"
            "<th>realism score AUC</th><th>fooled</th></tr>")
    rows = [f"<tr><td><b>all</b></td><td>{b['fooled']['n']} answers</td>"
            f"<td>{e(fmt_auc(b['human'], se=True))}</td>"
            f"<td>{e(fmt_auc(b['score'], se=True))}</td><td>{e(fmt_rate(b['fooled']))}</td></tr>"]
    for s in b["strategies"]:
        rows.append(f"<tr><td>{e(s['strategy'])}</td><td>{s['n_forged']}</td>"
                    f"<td>{e(fmt_auc(s['human']))}</td><td>{e(fmt_auc(s['score']))}</td>"
                    f"<td>{e(fmt_rate(s['fooled']))}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def render_html(report: dict[str, Any]) -> str:
    """A self-contained page: the same figures as the text, as tables."""
    e = html.escape
    s = report["session"]
    parts = [f"<h1>Blind test {s['id']}: real or forged? ({e(s['repo'])})</h1>",
             f"<p>{s['items']} items: {s['real']} real (pr_mirror), {s['forged']} forged "
             f"({e(', '.join(f'{k} {v}' for k, v in s['per_strategy'].items()))}); "
             f"seed {s['seed']}; {report['scored_items']} with a realism score.</p>",
             f"<p class=note>Intervals: {e(report['ci_method'])}. Graded: "
             f"{e(report['grading'])}.</p>"]
    p = report["pooled"]
    if p["items"]:
        diff = p.get("human_minus_score") or {}
        parts.append(f"<h2>Pooled ({p['curators']} curators, {p['items']} items)</h2>")
        parts.append(f"<p>accuracy {e(fmt_rate(p['accuracy']))}"
                     + (f"; human - score {diff['diff']:+.2f} [{diff['low']:+.2f}, "
                        f"{diff['high']:+.2f}]" if diff.get("diff") is not None else "")
                     + "</p>")
        parts.append(_table(p))
        for c in report["curators"]:
            parts.append(f"<h2>{e(c['curator'])}</h2><p>{c['items']}/{s['items']} answered, "
                         f"median {c['median_seconds']} s per item, accuracy "
                         f"{e(fmt_rate(c['accuracy']))}</p>")
            parts.append(_table(c))
        ag = report["agreement"]
        parts.append("<h2>Agreement</h2>")
        parts.append(f"<p>Fleiss' kappa {_num(ag['fleiss_kappa'])}, Krippendorff's alpha "
                     f"{_num(ag['krippendorff_alpha'])} over {ag['shared_items']} shared items"
                     "</p><table><tr><th>pair</th><th>shared</th><th>Cohen's kappa</th></tr>"
                     + "".join(f"<tr><td>{e(pr['a'])} / {e(pr['b'])}</td><td>{pr['shared']}"
                               f"</td><td>{_num(pr['kappa'])} ({e(pr['band'])})</td></tr>"
                               for pr in ag["pairs"]) + "</table>")
    else:
        parts.append("<p>No answers yet.</p>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;"
             "text-align:left}.note{color:#555}")
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Blind test "
            f"{s['id']}</title><style>{style}</style></head><body>{''.join(parts)}"
            "</body></html>\n")
