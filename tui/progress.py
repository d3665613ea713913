"""Progress and agreement: your pace, every curator's counts, Cohen's kappa per pair, Fleiss'
kappa and Krippendorff's alpha over all curators, a chosen pair's confusion matrix, and the
disagreements.

The figures are read on a thread worker with its own cursor (DuckDB connections are not
shared across threads) and posted back as a message, so opening the screen never blocks the
decision loop on 50k instances; the maths is ``engine.agreement``'s and
``engine.reliability``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from engine.agreement import (
    Disagreement,
    Kappa,
    PairAgreement,
    disagreements,
    kappa_band,
    mean_kappa,
    pairwise,
)
from engine.reliability import AgreementReport, Confusion, MultiAgreement, agreement_report
from engine.store import BrowseFilter, CuratorProgress, Store
from tui.blind import shown_id
from tui.commands import DISAGREEMENTS, UNSETTLED
from tui.keybar import KeyBar
from tui.listing import session_pace
from tui.services import WorkbenchScreen
from tui.widgets import decision_text, fill_table, realism_text

MAX_DISPUTES = 500  # the table lists the first ones; the browse filter has them all
COLUMNS = {
    "curators": ("curator", "decided", "accept", "reject", "skip", "realism tagged", "time",
                 "s/decision", "last active"),
    "pairs": ("curators", "shared", "decision n", "kappa decision", "realism n",
              "kappa realism"),
    "disputes": ("instance", "differs on", "labels"),
}


@dataclass(frozen=True)
class Figures:
    """Everything the screen shows, read in one go off the UI thread."""

    curators: list[CuratorProgress]
    pairs: list[PairAgreement]
    disputes: list[Disagreement]
    report: AgreementReport
    open_disputes: int  # accept vs reject, no final decision yet (``D`` browses them)


class FiguresRead(Message):
    """The worker's figures, for the screen to paint."""

    def __init__(self, figures: Figures) -> None:
        super().__init__()
        self.figures = figures


def read_figures(store: Store) -> Figures:
    labels = store.shared_labels()
    return Figures(store.curator_progress(), pairwise(labels), disagreements(labels),
                   agreement_report(labels), store.count(BrowseFilter(disputed=True)))


def _figure(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"


def multi_line(axis: str, m: MultiAgreement) -> str:
    """One axis's agreement over all curators, in one line."""
    head = f"{axis}:".ljust(10)
    if not m.items:
        return f"{head}no instance labelled by two curators yet"
    return (f"{head}Fleiss' kappa {_figure(m.fleiss_kappa)}, Krippendorff's alpha "
            f"{_figure(m.krippendorff_alpha)} ({m.items} instances, {m.ratings} labels, "
            f"{m.raters} curators)")


def confusion_text(axis: str, c: Confusion) -> Text:
    """A pair's confusion matrix: rows are ``c.a``'s labels, columns ``c.b``'s."""
    width = max(len(x) for x in (*c.labels, c.a, "")) + 2
    text = Text(f"{axis}: {c.a} (rows) × {c.b} (columns), {c.n} shared\n", style="bold")
    text.append(" " * width + "".join(f"{lab:>{width}}" for lab in c.labels) + "\n")
    for lab, row in zip(c.labels, c.rows(), strict=True):
        text.append(f"{lab:<{width}}")
        for col, n in zip(c.labels, row, strict=True):
            text.append(f"{n:>{width}}", style="green" if col == lab and n else
                        ("red" if n else "dim"))
        text.append("\n")
    return text


def kappa_cell(k: Kappa) -> Text:
    if k.kappa is None:
        return Text("undefined" if k.n else "-", style="dim")
    style = "green" if k.kappa > 0.6 else ("yellow" if k.kappa > 0.2 else "red")
    return Text(f"{k.kappa:.2f} {kappa_band(k.kappa)}", style=style)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f}h" if seconds >= 5400 else f"{seconds / 60:.0f}m"


class ProgressScreen(WorkbenchScreen):
    """Per-curator progress, pairwise agreement and the queue of disagreements."""

    BINDINGS = [
        Binding("escape,b", "back", "Back", id="progress.back"),
        Binding("o", "open", "Review", id="progress.open"),
        Binding("D", "queue", "Browse open disputes", id="progress.queue"),
        Binding("c", "next_pair", "Confusion: next pair", id="progress.next_pair"),
        Binding("T", "app.blindtest", "Blind test", id="progress.blindtest"),
    ]

    figures: Figures | None = None
    pair = 0  # which pair's confusion matrices are shown

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="progress"):
            yield Static(id="progress-mine")
            yield Static("Curators", classes="section")
            yield DataTable(id="curators", cursor_type="none", zebra_stripes=True)
            yield Static("Agreement (Cohen's kappa per pair; a skip abstains)", classes="section",
                         id="pairs-title")
            yield DataTable(id="pairs", cursor_type="none", zebra_stripes=True)
            yield Static(id="multi")
            yield Static(id="confusion")
            yield Static("Disagreements (enter opens review; n walks them)", classes="section",
                         id="disputes-title")
            yield DataTable(id="disputes", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.title = "progress and agreement"
        self.sub_title = f"curator {self.bf.curator}"
        for table_id, labels in COLUMNS.items():
            self.query_one(f"#{table_id}", DataTable).add_columns(*labels)

    def on_screen_resume(self) -> None:
        """Also on the first showing: loading on mount too filled the tables twice, and the
        second fill could land after a snapshot had been taken."""
        self._mine()
        self.load()

    def _mine(self) -> None:
        lst = self.bf.listing
        share = f" ({lst.decided / lst.total:.0%})" if lst.total else ""
        minutes = (self.bf.clock() - self.bf.session_started) / 60
        pace = session_pace(self.bf.session_decisions, minutes, lst.total - lst.decided)
        self.query_one("#progress-mine", Static).update(
            f"You ({self.bf.curator}), current filter: decided {lst.decided}/{lst.total}"
            f"{share}{pace or ' · no rate yet this session'}")

    @work(thread=True, exclusive=True, name="reading the progress figures", group="progress",
          exit_on_error=False)
    def load(self) -> None:
        with self.bf.store.reader() as store:
            figures = read_figures(store)
        if not get_current_worker().is_cancelled:
            self.post_message(FiguresRead(figures))

    def on_figures_read(self, message: FiguresRead) -> None:
        self.show(message.figures)

    def worker_failed(self, line: str) -> None:
        self.query_one("#disputes-title", Static).update(f"could not read the figures: {line}")

    def show(self, figures: Figures) -> None:
        if not self.is_mounted:
            return  # closed while the figures were read
        self._mine()  # the list's count may have landed since the screen opened
        if figures == self.figures:
            return  # a second read (resume while the first was in flight) changed nothing
        self.figures = figures
        curators: list[tuple[Sequence[object], str | None]] = []
        for p in figures.curators:
            per = f"{p.seconds_spent / p.decided:.1f}" if p.decided else "-"
            last = f"{p.last_at:%Y-%m-%d %H:%M}" if p.last_at else "-"
            name = Text(p.curator, style="bold" if p.curator == self.bf.curator else "")
            curators.append(((name, p.decided, p.accepted, p.rejected, p.skipped, p.tagged,
                              _hours(p.seconds_spent), per, last), None))
        fill_table(self.query_one("#curators", DataTable), COLUMNS["curators"], curators)
        fill_table(self.query_one("#pairs", DataTable), COLUMNS["pairs"], [
            ((f"{pa.a} × {pa.b}", pa.shared, pa.decision.n, kappa_cell(pa.decision),
              pa.realism.n, kappa_cell(pa.realism)), None) for pa in figures.pairs])
        title = "Agreement (Cohen's kappa per pair; a skip abstains)"
        if not figures.pairs:
            title += ": no instance labelled by two curators yet"
        elif len(figures.pairs) > 1:
            means = [mean_kappa(figures.pairs, axis) for axis in ("decision", "realism")]
            title += " · mean (Light's kappa): " + ", ".join(
                f"{axis} {m:.2f}" if m is not None else f"{axis} undefined"
                for axis, m in zip(("decision", "realism"), means, strict=True))
        self.query_one("#pairs-title", Static).update(title)
        report = figures.report
        self.query_one("#multi", Static).update(
            "All curators (a skip abstains on the decision)\n  "
            + multi_line("decision", report.decision) + "\n  "
            + multi_line("realism", report.realism))
        self._confusion()
        disputes: list[tuple[Sequence[object], str | None]] = []
        for d in figures.disputes[:MAX_DISPUTES]:
            on_what = " and ".join(w for w, f in (("decision", d.on_decision),
                                                  ("realism", d.on_realism)) if f)
            labels = Text()
            for i, lab in enumerate(d.labels):
                labels.append(("  " if i else "") + f"{lab.curator}: ")
                labels.append_text(decision_text(lab.decision))
                labels.append("/")
                labels.append_text(realism_text(lab.realism))
            shown = shown_id(d.instance_id, self.bf.prefs.blind)
            disputes.append(((shown, on_what, labels), d.instance_id))
        fill_table(self.query_one("#disputes", DataTable), COLUMNS["disputes"], disputes)
        self.query_one("#disputes-title", Static).update(
            f"Disagreements: {len(figures.disputes)} (enter opens review; n walks them) · "
            f"open disputes: {figures.open_disputes} (D browses them)")

    def _confusion(self) -> None:
        report = self.figures.report if self.figures else None
        pairs = report.decision_confusion if report else []
        text = Text()
        if not pairs or report is None:
            text.append("Confusion matrix: no two curators share an instance yet", style="dim")
        else:
            c = pairs[self.pair % len(pairs)]
            text.append(f"Confusion matrix, pair {self.pair % len(pairs) + 1} of {len(pairs)}"
                        " (c: next pair)\n", style="bold")
            text.append_text(confusion_text("decision", c))
            realism = next((r for r in report.realism_confusion if (r.a, r.b) == (c.a, c.b)),
                           None)
            if realism is not None:
                text.append_text(confusion_text("realism", realism))
        self.query_one("#confusion", Static).update(text)

    def action_next_pair(self) -> None:
        self.pair += 1
        self._confusion()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_queue(self) -> None:
        """The open disputes (no final decision yet) as the browse filter ``is:disputed``:
        what an adjudicator still has to settle, as ``bugfoundry disputes`` lists."""
        self.bf.show_browse().apply_filter(UNSETTLED)

    @on(DataTable.RowSelected, "#disputes")
    def action_open(self) -> None:
        """Review the row's instance, ``n`` walking the table's list (``is:disagreement``)."""
        table = self.query_one("#disputes", DataTable)
        if not table.row_count:
            return
        iid = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.bf.show_browse().apply_filter(DISAGREEMENTS)
        self.bf.open_review(iid)
