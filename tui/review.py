"""The review screen: one instance's diff next to its failing tests, metadata below.

Frames of a traceback that run through the diff are marked, and ``j`` (or a click on one)
scrolls the diff to the hunk the frame lands in. ``d`` switches unified / side by side.
"""

from __future__ import annotations

import re
import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Static

from engine.instances import InstanceDetail
from tui.browse import DECISION_BINDINGS, CurationScreen
from tui.diffmodel import Frame, ParsedDiff, find_frame, parse_patch
from tui.modals import RubricScreen
from tui.panes import SideBySideDiff, TextLines, TextPane, UnifiedDiff
from tui.services import BlindChanged
from tui.widgets import decision_text, metadata_text, realism_text

STEP = Binding.Group("next/prev", compact=True)
AHEAD = (1, -1, 2, 3, 4)  # which neighbours to read ahead, most wanted first


# A frame in an installed package: its long venv path shortened to the package's own path.
LIB_FRAME = re.compile(r"^(\S*/)(site-packages|dist-packages|lib/python3\.\d+)/(\S+\.py:\d+: .*)$")
FRAME_LINE = re.compile(r"^\S+\.py:\d+: ")


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
        else:
            if FRAME_LINE.match(raw):
                in_lib = False
            lines.append(Text(raw, style="dim" if in_lib else ""))
    lines.append(Text(""))


class ReviewScreen(CurationScreen):
    """One instance: the diff next to the failing tests' output, metadata below."""

    BINDINGS = [
        *DECISION_BINDINGS,
        Binding("n,right", "step(1)", "Next", id="review.next", group=STEP),
        Binding("p,left", "step(-1)", "Prev", id="review.prev", group=STEP),
        Binding("N,space", "next_undecided", "Undecided", id="review.next_undecided"),
        Binding("d", "toggle_diff", "Layout", id="review.diff_layout"),
        Binding("j", "jump", "Hunk", id="review.jump"),
        Binding("e", "edit_note", "Note", id="review.note"),
        Binding("R", "rubric", "Rubric", id="review.rubric"),
        Binding("c", "copy('id')", "Copy id", show=False, id="review.copy_id"),
        Binding("C", "copy('diff')", "Copy diff", show=False, id="review.copy_diff"),
        Binding("escape,b", "back", "Back", show=False, id="review.back"),
    ]

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id
        self.diff = parse_patch("")
        self.failures = TextLines([])
        self.frames: dict[int, Frame] = {}
        self.jump_at: int | None = None  # the failure line last jumped from

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="review-title")
        with Horizontal(id="review-main"):
            yield TextPane(id="diff")
            yield TextPane(id="failures")
        yield TextPane(id="meta")
        yield Input(placeholder="note for this instance (enter saves, escape cancels)",
                    id="note")
        yield Footer(compact=True, show_command_palette=False)  # ctrl+p still works

    def on_mount(self) -> None:
        self.title = "review"
        self.sub_title = f"curator {self.bf.curator}"
        self.query_one("#note", Input).display = False
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
        self.diff = parse_patch(rec.patch or "")
        lines, self.frames = failure_lines(rec.failures, self.diff,
                                           rec.meta.get("collection_errors"))
        self.failures = TextLines(lines)
        self.jump_at = None
        self._show_diff()
        self.query_one("#failures", TextPane).show(self.failures)
        self.query_one("#meta", TextPane).show(
            TextLines(list(metadata_text(
                rec, blind=self.bf.prefs.blind,
                duplicate_of=(self.bf.details.duplicates or {}).get(instance_id)).split("\n"))))
        self._title(rec)
        self._read_ahead()
        self.shown_at = time.monotonic()

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
        states = (
            [d for d in rec.decisions if d.curator == self.bf.curator] if rec is not None
            else self.bf.store.current_decisions(self.bf.curator, [self.instance_id])
        )
        st = states[0] if states else None
        lst = self.bf.listing
        pos = lst.index_of(self.instance_id)
        title = decision_text(st.decision if st else None)
        title.append("  ")
        title.append_text(realism_text(st.realism if st else None))
        where = f"{pos + 1}/{lst.total}" if pos is not None else f"-/{lst.total}"
        title.append(f"   {where}   {self.instance_id}", style="bold")
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
            self._title()

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
        self.app.pop_screen()
