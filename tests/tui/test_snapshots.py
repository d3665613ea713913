"""SVG snapshots of the main layouts at a fixed size on deterministic fake data.

Update after reviewing the report: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.store import Store
from tests.fakes import make_workspace
from tui.app import BugfoundryApp

SIZE = (120, 40)


@pytest.fixture()
def app(tmp_path: Path) -> BugfoundryApp:
    make_workspace(tmp_path / "ws", 30)
    return BugfoundryApp(Store.open(tmp_path / "ws" / "bugfoundry.duckdb"), "ann",
                         clock=lambda: 1000.0)  # frozen: no rate or ETA drifts into the SVG


def test_browse_layout(app: BugfoundryApp, snap_compare) -> None:
    assert snap_compare(app, press=["a", "2", "down", "r"], terminal_size=SIZE)


def test_review_layout(app: BugfoundryApp, snap_compare) -> None:
    assert snap_compare(app, press=["enter", "1"], terminal_size=SIZE)
