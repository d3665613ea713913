"""The review's ``t``: re-run the instance's FAIL_TO_PASS tests with the bug applied, on a
thread worker, and show their whole output in the failures pane.

Only the Textual side: the run itself (work tree, environment, pytest, parsing) is
``engine.dataset.rerun``, imported by the worker when ``t`` is first pressed (it pulls in the
engine's runner, which the first paint does not need).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.message import Message

from tui.failures import rerun_lines
from tui.panes import TextLines, TextPane
from tui.services import WorkbenchScreen

if TYPE_CHECKING:
    from engine.dataset.rerun import Rerun
    from tui.diffmodel import Frame, ParsedDiff

RERUN_BINDING = Binding("t", "rerun", "Re-run", id="review.rerun")


class RerunDone(Message):
    """The re-run worker finished (its result, whatever it says)."""

    def __init__(self, rerun: Rerun) -> None:
        super().__init__()
        self.rerun = rerun


class RerunMixin(WorkbenchScreen):
    """Re-running from the review screen, which sets the fields below; the latest re-run of
    each instance replaces its stored output while the screen lives."""

    instance_id: str
    diff: ParsedDiff
    failures: TextLines
    frames: dict[int, Frame]
    reruns: dict[str, Rerun]

    def init_rerun(self) -> None:
        self.reruns = {}

    def action_rerun(self) -> None:
        pane = self.query_one("#failures", TextPane)
        pane.border_title = "failing tests: re-running with the bug applied ..."
        self.notify("re-running the FAIL_TO_PASS tests with the bug applied ...")
        self._rerun_worker(self.instance_id)

    @work(thread=True, name="re-run", group="rerun", exclusive=True, exit_on_error=False)
    def _rerun_worker(self, instance_id: str) -> None:
        from engine.dataset.rerun import rerun_fail_to_pass

        with self.bf.store.reader() as store:
            result = rerun_fail_to_pass(self.bf.workspace, store, instance_id)
        self.post_message(RerunDone(result))

    def on_rerun_done(self, message: RerunDone) -> None:
        self.reruns[message.rerun.instance_id] = message.rerun
        self.notify(message.rerun.summary(), title="re-run",
                    severity="error" if message.rerun.problem else "information")
        if message.rerun.instance_id == self.instance_id:
            self.show_failures()

    def worker_failed(self, line: str) -> None:
        self.query_one("#failures", TextPane).border_title = "failing tests"

    def show_failures(self) -> None:
        """The failures pane: the latest re-run of this instance when there is one."""
        rerun = self.reruns.get(self.instance_id)
        if rerun is None:
            return
        lines, self.frames = rerun_lines(rerun, self.diff)
        self.failures = TextLines(lines)
        pane = self.query_one("#failures", TextPane)
        pane.show(self.failures)
        pane.border_title = "failing tests (re-run, -vv)"
