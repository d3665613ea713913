"""SVG snapshots of the main layouts at a fixed size on deterministic fake data.

Update after reviewing the report: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from engine.store import BrowseFilter, Store
from tests.fakes import make_workspace
from tui.app import BugfoundryApp

SIZE = (120, 40)


async def until(pilot, ready, tries: int = 200) -> None:  # noqa: ANN001
    """Let the app run until ``ready()`` holds (workers done, messages handled)."""
    for _ in range(tries):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if ready():
            return
        await pilot.pause(0.02)
    raise AssertionError("the app never reached the expected state")


async def settled(pilot, tries: int = 100) -> None:  # noqa: ANN001
    """Let the app run until two screenshots in a row are the same: a loaded machine may lay
    a table's columns out a few frames after its rows arrived."""
    last = None
    for _ in range(tries):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)
        shot = pilot.app.export_screenshot()
        if shot == last:
            return
        last = shot
    raise AssertionError("the screen never settled")


def pressing(*keys: str):  # noqa: ANN201
    """A run_before that presses ``keys`` once the app has loaded, then waits for it to
    settle (snap_compare's own ``press`` gives a loaded machine a single frame)."""
    async def run_before(pilot) -> None:  # noqa: ANN001
        await until(pilot, lambda: pilot.app.listing.total > 0)
        for key in keys:
            await pilot.press(key)
            await pilot.app.workers.wait_for_complete()
        await settled(pilot)
    return run_before


def _app(home: Path) -> BugfoundryApp:
    return BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), "ann",
                         clock=lambda: 1000.0)  # frozen: no rate or ETA drifts into the SVG


@pytest.fixture()
def app(tmp_path: Path) -> BugfoundryApp:
    make_workspace(tmp_path / "ws", 30)
    return _app(tmp_path / "ws")


def test_browse_layout(app: BugfoundryApp, snap_compare) -> None:
    assert snap_compare(app, run_before=pressing("a", "2", "down", "r"), terminal_size=SIZE)


def test_review_layout(app: BugfoundryApp, snap_compare) -> None:
    assert snap_compare(app, run_before=pressing("enter", "1"), terminal_size=SIZE)


SMALL = (80, 24)  # the smallest terminal a curator should be able to work in


def test_browse_layout_80x24(app: BugfoundryApp, snap_compare) -> None:
    assert snap_compare(app, run_before=pressing("a", "2", "down", "r"), terminal_size=SMALL)


def test_review_layout_80x24(app: BugfoundryApp, snap_compare) -> None:
    assert snap_compare(app, run_before=pressing("enter", "1"), terminal_size=SMALL)


def test_review_failures_full_screen(app: BugfoundryApp, snap_compare) -> None:
    assert snap_compare(app, run_before=pressing("down", "enter", "f"), terminal_size=SIZE)


def test_review_side_by_side_after_a_jump(app: BugfoundryApp, snap_compare) -> None:
    assert snap_compare(app, run_before=pressing("enter", "d", "j"), terminal_size=SIZE)


def test_progress_and_agreement_layout(tmp_path: Path, snap_compare) -> None:
    home = tmp_path / "ws"
    make_workspace(home, 30)
    with Store.open(home / "bugfoundry.duckdb") as s:
        ids = [r.instance_id for r in s.browse(BrowseFilter(), limit=30)]
        labels = {"ann": ("aarrsaar", "rrpaprpa"), "bob": ("araraaar", "rppaprrp")}
        decided = {"a": "accept", "r": "reject", "s": "skip"}
        tagged = {"r": "realistic", "p": "plausible", "a": "artificial"}
        for curator, (decisions, realisms) in labels.items():
            for iid, d, r in zip(ids, decisions, realisms, strict=False):
                s.record_decision(iid, curator, decided[d], realism=tagged[r],
                                  seconds_spent=12.5)
        # Fixed event times, so "last active" does not drift into the SVG.
        s.con.execute("UPDATE decisions SET created_at = ?", [datetime(2026, 11, 20, 9, 30)])

    async def open_progress(pilot) -> None:  # noqa: ANN001
        # Wait on conditions, not on time: a loaded CI machine may need more frames.
        await until(pilot, lambda: pilot.app.listing.total == 30)
        await pilot.press("P")
        await until(pilot, lambda: getattr(pilot.app.screen, "figures", None) is not None
                    and pilot.app.screen.query_one("#disputes").row_count == 4)
        await settled(pilot)

    assert snap_compare(_app(home), run_before=open_progress, terminal_size=SIZE)


def test_blindtest_layout(tmp_path: Path, snap_compare) -> None:
    from tests.tui.test_blindtest import _workspace

    _workspace(tmp_path / "ws")
    assert snap_compare(_app(tmp_path / "ws"), run_before=pressing("T", "f"),
                        terminal_size=SIZE)
