"""What the screens may use of the app, as a typed interface, and the TUI's one way of
doing slow work.

Screens never import ``tui.app``: they reach the store, the listing, the forge job and the
navigation through ``Workbench`` (which ``BugfoundryApp`` satisfies; mypy checks it there).

Slow work (database reads that scan, exports, a forge) runs in a thread worker that posts a
typed ``Message`` back; its handler (``on_...``) paints the result. A worker that raises ends
in ``WorkerState.ERROR``: ``WorkbenchScreen`` (and the app, for its own workers) shows the
one-line error and lets the screen replace its "computing ..." text, so a failure is never
silent. Broadcasts to the screens (a forge's progress, blind mode) are messages too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.app import App
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from engine.errors import BugfoundryError

if TYPE_CHECKING:
    from engine.curation import CurationConfig, Guidelines
    from engine.store import Store
    from engine.workspace import Workspace
    from tui.forge_runner import ForgeJob, ForgeRequest
    from tui.listing import Listing
    from tui.opening import ReadOnly
    from tui.prefetch import DetailCache
    from tui.prefs import Prefs, SavedFilter


class FilterTarget(Protocol):
    """The browse screen as the palette and the progress screen see it."""

    def current_filter(self) -> SavedFilter: ...

    def apply_filter(self, saved: SavedFilter) -> None: ...


class Workbench(Protocol):
    """The app's services to its screens (state, store, navigation, the forge)."""

    store: Store
    curator: str
    clock: Callable[[], float]
    workspace: Workspace
    read_only: ReadOnly | None
    prefs: Prefs
    details: DetailCache
    listing: Listing
    session_started: float
    session_decisions: int
    forge_job: ForgeJob | None
    config: CurationConfig  # reject reasons and their keys (``<workspace>/curation.toml``)
    guidelines: Guidelines  # its version goes with every decision the TUI records

    @property
    def forge_running(self) -> bool: ...

    def start_forge(self, request: ForgeRequest) -> ForgeJob: ...

    def cancel_forge(self) -> None: ...

    def ask_export(self, fmt: str = "swesmith") -> None: ...

    def open_review(self, instance_id: str) -> None: ...

    def browse_screen(self) -> FilterTarget: ...

    def show_browse(self) -> FilterTarget: ...

    def save_prefs(self) -> None: ...

    def action_forge(self) -> None: ...

    def action_progress(self) -> None: ...

    def action_realism(self) -> None: ...

    def action_blindtest(self) -> None: ...

    def action_toggle_blind(self) -> None: ...

    def action_guidelines(self) -> None: ...


def workbench(app: App[Any]) -> Workbench:
    """The running app as its services (the one place that trusts the app's type)."""
    return cast("Workbench", app)


def error_line(error: BaseException | None) -> str:
    """A worker's failure in one line: our errors say what to do, others name their type."""
    if error is None:
        return "unknown error"
    text = str(error) if isinstance(error, BugfoundryError) else f"{type(error).__name__}: {error}"
    return (text.strip().splitlines() or [type(error).__name__])[0]


def worker_failure(event: Worker.StateChanged) -> str | None:
    """The one-line error when ``event`` says its worker failed, else None (the event's own
    state: a worker that fails at once is already in ERROR when its earlier events arrive)."""
    return error_line(event.worker.error) if event.state is WorkerState.ERROR else None


class ForgeChanged(Message, bubble=False):
    """The app to its screens: the forge job moved on (``kept``: new instances stored)."""

    def __init__(self, kept: bool) -> None:
        super().__init__()
        self.kept = kept


class BlindChanged(Message, bubble=False):
    """The app to its screens: blind mode was switched (repaint scores, or hide them)."""


class ExportDone(Message):
    """An export worker finished: how many instances went where."""

    def __init__(self, count: int, path: str, manifest: str, stored: int = 0) -> None:
        super().__init__()
        self.count, self.path, self.manifest = count, path, manifest
        self.stored = stored  # offline statements it wrote and stored in the workspace


class WorkbenchScreen(Screen[None]):
    """A screen of the workbench: typed access to the app, and worker failures shown."""

    @property
    def bf(self) -> Workbench:
        return workbench(self.app)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        line = worker_failure(event)
        if line is not None:
            self.notify(line, title=f"{event.worker.name} failed", severity="error",
                        timeout=15)
            self.worker_failed(line)

    def worker_failed(self, line: str) -> None:
        """Replace what the screen said while the work ran (screens with workers override)."""
