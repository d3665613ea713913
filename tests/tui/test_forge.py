"""Forge from the TUI on a real (small) workspace: live progress, cancel, resume.

Slow-ish (a real environment, baseline and test runs), so marked ``integration``; the uv
cache is the one the integration tests share, so the environment installs from cache.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import ModuleType

import pytest
from textual.widgets import Input, ProgressBar

from engine.cli.main import main as cli
from engine.store import BrowseFilter, Store
from tests.integration.conftest import UV_CACHE
from tests.tui.test_app import run_app
from tui.app import BugfoundryApp
from tui.browse import BrowseScreen
from tui.forge_runner import ForgeBar
from tui.forge_screen import ForgeScreen
from tui.widgets import InstanceTable

pytestmark = pytest.mark.integration
DEADLINE = 240.0  # seconds for one forge of a few candidates, environment build included


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory: pytest.TempPathFactory, sample_bundle: Path) -> Path:
    UV_CACHE.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("UV_CACHE_DIR", str(UV_CACHE / "uv"))
    home = tmp_path_factory.mktemp("tui-forge")
    assert cli(["repo", "add", str(sample_bundle), "--name", "sample",
                "--workspace", str(home)]) == 0
    return home


async def _wait(pilot, cond, what: str) -> None:  # noqa: ANN001
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not cond():
        assert loop.time() < end, f"timed out waiting for {what}"
        await pilot.pause(0.1)


async def _start(app: BugfoundryApp, pilot, max_candidates: int, seed: int,  # noqa: ANN001
                 ray: str = "") -> None:
    await pilot.press("F")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ForgeScreen)
    screen.query_one("#forge-max", Input).value = str(max_candidates)
    screen.query_one("#forge-seed", Input).value = str(seed)
    screen.query_one("#forge-workers", Input).value = "1"
    screen.query_one("#forge-ray", Input).value = ray
    await pilot.press("ctrl+s")
    await pilot.pause()
    assert app.forge_running


def test_forge_in_a_worker_fills_the_table_live(sample_home: Path) -> None:
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:  # noqa: ANN001
        await _start(app, pilot, max_candidates=4, seed=0)
        await pilot.press("escape")  # back to browse: the forge keeps running
        await pilot.pause()
        assert isinstance(app.screen, BrowseScreen)
        bar = app.screen.query_one(ForgeBar)
        assert bar.display
        job = app.forge_job
        await _wait(pilot, lambda: job.validated >= 1, "the first verdict")
        seen["line_mid"] = job.line(app.clock())
        await _wait(pilot, lambda: job.finished, "the forge to finish")
        await pilot.pause(0.8)  # the debounced table reload
        table = app.screen.query_one(InstanceTable)
        seen["rows"] = table.row_count
        seen["bar"] = (bar.query_one(ProgressBar).total, bar.query_one(ProgressBar).progress)
        seen["line"] = str(bar.query_one("#forge-line").render())
        seen["full"] = job.line(app.clock())
        seen["job"] = (job.total, job.validated, job.kept, job.error)
        seen["log"] = list(job.log)

    app = run_app(sample_home, drive)
    total, validated, kept, error = seen["job"]
    assert error is None and (total, validated) == (4, 4) and kept >= 1
    assert seen["rows"] == kept == app.listing.total  # every kept instance is in the table
    assert seen["bar"] == (4, 4)
    assert "judged" in str(seen["line_mid"])
    assert seen["line"].startswith(f"forge sample done: 4/4 · kept {kept} (")
    assert seen["full"].startswith("forge sample (procedural) done: 4/4 judged")
    assert f"kept {kept} of 4 this run (yield " in seen["full"]
    assert any("baseline" in line for line in seen["log"])  # the engine's log, streamed
    with Store.open(sample_home / "bugfoundry.duckdb") as s:
        assert s.count(BrowseFilter()) == kept


def test_cancel_keeps_what_was_validated_and_a_rerun_resumes(sample_home: Path) -> None:
    with Store.open(sample_home / "bugfoundry.duckdb") as s:
        before = s.count(BrowseFilter())
    seen: dict[str, object] = {}

    async def cancel(app: BugfoundryApp, pilot) -> None:  # noqa: ANN001
        await _start(app, pilot, max_candidates=6, seed=3)
        job = app.forge_job
        await _wait(pilot, lambda: job.validated >= 1, "the first verdict")
        await pilot.press("x")  # on the forge screen: cancel
        await _wait(pilot, lambda: job.finished, "the forge to stop")
        seen["cancelled"] = (job.validated, job.kept, job.summary.interrupted, job.already_done)
        await pilot.pause(0.8)
        seen["status"] = str(app.screen.query_one("#forge-status").render())

    run_app(sample_home, cancel)
    validated, kept, interrupted, _ = seen["cancelled"]
    assert interrupted and 1 <= validated < 6
    assert "cancelled" in seen["status"]
    with Store.open(sample_home / "bugfoundry.duckdb") as s:
        assert s.count(BrowseFilter()) == before + kept  # nothing validated was lost

    async def resume(app: BugfoundryApp, pilot) -> None:  # noqa: ANN001
        await _start(app, pilot, max_candidates=6, seed=3)
        job = app.forge_job
        await _wait(pilot, lambda: job.finished, "the rerun to finish")
        seen["resumed"] = (job.total, job.already_done, job.validated, job.error)

    run_app(sample_home, resume)
    total, already, now, error = seen["resumed"]
    assert error is None and total == 6
    assert already >= validated and already + now == 6  # judged candidates are not rerun


def test_a_forge_on_ray_from_the_forge_screen(sample_home: Path, local_ray: ModuleType) -> None:
    """The Ray field set to ``local`` (the session's local Ray, two CPUs): the forge thread
    validates on Ray actors and the screen follows it to its end, as for the local pool."""
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:  # noqa: ANN001
        await _start(app, pilot, max_candidates=4, seed=5, ray="local")
        job = app.forge_job
        await _wait(pilot, lambda: job.finished, "the forge on Ray to finish")
        await pilot.pause(0.1)
        seen["job"] = (job.total, job.done, job.error)
        seen["log"] = list(job.log)
        seen["status"] = str(app.screen.query_one("#forge-status").render())

    run_app(sample_home, drive)
    total, done, error = seen["job"]
    assert error is None and total == done == 4
    assert any(line.startswith("validating on 1 Ray actor") for line in seen["log"]), seen["log"]
    assert seen["status"].startswith("forge sample (procedural) done: 4/4 judged")
