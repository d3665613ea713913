"""The bugfoundry curation app: one in-process store (the single DuckDB writer).

The app drives the engine in-process: a forge started from the TUI runs in a thread worker on
its own cursor of the same database, so the TUI stays the one process that holds the file.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker

from engine.curation import CurationConfig, Guidelines, load_config, load_guidelines
from engine.errors import StoreError, UsageError
from engine.forge.setup import adopt_copies
from engine.store import BrowseFilter, Store
from engine.workspace import Workspace
from tui.browse import BrowseScreen
from tui.commands import CurationCommands
from tui.forge_runner import (
    ForgeCounted,
    ForgeFailed,
    ForgeFinished,
    ForgeJob,
    ForgeJudged,
    ForgeLogged,
    ForgeMessage,
    ForgeRequest,
    run_forge,
)
from tui.listing import Listing, plural
from tui.opening import ReadOnly, open_for_tui
from tui.prefetch import DetailCache
from tui.prefs import Prefs
from tui.services import BlindChanged, ExportDone, ForgeChanged, Workbench, worker_failure

if TYPE_CHECKING:
    from textual.theme import Theme

    from tui.export_screen import ExportRequest
    from tui.forge_runner import ForgeFn


FIRST_PAINT_GRACE = 0.5  # seconds the first frame has to itself before background work starts


def default_curator() -> str:
    """$BUGFOUNDRY_CURATOR, else the login name: decisions always carry a curator."""
    env = os.environ.get("BUGFOUNDRY_CURATOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "curator"


class BugfoundryApp(App[int]):
    """Browse, review and decide; owns the store and closes it on exit."""

    CSS_PATH = "bugfoundry.tcss"
    TITLE = "bugfoundry"
    COMMANDS = App.COMMANDS | {CurationCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        # Shown in the browse footer (its own copies); here so they work on every screen.
        Binding("P", "progress", "Progress", show=False, id="app.progress"),
        Binding("F", "forge", "Forge", show=False, id="app.forge"),
        Binding("R", "realism", "Realism", show=False, id="app.realism"),
        Binding("T", "blindtest", "Blind test", show=False, id="app.blindtest"),
        Binding("B", "toggle_blind", "Blind", show=False, id="app.blind"),
        Binding("g", "guidelines", "Guidelines", show=False, id="app.guidelines"),
    ]

    def __init__(
        self, store: Store, curator: str, clock: Callable[[], float] = time.monotonic, *,
        workspace: Workspace | None = None, read_only: ReadOnly | None = None,
        prefs: Prefs | None = None, forge: ForgeFn | None = None,
        config: CurationConfig | None = None, guidelines_on_start: bool = False,
        blindtest: bool = False,
    ) -> None:
        super().__init__()
        self.store = store
        self.curator = curator
        self.clock = clock  # injectable so snapshots and tests see a frozen time
        self.workspace = workspace or Workspace(store.path.parent)
        self.read_only = read_only
        self.prefs = prefs or Prefs.load(self.workspace.home)
        self.config = config or load_config(self.workspace.home)
        self.guidelines = _guidelines(self.config, writable=read_only is None)
        self.guidelines_on_start = guidelines_on_start  # run_tui: shown when new to a curator
        self.blindtest_on_start = blindtest  # ``bugfoundry tui --blindtest``
        self.details = DetailCache(store, cache_file=self.workspace.cache_dir / "duplicates.json",
                                   on_duplicates=self._duplicates_known)
        self.show_duplicates = False  # the queue shows one instance per duplicate group
        self.listing = Listing(store, BrowseFilter(curator=curator))
        self.session_started = clock()
        self.session_decisions = 0  # accept/reject/skip keys this session, for rate and ETA
        self.forge = forge  # None: the engine's; a stand-in tests the forge screen without a repo
        self.forge_job: ForgeJob | None = None
        self.forge_worker: Worker[None] | None = None
        self._quit_armed = False

    def on_mount(self) -> None:
        if self.prefs.theme in self.available_themes:
            self.theme = self.prefs.theme
        self.theme_changed_signal.subscribe(self, self._theme_picked)
        # First paint first: the first page and its counts, nothing else. The duplicate map
        # (the review's "duplicate of") and the review's modules load after the first frame.
        self.listing.reload()
        self.push_screen(BrowseScreen())
        if self.guidelines_on_start and (
                self.prefs.guidelines_seen.get(self.curator) != self.guidelines.version):
            self.action_guidelines()  # first start, or the guidelines changed since
        if self.blindtest_on_start:
            self.action_blindtest()
        self.set_timer(FIRST_PAINT_GRACE, self._after_first_paint)

    def _after_first_paint(self) -> None:
        self.details.find_duplicates()  # on the reader thread, in SQL (off the GIL)
        self.details.warm_imports()
        if self.read_only is not None:
            self.notify(self.read_only.notice, title="read-only", severity="warning",
                        timeout=10)

    # ---------------------------------------------------------------- duplicates
    def _duplicates_known(self) -> None:
        """On the reader thread: the duplicate map is in; hide all but one per group.

        Queued for the UI thread, never waited for: ``call_from_thread`` would block this
        thread until the UI ran it, while a closing app's ``on_unmount`` blocks the UI until
        this thread ends (``DetailCache.close``): a deadlock whenever a forge or the first
        paint's duplicate search ended just as the app closed."""
        with contextlib.suppress(RuntimeError):  # the app's loop is already closed
            self.call_later(self.apply_duplicates, True)

    def apply_duplicates(self, first: bool = False) -> None:
        """Leave every duplicate but its group's first instance out of the listing, unless
        the curator asked to see them (``D``); browse reloads now, or when it is back."""
        found = self.details.duplicates or {}
        hidden = () if self.show_duplicates else tuple(sorted(found))
        if hidden == self.listing.filters.hidden_duplicates:
            return
        self.listing.filters = replace(self.listing.filters, hidden_duplicates=hidden)
        if isinstance(self.screen, BrowseScreen):
            self.screen.reload_listing()
        if hidden and first:
            self.notify(f"{plural(len(hidden), 'duplicate')} hidden: one per group shown "
                        "(D shows them, -is:duplicate hides them in any filter)")

    def action_toggle_duplicates(self) -> None:
        self.show_duplicates = not self.show_duplicates
        n = len(self.details.duplicates or {})
        self.apply_duplicates()
        self.notify(f"showing {plural(n, 'duplicate')}" if self.show_duplicates
                    else f"{plural(n, 'duplicate')} hidden: one per group shown")

    # ---------------------------------------------------------------- navigation
    def action_help(self) -> None:
        from tui.modals import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_progress(self) -> None:
        from tui.progress import ProgressScreen

        if not isinstance(self.screen, ProgressScreen):
            self.push_screen(ProgressScreen())

    def action_forge(self) -> None:
        from tui.forge_screen import ForgeScreen

        if not isinstance(self.screen, ForgeScreen):
            self.push_screen(ForgeScreen())

    def action_realism(self) -> None:
        from tui.realism_screen import RealismScreen

        if not isinstance(self.screen, RealismScreen):
            self.push_screen(RealismScreen())

    def action_blindtest(self) -> None:
        """The blind "real or forged?" test (``bugfoundry blindtest new`` sets it up)."""
        from tui.blindtest import BlindTestScreen

        if not isinstance(self.screen, BlindTestScreen):
            self.push_screen(BlindTestScreen())

    def action_guidelines(self) -> None:
        """The workspace's guidelines over the current screen; seen by this curator after."""
        from tui.adjudicate import GuidelinesScreen

        if isinstance(self.screen, GuidelinesScreen):
            return
        # Read again: a team may have edited the file since; later decisions carry its version.
        self.guidelines = _guidelines(self.config, writable=self.read_only is None)
        self.push_screen(GuidelinesScreen(self.guidelines))
        if self.prefs.guidelines_seen.get(self.curator) != self.guidelines.version:
            self.prefs.guidelines_seen[self.curator] = self.guidelines.version
            self.save_prefs()

    def action_toggle_blind(self) -> None:
        """Blind mode hides realism scores (they cannot bias the tags they are fit to) and how
        an instance was made: strategy, route, modifier, and the ids that spell them out."""
        self.prefs.blind = not self.prefs.blind
        self.save_prefs()
        for screen in self.screen_stack:
            screen.post_message(BlindChanged())
        self.notify("blind mode: realism scores, strategy, route and modifier hidden"
                    if self.prefs.blind else "blind mode off: scores and provenance shown")

    def browse_screen(self) -> BrowseScreen:
        return next(s for s in self.screen_stack if isinstance(s, BrowseScreen))

    def show_browse(self) -> BrowseScreen:
        """Close every screen above the browse screen and return it."""
        browse = self.browse_screen()
        while self.screen is not browse:
            self.pop_screen()
        return browse

    def open_review(self, instance_id: str) -> None:
        """Review ``instance_id`` on top of the browse screen (n/p walk the listing)."""
        from tui.review import ReviewScreen

        self.show_browse()
        self.push_screen(ReviewScreen(instance_id))

    def _theme_picked(self, theme: Theme) -> None:
        """Remember the theme picked in the palette for the next start."""
        if theme.name != self.prefs.theme:
            self.prefs.theme = theme.name
            self.save_prefs()

    def save_prefs(self) -> None:
        try:
            self.prefs.save()
        except OSError as exc:
            self.notify(f"could not save {self.prefs.path}: {exc}", severity="warning")

    # ---------------------------------------------------------------- forging
    @property
    def forge_running(self) -> bool:
        return self.forge_job is not None and not self.forge_job.finished

    def start_forge(self, request: ForgeRequest) -> ForgeJob:
        """Run the forge in a thread worker; its progress arrives as ``ForgeMessage``s."""
        job = ForgeJob(request, started=self.clock())
        self.forge_job = job
        self.forge_worker = self._forge_worker(job)
        self._forge_changed(kept=False)
        return job

    @work(thread=True, name="forge", group="forge", exit_on_error=False)
    def _forge_worker(self, job: ForgeJob) -> None:
        run_forge(job, self.forge, self.store, self.workspace, self.post_message)

    def cancel_forge(self) -> None:
        if not self.forge_running:
            return
        assert self.forge_job is not None
        self.forge_job.stop.set()
        self.notify("stopping after the current candidate; everything validated is kept")
        self._forge_changed(kept=False)

    @on(ForgeLogged)
    @on(ForgeCounted)
    @on(ForgeJudged)
    def _forge_progressed(self, message: ForgeMessage) -> None:
        message.apply()
        kept = isinstance(message, ForgeJudged) and message.kept
        if kept:
            self.listing.refresh_counts()
        self._forge_changed(kept)

    def on_forge_finished(self, message: ForgeFinished) -> None:
        message.apply()
        self.notify(message.job.line(self.clock()), title="forge")
        self._forge_ended()

    def on_forge_failed(self, message: ForgeFailed) -> None:
        message.apply()
        self.notify(message.error, title="forge failed", severity="error", timeout=15)
        self._forge_ended()

    def _forge_ended(self) -> None:
        self.details.find_duplicates()  # new instances may duplicate old ones
        self._forge_changed(kept=True)  # one last reload with everything

    def _forge_changed(self, kept: bool) -> None:
        for screen in self.screen_stack:
            screen.post_message(ForgeChanged(kept))

    # ---------------------------------------------------------------- exporting
    def ask_export(self, fmt: str = "swesmith") -> None:
        """The export dialog (format, rule, dedup, repo, path), then the export worker."""
        from tui.export_screen import ExportScreen

        def chosen(req: ExportRequest | None) -> None:
            if req is not None:
                self.notify(f"exporting the curated split ({req.fmt}, rule {req.rule}, "
                            f"dedup {req.dedup}) ...")
                self._export_worker(req)

        repos = [r.name for r in self.store.list_repos()]
        self.push_screen(ExportScreen(self.workspace.home, repos, fmt), chosen)

    @work(thread=True, name="export", group="export", exit_on_error=False)
    def _export_worker(self, req: ExportRequest) -> None:
        from engine.dataset.export import export

        req.path.parent.mkdir(parents=True, exist_ok=True)
        with self.store.reader() as store:
            # Images take minutes: the command line builds them (bugfoundry export --images).
            result = export(store, req.path, fmt=req.fmt, split="curated", ws=self.workspace,
                            images=False, rule=req.rule, dedup=req.dedup, repo=req.repo,
                            keep_statements=self.read_only is None)
        self.post_message(ExportDone(result.count, result.path, result.manifest,
                                     result.statements_stored))

    def on_export_done(self, message: ExportDone) -> None:
        if message.stored:  # the review shows the statements the export stored
            self.details.invalidate_all()
        self.notify(f"exported {message.count} curated instances to {message.path} "
                    f"(manifest: {message.manifest})", title="export")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The app's own workers (forge, export): a failure is shown, never swallowed."""
        line = worker_failure(event)
        job = self.forge_job
        if line is not None and event.worker is self.forge_worker and job and not job.finished:
            self.post_message(ForgeFailed(job, line))  # run_forge catches; this is a backstop
        elif line is not None:
            self.notify(line, title=f"{event.worker.name} failed", severity="error",
                        timeout=15)

    # ---------------------------------------------------------------- leaving
    async def action_quit(self) -> None:
        if self.forge_running and not self._quit_armed:
            self._quit_armed = True
            self.notify("a forge is running: q again stops it and quits "
                        "(everything validated so far is kept)", severity="warning")
            return
        if self.forge_running and self.forge_job is not None:
            self.forge_job.stop.set()
            self.notify("stopping the forge after the current candidate ...")
            if self.forge_worker is not None:
                await self.forge_worker.wait()
        self.exit()

    def on_unmount(self) -> None:
        job = self.forge_job
        if job is not None and job.thread_started.is_set():
            job.stop.set()  # never close the store under a running forge
            job.thread_done.wait()
        self.details.close()
        self.store.close()
        if self.read_only is not None:
            self.read_only.cleanup()


if TYPE_CHECKING:
    def _is_a_workbench(app: BugfoundryApp) -> Workbench:
        return app  # mypy checks here that the app offers what the screens use


def _guidelines(config: CurationConfig, writable: bool) -> Guidelines:
    """The workspace's guidelines, the default written on first use (not when the database
    is read-only: another process owns the workspace, and the default's version is the
    same either way)."""
    try:
        return load_guidelines(config, create=writable)
    except UsageError:
        return load_guidelines(config, create=False)


def load_keymap(home: Path) -> dict[str, str]:
    """``<workspace>/keymap.toml`` remaps bindings by id, e.g. ``"decide.accept" = "A,y"``."""
    path = home / "keymap.toml"
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from None
    keys = data.get("keys", data)
    return {str(k): str(v) for k, v in keys.items() if isinstance(v, str)}


def run_tui(workspace: str | os.PathLike[str] | None, curator: str | None,
            blindtest: bool = False) -> int:
    """Open the workspace's store and run the app; a held database opens read-only."""
    ws = Workspace.open(workspace)
    try:
        store, read_only = open_for_tui(ws.db_path)
    except StoreError as exc:
        print(f"bugfoundry: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    if read_only is not None:
        print(f"bugfoundry: {read_only.banner}", file=sys.stderr, flush=True)
    else:  # a copied or moved workspace uses its own repo copies, said on stderr
        adopt_copies(ws, store, lambda m: print(f"bugfoundry: {m}", file=sys.stderr, flush=True))
    try:
        keymap = load_keymap(ws.home)
        prefs = Prefs.load(ws.home)
        config = load_config(ws.home)
    except UsageError as exc:
        store.close()
        if read_only is not None:
            read_only.cleanup()
        print(f"bugfoundry: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    app = BugfoundryApp(store, curator or default_curator(), workspace=ws,
                        read_only=read_only, prefs=prefs, config=config,
                        guidelines_on_start=not blindtest, blindtest=blindtest)
    app.set_keymap(keymap)
    app.run()
    return int(app.return_code or 0)
