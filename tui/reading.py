"""Reading aids of the review screen: pane sizes, search in a pane, re-running the tests.

Kept apart from ``tui.review`` (which shows an instance and records decisions) so the review
stays a screen of regions: the diff, the failures, the metadata, and the input line.

* ``w`` widens the failures pane (two thirds of the width), ``f`` gives it the whole screen.
* ``/`` searches the focused pane (the failures pane when the diff is not focused): matches
  are highlighted as you type, ``enter`` goes to the first, ``]`` / ``[`` to the next and
  previous; ``escape`` closes the search line.
* ``t`` re-runs the instance's FAIL_TO_PASS tests with the bug applied (a thread worker,
  ``tui.rerun``) and shows their whole output in the failures pane.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

from tui.failures import rerun_lines
from tui.panes import TextLines, TextPane
from tui.services import WorkbenchScreen

if TYPE_CHECKING:
    from tui.diffmodel import Frame, ParsedDiff
    from tui.rerun import Rerun

READING_BINDINGS = [
    Binding("slash", "search", "Search", id="review.search"),
    Binding("right_square_bracket", "next_match(1)", "Next match", show=False,
            id="review.next_match"),
    Binding("left_square_bracket", "next_match(-1)", "Previous match", show=False,
            id="review.prev_match"),
    Binding("f", "full_failures", "Full", id="review.full_failures"),
    Binding("w", "wide_failures", "Wide failures", show=False, id="review.wide_failures"),
    Binding("t", "rerun", "Re-run", id="review.rerun"),
]


class RerunDone(Message):
    """The re-run worker finished (its result, whatever it says)."""

    def __init__(self, rerun: Rerun) -> None:
        super().__init__()
        self.rerun = rerun


class ReadingMixin(WorkbenchScreen):
    """What the review screen offers for reading failures; it sets the fields below."""

    instance_id: str
    diff: ParsedDiff
    failures: TextLines
    frames: dict[int, Frame]
    matches: list[int]
    match_at: int
    search_pane: str
    reruns: dict[str, Rerun]

    def init_reading(self) -> None:
        self.matches, self.match_at, self.search_pane = [], -1, "failures"
        self.reruns = {}

    # ------------------------------------------------------------- pane sizes
    def action_full_failures(self) -> None:
        self.toggle_class("failures-full")
        self.remove_class("failures-wide")
        self.query_one("#failures", TextPane).focus()

    def action_wide_failures(self) -> None:
        self.toggle_class("failures-wide")
        self.remove_class("failures-full")

    # ------------------------------------------------------------- search
    def action_search(self) -> None:
        focused = self.focused
        self.search_pane = focused.id if isinstance(focused, TextPane) and focused.id \
            else "failures"
        box = self.query_one("#search", Input)
        box.placeholder = (f"search the {self.search_pane} pane (enter: first match, "
                           "] / [ next / previous, escape closes)")
        box.display = True
        box.focus()

    def close_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = False
        self.query_one(f"#{self.search_pane}", TextPane).focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.matches = self.query_one(f"#{self.search_pane}", TextPane).search(event.value)
        self.match_at = -1

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.close_search()
        self.action_next_match(1)

    def action_next_match(self, delta: int) -> None:
        pane = self.query_one(f"#{self.search_pane}", TextPane)
        if not pane.term:
            self.notify("/ searches the focused pane first")
            return
        self.matches = pane.search(pane.term)  # the width may have changed since
        if not self.matches:
            self.notify(f"no match for '{pane.term}' in the {self.search_pane} pane")
            return
        self.match_at = (self.match_at + delta) % len(self.matches)
        pane.show_row(self.matches[self.match_at])
        self.notify(f"match {self.match_at + 1} of {len(self.matches)}", timeout=1.5)

    # ------------------------------------------------------------- re-running tests
    def action_rerun(self) -> None:
        pane = self.query_one("#failures", TextPane)
        pane.border_title = "failing tests: re-running with the bug applied ..."
        self.notify("re-running the FAIL_TO_PASS tests with the bug applied ...")
        self._rerun_worker(self.instance_id)

    @work(thread=True, name="re-run", group="rerun", exclusive=True, exit_on_error=False)
    def _rerun_worker(self, instance_id: str) -> None:
        from tui.rerun import rerun_fail_to_pass

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
