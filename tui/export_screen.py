"""The export dialog: format, rule, dedup, repo and path, in front of ``engine`` export.

The defaults are the engine's own (read from ``export``'s signature), so the TUI exports what
``bugfoundry export`` would unless the curator changes something here.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from engine.dataset.export import DEDUP, FORMATS, RULES, export

EXTENSIONS = {"swesmith": "jsonl", "swebench": "jsonl", "parquet": "parquet"}
DEFAULTS = {name: p.default for name, p in inspect.signature(export).parameters.items()}


def export_path(home: Path, fmt: str, now: datetime) -> Path:
    """A new file under ``<workspace>/exports`` named after the format and the time."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    path = home / "exports" / f"curated-{fmt}-{stamp}.{EXTENSIONS[fmt]}"
    k = 2
    while path.exists():
        path = home / "exports" / f"curated-{fmt}-{stamp}-{k}.{EXTENSIONS[fmt]}"
        k += 1
    return path


@dataclass(frozen=True)
class ExportRequest:
    """What the dialog asks the app to export (the engine checks it again)."""

    fmt: str
    path: Path
    rule: str = str(DEFAULTS["rule"])
    dedup: str = str(DEFAULTS["dedup"])
    repo: str | None = None  # None: every repo


class ExportScreen(ModalScreen[ExportRequest | None]):
    """Pick the options; ctrl+s or the button exports, escape cancels."""

    BINDINGS = [
        Binding("ctrl+s", "export", "Export", id="export.go"),
        Binding("escape", "dismiss(None)", "Cancel", id="export.cancel"),
    ]
    AUTO_FOCUS = "#export-format"

    def __init__(self, home: Path, repos: list[str], fmt: str = "swesmith") -> None:
        super().__init__()
        self.home, self.repos, self.fmt = home, repos, fmt
        self._path_edited = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="export-box"):
            yield Static("Export the curated split", classes="title")
            yield Static("Format")
            yield Select([(f, f) for f in FORMATS], value=self.fmt, allow_blank=False,
                         id="export-format")
            yield Static("Rule: which decisions put an instance in the split")
            yield Select([(f"{name}: {what}", name) for name, what in RULES.items()],
                         value=str(DEFAULTS["rule"]), allow_blank=False, id="export-rule")
            yield Static("Duplicates left out")
            yield Select([(name, name) for name in DEDUP], value=str(DEFAULTS["dedup"]),
                         allow_blank=False, id="export-dedup")
            yield Static("Repository")
            yield Select([("every repo", ""), *((r, r) for r in self.repos)], value="",
                         allow_blank=False, id="export-repo")
            yield Static("Path (a new file; the manifest goes beside it)")
            yield Input(str(export_path(self.home, self.fmt, datetime.now())),
                        id="export-path")
            yield Button("Export (ctrl+s)", id="export-go", variant="primary")
            yield Static("images are built by the command line: bugfoundry export --images",
                         classes="hint")

    @on(Select.Changed, "#export-format")
    def _format_changed(self, event: Select.Changed) -> None:
        if not self._path_edited:  # follow the format's extension until the user types
            with self.prevent(Input.Changed):
                self.query_one("#export-path", Input).value = str(
                    export_path(self.home, str(event.value), datetime.now()))

    @on(Input.Changed, "#export-path")
    def _path_changed(self) -> None:
        self._path_edited = True

    def request(self) -> ExportRequest:
        repo = str(self.query_one("#export-repo", Select).value)
        return ExportRequest(
            fmt=str(self.query_one("#export-format", Select).value),
            path=self.home / Path(self.query_one("#export-path", Input).value.strip()
                                  ).expanduser(),  # relative: to the workspace
            rule=str(self.query_one("#export-rule", Select).value),
            dedup=str(self.query_one("#export-dedup", Select).value),
            repo=repo or None,
        )

    @on(Button.Pressed, "#export-go")
    @on(Input.Submitted, "#export-path")
    def action_export(self) -> None:
        if not self.query_one("#export-path", Input).value.strip():
            self.notify("give a path to export to", severity="error")
            return
        self.dismiss(self.request())
