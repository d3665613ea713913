"""The browse screen and the decision keys it shares with review.

Every decision is written through the store at once (one event per key).
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Header, Input, Select, Static, TextArea

from engine.store import DECISION_FILTERS, REALISM_FILTERS, REALISM_VALUES, BrowseFilter
from tui.adjudicate import Chosen, DecisionDialog
from tui.forge_runner import ForgeBar
from tui.keybar import KeyBar
from tui.listing import plural, session_pace
from tui.prefs import SavedFilter
from tui.services import BlindChanged, ForgeChanged, WorkbenchScreen
from tui.widgets import COLUMNS, HIDDEN_IN_BLIND, InstanceTable, sort_label

# Actions that write a decision; they are inert while a text field has focus.
DECIDING = frozenset({"decide", "realism", "undo", "redo", "reject_with_reasons"})

# The footer shows one key per idea (1-3, u): at 120 columns it must end with "? Help".
DECISION_BINDINGS: list[BindingType] = [
    Binding("a", "decide('accept')", "Accept", id="decide.accept"),
    Binding("r", "decide('reject')", "Reject", id="decide.reject"),
    Binding("s", "decide('skip')", "Skip", id="decide.skip"),
    Binding("1", "realism('realistic')", "Realism", key_display="1-3",
            id="realism.realistic"),
    Binding("2", "realism('plausible')", "Plausible", show=False, id="realism.plausible"),
    Binding("3", "realism('artificial')", "Artificial", show=False, id="realism.artificial"),
    Binding("X", "reject_with_reasons", "Reject with reasons", show=False,
            id="decide.reject_reasons"),
    Binding("u", "undo", "Undo", id="undo"),
    Binding("U,ctrl+y", "redo", "Redo", show=False, id="redo"),
]

# The app's help key, listed by each screen where its footer should show it.
HELP_BINDING = Binding("question_mark,f1", "app.help", "Help", id="app.help")

_SCORE = re.compile(r"^score(?P<op>[<>])=?(?P<value>[-+]?\d+(?:\.\d+)?)$", re.IGNORECASE)

FILTER_TOKENS = {"repo": "repo", "strategy": "strategy", "mod": "modifier",
                 "modifier": "modifier", "by": "labelled_by", "curator": "labelled_by",
                 "assigned": "assigned_to"}
ME_TOKENS = ("labelled_by", "assigned_to")  # "me" there is the current curator
# ``is:X`` -> the BrowseFilter flag it sets. "disputed" is what ``bugfoundry disputes`` and
# ``status`` call disputed: accept vs reject with no final decision yet.
IS_TOKENS = {"disputed": "disputed", "open": "disputed", "unsettled": "disputed",
             "settled": "settled", "disagreement": "disagreement", "duplicate": "duplicates",
             "dup": "duplicates"}


def parse_filter_text(raw: str, me: str = "") -> dict[str, Any]:
    """``repo:X strategy:Y mod:Z by:CURATOR`` narrow, ``assigned:NAME`` (``assigned:me``)
    keeps a curator's queue (``bugfoundry assign``), ``is:disputed`` the open disputes
    (``is:settled`` the settled ones, ``is:disagreement`` any difference in labels),
    ``is:duplicate`` keeps instances that duplicate another (``bugfoundry dedup``),
    ``score>1`` / ``score<-2`` bound the realism score; ``-`` before any of them (or a word)
    leaves out what it alone would list (``-is:duplicate``, ``-repo:attrs``, ``-by:ann``)."""
    found: dict[str, Any] = {field: "" for field in set(FILTER_TOKENS.values())}
    found.update(min_score=None, max_score=None)
    flags = dict.fromkeys(IS_TOKENS.values(), False)
    words = []
    negated: list[BrowseFilter] = []
    for word in raw.split():
        name, sep, value = word.partition(":")
        bound = _SCORE.match(word)
        if word.startswith("-") and len(word) > 1 and not word[1:].startswith("-"):
            alone = parse_filter_text(word[1:], me)
            alone.pop("negated")
            negated.append(BrowseFilter(**alone))
        elif bound:
            key = "min_score" if bound.group("op") == ">" else "max_score"
            found[key] = float(bound.group("value"))
        elif sep and name.lower() in FILTER_TOKENS and value:
            target = FILTER_TOKENS[name.lower()]
            found[target] = me if (me and target in ME_TOKENS and value.lower() == "me") \
                else value
        elif sep and name.lower() == "is" and value.lower() in IS_TOKENS:
            flags[IS_TOKENS[value.lower()]] = True
        else:
            words.append(word)
    return {**found, **flags, "text": " ".join(words), "negated": tuple(negated)}


class CurationScreen(WorkbenchScreen):
    """Shared decision keys; subclasses say which instance is current and what follows."""

    # Each screen lists its keys itself, in the footer's order (bindings inherited from a
    # base class would come first, pushing "? Help" off an 80-column footer).
    BINDINGS: ClassVar[list[BindingType]] = []

    shown_at: float = 0.0

    def current_id(self) -> str | None:
        raise NotImplementedError

    def after_event(self, instance_id: str, advance: bool) -> None:
        """Repaint what changed; ``advance`` moves on to the next instance."""
        raise NotImplementedError

    def compose_banner(self) -> ComposeResult:
        """A line saying the database is read-only, when it is."""
        if self.bf.read_only is not None:
            yield Static(self.bf.read_only.banner, classes="readonly-banner")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in DECIDING and isinstance(self.focused, Input | TextArea))

    def _spent(self) -> float:
        now = time.monotonic()
        spent, self.shown_at = now - (self.shown_at or now), now
        return round(spent, 3)

    def writable(self) -> bool:
        """False (with a notice saying why) when the database is open read-only."""
        if self.bf.read_only is None:
            return True
        self.notify(self.bf.read_only.notice, title="read-only", severity="warning")
        return False

    def record(self, instance_id: str, action: str, **fields: Any) -> int | None:
        """Append one event for the current curator; None when read-only."""
        if not self.writable():
            return None
        eid = self.bf.store.record_decision(
            instance_id, self.bf.curator, action, seconds_spent=self._spent(),
            guidelines_version=self.bf.guidelines.version, **fields)
        self.bf.details.invalidate(instance_id)
        return eid

    def action_decide(self, action: str) -> None:
        iid = self.current_id()
        if iid is None or self.record(iid, action) is None:
            return
        self.bf.session_decisions += 1
        self.after_event(iid, advance=True)

    def action_reject_with_reasons(self) -> None:
        """Reject, picking the workspace's reasons by their keys (and a note), then move on
        as ``r`` does."""
        if not self.writable():
            return
        iid = self.current_id()
        if iid is None:
            return
        st = self.bf.store.current_decisions(self.bf.curator, [iid])
        cur = st[0] if st else None

        def save(chosen: Chosen | None) -> None:
            if chosen is None:
                return
            fields = {"note": chosen.note} if chosen.note else {}
            if self.record(iid, "reject", reasons=chosen.reasons, **fields) is None:
                return
            self.bf.session_decisions += 1
            self.notify(f"rejected with {len(chosen.reasons)} reason(s)")
            self.after_event(iid, advance=True)  # as r does

        self.app.push_screen(DecisionDialog(
            "Reject with reasons", self.bf.config.reasons, decisions=("reject",),
            decision="reject", picked=cur.reasons if cur else (),
            note=(cur.note or "") if cur else ""), save)

    def action_realism(self, realism: str) -> None:
        iid = self.current_id()
        if iid is None or realism not in REALISM_VALUES:
            return
        if self.record(iid, "tag", realism=realism) is not None:
            self.after_event(iid, advance=False)

    def action_undo(self) -> None:
        self._flip(self.bf.store.undo, "undo", "undid")

    def action_redo(self) -> None:
        self._flip(self.bf.store.redo, "redo", "redid")

    def _flip(self, op: Any, name: str, done_verb: str) -> None:
        if not self.writable():
            return
        done = op(self.bf.curator)
        if done is None:
            self.notify(f"nothing to {name}")
            return
        self.bf.details.invalidate(done.instance_id)
        self.after_event(done.instance_id, advance=False)
        self.notify(f"{done_verb} a decision on {done.instance_id}")


class BrowseScreen(CurationScreen):
    """The instance table with filters and the true count for the active filter."""

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="browse.filter"),
        Binding("escape", "focus_table", "Table", show=False, id="browse.table"),
        Binding("o", "open", "Review", id="browse.open"),
        *DECISION_BINDINGS,
        HELP_BINDING,
        Binding("S", "cycle_sort", "Sort", id="browse.sort"),
        Binding("O", "reverse_sort", "Reverse", show=False, id="browse.reverse"),
        Binding("x", "cancel_forge", "Cancel forge", show=False, id="forge.cancel"),
        Binding("q", "app.quit", "Quit", id="app.quit"),
        Binding("P", "app.progress", "Progress", id="app.progress"),
        Binding("F", "app.forge", "Forge", id="app.forge"),
        Binding("R", "app.realism", "Realism report", show=False, id="app.realism"),
        Binding("E", "export", "Export", show=False, id="browse.export"),
        Binding("D", "app.toggle_duplicates", "Duplicates", show=False,
                id="app.duplicates"),
    ]

    _reload_pending = False
    _first_resume = True

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.compose_banner()
        with Horizontal(id="filters"):
            yield Input(placeholder="/ filter: id, file or function; repo:X strategy:Y mod:Z "
                        "by:CURATOR is:disputed score>1", id="filter-text")
            yield Select([(v or "any decision", v) for v in DECISION_FILTERS], value="",
                         allow_blank=False, id="filter-decision")
            yield Select([(v or "any realism", v) for v in REALISM_FILTERS], value="",
                         allow_blank=False, id="filter-realism")
        yield Static(id="status")
        yield InstanceTable(id="instances")
        yield ForgeBar(id="forge-bar")
        yield KeyBar()

    def on_mount(self) -> None:
        self.title = "bugfoundry"
        self.sub_title = f"curator {self.bf.curator}"
        self.table.blind = self.bf.prefs.blind
        self.table.mark_sort(self.bf.listing.sort, self.bf.listing.descending)
        self.table.show_rows(self.bf.listing.rows, clear=True)
        self._status()
        self.table.focus()
        self.shown_at = time.monotonic()
        self.forge_update()

    @property
    def table(self) -> InstanceTable:
        return self.query_one(InstanceTable)

    def current_id(self) -> str | None:
        return self.table.current_id

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_forge":
            return self.bf.forge_running
        return super().check_action(action, parameters)

    def _status(self) -> None:
        lst = self.bf.listing
        if lst.total == 0:
            everything = self.bf.store.count(BrowseFilter(curator=self.bf.curator))
            msg = (f"no instance matches {self.describe_filter()} "
                   f"({plural(everything, 'instance')} in the workspace): / edits the filter"
                   if everything else
                   "no instances yet: press F to forge some (or run  bugfoundry forge REPO)")
        else:
            matches = "instance matches" if lst.total == 1 else "instances match"
            msg = (f"{lst.total} {matches} · decided {lst.decided}/{lst.total} · "
                   f"loaded {len(lst.rows)}{self._pace(lst.total - lst.decided)}")
        self.query_one("#status", Static).update(msg)

    def describe_filter(self) -> str:
        """The active filter as typed and picked, for "no instance matches ..."."""
        lst = self.bf.listing
        parts = [self.query_one("#filter-text", Input).value.strip()]
        parts += [f"decision {lst.filters.decision}" if lst.filters.decision else "",
                  f"realism {lst.filters.realism}" if lst.filters.realism else ""]
        shown = ", ".join(p for p in parts if p)
        return f"'{shown}'" if shown else "the filter"

    def _pace(self, left: int) -> str:
        minutes = (self.bf.clock() - self.bf.session_started) / 60
        return session_pace(self.bf.session_decisions, minutes, left)

    def reload_listing(self) -> None:
        """The listing's filters changed outside the filter bar (duplicates hidden/shown)."""
        self._reload()

    def _reload(self) -> None:
        lst = self.bf.listing
        keep = lst.current or self.table.current_id  # the review's last instance, if any
        # Back from review: find it where it was, even pages down (a filter change: no).
        was = lst.index_of(lst.current) if lst.current is not None else None
        lst.current = None
        lst.reload()
        self.table.mark_sort(lst.sort, lst.descending)
        self.table.show_rows(lst.rows, clear=True)
        if keep is not None:
            self._move_to(keep, was)
        self._status()

    def _move_to(self, instance_id: str, was: int | None) -> None:
        """Put the cursor on ``instance_id``, loading pages as far as where it was before the
        reload (never the whole listing); if it left the filter, on what took its place."""
        lst = self.bf.listing
        while (i := lst.index_of(instance_id)) is None:
            if was is None or len(lst.rows) > was:
                break
            page = lst.load_more()
            if not page:
                break
            self.table.show_rows(page)
        if i is None and was is not None and lst.rows:
            i = min(was, len(lst.rows) - 1)
        if i is not None:
            self.table.move_cursor(row=i)

    def on_screen_resume(self) -> None:
        if self._first_resume:  # the app loaded the first page just before: show it as is
            self._first_resume = False
        else:
            self._reload()  # decisions made in review change rows and counts
        self.forge_update()

    def on_forge_changed(self, message: ForgeChanged) -> None:
        self.forge_update(message.kept)

    def forge_update(self, kept: bool = False) -> None:
        """Follow the running forge: its bar, and new instances into the table (debounced)."""
        self.query_one(ForgeBar).follow(self.bf.forge_job)
        self.refresh_bindings()
        if kept and not self._reload_pending:
            self._reload_pending = True
            self.set_timer(0.5, self._reload_for_forge)

    def _reload_for_forge(self) -> None:
        self._reload_pending = False
        self._reload()

    def action_cancel_forge(self) -> None:
        self.bf.cancel_forge()

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
            self.bf.open_review(iid)

    def action_export(self) -> None:
        self.bf.ask_export()

    def action_focus_filter(self) -> None:
        self.query_one("#filter-text", Input).focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def on_blind_changed(self, _: BlindChanged) -> None:
        self.table.blind = self.bf.prefs.blind
        self._reload()

    def action_cycle_sort(self) -> None:
        keys = [key for key, _ in COLUMNS
                if not (self.bf.prefs.blind and key in HIDDEN_IN_BLIND)]
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
        self.notify(f"sorted by {sort_label(key, lst.descending)}")

    @on(Input.Changed, "#filter-text")
    def _text_changed(self, event: Input.Changed) -> None:
        self._set_filter(**parse_filter_text(event.value, self.bf.curator))

    @on(Input.Submitted, "#filter-text")
    def _text_submitted(self) -> None:
        self.table.focus()

    @on(Select.Changed, "#filter-decision")
    def _decision_changed(self, event: Select.Changed) -> None:
        self._set_filter(decision=str(event.value))
        self.table.focus()  # so enter opens the instance, not the selector again

    @on(Select.Changed, "#filter-realism")
    def _realism_changed(self, event: Select.Changed) -> None:
        self._set_filter(realism=str(event.value))
        self.table.focus()

    def _set_filter(self, **changes: Any) -> None:
        lst = self.bf.listing
        new = replace(lst.filters, **changes)
        if new != lst.filters:
            lst.filters = new
            self._reload()

    def current_filter(self) -> SavedFilter:
        """The filter widgets and sort as they stand (what "save filter" keeps)."""
        lst = self.bf.listing
        return SavedFilter(
            text=self.query_one("#filter-text", Input).value,
            decision=lst.filters.decision, realism=lst.filters.realism,
            sort=lst.sort, descending=lst.descending,
        )

    def apply_filter(self, saved: SavedFilter) -> None:
        """Set the widgets and the listing from a saved filter, with a single reload."""
        lst = self.bf.listing
        with self.prevent(Input.Changed, Select.Changed):
            self.query_one("#filter-text", Input).value = saved.text
            self.query_one("#filter-decision", Select).value = saved.decision
            self.query_one("#filter-realism", Select).value = saved.realism
        lst.filters = replace(lst.filters, **parse_filter_text(saved.text, self.bf.curator),
                              decision=saved.decision, realism=saved.realism)
        lst.sort, lst.descending = saved.sort, saved.descending
        self._reload()
        self.table.focus()
