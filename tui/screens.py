"""The browse and review screens. Every decision is written through the store at once."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, Markdown, Select, Static, TextArea

from engine.store import DECISION_FILTERS, DIFFICULTY_VALUES, REALISM_FILTERS, REALISM_VALUES
from tui.widgets import (
    COLUMNS,
    DiffView,
    FailuresView,
    InstanceTable,
    changed_files,
    decision_text,
    metadata_text,
    realism_text,
)

if TYPE_CHECKING:
    from tui.app import BugfoundryApp

# Actions that write a decision; they are inert while a text field has focus.
DECIDING = frozenset({"decide", "realism", "undo", "redo"})

REALISM = Binding.Group("realistic/plausible/artificial", compact=True)
UNDO = Binding.Group("undo/redo", compact=True)
DECISION_BINDINGS = [
    Binding("a", "decide('accept')", "Accept", id="decide.accept"),
    Binding("r", "decide('reject')", "Reject", id="decide.reject"),
    Binding("s", "decide('skip')", "Skip", id="decide.skip"),
    Binding("1", "realism('realistic')", "Realistic", id="realism.realistic", group=REALISM),
    Binding("2", "realism('plausible')", "Plausible", id="realism.plausible", group=REALISM),
    Binding("3", "realism('artificial')", "Artificial", id="realism.artificial", group=REALISM),
    Binding("u", "undo", "Undo", id="undo", group=UNDO),
    Binding("U,ctrl+y", "redo", "Redo", id="redo", group=UNDO),
]


FILTER_TOKENS = {"repo": "repo", "strategy": "strategy", "mod": "modifier",
                 "modifier": "modifier"}


def parse_filter_text(raw: str) -> dict[str, str]:
    """``repo:X strategy:Y mod:Z`` tokens filter those columns; the rest is free text."""
    found = {field: "" for field in set(FILTER_TOKENS.values())}
    words = []
    for word in raw.split():
        name, sep, value = word.partition(":")
        if sep and name.lower() in FILTER_TOKENS and value:
            found[FILTER_TOKENS[name.lower()]] = value
        else:
            words.append(word)
    return {**found, "text": " ".join(words)}


class CurationScreen(Screen):
    """Shared decision keys; subclasses say which instance is current and what follows."""

    BINDINGS = DECISION_BINDINGS

    shown_at: float = 0.0

    @property
    def bf(self) -> BugfoundryApp:
        return self.app  # type: ignore[return-value]

    def current_id(self) -> str | None:
        raise NotImplementedError

    def after_event(self, instance_id: str, advance: bool) -> None:
        """Repaint what changed; ``advance`` moves on to the next instance."""
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in DECIDING and isinstance(self.focused, Input | TextArea))

    def _spent(self) -> float:
        now = time.monotonic()
        spent, self.shown_at = now - (self.shown_at or now), now
        return round(spent, 3)

    def action_decide(self, action: str) -> None:
        iid = self.current_id()
        if iid is None:
            return
        self.bf.store.record_decision(iid, self.bf.curator, action, seconds_spent=self._spent())
        self.bf.session_decisions += 1
        self.after_event(iid, advance=True)

    def action_realism(self, realism: str) -> None:
        iid = self.current_id()
        if iid is None or realism not in REALISM_VALUES:
            return
        self.bf.store.record_decision(iid, self.bf.curator, "tag", realism=realism,
                                      seconds_spent=self._spent())
        self.after_event(iid, advance=False)

    def action_undo(self) -> None:
        done = self.bf.store.undo(self.bf.curator)
        if done is None:
            self.notify("nothing to undo")
            return
        self.after_event(done.instance_id, advance=False)
        self.notify(f"undid a decision on {done.instance_id}")

    def action_redo(self) -> None:
        done = self.bf.store.redo(self.bf.curator)
        if done is None:
            self.notify("nothing to redo")
            return
        self.after_event(done.instance_id, advance=False)
        self.notify(f"redid a decision on {done.instance_id}")


class BrowseScreen(CurationScreen):
    """The instance table with filters and the true count for the active filter."""

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="browse.filter"),
        Binding("escape", "focus_table", "Table", show=False, id="browse.table"),
        Binding("o", "open", "Review", id="browse.open"),
        Binding("S", "cycle_sort", "Sort", id="browse.sort"),
        Binding("O", "reverse_sort", "Reverse", show=False, id="browse.reverse"),
        *DECISION_BINDINGS,
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Input(placeholder="/ filter: id, file or function; repo:X strategy:Y mod:Z",
                        id="filter-text")
            yield Select([(v or "any decision", v) for v in DECISION_FILTERS], value="",
                         allow_blank=False, id="filter-decision")
            yield Select([(v or "any realism", v) for v in REALISM_FILTERS], value="",
                         allow_blank=False, id="filter-realism")
        yield Static(id="status")
        yield InstanceTable(id="instances")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "bugfoundry"
        self.sub_title = f"curator {self.bf.curator}"
        self.table.show_rows(self.bf.listing.rows, clear=True)
        self._status()
        self.table.focus()
        self.shown_at = time.monotonic()

    @property
    def table(self) -> InstanceTable:
        return self.query_one(InstanceTable)

    def current_id(self) -> str | None:
        return self.table.current_id

    def _status(self) -> None:
        lst = self.bf.listing
        if lst.total == 0 and not self.bf.store.count(replace(lst.filters, decision="")):
            msg = "no instances yet: forge some with  bugfoundry forge REPO"
        else:
            msg = (f"{lst.total} instances match · decided {lst.decided}/{lst.total} · "
                   f"loaded {len(lst.rows)}{self._pace(lst.total - lst.decided)}")
        self.query_one("#status", Static).update(msg)

    def _pace(self, left: int) -> str:
        """This session's rate and the time left at that rate (once there is a rate)."""
        n = self.bf.session_decisions
        minutes = (self.bf.clock() - self.bf.session_started) / 60
        if n < 2 or minutes < 0.5:  # too early for a meaningful rate
            return ""
        rate = n / minutes
        eta = left / rate
        eta_s = f"{eta:.0f}m" if eta < 90 else f"{eta / 60:.1f}h"
        return f" · this session {n} at {rate:.1f}/min, ETA {eta_s}"

    def _reload(self) -> None:
        keep = self.table.current_id
        lst = self.bf.listing
        lst.reload()
        self.table.show_rows(lst.rows, clear=True)
        if keep is not None and (i := lst.index_of(keep)) is not None:
            self.table.move_cursor(row=i)
        self._status()

    def on_screen_resume(self) -> None:
        self._reload()  # decisions made in review change rows and counts

    def after_event(self, instance_id: str, advance: bool) -> None:
        row = self.bf.listing.refresh_row(instance_id)
        if row is not None:
            self.table.update_row(row)
            if not advance:
                self.table.move_cursor(row=self.bf.listing.index_of(instance_id))
        self.bf.listing.refresh_counts()
        if advance:
            self.table.action_cursor_down()
        self._status()

    @on(InstanceTable.RowHighlighted)
    def _maybe_load_more(self) -> None:
        if self.table.near_end and not self.bf.listing.exhausted:
            self.table.show_rows(self.bf.listing.load_more())
            self._status()
        self.shown_at = time.monotonic()

    @on(InstanceTable.RowSelected)
    def _selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        iid = self.current_id()
        if iid is not None:
            self.app.push_screen(ReviewScreen(iid))

    def action_focus_filter(self) -> None:
        self.query_one("#filter-text", Input).focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_cycle_sort(self) -> None:
        keys = [key for key, _ in COLUMNS]
        lst = self.bf.listing
        self._sort(keys[(keys.index(lst.sort) + 1) % len(keys)] if lst.sort in keys else keys[0])

    def action_reverse_sort(self) -> None:
        self._sort(self.bf.listing.sort, toggle=True)

    @on(InstanceTable.HeaderSelected)
    def _header(self, event: InstanceTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        self._sort(key, toggle=key == self.bf.listing.sort)

    def _sort(self, key: str, toggle: bool = False) -> None:
        lst = self.bf.listing
        lst.descending = (not lst.descending) if toggle else False
        lst.sort = key
        self._reload()
        self.notify(f"sorted by {key}{' (descending)' if lst.descending else ''}")

    @on(Input.Changed, "#filter-text")
    def _text_changed(self, event: Input.Changed) -> None:
        self._set_filter(**parse_filter_text(event.value))

    @on(Input.Submitted, "#filter-text")
    def _text_submitted(self) -> None:
        self.table.focus()

    @on(Select.Changed, "#filter-decision")
    def _decision_changed(self, event: Select.Changed) -> None:
        self._set_filter(decision=str(event.value))

    @on(Select.Changed, "#filter-realism")
    def _realism_changed(self, event: Select.Changed) -> None:
        self._set_filter(realism=str(event.value))

    def _set_filter(self, **changes: str) -> None:
        lst = self.bf.listing
        new = replace(lst.filters, **changes)
        if new != lst.filters:
            lst.filters = new
            self._reload()


class ReviewScreen(CurationScreen):
    """One instance: the diff next to the failing tests' output, metadata below."""

    BINDINGS = [
        Binding("escape,b", "back", "Back", id="review.back"),
        Binding("n,right", "step(1)", "Next", id="review.next"),
        Binding("p,left", "step(-1)", "Prev", id="review.prev"),
        Binding("N,space", "next_undecided", "Next undecided", id="review.next_undecided"),
        Binding("e", "edit_note", "Note", id="review.note"),
        Binding("R", "rubric", "Rubric", id="review.rubric"),
        *DECISION_BINDINGS,
    ]

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="review-title")
        with Horizontal(id="review-main"):
            with VerticalScroll(id="diff-pane"):
                yield DiffView(id="diff")
            with VerticalScroll(id="failures-pane"):
                yield FailuresView(id="failures")
        with VerticalScroll(id="meta-pane"):
            yield Static(id="meta")
        yield Input(placeholder="note for this instance (enter saves, escape cancels)",
                    id="note")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"curator {self.bf.curator}"
        self.query_one("#note", Input).display = False
        self.show_instance(self.instance_id)

    def current_id(self) -> str | None:
        return self.instance_id

    def show_instance(self, instance_id: str) -> None:
        rec = self.bf.store.instance_detail(instance_id)
        if rec is None:
            self.notify(f"no instance {instance_id}", severity="error")
            return
        self.instance_id = instance_id
        self.title = instance_id
        self.query_one(DiffView).show(rec["patch"])
        self.query_one(FailuresView).show(rec["failures"], changed_files(rec["patch"]))
        self.query_one("#meta", Static).update(metadata_text(rec))
        self._title(rec)
        for pane in ("#diff-pane", "#failures-pane"):
            scroller = self.query_one(pane, VerticalScroll)
            if scroller.scroll_y:
                scroller.scroll_home(animate=False)
        self.shown_at = time.monotonic()

    def _title(self, rec: dict | None = None) -> None:
        states = (
            [d for d in rec["decisions"] if d.curator == self.bf.curator] if rec is not None
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
        self.query_one("#review-title", Static).update(title)

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

    def action_rubric(self) -> None:
        st = self.bf.store.current_decisions(self.bf.curator, [self.instance_id])
        cur = st[0] if st else None
        iid = self.instance_id

        def save(fields: dict | None) -> None:
            chosen = {k: v for k, v in (fields or {}).items() if v is not None}
            if not chosen:
                return
            self.bf.store.record_decision(iid, self.bf.curator, "tag", **chosen)
            self.after_event(iid, advance=False)
            self.show_instance(iid)
            self.notify("rubric saved")

        self.app.push_screen(RubricScreen(
            cur.clarity if cur else None, cur.test_validity if cur else None,
            cur.difficulty if cur else None,
        ), save)

    def action_edit_note(self) -> None:
        note = self.query_one("#note", Input)
        st = self.bf.store.current_decisions(self.bf.curator, [self.instance_id])
        note.value = (st[0].note or "") if st else ""
        note.display = True
        note.focus()

    def _close_note(self) -> None:
        note = self.query_one("#note", Input)
        note.display = False
        self.query_one("#diff-pane").focus()

    @on(Input.Submitted, "#note")
    def _note_submitted(self, event: Input.Submitted) -> None:
        self.bf.store.record_decision(self.instance_id, self.bf.curator, "tag",
                                      note=event.value, seconds_spent=self._spent())
        self._close_note()
        self.after_event(self.instance_id, advance=False)
        self.notify("note saved")

    def action_back(self) -> None:
        if self.query_one("#note", Input).has_focus:
            self._close_note()  # escape in the note field cancels the note, not the screen
            return
        self.app.pop_screen()


HELP = """\
# Curating with bugfoundry

Every key writes one event to the workspace database at once; nothing waits for a save.

| key | what it does |
|---|---|
| `a` / `r` / `s` | accept / reject / skip, then move on |
| `1` / `2` / `3` | realism: realistic / plausible / artificial |
| `u` / `U` (or `ctrl+y`) | undo / redo, unlimited, across sessions |
| `enter` or `o` | review the highlighted instance (browse) |
| `n` / `p`, `N` or `space` | next / previous, next undecided (review) |
| `e` | write a note (review); `enter` saves, `escape` cancels |
| `R` | rubric (review): clarity 0-3, test validity 0-3, difficulty; `ctrl+s` saves |
| `/`, `S`, `O` | filter, cycle the sort column, reverse it (browse) |
| `escape` / `q` | back / quit |

Filter text matches the id, file or function; `repo:X strategy:Y mod:Z` narrow columns.
Decision keys do nothing while a text field has focus.

## Realism rubric

* **realistic**: a slip a competent developer could make and ship (off-by-one, a wrong
  operator, an inverted condition in ordinary code); the failing tests read like a bug report.
* **plausible**: could happen, but the change is blunt (a whole branch or call gone) or the
  failure points straight at the edit.
* **artificial**: no one would write this (a base class dropped, methods shuffled), or the
  failure is a crash at import; useful only as a smoke test.

Reject an instance whose failing tests do not check the behaviour the diff breaks
(SWE-bench Verified's "tests are invalid"), or whose diff is not a bug at all.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and the realism rubric, over whatever screen is open."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)


SCORE_OPTIONS = [("not rated", None), ("0", 0), ("1", 1), ("2", 2), ("3", 3)]


class RubricScreen(ModalScreen[dict | None]):
    """SWE-bench Verified's rubric for one instance; dismisses with the chosen fields."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="rubric.save"),
        Binding("escape", "dismiss(None)", "Cancel", id="rubric.cancel"),
    ]

    def __init__(self, clarity: int | None, validity: int | None, difficulty: str | None) -> None:
        super().__init__()
        self.initial = (clarity, validity, difficulty)

    def compose(self) -> ComposeResult:
        clarity, validity, difficulty = self.initial
        with VerticalScroll(id="rubric"):
            yield Static("Problem-statement clarity (0 = clear ... 3 = impossible to tell)")
            yield Select(SCORE_OPTIONS, value=clarity, allow_blank=False, id="rubric-clarity")
            yield Static("Test validity (0 = tests check the behaviour ... 3 = unrelated)")
            yield Select(SCORE_OPTIONS, value=validity, allow_blank=False, id="rubric-validity")
            yield Static("Difficulty for an experienced engineer")
            yield Select([("not rated", None), *((d, d) for d in DIFFICULTY_VALUES)],
                         value=difficulty, allow_blank=False, id="rubric-difficulty")
            yield Static("ctrl+s saves, escape cancels", classes="hint")

    def action_save(self) -> None:
        self.dismiss({
            "clarity": self.query_one("#rubric-clarity", Select).value,
            "test_validity": self.query_one("#rubric-validity", Select).value,
            "difficulty": self.query_one("#rubric-difficulty", Select).value,
        })
