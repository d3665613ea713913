"""Widgets of the curation workbench: the lazily paged instance table, review metadata."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from engine.dataset.leaks import find_leaks
from engine.instances import Instance, InstanceDetail
from engine.store import BrowseRow, Statement, StoredScore
from tui.blind import HIDDEN, shown_id

# (sort key, header). What a curator decides on comes first, so at 80 columns the decision,
# realism and score stay on screen; repo and strategy (often constant) go last.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("short_id", "id"),
    ("decision", "decision"),
    ("realism", "realism"),
    ("score", "score"),
    ("n_f2p", "F2P"),
    ("lines_changed", "lines"),
    ("repo", "repo"),
    ("strategy", "strategy/modifier"),
)
LABELS = dict(COLUMNS) | {"instance_id": "full id"}
HIDDEN_IN_BLIND = frozenset({"strategy"})  # and the id is a neutral one (tui.blind)

# Columns whose values grow after the first paint get a fixed width (no truncation later),
# room left for the sort arrow.
WIDTHS = {"decision": 10, "realism": 12, "score": 7}
DECISION_STYLE = {"accept": "bold green", "reject": "bold red", "skip": "yellow"}
REALISM_STYLE = {"realistic": "green", "plausible": "cyan", "artificial": "magenta"}


def decision_text(decision: str | None) -> Text:
    return Text(decision or "·", style=DECISION_STYLE.get(decision or "", "dim"))


def realism_text(realism: str | None) -> Text:
    return Text(realism or "·", style=REALISM_STYLE.get(realism or "", "dim"))


def signed(value: float) -> str:
    """``+1.2`` / ``-0.3``, and ``0.0`` for anything that rounds to zero (never ``-0.0``)."""
    rounded = round(value, 1)
    return "0.0" if rounded == 0 else f"{rounded:+.1f}"


def score_text(score: float | None, blind: bool = False) -> Text:
    """A realism score cell: signed log-odds, green leaning real, magenta leaning synthetic."""
    if score is None or blind:
        return Text("·", style="dim")
    style = "green" if score >= 0.4 else ("magenta" if score <= -0.4 else "")
    return Text(signed(score), style=style, justify="right")


def row_cells(row: BrowseRow, blind: bool = False) -> tuple[Any, ...]:
    return (
        shown_id(row.instance_id, blind), decision_text(row.decision), realism_text(row.realism),
        score_text(row.score, blind), row.n_f2p, row.lines_changed, row.repo,
        Text("·", style="dim") if blind else f"{row.strategy}/{row.modifier}",
    )


def sort_label(key: str, descending: bool) -> str:
    """How a toast names a sort: the header's word and its direction."""
    return f"{LABELS.get(key, key)} {'▼ descending' if descending else '▲ ascending'}"


class InstanceTable(DataTable):
    """A row-cursor DataTable fed page by page; asks for more rows near its end."""

    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False, id="table.first"),
        Binding("end", "scroll_bottom", "Last loaded row", show=False, id="table.last"),
    ]

    LOAD_AHEAD = 20
    blind = False  # blind mode: neutral ids, no strategy, score dots

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=WIDTHS.get(key))

    def mark_sort(self, sort: str, descending: bool) -> None:
        """Put the sort arrow on the sorted column's header (the others lose theirs)."""
        for key, label in COLUMNS:
            column = self.columns[ColumnKey(key)]
            column.label = Text(f"{label} {'▼' if descending else '▲'}" if key == sort
                                else label)
            if column.auto_width:
                column.content_width = max(column.content_width, column.label.cell_len)
        self._require_update_dimensions = True
        self.refresh()

    def show_rows(self, rows: list[BrowseRow], *, clear: bool = False) -> None:
        if clear:
            self.clear()
        for row in rows:
            self.add_row(*row_cells(row, self.blind), key=row.instance_id)

    def update_row(self, row: BrowseRow) -> None:
        """Repaint the decision and realism cells of one row (no full refresh)."""
        if row.instance_id not in self.rows:
            return
        self.update_cell(row.instance_id, "decision", decision_text(row.decision))
        self.update_cell(row.instance_id, "realism", realism_text(row.realism))
        self.update_cell(row.instance_id, "score", score_text(row.score, self.blind))

    @property
    def near_end(self) -> bool:
        return self.cursor_row >= self.row_count - self.LOAD_AHEAD

    @property
    def current_id(self) -> str | None:
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)


def provenance_line(meta: dict[str, Any]) -> str:
    """Where a PR mirror or a combination came from ("" for other strategies)."""
    if meta.get("route"):
        return (f"PR mirror, route {meta['route']} ({meta.get('apply', '-')}): fix "
                f"{str(meta.get('fix_commit', ''))[:10]} {meta.get('subject', '')[:70]}; "
                f"base {str(meta.get('base_commit', ''))[:10]}\n")
    if meta.get("components"):
        return (f"combined ({meta.get('scope', '-')} {meta.get('group', '')}) from "
                f"{', '.join(meta['components'])}; FAIL_TO_PASS vs theirs: "
                f"{meta.get('f2p_relation', '-')}\n")
    return ""


def realism_lines(score: StoredScore | None, blind: bool) -> Text:
    """The realism score and its strongest reasons (or why they are not shown)."""
    text = Text()
    if blind:
        text.append("Realism: hidden while labelling (blind mode; B shows it)\n", style="dim")
        return text
    if score is None:
        text.append("Realism: not scored yet (R on the browse screen, or bugfoundry realism)\n",
                    style="dim")
        return text
    from engine.realism.scoring import verdict_words

    p = score.probability
    style = "green" if p >= 0.6 else ("magenta" if p <= 0.4 else "yellow")
    text.append(f"Realism {p:.2f} ({verdict_words(p)})", style=f"bold {style}")
    text.append(f"  score {signed(score.score)} · {score.model}\n", style="dim")
    counted = [r for r in score.reasons if r.get("counted", True) and abs(r["points"]) >= 0.05]
    top = [r for r in counted if r["points"] > 0][:3] + [r for r in counted if r["points"] < 0][:3]
    for r in sorted(top, key=lambda r: -abs(r["points"])):
        text.append(f"  {signed(r['points'])} ", style="green" if r["points"] > 0 else "magenta")
        text.append(r["text"] + "\n")
    return text


def metadata_text(rec: InstanceDetail, blind: bool = False,
                  duplicate_of: tuple[str, str] | None = None) -> Text:
    """F2P/P2P lists and provenance, compact enough for a side pane (the curators' labels
    are ``tui.adjudicate.curation_text``'s)."""
    meta = rec.meta
    env, base = rec.environment, rec.baseline
    text = Text()
    text.append(f"{rec.repo} @ {rec.base_commit[:12]}   ", style="bold")
    # Blind mode: strategy, modifier and a PR mirror's route say "real" or "synthetic".
    made = HIDDEN if blind else f"{rec.strategy}/{rec.modifier}"
    text.append(f"{made}   {rec.file}::{rec.entity}\n")
    if duplicate_of is not None:
        kind, rep = duplicate_of
        rep = shown_id(rep, blind) if blind else rep
        text.append(
            f"duplicate of {rep} (the same diff): exports leave it out\n" if kind == "exact"
            else f"near-duplicate of {rep} (the same function and FAIL_TO_PASS set): "
                 "export --dedup near leaves it out\n", style="bold yellow")
    if rec.problem_statement:  # first: it is what the agent will be given
        text.append("Problem statement", style="bold")
        source = "(source hidden: blind mode)" if blind else statement_source(rec.statement, rec)
        text.append(f"  {source}\n", style="dim")
        stored = rec.statement
        leaks = list(stored.leaks) if stored else find_leaks(
            rec.problem_statement, rec.patch or "", rec.fail_to_pass or ())
        for leak in leaks:
            text.append(f"⚠ leaks: {leak}\n", style="bold yellow")
        text.append(rec.problem_statement.strip() + "\n")
    text.append(
        f"seed {meta.get('seed', '-')}  lines {rec.lines_changed}  files "
        f"{rec.files_changed}  validation {rec.validation_seconds or 0:.2f}s  "
        f"env {env.backend if env else '-'}  baseline suite "
        f"{(base.suite_seconds if base else 0) or 0:.2f}s "
        f"({base.passing if base else '-'} passing)\n", style="dim",
    )
    if not blind:
        text.append(provenance_line(meta))
    f2p = list(rec.fail_to_pass)
    text.append(f"FAIL_TO_PASS ({len(f2p)}): ", style="bold red")
    text.append(", ".join(f2p[:8]) + (" …" if len(f2p) > 8 else "") + "\n")
    text.append(f"PASS_TO_PASS: {len(rec.pass_to_pass)} tests\n", style="bold green")
    text.append_text(realism_lines(rec.realism_score, blind))
    if (lm := meta.get("lm")) and isinstance(lm, dict) and not blind:
        text.append(f"written by {lm.get('model', '?')}: {lm.get('prompt_tokens', 0)}+"
                    f"{lm.get('completion_tokens', 0)} tokens, ${lm.get('cost', 0):.4f}\n",
                    style="dim")
    return text


def statement_source(st: Statement | None, rec: Instance | None = None) -> str:
    """Where a problem statement came from, and what it cost."""
    if not st:
        meta = rec.meta if rec is not None else {}
        if meta.get("statement_source"):  # pr_mirror: the linked issue or the commit message
            return f"(from the fix's {meta['statement_source']})"
        return "(imported)" if meta.get("imported_from") else "(given with the instance)"
    if st.kind != "lm":
        return f"({st.kind} template, offline)"
    return (f"({st.model}, {st.prompt_tokens}+{st.completion_tokens} tokens, "
            f"${st.cost:.4f})")


def fill_table(table: DataTable, labels: Sequence[str],
               rows: Sequence[tuple[Sequence[object], str | None]]) -> None:
    """Replace a table's columns and rows, each column as wide as its widest cell.

    The widths are given, not measured later: a ``DataTable`` measures new rows when the app
    is idle, and a frame painted in between (a worker's rows landing on a loaded machine)
    keeps a header laid out for the empty table until something else changes it."""
    widths = [cell_len(label) for label in labels]
    for cells, _key in rows:
        for i, cell in enumerate(cells):
            text = cell.plain if isinstance(cell, Text) else str(cell)
            widths[i] = max(widths[i], cell_len(text))
    table.clear(columns=True)
    for label, width in zip(labels, widths, strict=True):
        table.add_column(label, width=width)
    for cells, key in rows:
        table.add_row(*cells, key=key)
