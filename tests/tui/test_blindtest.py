"""Pilot tests: the blind "real or forged?" screen (``T``, the palette, ``tui --blindtest``)
shows only the diff and the failing tests under neutral ids, records each answer at once,
resumes where the curator stopped, and ends on the report; without a session it says how to
set one up."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from textual.widgets import Static

from engine.realism.blindtest import new_session
from engine.store import Store
from tests.fakes import add_forged, add_real, make_workspace
from tests.tui.test_workbench import _palette
from tui.app import BugfoundryApp
from tui.blindtest import BlindTestScreen
from tui.panes import TextPane

ITEMS = 8


def _workspace(home: Path) -> tuple[int, dict[str, str]]:
    """A workspace with real, procedural and lm_modify bugs and one session; the truth."""
    make_workspace(home, 12)
    with Store.open(home / "bugfoundry.duckdb") as s:
        add_real(s, 6)
        add_forged(s, 4)
        sess, picked = new_session(s, items=ITEMS, real_share=0.5, seed=5)
    return sess.session_id, {it.instance_id: it.truth for it in picked.items}


def _shown(screen: BlindTestScreen) -> str:
    return "\n".join([str(screen.query_one("#bt-title", Static).render()),
                      screen.query_one("#diff", TextPane).plain_text(),
                      screen.query_one("#failures", TextPane).plain_text()])


def test_blind_test_walks_answers_resumes_and_reports(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    sid, truth = _workspace(home)
    ticks = itertools.count(0.0, 3.0)  # every item takes 3 s on this clock
    seen: dict[str, object] = {}

    async def main() -> None:
        app = BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), "ann",
                            clock=lambda: next(ticks))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("T")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, BlindTestScreen)
            first = screen.items[0]
            seen["first_text"] = _shown(screen)
            seen["first_id"] = first.instance_id
            await pilot.press("3")  # a confidence before r/f: nothing recorded
            await pilot.press("r", "4")
            await pilot.press("f", "escape")  # taken back: still on item 2
            seen["after_cancel"] = screen.position
            await pilot.press("f", "2")
            await pilot.pause()
            seen["position"] = screen.position
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("T")  # reopens where ann stopped
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, BlindTestScreen)
            seen["resumed_at"] = screen.position
            while screen.position is not None:
                iid = screen.items[screen.position].instance_id
                await pilot.press("r" if truth[iid] == "real" else "f", "5")
                await pilot.pause()
            for _ in range(200):
                if screen.report is not None:
                    break
                await asyncio.sleep(0.05)
            await pilot.pause()
            seen["report"] = screen.report
            seen["report_text"] = screen.query_one("#bt-report", TextPane).plain_text()
            await pilot.press("q")

    asyncio.run(main())
    text = str(seen["first_text"])
    assert "bug-" in text and "diff --git" in text and "assert" in text
    assert str(seen["first_id"]) not in text
    for telling in ("pr_mirror", "procedural", "lm_modify", "op_swap", "revert", "demo."):
        assert telling not in text, telling
    assert seen["after_cancel"] == 1 and seen["position"] == 2 and seen["resumed_at"] == 2
    with Store.open(home / "bugfoundry.duckdb", read_only=True) as s:
        answers = s.blind_answers(sid, "ann")
        rows = s.scalar("SELECT count(*) FROM blindtest_answers")
    assert len(answers) == ITEMS and rows == ITEMS
    assert all(a.seconds == 3.0 for a in answers)  # one clock tick per item
    report = seen["report"]
    assert isinstance(report, dict)
    ann = report["curators"][0]
    assert ann["curator"] == "ann" and ann["items"] == ITEMS
    # the first two answers were whatever they were; the other six were right and certain
    right = sum(a.answer == truth[a.instance_id] for a in answers)
    assert ann["accuracy"]["k"] == right >= ITEMS - 2
    assert {s["strategy"] for s in ann["strategies"]} <= {"procedural", "lm_modify"}
    assert report["scored_items"] == ITEMS  # the realism score ran for the side-by-side
    assert "human AUC" in str(seen["report_text"]) and "bootstrap" in str(seen["report_text"])


def test_blind_test_without_a_session_says_how_to_start(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    make_workspace(home, 3)
    seen: dict[str, str] = {}

    async def main() -> None:
        app = BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), "ann", blindtest=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, BlindTestScreen)
            seen["title"] = str(app.screen.query_one("#bt-title", Static).render())
            await pilot.press("r", "5")  # nothing to answer: no error, nothing stored
            await pilot.press("escape")
            await pilot.pause()
            seen["back"] = type(app.screen).__name__
            await _palette(pilot, "blind test: real")
            seen["palette"] = type(app.screen).__name__
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("q")

    asyncio.run(main())
    assert "bugfoundry blindtest new" in seen["title"]
    assert seen["back"] == "BrowseScreen" and seen["palette"] == "BlindTestScreen"
    with Store.open(home / "bugfoundry.duckdb", read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM blindtest_answers") == 0
