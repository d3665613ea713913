"""Pilot tests for the review tools, the command palette and the progress screen."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable, Input

from engine.forge.run import ForgeOptions
from engine.store import BrowseFilter, Store
from tests.fakes import make_workspace
from tests.tui.test_app import run_app, states
from tui.app import BugfoundryApp
from tui.browse import BrowseScreen
from tui.forge_screen import ForgeScreen
from tui.modals import NameScreen
from tui.panes import TextPane
from tui.prefs import Prefs, SavedFilter
from tui.progress import ProgressScreen
from tui.review import ReviewScreen


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    make_workspace(tmp_path / "ws", 30)
    return tmp_path / "ws"


def _first_plus_line(screen: ReviewScreen) -> int:
    return next(i for i, ln in enumerate(screen.diff.lines) if ln.kind == "add")


def test_jump_from_frame_to_hunk_and_toggle_layout(home: Path) -> None:
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        diff = screen.query_one("#diff", TextPane)
        failures = screen.query_one("#failures", TextPane)
        frames = sorted(screen.frames)
        assert frames and all(f.in_hunk for f in screen.frames.values())
        assert "◀ in the diff" in failures.plain_text()
        await pilot.press("j")
        seen["first"] = (diff.marked, failures.marked)
        assert diff.marked == _first_plus_line(screen)  # the frame's own (added) line
        assert failures.marked == frames[0]
        if len(frames) > 1:
            await pilot.press("j")  # the next frame (another failing test)
            assert failures.marked == frames[1]
        await pilot.press("d")
        await pilot.pause()
        assert diff.border_title == "diff (side by side)"
        assert screen.query_one("#review-main").has_class("stacked")
        row = screen.diff.side_rows()[diff.marked]
        assert row.right is not None and row.right.kind == "add"  # still marked
        assert "│" in diff.plain_text()
        # A click on a marked frame jumps too.
        await pilot.press("n")
        await pilot.pause()
        first = min(screen.frames)
        assert failures.marked is None and diff.marked is None
        region = failures.content_region
        await pilot.click(failures, offset=(region.x - failures.region.x + 2,
                                            region.y - failures.region.y + first))
        await pilot.pause()
        seen["clicked"] = (failures.marked, first)
        assert diff.marked is not None
        await pilot.press("d")  # back to unified

    run_app(home, drive)
    assert seen["clicked"][0] == seen["clicked"][1]
    assert json.loads((home / "tui.json").read_text())["side_by_side"] is False


def test_review_reads_ahead(home: Path) -> None:
    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("enter")
        await pilot.pause()
        app.details.wait_idle()
        misses = app.details.misses
        for _ in range(3):
            await pilot.press("n")
            app.details.wait_idle()
        assert app.details.misses == misses  # every step found its detail read ahead
        await pilot.press("a")  # the decision is visible at once (the entry was dropped)
        await pilot.press("p")
        assert "accept" in str(app.screen.query_one("#review-title").render())

    run_app(home, drive)


async def _palette(pilot, query: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert isinstance(pilot.app.screen, CommandPalette)
    await pilot.press(*query)
    await pilot.pause(0.6)  # the palette gathers hits in the background
    await pilot.press("down", "enter")
    await pilot.pause()


def test_palette_jumps_to_an_id_and_opens_forge(home: Path) -> None:
    with Store.open(home / "bugfoundry.duckdb") as s:
        target = s.browse(BrowseFilter(), "instance_id", True, None, 1)[0].instance_id
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        await _palette(pilot, target.rsplit("__", 1)[1])
        seen["review"] = (type(app.screen).__name__, getattr(app.screen, "instance_id", None))
        await _palette(pilot, "forge: pick")
        seen["forge"] = type(app.screen).__name__
        await pilot.press("escape")
        await pilot.pause()

    run_app(home, drive)
    assert seen == {"review": ("ReviewScreen", target), "forge": ForgeScreen.__name__}


def test_saved_filters_through_the_palette(home: Path) -> None:
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("slash", *"mod:op_swap", "enter")
        await pilot.press("S")  # sort by the next column after the id: decision
        await pilot.pause()
        await _palette(pilot, "save the current")
        assert isinstance(app.screen, NameScreen)
        await pilot.press(*"swaps", "enter")
        await pilot.pause()
        app.screen.query_one("#filter-text", Input).value = ""
        await pilot.pause()
        assert app.listing.total == 30

    run_app(home, drive)
    prefs = Prefs.load(home)
    assert prefs.saved_filters == {"swaps": SavedFilter(text="mod:op_swap", sort="decision")}

    async def reopen(app: BugfoundryApp, pilot) -> None:
        await _palette(pilot, "apply saved 'swaps'")
        assert isinstance(app.screen, BrowseScreen)
        seen["filters"] = app.listing.filters
        seen["sort"] = app.listing.sort
        seen["text"] = app.screen.query_one("#filter-text", Input).value
        seen["total"] = app.listing.total
        await _palette(pilot, "delete saved 'swaps'")

    run_app(home, reopen)
    assert seen["filters"].modifier == "op_swap" and seen["sort"] == "decision"
    assert seen["text"] == "mod:op_swap" and seen["total"] == 10
    assert Prefs.load(home).saved_filters == {}


def test_bad_prefs_file_is_a_plain_error(home: Path) -> None:
    from engine.errors import UsageError

    (home / "tui.json").write_text('{"saved_filters": {"x": {"decision": "maybe"}}}')
    with pytest.raises(UsageError, match="not a valid bugfoundry TUI settings file"):
        Prefs.load(home)


def test_progress_agreement_and_the_disagreement_queue(home: Path) -> None:
    with Store.open(home / "bugfoundry.duckdb") as s:
        ids = [r.instance_id for r in s.browse(BrowseFilter(), limit=30)]
        for iid, a, b in zip(ids[:6], "aarrsa", "araraa", strict=True):
            full = {"a": "accept", "r": "reject", "s": "skip"}
            s.record_decision(iid, "ann", full[a], realism="realistic")
            s.record_decision(iid, "bob", full[b], realism="realistic")
    disputed = [ids[1], ids[2]]  # a/r and r/a; the skip on ids[4] abstains
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("P")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProgressScreen)
        pairs = screen.query_one("#pairs", DataTable)
        seen["pair"] = [str(c) for c in pairs.get_row_at(0)]
        seen["curators"] = screen.query_one("#curators", DataTable).row_count
        disputes = screen.query_one("#disputes", DataTable)
        seen["disputes"] = [str(k.value) for k in disputes.rows]
        seen["mine"] = str(screen.query_one("#progress-mine").render())
        disputes.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        seen["opened"] = app.screen.instance_id
        await pilot.press("n")
        seen["next"] = app.screen.instance_id
        seen["filter"] = app.listing.filters.disagreement

    run_app(home, drive)
    # 5 decision pairs (skip excluded): a/a r/r a/a agree, a/r r/a disagree -> p_o 0.6;
    # ann: a3 r2, bob: a3 r2 -> p_e = 0.36 + 0.16 = 0.52; kappa = 0.08 / 0.48 = 0.17
    assert seen["pair"][:4] == ["ann × bob", "6", "5", "0.17 slight"]
    assert seen["pair"][5] == "undefined"  # both tagged everything realistic
    assert seen["curators"] == 2
    assert sorted(seen["disputes"]) == sorted(disputed)
    assert seen["mine"].startswith("You (ann), current filter: decided 6/30")
    assert seen["filter"] is True
    assert [seen["opened"], seen["next"]] == sorted(disputed)


def test_quitting_during_a_forge_asks_then_stops_it(home: Path) -> None:
    """The quit/cancel plumbing, with a stand-in for the engine's forge (no real runs)."""
    import asyncio
    import time

    from engine.forge.summary import ForgeSummary
    from engine.models import Verdict
    from tests.fakes import fake_candidate
    from tui.forge_runner import ForgeRequest

    def fake_forge(ws, store, repo_name, strategies, options=None, hooks=None):  # noqa: ANN001, ANN202
        hooks.on_total(1000, 0)
        cand = fake_candidate(0)
        while not hooks.should_stop():
            time.sleep(0.25)  # about the pace of real verdicts
            hooks.on_verdict(cand, Verdict(cand.candidate_id, False, "timeout"))
        return ForgeSummary("demo", ["procedural"], interrupted=True)

    seen: dict[str, object] = {}

    async def main() -> None:
        app = BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), "ann", forge=fake_forge)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            job = app.start_forge(ForgeRequest("demo", ("procedural",)))
            await pilot.pause(0.2)
            await pilot.press("x")  # the browse screen's cancel is live while forging
            await pilot.pause(0.3)
            seen["cancelled"] = (job.finished, job.stop.is_set(), job.summary.interrupted)
            seen["bar"] = str(app.screen.query_one("#forge-line").render())
            job2 = app.start_forge(ForgeRequest("demo", ("procedural",)))
            await pilot.pause(0.2)
            await pilot.press("q")  # first q: a warning, the app stays
            await pilot.pause()
            seen["after_first_q"] = (app.is_running, job2.stop.is_set())
            await pilot.press("q")  # second q: stop the forge, wait for it, quit
            await pilot.pause()
            seen["job2"] = (job2.stop.is_set(), job2.thread_done.is_set())

    asyncio.run(main())
    assert seen["cancelled"] == (True, True, True)
    assert "cancelled" in seen["bar"]
    assert seen["after_first_q"] == (True, False)
    assert seen["job2"] == (True, True)


def test_progress_closed_before_its_figures_arrive(home: Path) -> None:
    async def drive(app: BugfoundryApp, pilot) -> None:
        for _ in range(3):
            await pilot.press("P", "escape")  # the reader thread may finish after the close
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, BrowseScreen)

    run_app(home, drive)


def test_palette_exports_the_curated_split(home: Path) -> None:
    """Accept two instances, reject one, export from the palette: only the accepted two."""

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("a")  # accept -> next
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await _palette(pilot, "export: curated split as SWE-bench")
        await pilot.press("ctrl+s")  # the export dialog, its defaults as they are
        for _ in range(50):
            await pilot.pause(0.05)
            if list((home / "exports").glob("*.jsonl")):
                break
        await app.workers.wait_for_complete()

    run_app(home, drive)
    files = sorted((home / "exports").glob("curated-swebench-*.jsonl"))
    assert len(files) == 1
    rows = [json.loads(line) for line in files[0].read_text().splitlines()]
    accepted = {i for i, (d, _r) in states(home).items() if d == "accept"}
    assert len(accepted) == 2 and {r["bugfoundry_id"] for r in rows} == accepted
    assert all(r["patch"].startswith("diff --git") and r["FAIL_TO_PASS"] for r in rows)
    sidecar = files[0].with_name(f".{files[0].name}.bugfoundry")
    manifest = json.loads((sidecar / "manifest.json").read_text())
    assert manifest["count"] == 2 and manifest["curators"] == ["ann"]
    assert manifest["decisions"]["accept"] == 2 and manifest["decisions"]["reject"] == 1


def test_a_failed_export_is_shown(home: Path) -> None:
    """``exports`` is a file, so the worker cannot make its directory: the error is shown."""
    (home / "exports").write_text("not a directory")
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        await _palette(pilot, "export: curated split as SWE-bench")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        seen["notices"] = [(n.title, n.message, n.severity) for n in app._notifications]

    run_app(home, drive)
    failed = [(t, m) for t, m, sev in seen["notices"] if sev == "error"]
    assert len(failed) == 1 and failed[0][0] == "export failed"
    assert failed[0][1].startswith("FileExistsError: ") and "exports" in failed[0][1]
    assert (home / "exports").read_text() == "not a directory"  # nothing written


def test_screen_workers_that_fail_say_so(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing read replaces "computing ..." with the error, and notifies it."""
    import engine.realism.pipeline
    from tui import progress

    def broken(*_args: object, **_kw: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(engine.realism.pipeline, "score_repo", broken)
    monkeypatch.setattr(progress, "read_figures", broken)
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("R")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        seen["realism"] = str(app.screen.query_one("#realism-head").render())
        await pilot.press("escape", "P")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        seen["progress"] = str(app.screen.query_one("#disputes-title").render())
        seen["notices"] = [(n.title, n.message) for n in app._notifications
                           if n.severity == "error"]

    run_app(home, drive)
    assert seen["realism"] == ("could not compute the realism report: OSError: disk gone "
                               "(r retries)")
    assert seen["progress"] == "could not read the figures: OSError: disk gone"
    assert seen["notices"] == [("realism scoring failed", "OSError: disk gone"),
                               ("reading the progress figures failed", "OSError: disk gone")]


def test_forge_form_maps_to_the_engines_options(home: Path) -> None:
    from textual.widgets import Checkbox, Select, SelectionList

    from engine.errors import UsageError

    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        await pilot.press("F")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ForgeScreen)
        seen["default"] = screen.request()
        strategies = screen.query_one("#forge-strategy", SelectionList)
        # Picked out of order: the request keeps the pipeline's order.
        strategies.select("combine")
        strategies.select("pr_mirror")
        screen.query_one("#forge-backend", Select).value = "venv"
        screen.query_one("#forge-min-realism", Input).value = "-1.5"
        screen.query_one("#forge-prefer-realistic", Checkbox).value = True
        await pilot.pause()
        seen["chosen"] = screen.request()
        screen.query_one("#forge-min-realism", Input).value = "lots"
        with pytest.raises(UsageError, match="min realism must be a number"):
            screen.request()
        strategies.deselect_all()
        with pytest.raises(UsageError, match="at least one strategy"):
            screen.request()
        await pilot.press("escape")

    run_app(home, drive)
    default, chosen = seen["default"], seen["chosen"]
    assert default.strategies == ("procedural",)  # type: ignore[union-attr]
    assert default.options == ForgeOptions(workers=default.options.workers)  # type: ignore[union-attr]
    assert chosen.strategies == ("procedural", "pr_mirror", "combine")  # type: ignore[union-attr]
    opts = chosen.options  # type: ignore[union-attr]
    assert opts.backend == "venv" and opts.min_realism == -1.5 and opts.prefer_realistic
    assert (opts.seed, opts.max_candidates) == (0, None)


def test_review_names_the_original_of_a_duplicate_and_copies(home: Path) -> None:
    with Store.open(home / "bugfoundry.duckdb") as s:
        ids = s.instance_ids()
        original = s.get_instance(ids[0])
        assert original is not None
        dup_id = ids[0] + "_again"  # sorts right after the original, never before it
        copy = replace(original, instance_id=dup_id, candidate_id=original.candidate_id + "x",
                       meta={})
        s.import_instances([copy])
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        for _ in range(100):
            if app.details.duplicates is not None:
                break
            await pilot.pause(0.05)
        await _palette(pilot, dup_id.rsplit("__", 1)[1])
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.instance_id == dup_id
        seen["meta"] = screen.query_one("#meta", TextPane).plain_text()
        await pilot.press("c")
        seen["id"] = app.clipboard
        await pilot.press("C")
        seen["diff"] = app.clipboard

    run_app(home, drive)
    assert f"duplicate of {ids[0]} (the same diff)" in seen["meta"]  # type: ignore[operator]
    assert seen["id"] == dup_id and seen["diff"] == original.patch
