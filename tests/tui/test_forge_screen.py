"""The forge screen driven by a stand-in for the engine's forge (no environment, no test runs).

The stand-in has ``engine.forge.run.forge``'s signature and goes through the same hooks: it logs,
counts its candidates, stores two real instances through the cursor it is given, reports
three verdicts, then returns a summary or raises. What the screen shows (status line, log,
progress bar, notifications, the browse table) is asserted for each ending.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Button, Input, ProgressBar, RichLog, Static

import tui.app
from engine.errors import BugfoundryError
from engine.forge.run import ForgeHooks, ForgeOptions
from engine.forge.summary import ForgeSummary
from engine.models import Verdict
from engine.store import BrowseFilter, Store
from engine.workspace import Workspace
from tests.fakes import fake_baseline, fake_candidate, make_workspace
from tui.app import BugfoundryApp
from tui.browse import BrowseScreen
from tui.forge_screen import ForgeScreen
from tui.widgets import InstanceTable


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    make_workspace(tmp_path / "ws", 30)
    return tmp_path / "ws"


class FakeForge:
    """Keeps two of three candidates; waits at ``gate`` so the test sees the live state."""

    def __init__(self, ending: Exception | None) -> None:
        self.ending = ending
        self.gate = threading.Event()
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.options: list[ForgeOptions | None] = []

    def __call__(self, ws: Workspace, store: Store, repo_name: str, strategies: Sequence[str],
                 options: ForgeOptions | None = None,
                 hooks: ForgeHooks | None = None) -> ForgeSummary:
        assert hooks is not None and hooks.on_total and hooks.on_verdict and hooks.should_stop
        self.calls.append((repo_name, tuple(strategies)))
        self.options.append(options)
        hooks.log("building the environment ...")
        cands = [fake_candidate(100 + k, repo_name) for k in range(3)]
        run = store.start_run(repo_name, list(strategies), 0, None, 1, {})
        store.add_candidates(run, cands)
        hooks.on_total(3, 0)
        base = fake_baseline(repo_name)
        for k, cand in enumerate(cands):
            if k == 2:
                assert self.gate.wait(10), "the test never opened the gate"
                if hooks.should_stop():
                    break
            kept = k < 2
            verdict = Verdict(cand.candidate_id, kept, "kept" if kept else "no_f2p",
                              fail_to_pass=["tests/test_m.py::test_0"] if kept else [],
                              pass_to_pass=["tests/test_m.py::test_3"], duration=0.5)
            if kept:
                assert store.record_result(cand, verdict, base) is not None
            hooks.on_verdict(cand, verdict)
        if self.ending is not None:
            raise self.ending
        return ForgeSummary(repo_name, list(strategies), candidates=3, validated_now=3,
                            kept_now=2, kept_total=2, dropped_total=1,
                            drop_reasons={"no_f2p": 1})


async def _until(pilot, cond, what: str) -> None:  # noqa: ANN001
    for _ in range(200):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _drive(home: Path, fake: FakeForge) -> dict[str, object]:
    seen: dict[str, object] = {}

    async def main() -> None:
        app = BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), "ann", forge=fake)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("F")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ForgeScreen)
            await pilot.press("ctrl+s")
            await _until(pilot, lambda: app.forge_job is not None
                         and app.forge_job.validated == 2, "two verdicts")
            await pilot.pause(0.1)
            seen["live"] = str(screen.query_one("#forge-status", Static).render())
            seen["live_start_disabled"] = screen.query_one("#forge-start", Button).disabled
            seen["back_live"] = app.screen.active_bindings["escape"].binding.description
            fake.gate.set()
            await _until(pilot, lambda: not app.forge_running, "the forge to end")
            await pilot.pause(0.1)
            status = screen.query_one("#forge-status", Static)
            seen["status"] = str(status.render())
            shown = status.content  # the Text the screen painted, with its style
            seen["status_style"] = str(shown.style) if isinstance(shown, Text) else None
            seen["log"] = [line.text for line in screen.query_one("#forge-log", RichLog).lines]
            bar = screen.query_one("#forge-screen-progress", ProgressBar)
            seen["bar"] = (bar.total, bar.progress)
            seen["start_disabled"] = screen.query_one("#forge-start", Button).disabled
            seen["back_done"] = app.screen.active_bindings["escape"].binding.description
            seen["notices"] = [(n.title, n.message, n.severity) for n in app._notifications]
            await pilot.press("escape")
            await pilot.pause(0.8)  # the browse table's debounced reload
            assert isinstance(app.screen, BrowseScreen)
            seen["rows"] = app.screen.query_one(InstanceTable).row_count
            seen["forge_line"] = str(app.screen.query_one("#forge-line", Static).render())

    asyncio.run(main())
    return seen


def test_the_forge_screen_follows_a_forge_to_its_end(home: Path) -> None:
    fake = FakeForge(ending=None)
    seen = _drive(home, fake)
    assert fake.calls == [("demo", ("procedural",))]
    assert str(seen["live"]).startswith(
        "forge demo (procedural): 2/3 judged · kept 2 of 2 this run (yield 100%) · ETA ")
    assert seen["live_start_disabled"] is True
    # The footer said "forge keeps running" after it was done (issue 19).
    assert (seen["back_live"], seen["back_done"]) == ("Back (forge keeps running)", "Back")
    assert seen["status"] == ("forge demo (procedural) done: 3/3 judged · kept 2 of 3 this run "
                              "(yield 67%)")
    assert seen["status_style"] == "green"
    log = seen["log"]
    assert log[0] == "building the environment ..."
    assert [line.split()[0] for line in log[1:]] == ["kept", "kept", "no_f2p"]  # type: ignore[index]
    assert seen["bar"] == (3, 3)
    assert seen["start_disabled"] is False
    assert ("forge", str(seen["status"]), "information") in seen["notices"]  # type: ignore[operator]
    assert seen["rows"] == 32  # the two kept instances reached the browse table
    assert str(seen["forge_line"]).startswith("forge demo done: 3/3 · kept 2 (67%)")


@pytest.mark.parametrize("error, shown", [
    (RuntimeError("the test runner crashed\nTraceback ..."),
     "RuntimeError: the test runner crashed"),
    (BugfoundryError("the baseline has no passing test: check the repo's tests"),
     "the baseline has no passing test: check the repo's tests"),
])
def test_a_failing_forge_is_shown_and_keeps_what_it_stored(home: Path, error: Exception,
                                                           shown: str) -> None:
    seen = _drive(home, FakeForge(ending=error))
    assert seen["status"] == f"forge demo (procedural): failed: {shown}"
    assert seen["status_style"] == "red"
    log = [str(line) for line in seen["log"]]  # type: ignore[attr-defined]
    assert log.index(f"error: {shown}") == 4  # after the log line and the three verdicts
    assert seen["start_disabled"] is False  # a new forge can start
    assert any(title == "forge failed" and str(message).startswith(shown)
               and severity == "error"
               for title, message, severity in seen["notices"])  # type: ignore[attr-defined]
    assert "failed: " + shown in str(seen["forge_line"])
    assert seen["rows"] == 32  # the instances stored before the failure are kept
    with Store.open(home / "bugfoundry.duckdb") as s:
        assert s.count(BrowseFilter()) == 32


@pytest.mark.parametrize("typed, ray", [("", None), ("local", ""), ("ray://head:10001",
                                                                   "ray://head:10001")])
def test_the_ray_field_reaches_the_forge(home: Path, typed: str, ray: str | None) -> None:
    """Empty: the local pool; ``local``: a local Ray; else the cluster's address."""
    fake = FakeForge(ending=None)
    fake.gate.set()

    async def main() -> None:
        app = BugfoundryApp(Store.open(home / "bugfoundry.duckdb"), "ann", forge=fake)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("F")
            await pilot.pause()
            app.screen.query_one("#forge-ray", Input).value = typed
            await pilot.press("ctrl+s")
            await _until(pilot, lambda: bool(fake.options) and not app.forge_running,
                         "the forge to end")

    asyncio.run(main())
    assert len(fake.options) == 1 and fake.options[0] is not None
    assert fake.options[0].ray == ray


def test_an_app_closing_as_its_duplicate_search_ends_does_not_hang(home: Path) -> None:
    """The duplicate search (on the reader thread, after the first paint and after every
    forge) ends while the app unmounts: the UI waits for that thread (``DetailCache.close``),
    so the thread must not wait for the UI. It did (``call_from_thread``): the ray-field test
    above, which closes the app as soon as its forge ends, hung CI once."""
    unmounting, searching = threading.Event(), threading.Event()

    class ClosingApp(BugfoundryApp):
        CSS_PATH = str(Path(tui.app.__file__).with_name(BugfoundryApp.CSS_PATH))

        def on_unmount(self) -> None:  # Textual calls the base class's handler after it
            unmounting.set()

    async def main() -> None:
        app = ClosingApp(Store.open(home / "bugfoundry.duckdb"), "ann")
        known = app.details.on_duplicates
        assert known is not None

        def ends_as_the_app_closes() -> None:
            searching.set()
            assert unmounting.wait(10), "the app never closed"
            known()

        app.details.on_duplicates = ends_as_the_app_closes
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(pilot, searching.is_set, "the duplicate search")

    asyncio.run(main())
    assert unmounting.is_set()
