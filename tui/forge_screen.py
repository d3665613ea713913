"""The forge screen: pick a repo and strategies (and the CLI's main options), start, watch,
cancel.

The job outlives the screen: ``escape`` goes back to browse, where a bar keeps following it
and new instances land in the table as they are validated.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import (
    Button,
    Checkbox,
    Header,
    Input,
    ProgressBar,
    RichLog,
    Select,
    SelectionList,
    Static,
)
from textual.widgets.selection_list import Selection

from engine.errors import UsageError
from engine.forge.run import IMPLEMENTED_STRATEGIES, ForgeOptions
from engine.forge.setup import usable_cores
from tui.forge_runner import ForgeJob, ForgeRequest
from tui.keybar import KeyBar
from tui.services import ForgeChanged, WorkbenchScreen


def _int(raw: str, name: str, minimum: int) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise UsageError(f"{name} must be at least {minimum}")
    return value


def _float(raw: str, name: str) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise UsageError(f"{name} must be a number, not {raw!r}") from None


class ForgeScreen(WorkbenchScreen):
    """A form for ``bugfoundry forge`` and the live view of the running job."""

    BINDINGS = [
        # One key, two labels: "keeps running" only while it does (check_action picks).
        Binding("escape", "leave_running", "Back (forge keeps running)",
                id="forge.back_running"),
        Binding("escape", "back", "Back", id="forge.back"),
        Binding("ctrl+s", "start", "Start", id="forge.start"),
        Binding("x", "cancel", "Cancel forge", id="forge.cancel"),
    ]

    _shown_log = 0

    def compose(self) -> ComposeResult:
        repos = [r.name for r in self.bf.store.list_repos()]
        yield Header()
        with Vertical(id="forge-form"):
            yield Static("Repository" if repos else
                         "No repository in this workspace yet: add one with "
                         "bugfoundry repo add SOURCE", classes="label")
            yield Select([(r, r) for r in repos], prompt="pick a repository",
                         value=repos[0] if len(repos) == 1 else Select.BLANK, id="forge-repo")
            yield Static("Strategies, run in this order (space toggles; LM ones, and PR "
                         "mirroring's route c, use the model in config.toml or OPENAI_*)",
                         classes="label")
            yield SelectionList[str](
                *[Selection(s, s, s == "procedural") for s in IMPLEMENTED_STRATEGIES],
                id="forge-strategy")
            with Horizontal(id="forge-numbers"):
                with Vertical():
                    yield Static("Max candidates (empty: all)")
                    yield Input(placeholder="all", id="forge-max", type="integer")
                with Vertical(id="forge-seed-column"):
                    yield Static("Seed")
                    yield Input(value="0", id="forge-seed", type="integer")
                with Vertical():
                    yield Static("Workers")
                    yield Input(value=str(min(2, usable_cores())), id="forge-workers",
                                type="integer")
                with Vertical():
                    yield Static("Ray (empty: this machine)")
                    yield Input(placeholder="local, or an address", id="forge-ray")
            with Horizontal(id="forge-options"):
                with Vertical():
                    yield Static("Backend")
                    yield Select([("the repo's current environment", ""), ("venv", "venv"),
                                  ("docker", "docker")], allow_blank=False, value="",
                                 id="forge-backend")
                with Vertical():
                    yield Static("Min realism (empty: keep all)")
                    yield Input(placeholder="e.g. -1.0", id="forge-min-realism",
                                type="number")
                with Vertical():
                    yield Static("Modifier order")
                    yield Checkbox("prefer realistic", id="forge-prefer-realistic")
            yield Button("Start forging (ctrl+s)", id="forge-start", variant="primary")
        yield ProgressBar(show_eta=False, id="forge-screen-progress")
        yield Static(id="forge-status")
        yield RichLog(id="forge-log", wrap=True, max_lines=2000)
        yield KeyBar()

    def on_mount(self) -> None:
        self.title = "forge"
        self.sub_title = f"workspace {self.bf.workspace.home}"
        self.forge_update()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.bf.forge_running and not isinstance(self.focused, Input)
        if action == "start":
            return not self.bf.forge_running
        if action == "leave_running":
            return self.bf.forge_running
        if action == "back":
            return not self.bf.forge_running
        return True

    def request(self) -> ForgeRequest:
        """The form as a request; a UsageError says what is wrong with it."""
        repo = self.query_one("#forge-repo", Select).value
        if not isinstance(repo, str):
            raise UsageError("pick a repository first")
        chosen = self.query_one("#forge-strategy", SelectionList).selected
        if not chosen:
            raise UsageError("pick at least one strategy")
        backend = self.query_one("#forge-backend", Select).value
        options = ForgeOptions(
            max_candidates=_int(self.query_one("#forge-max", Input).value, "max", 1),
            seed=_int(self.query_one("#forge-seed", Input).value, "seed", 0) or 0,
            workers=_int(self.query_one("#forge-workers", Input).value, "workers", 1) or 1,
            backend=backend if isinstance(backend, str) and backend else None,
            min_realism=_float(self.query_one("#forge-min-realism", Input).value,
                               "min realism"),
            prefer_realistic=self.query_one("#forge-prefer-realistic", Checkbox).value,
            ray=_ray(self.query_one("#forge-ray", Input).value))
        # In the pipeline's order, whatever the order they were ticked in.
        return ForgeRequest(repo, tuple(s for s in IMPLEMENTED_STRATEGIES if s in chosen),
                            options)

    @on(Button.Pressed, "#forge-start")
    @on(Input.Submitted)
    def action_start(self) -> None:
        if self.bf.read_only is not None:
            self.notify(self.bf.read_only.notice, title="read-only", severity="warning")
            return
        if self.bf.forge_running:
            self.notify("a forge is already running; x cancels it")
            return
        try:
            req = self.request()
        except UsageError as exc:
            self.notify(str(exc), severity="error")
            return
        log = self.query_one("#forge-log", RichLog)
        log.clear()
        self._shown_log = 0
        self.bf.start_forge(req)
        log.focus()  # off the form, so x (cancel) is live

    def action_cancel(self) -> None:
        self.bf.cancel_forge()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_leave_running(self) -> None:
        self.app.pop_screen()

    def on_forge_changed(self, _: ForgeChanged) -> None:
        self.forge_update()

    def forge_update(self) -> None:
        job: ForgeJob | None = self.bf.forge_job
        self.refresh_bindings()
        self.query_one("#forge-start", Button).disabled = self.bf.forge_running
        if job is None:
            self.query_one("#forge-status", Static).update(
                "Validated instances appear in the browse table as they arrive; x cancels "
                "and keeps them. Rerunning the same forge resumes.")
            return
        bar = self.query_one("#forge-screen-progress", ProgressBar)
        bar.update(total=job.total or None, progress=job.done)
        line = job.line(self.bf.clock())
        style = "red" if job.error else ("green" if job.finished else "")
        self.query_one("#forge-status", Static).update(Text(line, style=style))
        log = self.query_one("#forge-log", RichLog)
        for entry in job.log[self._shown_log:]:
            log.write(Text(entry, style="green" if entry.startswith("kept") else ""))
        self._shown_log = len(job.log)


def _ray(text: str) -> str | None:
    """The Ray field: empty validates on this machine; ``local`` on a local Ray (the CLI's
    bare ``--ray``); anything else is a cluster's address (``auto``, ``ray://head:10001``)."""
    text = text.strip()
    if not text:
        return None
    return "" if text == "local" else text
