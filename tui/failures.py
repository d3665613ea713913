"""The failing tests' output as the review's failures pane shows it.

Collection errors first, then each FAIL_TO_PASS test's traceback; frames through the diff are
marked for ``j``. Where the stored text was cut (pytest shortens assertion diffs without
``-vv``; validation keeps the last 3,000 characters of a traceback, the pytest plugin the last
4,000), a line says so and that ``t`` re-runs the tests for the whole output.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.text import Text

from tui.diffmodel import Frame, ParsedDiff, find_frame

if TYPE_CHECKING:
    from engine.dataset.rerun import Rerun  # the worker's import: it pulls in the runner

# A frame in an installed package: its long venv path shortened to the package's own path.
LIB_FRAME = re.compile(r"^(\S*/)(site-packages|dist-packages|lib/python3\.\d+)/(\S+\.py:\d+: .*)$")
FRAME_LINE = re.compile(r"^\S+\.py:\d+: ")


STORED_TAIL = 3000  # engine.validation.grading keeps this many characters of a traceback
PYTEST_CUT = re.compile(r"Full output truncated|use '-vv' to show|Use -v to get more diff")
CUT_AT_START = "(stored cut: only the traceback's end was kept; t re-runs for all of it)"
CUT_BY_PYTEST = "  (pytest cut this diff; t re-runs the tests with -vv for the whole of it)"

SHOWN_FAILURES = 40  # tracebacks shown; the rest are folded into one line (all are stored)


def failure_lines(
    failures: dict[str, str], diff: ParsedDiff, collection_errors: dict[str, str] | None = None
) -> tuple[list[Text], dict[int, Frame]]:
    """The collection errors first (the real failure when a bug breaks an import), then each
    F2P test's traceback as lines, and which lines are frames through the diff."""
    lines: list[Text] = []
    frames: dict[int, Frame] = {}
    for where, text in (collection_errors or {}).items():
        lines.append(Text(f"✖ collection error in {where or 'the session'}", style="bold red"))
        _output_lines(text, diff, lines, frames)
    if collection_errors:  # the tests they stopped are listed, not their copies of the error
        stopped = [n for n, o in failures.items() if o.startswith("collection failed")]
        if stopped:
            lines.append(Text(f"{len(stopped)} FAIL_TO_PASS tests did not run because of it: "
                              + ", ".join(stopped[:5]) + (" ..." if len(stopped) > 5 else ""),
                              style="yellow"))
            lines.append(Text(""))
        failures = {n: o for n, o in failures.items() if n not in set(stopped)}
    if not failures and not collection_errors:
        lines.append(Text("(no failure output was recorded)", style="dim"))
    shown = list(failures.items())[:SHOWN_FAILURES]
    for nodeid, output in shown:
        lines.append(Text(f"● {nodeid}", style="bold red"))
        if len(output) >= STORED_TAIL:
            lines.append(Text(CUT_AT_START, style="yellow"))
        _output_lines(output, diff, lines, frames)
    folded = len(failures) - len(shown)
    if folded:
        lines.append(Text(f"… {folded} more failing tests folded (all stored: "
                          "`bugfoundry show ID` prints them)", style="bold"))
    return lines, frames


def _output_lines(output: str, diff: ParsedDiff, lines: list[Text],
                  frames: dict[int, Frame]) -> None:
    """One test's (or collection error's) output, frames through the diff marked."""
    in_lib = False  # inside a frame of an installed package (pytest's own, a dependency)
    for raw in output.splitlines():
        frame = find_frame(raw, diff)
        lib = LIB_FRAME.match(raw)
        if frame is not None:
            in_lib = False
            frames[len(lines)] = frame
            mark = "  ◀ in the diff" if frame.in_hunk else "  ◀ changed file"
            lines.append(Text(raw + mark, style="bold yellow" if frame.in_hunk else "yellow"))
        elif lib:
            in_lib = True
            lines.append(Text(f"{lib.group(2)}/{lib.group(3)}", style="dim"))
        elif raw.startswith("E "):
            lines.append(Text(raw, style="red"))
            if PYTEST_CUT.search(raw):
                lines.append(Text(CUT_BY_PYTEST, style="yellow"))
        else:
            if FRAME_LINE.match(raw):
                in_lib = False
            lines.append(Text(raw, style="dim" if in_lib else ""))
    lines.append(Text(""))


def rerun_lines(rerun: Rerun, diff: ParsedDiff) -> tuple[list[Text], dict[int, Frame]]:
    """A re-run's result as pane lines: a summary line, then each failure in full."""
    lines: list[Text] = [Text(rerun.summary(), style="bold cyan"), Text("")]
    frames: dict[int, Frame] = {}
    if rerun.problem and not rerun.outcomes:
        return lines, frames
    for where, text in rerun.collection_errors.items():
        lines.append(Text(f"✖ collection error in {where or 'the session'}", style="bold red"))
        _output_lines(text, diff, lines, frames)
    for nodeid, outcome in rerun.outcomes.items():
        if nodeid not in rerun.texts:
            lines.append(Text(f"○ {nodeid}: {outcome} with the bug", style="bold green"))
            continue
        lines.append(Text(f"● {nodeid}: {outcome}", style="bold red"))
        _output_lines(rerun.texts[nodeid], diff, lines, frames)
    return lines, frames
