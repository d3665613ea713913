"""Pilot test: the realism screen scores a fake workspace, and the scores reach browse and
review (with reasons), and blind mode hides them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from engine.store import Store
from tests.fakes import add_real, make_workspace
from tui.app import BugfoundryApp
from tui.realism_screen import RealismScreen
from tui.review import ReviewScreen
from tui.widgets import InstanceTable


def test_realism_screen_scores_and_feeds_browse_and_review(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    make_workspace(home, 30)
    with Store.open(home / "bugfoundry.duckdb") as s:
        add_real(s, 4)
    seen: dict[str, object] = {}

    async def main() -> None:
        app = BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), "ann")
        async with app.run_test(size=(130, 45)) as pilot:
            await pilot.pause()
            assert not scored(app.screen.query_one(InstanceTable))  # nothing scored yet
            await pilot.press("R")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, RealismScreen)
            for _ in range(100):
                if screen.report is not None:
                    break
                await asyncio.sleep(0.05)
            await pilot.pause()
            table = screen.query_one("#realism-table", DataTable)
            seen["rows"] = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            seen["head"] = str(screen.query_one("#realism-head", Static).render())
            seen["hists"] = str(screen.query_one("#realism-hists", Static).render())
            seen["report"] = screen.report
            await pilot.press("escape")
            await pilot.pause()
            browse = app.screen.query_one(InstanceTable)
            seen["has_score"] = scored(browse)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, ReviewScreen)
            seen["meta"] = app.screen.query_one("#meta").plain_text()
            await pilot.press("B")
            await pilot.pause()
            seen["blind_meta"] = app.screen.query_one("#meta").plain_text()
            await pilot.press("B")  # back to visible for the next session
            await pilot.pause()
            await pilot.press("q")

    def scored(table: InstanceTable) -> bool:
        return any(str(table.get_cell_at(Coordinate(i, 3))) != "·"
                   for i in range(table.row_count))

    asyncio.run(main())
    rows = seen["rows"]
    assert rows[0] == "procedural" and "pr_mirror" in rows  # type: ignore[operator]
    assert "  op_swap" in rows  # type: ignore[operator]
    assert "4 repo bugs (pr_mirror)" in seen["head"]  # type: ignore[operator]
    assert "150 more needed" in seen["head"]  # type: ignore[operator]
    assert "█" in seen["hists"]  # type: ignore[operator]
    report = seen["report"]
    proc = report["strategies"][0]  # type: ignore[index]
    real = report["strategies"][-1]  # type: ignore[index]
    # the fake real bugs (a dropped guard) score above the fake operator flips
    assert real["mean"] > proc["mean"] and proc["auc"] > 0.5
    assert seen["has_score"] is True
    meta = str(seen["meta"])  # the first row by id is a pr_mirror one: a guard put back
    assert "Realism 0." in meta and "adds back a whole if statement (a missing guard)" in meta
    assert "hidden while labelling" in seen["blind_meta"]  # type: ignore[operator]
    with Store.open(home / "bugfoundry.duckdb") as s:
        assert s.count_scored("demo") == 34
