"""The review's re-run key and the export dialog on a real forged workspace (the sample repo).

Real parts: the sample's environment, a real pytest run with the bug applied, a real export.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import Input, Select

from engine.store import Store
from tui.app import BugfoundryApp
from tui.export_screen import ExportScreen
from tui.review import ReviewScreen

pytestmark = pytest.mark.integration


async def _until(pilot, cond, what: str, tries: int = 1200) -> None:  # noqa: ANN001
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def private_copy(sample_ws: Path, ws: Path) -> Path:
    """The sample's database copied (decisions made here stay here: other tests export the
    shared workspace's curated split), its repo copy, environment and cache shared."""
    ws.mkdir()
    shutil.copy(sample_ws / "bugfoundry.duckdb", ws / "bugfoundry.duckdb")
    for shared in ("repos", "envs", "cache"):
        if (sample_ws / shared).exists():
            (ws / shared).symlink_to(sample_ws / shared)
    return ws


def test_rerun_and_export_from_the_tui(sample_ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "picked.jsonl"
    ws = private_copy(sample_ws, tmp_path / "ws")
    seen: dict[str, object] = {}

    async def main() -> None:
        app = BugfoundryApp(Store.open(ws / "bugfoundry.duckdb"), "tui-tools")
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ReviewScreen)
            iid = screen.instance_id
            seen["f2p"] = list(app.store.get_instance(iid).fail_to_pass)  # type: ignore[union-attr]
            await pilot.press("t")
            await _until(pilot, lambda: iid in screen.reruns, "the re-run")
            await pilot.pause()
            seen["rerun"] = screen.reruns[iid]
            seen["pane"] = screen.query_one("#failures").plain_text()
            print(seen["pane"][:1500])  # what a curator reads (shown with -s)
            await pilot.press("a")  # accept it, so the export has a row
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("E")
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, ExportScreen)
            dialog.query_one("#export-rule", Select).value = "any-accept"
            dialog.query_one("#export-dedup", Select).value = "none"
            dialog.query_one("#export-repo", Select).value = "sample"
            dialog.query_one("#export-path", Input).value = str(out)
            await pilot.press("ctrl+s")
            await _until(pilot, lambda: out.exists() and not app.workers, "the export", 600)
            await pilot.pause()
            seen["notices"] = [n.message for n in app._notifications]

    asyncio.run(main())
    rerun = seen["rerun"]
    assert not rerun.problem, rerun.problem  # type: ignore[attr-defined]
    assert list(rerun.outcomes) == seen["f2p"]  # type: ignore[attr-defined]
    assert rerun.still_failing == len(seen["f2p"])  # type: ignore[attr-defined,arg-type]
    pane = str(seen["pane"])
    assert pane.startswith(f"re-run: {len(seen['f2p'])} of {len(seen['f2p'])} "  # type: ignore[arg-type]
                           "FAIL_TO_PASS fail with the bug")
    assert "Error" in pane  # the tracebacks themselves, long form
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1
    manifest = json.loads((out.parent / f".{out.name}.bugfoundry" / "manifest.json").read_text())
    assert manifest["decision_rule"]["name"] == "any-accept"
    assert manifest["filter"] == {"split": "curated", "repo": "sample", "dedup": "none"}
    assert any(str(out) in n for n in seen["notices"])  # type: ignore[union-attr]
