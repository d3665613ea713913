"""Pilot tests for the defects a curator hit (issue 19), each driving the real app.

Each test reproduces one defect as the curator met it and asserts the fixed behaviour.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import Input, Select, Static

from engine.store import Store, StoredScore
from tests.fakes import add_real, make_workspace, populate
from tui.app import BugfoundryApp
from tui.blind import short_id
from tui.browse import BrowseScreen
from tui.keybar import KeyBar
from tui.modals import HelpScreen
from tui.widgets import InstanceTable

Seen = dict[str, object]


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    make_workspace(tmp_path / "ws", 30)
    return tmp_path / "ws"


def drive(home: Path, steps, size: tuple[int, int] = (120, 40),  # noqa: ANN001
          curator: str = "ann", **kw: Any) -> Seen:
    """Run the app headless; ``steps(app, pilot, seen)`` presses keys and notes what it saw
    (``kw``: more of the app's arguments)."""
    seen: Seen = {}

    async def main() -> None:
        app = BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), curator, **kw)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await steps(app, pilot, seen)
            seen["notices"] = [n.message for n in app._notifications]
            app.exit()

    asyncio.run(main())
    return seen


def status(app: BugfoundryApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


def title(app: BugfoundryApp) -> str:
    return str(app.screen.query_one("#review-title", Static).render())


async def choose(pilot, select_id: str, value: str) -> None:  # noqa: ANN001
    """Pick ``value`` in a Select as a curator does: focus it, enter, arrows, enter."""
    select = pilot.app.screen.query_one(select_id, Select)
    select.focus()
    await pilot.press("enter")
    await pilot.pause()
    options = [v for _, v in select._options]
    start = options.index(select.value)
    for _ in range(options.index(value) - start):
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()


def test_position_counter_never_passes_the_total_under_a_decision_filter(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        app.screen.query_one("#filter-decision", Select).value = "undecided"
        await pilot.pause()
        app.screen.query_one(InstanceTable).focus()
        await pilot.press("enter")  # opens the first undecided instance
        await pilot.pause()
        for _ in range(5):  # accept five: each leaves the "undecided" filter
            await pilot.press("a")
        await pilot.pause()
        seen["title"] = title(app)

    seen = drive(home, steps)
    pos, of = map(int, re.search(r"(\d+)/(\d+)", str(seen["title"])).groups())  # type: ignore[union-attr]
    assert (pos, of) == (6, 30)  # was 6/25: the total shrank under the position
    assert "(25 still match)" in str(seen["title"])


EMPTY = ("nomatchxyz", "repo:nosuchrepo", "score>99", "by:nobody")


def test_a_filter_matching_nothing_names_it_and_the_workspace_count(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        box = app.screen.query_one("#filter-text", Input)
        for typed in EMPTY:
            box.value = typed
            await pilot.pause()
            seen[typed] = status(app)

    seen = drive(home, steps)
    for typed in EMPTY:
        shown = str(seen[typed])
        assert "press F" not in shown  # it said "no instances yet" with 30 in the workspace
        assert shown.startswith(f"no instance matches '{typed}' (30 instances in the workspace)")


def test_column_filters_match_substrings_in_any_case(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.press("slash", *"mod:OP_SW repo:DEM", "enter")
        await pilot.pause()
        seen["status"] = status(app)

    assert str(drive(home, steps)["status"]).startswith("10 instances match")


def test_one_match_is_singular(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.press("slash", *"func_29", "enter")
        await pilot.pause()
        seen["status"] = status(app)

    assert str(drive(home, steps)["status"]).startswith("1 instance matches · decided 0/1")


def footer_keys(app: BugfoundryApp) -> list[tuple[str, int, int]]:
    """(label, left, right) of each footer entry as laid out on screen."""
    bar = app.screen.query_one(KeyBar)
    return [(e.label, bar.region.x + e.left, bar.region.x + e.right) for e in bar.entries]


def test_browse_footer_fits_120_columns_with_help_and_separate_labels(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.pause(0.2)
        seen["keys"] = footer_keys(app)

    keys = drive(home, steps)["keys"]
    assert keys and all(right <= 120 for _, _, right in keys), keys  # type: ignore[union-attr]
    labels = [label for label, _, _ in keys]  # type: ignore[union-attr]
    assert "? Help" in labels and "q Quit" in labels
    assert "1-3 Realism" in labels and "u Undo" in labels  # one key per idea, no run-ons
    starts = [left for _, left, _ in keys]  # type: ignore[union-attr]
    assert starts == sorted(set(starts))  # every entry has its own place


def test_clicking_a_key_in_the_key_bar_runs_its_action(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        bar = app.screen.query_one(KeyBar)
        await pilot.pause()
        entry = next(e for e in bar.entries if e.label == "? Help")
        await pilot.click(KeyBar, offset=(entry.left + 1, 0))
        await pilot.pause()
        seen["screen"] = type(app.screen).__name__

    assert drive(home, steps)["screen"] == "HelpScreen"


def test_80x24_keeps_the_review_id_and_the_decision_columns(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        table = app.screen.query_one(InstanceTable)
        right = 0
        edges = {}
        for col in table.ordered_columns:
            right += col.get_render_width(table)
            edges[str(col.key.value)] = right
        seen["edges"], seen["width"] = edges, table.scrollable_content_region.width
        seen["first"] = app.listing.rows[0].instance_id
        await pilot.press("enter")
        await pilot.pause()
        seen["title"] = title(app)

    seen = drive(home, steps, size=(80, 24))
    edges = seen["edges"]
    for col in ("decision", "realism", "score"):
        assert edges[col] <= seen["width"], (col, edges)  # type: ignore[index,operator]
    shown = short_id(str(seen["first"]))
    assert str(seen["title"]).startswith(shown)  # the id first: nothing cuts it at 80


def test_rubric_dialog_opens_with_its_first_field_focused(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.press("enter", "R")
        await pilot.pause()
        seen["focused"] = app.focused.id if app.focused else None
        await pilot.press("enter", "down", "down", "enter", "ctrl+s")  # picks "1" at once
        await pilot.pause()
        seen["clarity"] = [d.clarity for d in app.store.current_decisions("ann")]

    seen = drive(home, steps)
    assert seen["focused"] == "rubric-clarity"
    assert seen["clarity"] == [1]


def test_enter_after_the_decision_selector_opens_the_instance(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await choose(pilot, "#filter-decision", "undecided")
        await pilot.press("enter")
        await pilot.pause()
        seen["screen"] = type(app.screen).__name__

    assert drive(home, steps)["screen"] == "ReviewScreen"


def test_browse_cursor_follows_the_last_reviewed_instance(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.press("enter", "n", "n", "n", "p")
        await pilot.pause()
        seen["reviewed"] = app.screen.instance_id
        await pilot.press("escape")
        await pilot.pause()
        seen["cursor"] = app.screen.query_one(InstanceTable).current_id

    seen = drive(home, steps)
    assert seen["cursor"] == seen["reviewed"]  # was the first row, opened before n/p


def test_sort_toast_and_header_name_the_column_with_an_arrow(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        for _ in range(4):
            await pilot.press("S")  # id -> decision -> realism -> score -> F2P
        await pilot.press("O")
        await pilot.pause()
        table = app.screen.query_one(InstanceTable)
        seen["headers"] = [str(c.label) for c in table.ordered_columns]

    seen = drive(home, steps)
    assert "sorted by F2P ▼ descending" in seen["notices"]  # type: ignore[operator]
    assert not any("n_f2p" in n for n in seen["notices"])  # type: ignore[union-attr]
    headers = seen["headers"]
    assert "F2P ▼" in headers and "id" in headers  # type: ignore[operator]
    assert sum("▲" in h or "▼" in h for h in headers) == 1  # type: ignore[union-attr]


def test_a_score_that_rounds_to_zero_shows_as_zero_not_minus_zero(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    first = make_workspace(home, 3)[0]
    with Store.open(home / "bugfoundry.duckdb") as s:
        s.save_scores("woe:test", [StoredScore(first, "woe:test", -0.04, 0.49, [])])

    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        table = app.screen.query_one(InstanceTable)
        seen["score"] = str(table.get_cell(first, "score"))

    assert drive(home, steps)["score"] == "0.0"  # was "-0.0"


def test_f1_opens_help_and_home_goes_to_the_first_row(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.press("down", "down", "down", "home")
        seen["row"] = app.screen.query_one(InstanceTable).cursor_row
        await pilot.press("f1")
        await pilot.pause()
        seen["help"] = isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await pilot.pause()
        seen["closed"] = isinstance(app.screen, BrowseScreen)

    assert drive(home, steps) | {"notices": None} == {
        "row": 0, "help": True, "closed": True, "notices": None}


def test_default_sort_follows_the_displayed_id(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    make_workspace(home, 6)  # repo "demo"
    with Store.open(home / "bugfoundry.duckdb") as s:
        populate(s, 6, repo="abc")  # another prefix: by full id all of "abc" came first

    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        table = app.screen.query_one(InstanceTable)
        seen["ids"] = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]

    ids = drive(home, steps)["ids"]
    assert ids == sorted(ids) and len(ids) == 12  # type: ignore[arg-type]


def test_q_in_review_goes_back_instead_of_quitting(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        seen["screen"] = type(app.screen).__name__
        seen["running"] = app.is_running

    assert drive(home, steps) | {"notices": None} == {
        "screen": "BrowseScreen", "running": True, "notices": None}


def test_the_chosen_theme_is_remembered(home: Path) -> None:
    async def pick(app, pilot, seen) -> None:  # noqa: ANN001
        app.theme = "nord"
        await pilot.pause()

    async def look(app, pilot, seen) -> None:  # noqa: ANN001
        seen["theme"] = app.theme

    drive(home, pick)
    assert json.loads((home / "tui.json").read_text())["theme"] == "nord"
    assert drive(home, look)["theme"] == "nord"


def test_blind_mode_hides_strategy_route_and_modifier(home: Path) -> None:
    with Store.open(home / "bugfoundry.duckdb") as s:
        add_real(s, 2)
    words = ("procedural", "pr_mirror", "op_swap", "remove_cond", "ctrl_invert", "revert")

    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.press("B")
        await pilot.pause()
        table = app.screen.query_one(InstanceTable)
        cells = [table.get_row_at(i) for i in range(table.row_count)]
        seen["cells"] = " ".join(str(c.plain if isinstance(c, Text) else c)
                                 for row in cells for c in row)
        await pilot.press("enter")
        await pilot.pause()
        seen["title"] = title(app)
        seen["meta"] = app.screen.query_one("#meta").plain_text()
        await pilot.press("escape", "B")  # blind off again
        await pilot.pause()
        seen["after"] = str(app.screen.query_one(InstanceTable).get_row_at(0)[0])

    seen = drive(home, steps)
    for where in ("cells", "title", "meta"):
        shown = str(seen[where])
        assert not [w for w in words if w in shown], (where, shown)
    assert str(seen["title"]).startswith("bug-")  # a neutral id (engine.blind.blind_id)
    assert not str(seen["after"]).startswith("bug-")  # the real one is back


def test_search_in_the_failures_pane_highlights_and_walks_matches(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.press("down", "down", "enter")  # func_2: three failing tests
        await pilot.pause()
        await pilot.press("tab")  # from the diff to the failures pane
        await pilot.press("slash", *"assert", "enter")
        await pilot.pause()
        pane = app.screen.query_one("#failures")
        seen["term"], seen["first"] = pane.term, pane.marked
        await pilot.press("right_square_bracket")
        seen["second"] = pane.marked
        seen["matches"] = len(app.screen.matches)
        seen["focused"] = app.focused.id if app.focused else None

    seen = drive(home, steps)
    assert seen["term"] == "assert" and seen["matches"] == 3
    assert seen["first"] is not None and seen["second"] > seen["first"]  # type: ignore[operator]
    assert seen["focused"] == "failures"


def test_failures_pane_widens_and_goes_full_screen(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        width = lambda sel: screen.query_one(sel).size.width  # noqa: E731
        seen["normal"] = (width("#diff"), width("#failures"))
        await pilot.press("w")
        await pilot.pause()
        seen["wide"] = (width("#diff"), width("#failures"))
        await pilot.press("f")
        await pilot.pause()
        seen["full"] = (screen.query_one("#diff").display, screen.query_one("#meta").display,
                        width("#failures"))
        await pilot.press("f")
        await pilot.pause()
        seen["back"] = screen.query_one("#diff").display

    seen = drive(home, steps)
    diff, failures = seen["normal"]  # type: ignore[misc]
    assert failures >= 56  # was 46 at 120 columns
    wide_diff, wide_failures = seen["wide"]  # type: ignore[misc]
    assert wide_failures > 2 * wide_diff - 4
    assert seen["full"][:2] == (False, False) and seen["full"][2] >= 116  # type: ignore[index]
    assert seen["back"] is True


def test_review_screen_knows_when_pytest_cut_an_assertion_diff() -> None:
    from tui.diffmodel import parse_patch
    from tui.failures import CUT_AT_START, CUT_BY_PYTEST, failure_lines

    cut = ("E   AssertionError: assert [1, 2, 3] == [1, 2]\n"
           "E     ...Full output truncated (3 lines hidden), use '-vv' to show")
    lines, _ = failure_lines({"t::a": cut, "t::b": "x" * 3000}, parse_patch(""))
    plain = [line.plain for line in lines]
    assert CUT_BY_PYTEST in plain and CUT_AT_START in plain


def test_export_dialog_passes_rule_dedup_repo_and_path(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await pilot.press("a", "E")  # accept the first row, open the dialog
        await pilot.pause()
        dialog = app.screen
        seen["focused"] = app.focused.id if app.focused else None
        dialog.query_one("#export-rule", Select).value = "any-accept"
        dialog.query_one("#export-dedup", Select).value = "none"
        dialog.query_one("#export-repo", Select).value = "demo"
        dialog.query_one("#export-path", Input).value = "mine/picked.jsonl"  # the workspace's
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()

    seen = drive(home, steps)
    assert seen["focused"] == "export-format"
    out = home / "mine" / "picked.jsonl"
    assert len(out.read_text().splitlines()) == 1
    manifest = json.loads((out.parent / f".{out.name}.bugfoundry" / "manifest.json").read_text())
    assert manifest["decision_rule"]["name"] == "any-accept"
    assert manifest["filter"] == {"split": "curated", "repo": "demo", "dedup": "none"}
    assert any(str(out) in n for n in seen["notices"])  # type: ignore[union-attr]


def _add_duplicates(home: Path, of: list[int]) -> list[str]:
    """Record, for each k in ``of``, the same bug as fake instance k at another line (an exact
    duplicate for engine.dedup); returns the new instance ids."""
    from dataclasses import replace as dc_replace

    from engine.models import Verdict
    from tests.fakes import fake_baseline, fake_candidate

    with Store.open(home / "bugfoundry.duckdb") as store:
        run = store.start_run("demo", ["procedural"], 8, None, 1, {})
        base = fake_baseline("demo")
        out = []
        for k in of:
            c = fake_candidate(k)
            c = dc_replace(c, patch=c.patch.replace(f"@@ -{k + 1},3 +{k + 1},3 @@",
                                                    f"@@ -{k + 90},3 +{k + 90},3 @@"),
                           modifier="op_swap")
            store.add_candidates(run, [c])
            v = Verdict(c.candidate_id, True, "kept", fail_to_pass=["tests/test_m.py::test_0"],
                        pass_to_pass=[], tests_run=["tests/test_m.py::test_0"], failures={},
                        duration=0.2, worker="w0")
            iid = store.record_result(c, v, base)
            assert iid is not None
            out.append(iid)
        return out


def test_the_queue_shows_one_instance_per_duplicate_group_and_any_filter_negates(
        home: Path) -> None:
    dups = _add_duplicates(home, [3, 4, 5])
    with Store.open(home / "bugfoundry.duckdb") as store:
        hidden = set(store.duplicate_map())
    assert len(hidden) == 3  # one of each pair is the group's representative

    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        for _ in range(40):  # the duplicate map arrives from the reader thread
            await pilot.pause(0.05)
            if app.listing.filters.hidden_duplicates:
                break
        seen["shown"] = {r.instance_id for r in app.listing.rows}
        seen["swaps"] = {r.instance_id for r in app.listing.rows if r.modifier == "op_swap"}
        seen["status"] = status(app)
        await pilot.press("D")  # show them all
        await pilot.pause()
        seen["all"] = {r.instance_id for r in app.listing.rows}
        await pilot.press("D")
        await pilot.pause()
        app.screen.query_one("#filter-text", Input).value = "is:duplicate"
        await pilot.pause()
        seen["only_dups"] = {r.instance_id for r in app.listing.rows}
        app.screen.query_one("#filter-text", Input).value = "-mod:op_swap"
        await pilot.pause()
        seen["negated"] = {r.instance_id for r in app.listing.rows}

    seen = drive(home, steps)
    assert len(seen["all"]) == 33 and set(dups) <= seen["all"]
    assert seen["shown"] == seen["all"] - hidden and len(seen["shown"]) == 30
    assert "33" not in seen["status"]
    assert any("3 duplicates hidden" in str(n) for n in seen["notices"])
    assert seen["only_dups"] == hidden  # asked for, the duplicates show though hidden by default
    assert seen["swaps"] and seen["negated"] == seen["shown"] - seen["swaps"]
