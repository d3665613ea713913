"""Reading aids of the review screen: pane sizes, search in a pane (re-running the tests is
``tui.rerun``).

Kept apart from ``tui.review`` (which shows an instance and records decisions) so the review
stays a screen of regions: the diff, the failures, the metadata, and the input line.

* ``w`` widens the failures pane (two thirds of the width), ``f`` gives it the whole screen.
* ``/`` searches the focused pane (the failures pane when the diff is not focused): matches
  are highlighted as you type, ``enter`` goes to the first, ``]`` / ``[`` to the next and
  previous; ``escape`` closes the search line.
* ``t`` re-runs the instance's FAIL_TO_PASS tests with the bug applied (``tui.rerun``) and
  shows their whole output in the failures pane; its key sits among these in the footer.
"""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.widgets import Input

from tui.panes import TextPane
from tui.rerun import RERUN_BINDING
from tui.services import WorkbenchScreen

READING_BINDINGS = [
    Binding("slash", "search", "Search", id="review.search"),
    Binding("right_square_bracket", "next_match(1)", "Next match", show=False,
            id="review.next_match"),
    Binding("left_square_bracket", "next_match(-1)", "Previous match", show=False,
            id="review.prev_match"),
    Binding("f", "full_failures", "Full", id="review.full_failures"),
    Binding("w", "wide_failures", "Wide failures", show=False, id="review.wide_failures"),
    RERUN_BINDING,
]


class ReadingMixin(WorkbenchScreen):
    """What the review screen offers for reading failures; it sets the fields below."""

    matches: list[int]
    match_at: int
    search_pane: str

    def init_reading(self) -> None:
        self.matches, self.match_at, self.search_pane = [], -1, "failures"

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
