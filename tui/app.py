"""The bugfoundry curation app: one in-process store (the single DuckDB writer)."""

from __future__ import annotations

import getpass
import os
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from engine.errors import StoreError, UsageError
from engine.store import BrowseFilter, Store
from engine.workspace import Workspace
from tui.listing import Listing
from tui.screens import BrowseScreen, HelpScreen


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
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
    ]

    def __init__(
        self, store: Store, curator: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.store = store
        self.curator = curator
        self.clock = clock  # injectable so snapshots and tests see a frozen time
        self.listing = Listing(store, BrowseFilter(curator=curator))
        self.session_started = clock()
        self.session_decisions = 0  # accept/reject/skip keys this session, for rate and ETA

    def on_mount(self) -> None:
        self.listing.reload()
        self.push_screen(BrowseScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def on_unmount(self) -> None:
        self.store.close()


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


def run_tui(workspace: str | os.PathLike[str] | None, curator: str | None) -> int:
    """Open the workspace's store and run the app; a locked database is a plain error."""
    ws = Workspace.open(workspace)
    try:
        store = Store.open(ws.db_path)
    except StoreError as exc:
        print(f"bugfoundry: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    try:
        keymap = load_keymap(ws.home)
    except UsageError as exc:
        store.close()
        print(f"bugfoundry: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    app = BugfoundryApp(store, curator or default_curator())
    app.set_keymap(keymap)
    app.run()
    return int(app.return_code or 0)

