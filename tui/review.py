"""The review screen: one instance's diff next to its failing tests, metadata below.

Frames of a traceback that run through the diff are marked, and ``j`` (or a click on one)
scrolls the diff to the hunk the frame lands in. ``d`` switches unified / side by side.
Searching and pane sizes are in ``tui.reading``, re-running the tests in ``tui.rerun``.

Regions (top to bottom): the title line, ``#review-main`` (diff | failures), ``#meta`` (the
instance and every curator's labels), then one input line at a time (note or search).
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Header, Input, Static

from engine.instances import InstanceDetail
from tui.adjudicate import Chosen, DecisionDialog, curation_text, settlement_text
from tui.blind import shown_id
from tui.browse import DECISION_BINDINGS, HELP_BINDING, CurationScreen
from tui.diffmodel import Frame, parse_patch
from tui.failures import failure_lines
from tui.keybar import KeyBar
from tui.modals import RubricScreen
from tui.panes import SideBySideDiff, TextLines, TextPane, UnifiedDiff
from tui.reading import READING_BINDINGS, ReadingMixin
from tui.rerun import RerunMixin
from tui.services import BlindChanged
from tui.widgets import decision_text, metadata_text, realism_text

AHEAD = (1, -1, 2, 3, 4)  # which neighbours to read ahead, most wanted first


class ReviewScreen(ReadingMixin, RerunMixin, CurationScreen):
    """One instance: the diff next to the failing tests' output, metadata below."""

    BINDINGS = [
        Binding("escape,b,q", "back", "Back", key_display="esc", id="review.back"),
        *DECISION_BINDINGS,
        HELP_BINDING,
        Binding("n,right", "step(1)", "Next/prev", key_display="n/p", id="review.next"),
        Binding("p,left", "step(-1)", "Prev", show=False, id="review.prev"),
        Binding("N,space", "next_undecided", "Undecided", id="review.next_undecided"),
        *READING_BINDINGS,
        # In the help and the README; the footer has no room left at 120 columns.
        Binding("e", "edit_note", "Note", show=False, id="review.note"),
        Binding("R", "rubric", "Rubric", show=False, id="review.rubric"),
        Binding("d", "toggle_diff", "Layout", show=False, id="review.diff_layout"),
        Binding("j", "jump", "Hunk", show=False, id="review.jump"),
        Binding("A", "adjudicate", "Adjudicate", show=False, id="review.adjudicate"),
        Binding("c", "copy('id')", "Copy id", show=False, id="review.copy_id"),
        Binding("C", "copy('diff')", "Copy diff", show=False, id="review.copy_diff"),
    ]

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id
        self.diff = parse_patch("")
        self.failures = TextLines([])
        self.frames: dict[int, Frame] = {}
        self.jump_at: int | None = None  # the failure line last jumped from
        self.init_reading()
        self.init_rerun()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="review-title")
        with Horizontal(id="review-main"):
            yield TextPane(id="diff")
            yield TextPane(id="failures")
        yield TextPane(id="meta")
        yield Input(placeholder="note for this instance (enter saves, escape cancels)",
                    id="note")
        yield Input(id="search")
        yield KeyBar(show_command_palette=False)  # ctrl+p still works

    def on_mount(self) -> None:
        self.title = "review"
        self.sub_title = f"curator {self.bf.curator}"
        self.query_one("#note", Input).display = False
        self.query_one("#search", Input).display = False
        self.query_one("#failures", TextPane).border_title = "failing tests"
        self.query_one("#meta", TextPane).border_title = "metadata"
        self.show_instance(self.instance_id)
        self.query_one("#diff", TextPane).focus()

    def current_id(self) -> str | None:
        return self.instance_id

    @property
    def side_by_side(self) -> bool:
        return self.bf.prefs.side_by_side

    def show_instance(self, instance_id: str) -> None:
        rec = self.bf.details.get(instance_id)
        if rec is None:
            self.notify(f"no instance {instance_id}", severity="error")
            return
        self.instance_id = instance_id  # (the header title stays: changing it costs a layout)
        self.bf.listing.current = instance_id  # the browse cursor follows on the way back
        self.diff = parse_patch(rec.patch or "")
        lines, self.frames = failure_lines(rec.failures, self.diff,
                                           rec.meta.get("collection_errors"))
        self.failures = TextLines(lines)
        self.jump_at = None
        self._show_diff()
        failures = self.query_one("#failures", TextPane)
        failures.show(self.failures)
        failures.border_title = "failing tests"
        self.show_failures()  # a re-run of this instance replaces the stored output
        self._show_meta(rec)
        self._title(rec)
        self._read_ahead()
        self.shown_at = time.monotonic()

    def _show_meta(self, rec: InstanceDetail) -> None:
        """The metadata, then every curator's labels and the final decision."""
        meta = metadata_text(rec, blind=self.bf.prefs.blind,
                             duplicate_of=(self.bf.details.duplicates or {}).get(rec.instance_id))
        meta.append_text(curation_text(rec, self.bf.config.reasons, self.bf.curator))
        meta.rstrip()
        self.query_one("#meta", TextPane).show(TextLines(list(meta.split("\n"))))

    def _show_diff(self) -> None:
        pane = self.query_one("#diff", TextPane)
        side = self.side_by_side
        # Side by side needs the width: the diff goes on top, the failures below it.
        self.query_one("#review-main").set_class(side, "stacked")
        pane.show(SideBySideDiff(self.diff) if side else UnifiedDiff(self.diff))
        pane.border_title = "diff (side by side)" if side else "diff (unified)"
        if self.jump_at is not None:
            pane.mark(self.diff.target_row(self.frames[self.jump_at], side=side))

    def _read_ahead(self) -> None:
        lst = self.bf.listing
        i = lst.index_of(self.instance_id)
        if i is None:
            return
        ids = [lst.rows[j].instance_id for d in AHEAD if 0 <= (j := i + d) < len(lst.rows)]
        self.bf.details.prefetch(ids)

    def _title(self, rec: InstanceDetail | None = None) -> None:
        if rec is None:  # after an event: the cache was invalidated, so this reads it again
            rec = self.bf.details.get(self.instance_id)
        st = next((d for d in rec.decisions if d.curator == self.bf.curator), None) \
            if rec is not None else None
        lst = self.bf.listing
        pos = lst.index_of(self.instance_id)
        # The id first: at 80 columns the end of the line is what gets cut.
        title = Text(shown_id(self.instance_id, self.bf.prefs.blind), style="bold")
        # Of the list n/p walk (a decision can take an instance out of the filter, not out
        # of the walk); how many still match the filter, when that differs.
        title.append(f"   {pos + 1 if pos is not None else '-'}/{lst.listed}")
        if lst.total != lst.listed:
            title.append(f" ({lst.total} still match)", style="dim")
        title.append("   ")
        title.append_text(decision_text(st.decision if st else None))
        title.append("  ")
        title.append_text(realism_text(st.realism if st else None))
        if rec is not None:
            title.append_text(settlement_text(rec))
        if self.frames:
            title.append(f"   {len(self.frames)} frame(s) through the diff: j jumps",
                         style="yellow")
        self.query_one("#review-title", Static).update(title, layout=False)

    def after_event(self, instance_id: str, advance: bool) -> None:
        self.bf.listing.refresh_row(instance_id)
        self.bf.listing.refresh_counts()
        if instance_id != self.instance_id:
            self.show_instance(instance_id)  # undo/redo jump to what they changed
        elif advance:
            self.action_step(1)
        else:
            rec = self.bf.details.get(instance_id)  # a tag or an undo changed its labels
            self._title(rec)
            if rec is not None:
                self._show_meta(rec)

    def action_step(self, delta: int) -> None:
        lst = self.bf.listing
        i = lst.index_of(self.instance_id)
        target = (i if i is not None else -1) + delta
        if target >= len(lst.rows):
            lst.load_more()
        if 0 <= target < len(lst.rows):
            self.show_instance(lst.rows[target].instance_id)
        else:
            self._title()
            self.notify("no more instances" if delta > 0 else "this is the first instance")

    def action_next_undecided(self) -> None:
        lst = self.bf.listing
        i = lst.index_of(self.instance_id)
        j = lst.next_undecided(i if i is not None else -1)
        if j is None:
            self.notify("no undecided instance after this one")
        else:
            self.show_instance(lst.rows[j].instance_id)

    def on_blind_changed(self, _: BlindChanged) -> None:
        self.show_instance(self.instance_id)

    def action_copy(self, what: str) -> None:
        """The instance id or its bug diff to the clipboard (OSC 52: works over SSH too)."""
        rec = self.bf.details.get(self.instance_id) if what == "diff" else None
        text = rec.patch if rec is not None else self.instance_id
        self.app.copy_to_clipboard(text)
        self.notify(f"copied the bug diff ({len(text.splitlines())} lines)" if rec is not None
                    else f"copied {self.instance_id}")

    def action_toggle_diff(self) -> None:
        self.bf.prefs.side_by_side = not self.side_by_side
        self.bf.save_prefs()
        self._show_diff()

    def action_jump(self) -> None:
        """Jump to the hunk of the next marked frame (cycling)."""
        if not self.frames:
            self.notify("no traceback frame runs through a file this diff changes")
            return
        order = sorted(self.frames)
        later = [k for k in order if self.jump_at is None or k > self.jump_at]
        self._jump_to(later[0] if later else order[0])

    def _jump_to(self, line: int) -> None:
        self.jump_at = line
        frame = self.frames[line]
        self._show_diff()  # first: switching the layout changes the failures' wrapping
        self.query_one("#failures", TextPane).mark(line)
        where = "its line" if frame.in_hunk else "the nearest hunk"
        self.notify(f"{frame.file}:{frame.line} → {where} in the diff", timeout=2)

    @on(TextPane.RowClicked, "#failures")
    def _frame_clicked(self, event: TextPane.RowClicked) -> None:
        line = self.failures.origin(event.row, event.pane.scrollable_content_region.width)
        if line in self.frames:
            self._jump_to(line)

    def action_rubric(self) -> None:
        st = self.bf.store.current_decisions(self.bf.curator, [self.instance_id])
        cur = st[0] if st else None
        iid = self.instance_id

        def save(fields: dict | None) -> None:
            chosen = {k: v for k, v in (fields or {}).items() if v is not None}
            if not chosen or self.record(iid, "tag", **chosen) is None:
                return
            self.after_event(iid, advance=False)
            self.show_instance(iid)
            self.notify("rubric saved")

        self.app.push_screen(RubricScreen(
            cur.clarity if cur else None, cur.test_validity if cur else None,
            cur.difficulty if cur else None,
        ), save)

    def action_adjudicate(self) -> None:
        """Set this instance's final decision as its adjudicator (undo takes it back)."""
        if not self.writable():
            return
        iid = self.instance_id
        rec = self.bf.details.get(iid)
        final = rec.final if rec is not None else None

        def save(chosen: Chosen | None) -> None:
            if chosen is None or not self.writable():
                return
            self.bf.store.set_final(iid, self.bf.curator, chosen.decision, note=chosen.note,
                                    reasons=chosen.reasons,
                                    guidelines_version=self.bf.guidelines.version)
            self.bf.details.invalidate(iid)
            self.after_event(iid, advance=False)
            self.notify(f"final decision: {chosen.decision} (u undoes it)")

        self.app.push_screen(DecisionDialog(
            f"Final decision on {shown_id(iid, self.bf.prefs.blind)} (as adjudicator "
            f"{self.bf.curator})", self.bf.config.reasons, decisions=("accept", "reject"),
            decision=final.decision if final else "reject",
            picked=final.reasons if final else (), note=(final.note or "") if final else ""),
            save)

    def action_edit_note(self) -> None:
        if not self.writable():
            return
        note = self.query_one("#note", Input)
        st = self.bf.store.current_decisions(self.bf.curator, [self.instance_id])
        note.value = (st[0].note or "") if st else ""
        note.display = True
        note.focus()

    def _close_note(self) -> None:
        note = self.query_one("#note", Input)
        note.display = False
        self.query_one("#diff", TextPane).focus()

    @on(Input.Submitted, "#note")
    def _note_submitted(self, event: Input.Submitted) -> None:
        self._close_note()
        if self.record(self.instance_id, "tag", note=event.value) is None:
            return
        self.after_event(self.instance_id, advance=False)
        self.show_instance(self.instance_id)
        self.notify("note saved")

    def action_back(self) -> None:
        if self.query_one("#note", Input).has_focus:
            self._close_note()  # escape in the note field cancels the note, not the screen
            return
        if self.query_one("#search", Input).has_focus:
            self.close_search()
            return
        self.app.pop_screen()
