"""The realism screen: per-strategy score distributions as histograms, AUC and coverage.

The pass (features for new instances, the scorecard, a scoring pass) runs on a thread worker
with its own cursor that posts the report back, like the progress screen, so opening it never
blocks the decision loop; a failure replaces "computing ..." with the error.
The scores it stores feed the browse table's score column and the review screen's reasons.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from engine.realism.charts import render_html, sparkbars
from engine.store import Store
from tui.keybar import KeyBar
from tui.services import WorkbenchScreen

BAR_ROWS = 5
BLOCKS = " ▁▂▃▄▅▆▇█"


def tall_histogram(counts: list[int], edges: list[int], rows: int = BAR_ROWS,
                   color: str = "cyan") -> Text:
    """A vertical block-character histogram, three cells per bin, bin edges underneath."""
    top = max(counts, default=0) or 1
    text = Text()
    for level in range(rows, 0, -1):
        for c in counts:
            eighths = round(8 * rows * c / top) - 8 * (level - 1)
            ch = BLOCKS[max(0, min(8, eighths))] if c else " "
            text.append(ch * 3, style=color)
        text.append("\n")
    text.append("".join(f"{e:<3}" for e in edges[:-1]) + f"{edges[-1]}\n", style="dim")
    return text


def choose_repo(store: Store, wanted: str) -> tuple[str | None, list[str]]:
    """The repo to report on (the browse filter's, else the one with most instances)."""
    counts: dict[str, int] = {}
    for r in store.list_instances():
        counts[r.repo] = counts.get(r.repo, 0) + 1
    if wanted in counts:
        return wanted, sorted(counts)
    best = max(sorted(counts), key=lambda k: counts[k], default=None)
    return best, sorted(counts)


class RealismComputed(Message):
    """The worker's report (None: no instances to score yet)."""

    def __init__(self, report: dict[str, Any] | None) -> None:
        super().__init__()
        self.report = report


class HtmlWritten(Message):
    """The report was written as a standalone HTML page."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path


class RealismScreen(WorkbenchScreen):
    """The per-strategy realism report of one repo."""

    BINDINGS = [
        Binding("escape,b", "back", "Back", id="realism.back"),
        Binding("r", "refresh", "Recompute", id="realism.refresh"),
        Binding("h", "export_html", "Export HTML", id="realism.html"),
    ]

    report: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="realism"):
            yield Static("computing realism scores ...", id="realism-head")
            yield DataTable(id="realism-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="realism-hists")
        yield KeyBar()

    def on_mount(self) -> None:
        self.title = "realism"
        self.sub_title = "score = log-odds real vs synthetic; > 0 leans realistic"
        self.query_one("#realism-table", DataTable).add_columns(
            "strategy / modifier", "n", "mean", "median", "AUC", "realism", "coverage",
            "histogram (-5 .. +5)")
        self.load()

    def action_refresh(self) -> None:
        self.query_one("#realism-head", Static).update("computing realism scores ...")
        self.load()

    @work(thread=True, exclusive=True, name="realism scoring", group="realism",
          exit_on_error=False)
    def load(self) -> None:
        from engine.realism.pipeline import score_repo
        from engine.realism.report import build_report

        with self.bf.store.reader() as store:
            repo, repos = choose_repo(store, self.bf.listing.filters.repo)
            report = None
            if repo is not None:
                rec = store.get_repo(repo)
                root = Path(rec.path) if rec else None
                rr = score_repo(store, repo, root, save=self.bf.read_only is None)
                report = build_report(rr)
                report["other_repos"] = [r for r in repos if r != repo]
        if not get_current_worker().is_cancelled:
            self.post_message(RealismComputed(report))

    def on_realism_computed(self, message: RealismComputed) -> None:
        self.show(message.report)

    def worker_failed(self, line: str) -> None:
        self.query_one("#realism-head", Static).update(
            Text(f"could not compute the realism report: {line} (r retries)", style="red"))

    def show(self, report: dict[str, Any] | None) -> None:
        if not self.is_mounted:
            return
        self.report = report
        head = self.query_one("#realism-head", Static)
        table = self.query_one("#realism-table", DataTable)
        table.clear()
        if report is None:
            head.update("no instances yet: forge some first (F)")
            return
        lines = [f"{report['repo']} · {report['model']} · {report['reference']}",
                 f"{report['n_synthetic']} synthetic, {report['n_real']} real instances · "
                 f"features computed now for {report['features_computed']} "
                 f"({report['features_seconds']:.1f}s) · score vs diff size (Spearman) "
                 f"{_fmt(report['size_correlation'])}",
                 report["calibration"]["summary"]]
        if report["real_mean_loo"] is not None:
            lines.append(f"real bugs score {report['real_mean_loo']:+.2f} on average "
                         "(each left out of its own reference)")
        if report.get("other_repos"):
            lines.append("other repos: " + ", ".join(report["other_repos"])
                         + " (filter repo:NAME on the browse screen to see one)")
        head.update("\n".join(lines))
        for row in report["strategies"]:
            cov = row.get("coverage") or {}
            share = cov.get("real_resembled", cov.get("real_kind_mass"))
            table.add_row(Text(row["strategy"], style="bold"), row["n"], _fmt(row.get("mean")),
                          _fmt(row.get("median")), _fmt(row.get("auc")),
                          _fmt(row.get("realism")), _fmt(share, ".0%"),
                          Text(sparkbars(row.get("hist", [])), style="cyan"))
            for m in row["modifiers"]:
                table.add_row(f"  {m['modifier'] or '-'}", m["n"], _fmt(m.get("mean")),
                              _fmt(m.get("median")), "", "", "",
                              Text(sparkbars(m.get("hist", [])), style="blue"))
        hists = Text()
        for row in report["strategies"]:
            color = "red" if row["strategy"] == "pr_mirror" else "cyan"
            hists.append(f"\n{row['strategy']} (n={row['n']}, mean {_fmt(row.get('mean'))})\n",
                         style="bold")
            hists.append_text(tall_histogram(row.get("hist", []), report["hist_edges"],
                                             color=color))
            for d in row.get("divergent", []):
                hists.append(f"  differs most on {d['feature']}: {d['most_common']} "
                             f"{d['share']:.0%} here vs {d['real_share']:.0%} of real\n",
                             style="dim")
        self.query_one("#realism-hists", Static).update(hists)

    def action_export_html(self) -> None:
        if self.report is None:
            self.notify("nothing to export yet")
            return
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.bf.workspace.home / "exports" / f"realism-{self.report['repo']}-{stamp}.html"
        self.write_html(self.report, path)

    @work(thread=True, name="realism HTML export", group="realism-html", exit_on_error=False)
    def write_html(self, report: dict[str, Any], path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(report), encoding="utf-8")
        self.post_message(HtmlWritten(path))

    def on_html_written(self, message: HtmlWritten) -> None:
        self.notify(f"wrote {message.path}", title="realism report")

    def action_back(self) -> None:
        self.app.pop_screen()


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)
