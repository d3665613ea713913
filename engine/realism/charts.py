"""The report as pictures: block-character histograms (terminal), inline SVG (one HTML file)
and PNG (matplotlib, the optional ``charts`` extra).

All three draw the same thing: per strategy, the histogram of realism scores over the report's
fixed bins, with the real bugs' (PR-mirror) histogram as the outline to compare with.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from engine.errors import UsageError

BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkbars(counts: list[int]) -> str:
    """One line of block characters, one per bin, height relative to the largest bin."""
    top = max(counts, default=0)
    if not top:
        return " " * len(counts)
    return "".join(BLOCKS[0 if c == 0 else max(1, round(8 * c / top))] for c in counts)


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def render_text(report: dict[str, Any]) -> str:
    """The report for a terminal: one row per strategy, modifiers indented below."""
    edges = report["hist_edges"]
    lines = [f"realism of {report['repo']} ({report['model']}): {report['reference']}",
             f"  {report['n_synthetic']} synthetic and {report['n_real']} real instances; "
             f"features computed for {report['features_computed']} now "
             f"({report['features_seconds']:.2f}s)",
             f"  score histogram bins: {edges[0]} .. {edges[-1]} nats (log-odds real vs "
             "synthetic); > 0 leans realistic",
             "",
             f"  {'strategy / modifier':32} {'n':>5} {'mean':>6} {'median':>6} "
             f"{'AUC':>5} {'cover':>6}  histogram"]
    for row in report["strategies"]:
        cov = row.get("coverage") or {}
        share = cov.get("real_resembled")
        if share is None:
            share = cov.get("real_kind_mass")
        lines.append(f"  {row['strategy']:32} {row['n']:>5} {_fmt(row.get('mean')):>6} "
                     f"{_fmt(row.get('median')):>6} {_fmt(row.get('auc')):>5} "
                     f"{_fmt(share, '.0%'):>6}  {sparkbars(row.get('hist', []))}")
        for m in row["modifiers"]:
            lines.append(f"    {m['modifier'] or '-':30} {m['n']:>5} {_fmt(m.get('mean')):>6} "
                         f"{_fmt(m.get('median')):>6} {'':>5} {'':>6}  "
                         f"{sparkbars(m.get('hist', []))}")
        for d in row.get("divergent", []):
            lines.append(f"      differs most on {d['feature']}: {d['most_common']} is "
                         f"{d['share']:.0%} here vs {d['real_share']:.0%} of real (JS "
                         f"{d['js']:.2f})")
    lines.append("")
    if report.get("real_mean_loo") is not None:
        lines.append(f"  real bugs (leave-one-out) mean score {report['real_mean_loo']:.2f}")
    lines.append("  AUC: how well a classifier tells the strategy from "
                 + ("the real bugs" if report["n_real"] >= 10 else "the reference (too few "
                    "real bugs)") + "; 0.5 = indistinguishable")
    lines.append("  cover: share of real bugs some bug of the strategy resembles "
                 "(or, without real bugs, the real edit-kind mass it produces)")
    lines.append(f"  score vs diff size (Spearman): {_fmt(report['size_correlation'])}")
    lines.append("  " + report["calibration"]["summary"])
    return "\n".join(lines)


# ---------------------------------------------------------------------- SVG / HTML
def svg_histogram(counts: list[int], edges: list[int], reference: list[int] | None = None,
                  width: int = 320, height: int = 110, color: str = "#4c78a8") -> str:
    """A small inline SVG bar chart; ``reference`` is drawn as an outline (the real bugs)."""
    pad_b, pad_t = 18, 6
    n = len(counts)
    bw = width / n
    ref_total = sum(reference or []) or 1
    total = sum(counts) or 1
    shares = [c / total for c in counts]
    ref_shares = [c / ref_total for c in reference] if reference else []
    top = max(shares + ref_shares + [1e-9])
    h = height - pad_b - pad_t
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">']
    for i, s in enumerate(shares):
        bh = h * s / top
        parts.append(f'<rect x="{i * bw + 1:.1f}" y="{pad_t + h - bh:.1f}" '
                     f'width="{bw - 2:.1f}" height="{bh:.1f}" fill="{color}">'
                     f'<title>{edges[i]}..{edges[i + 1]}: {counts[i]}</title></rect>')
    for i, s in enumerate(ref_shares):
        bh = h * s / top
        parts.append(f'<rect x="{i * bw + 1:.1f}" y="{pad_t + h - bh:.1f}" '
                     f'width="{bw - 2:.1f}" height="{bh:.1f}" fill="none" '
                     'stroke="#e45756" stroke-width="1.5"/>')
    for i, e in enumerate(edges):
        parts.append(f'<text x="{min(i * bw, width - 8):.1f}" y="{height - 4}" '
                     f'font-size="9" fill="#555">{e}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    """A self-contained HTML page (inline SVG, no scripts, no external files)."""
    edges = report["hist_edges"]
    real = next((r for r in report["strategies"] if r["strategy"] == "pr_mirror"), None)
    ref_hist = real.get("hist") if real else None
    esc = html.escape
    out = ["<!doctype html><html><head><meta charset='utf-8'>",
           f"<title>realism of {esc(report['repo'])}</title>",
           "<style>body{font:14px sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}"
           ".s{display:inline-block;margin:0 1.5em 1.5em 0;vertical-align:top}</style>",
           "</head><body>",
           f"<h1>Realism of {esc(report['repo'])}</h1>",
           f"<p>{esc(report['reference'])}. Model {esc(report['model'])}. Scores are log-odds "
           "real vs synthetic; bars: this strategy, red outline: real bugs (PR mirror).</p>",
           "<table><tr><th>strategy</th><th>n</th><th>mean</th><th>median</th><th>AUC</th>"
           "<th>realism</th><th>coverage</th></tr>"]
    for row in report["strategies"]:
        cov = row.get("coverage") or {}
        share = cov.get("real_resembled", cov.get("real_kind_mass"))
        out.append(f"<tr><td>{esc(row['strategy'])}</td><td>{row['n']}</td>"
                   f"<td>{_fmt(row.get('mean'))}</td><td>{_fmt(row.get('median'))}</td>"
                   f"<td>{_fmt(row.get('auc'))}</td><td>{_fmt(row.get('realism'))}</td>"
                   f"<td>{_fmt(share, '.0%')}</td></tr>")
    out.append("</table>")
    for row in report["strategies"]:
        out.append(f"<h2>{esc(row['strategy'])}</h2>")
        out.append(f"<div class='s'><b>all ({row['n']})</b><br>"
                   f"{svg_histogram(row.get('hist', []), edges, ref_hist)}</div>")
        for m in row["modifiers"]:
            out.append(f"<div class='s'>{esc(m['modifier'] or '-')} ({m['n']}, mean "
                       f"{_fmt(m.get('mean'))})<br>"
                       f"{svg_histogram(m.get('hist', []), edges, ref_hist, 240, 90)}</div>")
    cal = report["calibration"]
    out.append(f"<h2>Calibration</h2><p>{esc(cal['summary'])}</p>")
    out.append(f"<p>Score vs diff size (Spearman): {_fmt(report['size_correlation'])}</p>")
    out.append("</body></html>")
    return "\n".join(out)


def write_png(report: dict[str, Any], path: Path) -> None:
    """Histograms per strategy in one PNG (needs matplotlib: the ``charts`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--png needs matplotlib: pip install 'bugfoundry[charts]' "
                         "(or use --html, which needs nothing).") from None
    edges = report["hist_edges"]
    rows = report["strategies"] or [{"strategy": "(no instances)", "hist": [], "n": 0}]
    real = next((r for r in rows if r["strategy"] == "pr_mirror"), None)
    fig, axes = plt.subplots(len(rows), 1, figsize=(7, 2.2 * len(rows)), squeeze=False)
    centers = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
    for ax, row in zip(axes[:, 0], rows, strict=True):
        hist = row.get("hist") or [0] * len(centers)
        total = sum(hist) or 1
        ax.bar(centers, [c / total for c in hist], width=0.9, color="#4c78a8",
               label=f"{row['strategy']} (n={row['n']})")
        if real is not None and row is not real:
            rt = sum(real["hist"]) or 1
            ax.step(centers, [c / rt for c in real["hist"]], where="mid", color="#e45756",
                    label="pr_mirror (real)")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylabel("share")
        ax.legend(loc="upper left", fontsize=8)
    axes[-1, 0].set_xlabel("realism score (log-odds real vs synthetic)")
    fig.suptitle(f"realism of {report['repo']}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
