"""The TUI tests drive a Textual app in-process, with its thread workers (forge, export, the
reader thread): a deadlock between a thread and the UI there blocks the test in a lock, where
pytest-timeout's default signal method may never get control back (a teardown that waits for
the stuck thread outlives the one signal), and CI hung for 15+ minutes once. So every test
here gets the thread method: after ``TUI_TIMEOUT`` seconds it dumps every thread's stack and
ends the run, instead of leaving it blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TUI_TIMEOUT = 600  # most take seconds; test_forge.py forges (30 s here, 240 s per wait allowed)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TUI_TIMEOUT, method="thread"))
