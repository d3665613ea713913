"""The one shape of a progress callback: every stage that says what it does takes a ``Log``.

The CLI passes a printer (or its progress bar's), the TUI a message poster, tests and benches
``quiet``; defined once so the 20-odd signatures that thread it agree.
"""

from __future__ import annotations

from collections.abc import Callable

Log = Callable[[str], None]


def quiet(_msg: str) -> None:
    """Say nothing (the default of every ``log`` parameter)."""
