"""Pilot tests that drive the real app on a tiny fake workspace (no forging)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from textual.widgets import Input, Select

from engine.errors import StoreError
from engine.store import BrowseFilter, Statement, Store
from engine.workspace import Workspace
from tests.fakes import make_workspace
from tui import listing
from tui.app import BugfoundryApp
from tui.blind import short_id
from tui.browse import BrowseScreen
from tui.opening import open_for_tui
from tui.review import ReviewScreen
from tui.widgets import InstanceTable

ROOT = Path(__file__).resolve().parents[2]
Drive = Callable[[BugfoundryApp, object], Awaitable[None]]


def run_app(home: Path, drive: Drive, curator: str = "ann") -> BugfoundryApp:
    """Run the app headless at a fixed size, let ``drive`` press keys, then quit."""

    async def main() -> BugfoundryApp:
        app = BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), curator)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await drive(app, pilot)
            await pilot.press("q")
            await pilot.pause()
        return app

    return asyncio.run(main())


def states(home: Path, curator: str = "ann") -> dict[str, tuple[str | None, str | None]]:
    with Store.open(home / "bugfoundry.duckdb") as s:
        return {d.instance_id: (d.decision, d.realism) for d in s.current_decisions(curator)}


def status(app: BugfoundryApp) -> str:
    return str(app.screen.query_one("#status").render())


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    make_workspace(tmp_path / "ws", 30)
    return tmp_path / "ws"


def test_filter_shows_true_count_and_matching_rows(home: Path) -> None:
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        seen["start"] = status(app)
        await pilot.press("slash", *"func_1", "enter")
        await pilot.pause()
        table = app.screen.query_one(InstanceTable)
        seen["rows"] = table.row_count
        seen["filtered"] = status(app)
        await pilot.press("a")  # focus is back on the table: this decides the first match
        app.screen.query_one("#filter-decision", Select).value = "undecided"
        await pilot.pause()
        seen["undecided"] = status(app)

    run_app(home, drive)
    assert seen["start"].startswith("30 instances match · decided 0/30")
    assert seen["rows"] == 11  # func_1 and func_10 .. func_19
    assert seen["filtered"].startswith("11 instances match")
    assert seen["undecided"].startswith("10 instances match")
    assert list(states(home).values()) == [("accept", None)]


def test_review_decide_tag_undo_redo_quit_reopen(home: Path) -> None:
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("enter")  # open the first instance
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        rows = app.listing.rows
        seen["ids"] = [r.instance_id for r in rows[:3]]
        assert app.screen.instance_id == rows[0].instance_id
        await pilot.press("a")  # accept, and move on to the second
        seen["after_accept"] = app.screen.instance_id
        await pilot.press("2", "r")  # tag plausible, reject; on to the third
        seen["after_reject"] = app.screen.instance_id
        await pilot.press("u")  # takes back the reject and returns to it
        seen["after_undo"] = app.screen.instance_id
        seen["undone"] = dict(states_now(app))
        await pilot.press("U")  # redo
        await pilot.press("3")  # retag the second: artificial
        await pilot.press("s")  # skip the second, on to the third
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BrowseScreen)
        seen["status"] = status(app)

    def states_now(app: BugfoundryApp) -> dict[str, tuple[str | None, str | None]]:
        return {d.instance_id: (d.decision, d.realism)
                for d in app.store.current_decisions("ann")}

    run_app(home, drive)
    first, second, third = seen["ids"]
    assert (seen["after_accept"], seen["after_reject"], seen["after_undo"]) == (
        second, third, second)
    assert seen["undone"] == {first: ("accept", None), second: (None, "plausible")}
    assert seen["status"].startswith("30 instances match · decided 2/30")
    assert states(home) == {first: ("accept", None), second: ("skip", "artificial")}

    # Reopen: the table shows the stored decisions, and undo still reaches across sessions.
    cells: dict[str, object] = {}

    async def reopen(app: BugfoundryApp, pilot) -> None:
        table = app.screen.query_one(InstanceTable)
        cells["first"] = str(table.get_cell(first, "decision"))
        cells["second"] = str(table.get_cell(second, "realism"))
        await pilot.press("u")

    run_app(home, reopen)
    assert cells == {"first": "accept", "second": "artificial"}
    assert states(home) == {first: ("accept", None), second: ("reject", "artificial")}


def test_decision_keys_are_inert_while_typing(home: Path) -> None:
    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("slash", "a", "r", "s", "1", "u", "ctrl+y")
        await pilot.pause()
        assert app.screen.query_one("#filter-text", Input).value == "ars1u"

    run_app(home, drive)
    assert states(home) == {}


def test_table_pages_lazily(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "PAGE", 8)
    monkeypatch.setattr(InstanceTable, "LOAD_AHEAD", 2)
    loaded: list[int] = []

    async def drive(app: BugfoundryApp, pilot) -> None:
        table = app.screen.query_one(InstanceTable)
        loaded.append(table.row_count)
        for _ in range(25):
            await pilot.press("down")
        await pilot.pause()
        loaded.append(table.row_count)
        loaded.append(int(status(app).split()[0]))

    run_app(home, drive)
    assert loaded[0] == 8 and loaded[1] == 30 and loaded[2] == 30


@contextmanager
def held_by_another_process(db: Path) -> Iterator[int]:
    """A real second process holding the database read-write; yields its PID."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from engine.store import Store; from pathlib import Path; "
         "s = Store.open(Path(sys.argv[1])); print('ready', flush=True); time.sleep(60)",
         str(db)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_locked_database_opens_a_read_only_snapshot(home: Path) -> None:
    db = home / "bugfoundry.duckdb"
    seen: dict[str, object] = {}
    with held_by_another_process(db) as pid:
        with pytest.raises(StoreError, match=f"in use by process {pid}"):
            Store.open(db, read_only=True)  # DuckDB: not even read-only while held
        store, ro = open_for_tui(db)
        assert ro is not None and ro.holder == f"process {pid}" and ro.snapshot is not None
        assert ro.snapshot.parent != home

        async def main() -> None:
            app = BugfoundryApp(store, "ann", workspace=Workspace(home), read_only=ro)
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.pause()
                seen["banner"] = str(app.screen.query_one(".readonly-banner").render())
                seen["status"] = status(app)
                await pilot.press("a", "1", "u")  # all refused, each with a notice
                await pilot.press("enter")
                await pilot.pause()
                assert isinstance(app.screen, ReviewScreen)
                await pilot.press("r", "e")
                await pilot.pause()
                seen["note_shown"] = app.screen.query_one("#note", Input).display
                seen["notices"] = [n.message for n in app._notifications]
                await pilot.press("escape", "q")
                await pilot.pause()

        asyncio.run(main())
        assert not ro.snapshot.exists()  # the copy is removed on exit
    banner = str(seen["banner"])
    assert f"in use by process {pid}" in banner and "snapshot taken at" in banner
    assert "decisions are disabled" in banner
    assert str(seen["status"]).startswith("30 instances match")
    assert seen["note_shown"] is False
    refusals = [m for m in seen["notices"] if m.startswith("Decisions are disabled")]
    assert len(refusals) >= 5 and f"process {pid} holds" in refusals[0]
    assert states(home) == {}  # nothing was written anywhere


def test_corrupt_database_is_still_a_plain_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from tui.app import run_tui

    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "bugfoundry.duckdb").write_bytes(b"not a database" * 100)
    assert run_tui(tmp_path / "ws", "ann") == 2
    err = capsys.readouterr().err
    first, advice = err.strip().splitlines()
    assert "is damaged" in first and "not a valid DuckDB database" in first
    assert advice.startswith("Run: bugfoundry doctor --workspace")
    assert "Traceback" not in err


DRIVER = """
import asyncio, sys
from pathlib import Path
from engine.store import Store
from tui.app import BugfoundryApp

async def main() -> None:
    app = BugfoundryApp(Store.open(Path(sys.argv[1])), "ann")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for key in sys.argv[2:]:
            await pilot.press(key)
            print("pressed", key, flush=True)
        await asyncio.sleep(120)  # killed here, between this decision and the next

asyncio.run(main())
"""


def _decide_then_kill(home: Path, *keys: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(home / "bugfoundry.duckdb"), *keys],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        for key in keys:
            assert proc.stdout.readline().strip() == f"pressed {key}"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_between_decisions_loses_nothing(home: Path) -> None:
    t0 = time.monotonic()
    _decide_then_kill(home, "a")  # accept the first row
    assert list(states(home).values()) == [("accept", None)]
    _decide_then_kill(home, "down", "r", "1")  # reject the second, tag the third realistic
    got = sorted(states(home).values(), key=str)
    assert got == sorted([("accept", None), ("reject", None), (None, "realistic")], key=str)
    assert time.monotonic() - t0 < 120


def test_filter_tokens_and_sort(home: Path) -> None:
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("slash", *"mod:op_swap func_2", "enter")
        await pilot.pause()
        seen["filtered"] = status(app)
        seen["filters"] = app.listing.filters
        app.screen.query_one("#filter-text", Input).value = ""
        await pilot.pause()
        for _ in range(4):  # id -> decision -> realism -> score -> F2P
            await pilot.press("S")
        await pilot.press("O")  # descending
        await pilot.pause()
        seen["sort"] = (app.listing.sort, app.listing.descending)
        seen["f2p"] = [r.n_f2p for r in app.listing.rows]

    run_app(home, drive)
    assert seen["filtered"].startswith("3 instances match")  # func_21, 24, 27 are op_swap
    assert seen["filters"].modifier == "op_swap" and seen["filters"].text == "func_2"
    assert seen["sort"] == ("n_f2p", True)
    assert seen["f2p"] == sorted(seen["f2p"], reverse=True) and len(seen["f2p"]) == 30


def test_parse_filter_text() -> None:
    from tui.browse import parse_filter_text

    assert parse_filter_text("repo:demo  Strategy:procedural foo mod: bar") == {
        "repo": "demo", "strategy": "procedural", "modifier": "", "text": "foo mod: bar",
        "disputed": False, "settled": False, "disagreement": False, "duplicates": False,
        "labelled_by": "", "assigned_to": "",
        "min_score": None, "max_score": None, "negated": (),
    }
    assert parse_filter_text("by:bob")["labelled_by"] == "bob"
    assert parse_filter_text("assigned:me", "ann")["assigned_to"] == "ann"
    assert parse_filter_text("by:me", "ann")["labelled_by"] == "ann"
    neg = parse_filter_text("-is:duplicate repo:demo -by:me -x", "ann")
    assert neg["repo"] == "demo" and neg["text"] == "" and neg["duplicates"] is False
    assert [(n.duplicates, n.labelled_by, n.text) for n in neg["negated"]] == [
        (True, "", ""), (False, "ann", ""), (False, "", "x")]
    bounds = parse_filter_text("score>1.5 score<=-0.5 x")
    assert (bounds["min_score"], bounds["max_score"], bounds["text"]) == (1.5, -0.5, "x")
    assert parse_filter_text("IS:Disputed x")["disputed"] is True
    assert parse_filter_text("is:open")["disputed"] is True
    flags = parse_filter_text("is:settled is:disagreement")
    assert (flags["settled"], flags["disagreement"], flags["disputed"]) == (True, True, False)
    assert parse_filter_text("is:dup")["duplicates"] is True


def test_note_in_review_does_not_trigger_decision_keys(home: Path) -> None:
    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("e", *"a rare 1-off", "enter")
        await pilot.pause()
        assert not app.screen.query_one("#note", Input).display
        await pilot.press("e", "x", "escape")  # escape cancels the note, stays in review
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)

    run_app(home, drive)
    with Store.open(home / "bugfoundry.duckdb") as s:
        (st,) = s.current_decisions("ann")
        assert (st.decision, st.realism, st.note) == (None, None, "a rare 1-off")
        assert len(s.decision_events("ann")) == 1


def test_help_screen_opens_and_closes(home: Path) -> None:
    from tui.modals import HelpScreen

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("a")  # decision keys do not reach the screen below
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BrowseScreen)

    run_app(home, drive)
    assert states(home) == {}


def test_empty_workspace_says_what_to_do(tmp_path: Path) -> None:
    make_workspace(tmp_path / "empty", 0)

    async def drive(app: BugfoundryApp, pilot) -> None:
        assert "no instances yet" in status(app)
        await pilot.press("enter", "a", "u", "U", "o")  # nothing to act on: no crash, no event
        assert isinstance(app.screen, BrowseScreen)

    run_app(tmp_path / "empty", drive)
    assert states(tmp_path / "empty") == {}


def test_review_navigation_and_next_undecided(home: Path) -> None:
    async def drive(app: BugfoundryApp, pilot) -> None:
        ids = [r.instance_id for r in app.listing.rows]
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        await pilot.press("a", "s")  # decide the first two; now on the third
        assert screen.instance_id == ids[2]
        await pilot.press("p", "p")
        assert screen.instance_id == ids[0]
        await pilot.press("p")  # already first: stays
        assert screen.instance_id == ids[0]
        await pilot.press("N")
        assert screen.instance_id == ids[2]
        await pilot.press("r", "n", "n")
        assert screen.instance_id == ids[5]
        title = str(screen.query_one("#review-title").render())
        assert title.startswith(f"{short_id(ids[5])}   6/30   ")

    run_app(home, drive)
    assert sorted(d for d, _ in states(home).values()) == ["accept", "reject", "skip"]


def test_rubric_fields_are_recorded(home: Path) -> None:
    from tui.modals import RubricScreen

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("R")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, RubricScreen)
        modal.query_one("#rubric-clarity", Select).value = 1
        modal.query_one("#rubric-difficulty", Select).value = "15m-1h"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert "ann (you): undecided · untagged · rubric clarity 1, difficulty 15m-1h" in (
            app.screen.query_one("#meta").plain_text())

    run_app(home, drive)
    with Store.open(home / "bugfoundry.duckdb") as s:
        (st,) = s.current_decisions("ann")
        assert (st.decision, st.clarity, st.test_validity, st.difficulty) == (
            None, 1, None, "15m-1h")


def test_status_shows_rate_and_eta(home: Path) -> None:
    now = [0.0]
    seen: list[str] = []

    async def main() -> None:
        app = BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), "ann", clock=lambda: now[0])
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("a", "r", "s", "a")
            now[0] = 120.0  # five decisions in two minutes: 2.5/min, 25 left -> 10 minutes
            await pilot.press("r")
            await pilot.pause()
            seen.append(status(app))
            await pilot.press("q")

    asyncio.run(main())
    assert seen[0].endswith("this session 5 at 2.5/min, ETA 10m")


def test_keymap_file_remaps_bindings_by_id(home: Path) -> None:
    from tui.app import load_keymap

    (home / "keymap.toml").write_text('[keys]\n"decide.accept" = "y"\n', encoding="utf-8")
    keymap = load_keymap(home)
    assert keymap == {"decide.accept": "y"}

    async def main() -> None:
        app = BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), "ann")
        app.set_keymap(keymap)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("a")  # no longer accept
            await pilot.press("y")
            await pilot.press("q")

    asyncio.run(main())
    assert list(states(home).values()) == [("accept", None)]
    (home / "keymap.toml").write_text("[keys\n", encoding="utf-8")
    with pytest.raises(Exception, match="not valid TOML"):
        load_keymap(home)


def test_review_shows_the_problem_statement_with_model_cost_and_leaks(home: Path) -> None:
    with Store.open(home / "bugfoundry.duckdb") as s:
        first = s.browse(BrowseFilter(), limit=1)[0].instance_id
        s.save_statement(Statement(first, "lm", "Totals drift after a refund\n\nBody here.\n",
                                   "gpt-4o-mini", 812, 95, 0.000179,
                                   ("quotes `return total - fee`",)))
    seen: dict[str, str] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.instance_id == first
        seen["meta"] = app.screen.query_one("#meta").plain_text()

    run_app(home, drive)
    meta = seen["meta"]
    assert "Problem statement  (gpt-4o-mini, 812+95 tokens, $0.0002)" in meta
    assert "⚠ leaks: quotes `return total - fee`" in meta
    assert "Totals drift after a refund" in meta
