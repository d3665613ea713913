"""The path to the first screen: the first page and its counts, read once; the duplicate map
and the review's modules only after the first frame (bench/tui.py measures the time)."""

from __future__ import annotations

from pathlib import Path

from engine.store import Store
from tests.fakes import make_workspace
from tests.tui.test_app import run_app
from tui.app import BugfoundryApp
from tui.browse import BrowseScreen


def test_first_screen_reads_one_page_and_defers_the_duplicate_map(tmp_path: Path,
                                                                   monkeypatch) -> None:
    home = tmp_path / "ws"
    make_workspace(home, 30)
    calls: list[str] = []
    real_browse, real_counts, real_map = Store.browse, Store.counts, Store.duplicate_map

    def browse(self: Store, *args, **kwargs):  # noqa: ANN202
        calls.append("browse")
        return real_browse(self, *args, **kwargs)

    def counts(self: Store, *args, **kwargs):  # noqa: ANN202
        calls.append("counts")
        return real_counts(self, *args, **kwargs)

    def duplicate_map(self: Store):  # noqa: ANN202
        calls.append("duplicates")
        return real_map(self)

    monkeypatch.setattr(Store, "browse", browse)
    monkeypatch.setattr(Store, "counts", counts)
    monkeypatch.setattr(Store, "duplicate_map", duplicate_map)
    seen: dict[str, object] = {}

    async def drive(app: BugfoundryApp, pilot) -> None:
        assert isinstance(app.screen, BrowseScreen)
        for _ in range(100):
            if app.details.duplicates is not None:
                break
            await pilot.pause(0.05)
        seen["later"] = list(calls)

    run_app(home, drive)
    # One page and one count query before the first frame (the screen's first resume does
    # not read them again); nothing over every diff.
    later = seen["later"]
    assert later[:2] == ["counts", "browse"] and later.count("browse") == 1
    assert "duplicates" in later[2:]  # then, on the reader thread
    assert (home / "cache" / "duplicates.json").is_file()
