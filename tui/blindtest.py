"""The blind test screen: "real or forged?", one item at a time, then the report.

Each item shows only what an agent would get of a bug: the diff and the failing tests (the
review's panes), under a neutral id. No strategy, modifier, route, problem statement, meta or
realism score is shown anywhere on this screen. Answering is two keys: ``r`` (real) or ``f``
(forged), then how sure, ``1`` (a guess) to ``5`` (certain); the answer is committed at once
(``Store.record_blind_answer``, append-only) and the next unanswered item comes up. ``n``/``p``
walk the items (an item answered again keeps the latest answer), ``s`` shows the report so far,
and the screen reopens where this curator stopped. Each curator walks the same items in an
order of their own (``curator_order``), so fatigue does not fall on the same items for all.
After the last item the report is computed on a thread worker (a realism scoring pass when
some item has no score yet) and shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from engine.errors import UsageError
from engine.realism.blindtest import curator_order, next_position, session, test_view
from engine.store import BlindAnswer, BlindItem, BlindSession
from tui.diffmodel import parse_patch
from tui.failures import failure_lines
from tui.keybar import KeyBar
from tui.panes import TextLines, TextPane, UnifiedDiff
from tui.services import WorkbenchScreen

ASK = ("Real or forged?  r real · f forged, then how sure: 1 a guess … 5 certain   "
       "n/p move · s report · esc leave")
SURE = "{answer}: how sure? 1 a guess · 2 · 3 · 4 · 5 certain   (esc: take it back)"


class ReportReady(Message):
    """The report worker's result, for the screen to paint."""

    def __init__(self, text: str, report: dict[str, Any]) -> None:
        super().__init__()
        self.text, self.report = text, report


class BlindTestScreen(WorkbenchScreen):
    """Walks the newest blind-test session's items for the current curator."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="blindtest.back"),
        Binding("r", "pick('real')", "Real", id="blindtest.real"),
        Binding("f", "pick('forged')", "Forged", id="blindtest.forged"),
        Binding("1", "sure(1)", "How sure", key_display="1-5", id="blindtest.sure1"),
        Binding("2", "sure(2)", "2", show=False, id="blindtest.sure2"),
        Binding("3", "sure(3)", "3", show=False, id="blindtest.sure3"),
        Binding("4", "sure(4)", "4", show=False, id="blindtest.sure4"),
        Binding("5", "sure(5)", "5", show=False, id="blindtest.sure5"),
        Binding("n,right", "step(1)", "Next/prev", key_display="n/p", id="blindtest.next"),
        Binding("p,left", "step(-1)", "Prev", show=False, id="blindtest.prev"),
        Binding("s", "report", "Report", id="blindtest.report"),
    ]

    def __init__(self, session_id: int | None = None) -> None:
        super().__init__()
        self.session_id = session_id
        self.sess: BlindSession | None = None
        self.items: list[BlindItem] = []  # in this curator's own order
        self.mine: dict[str, BlindAnswer] = {}  # this curator's current answers
        self.position: int | None = None
        self.pending: str | None = None  # "real" | "forged" until a confidence is given
        self.shown_at = 0.0
        self.report: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="bt-title")
        with Horizontal(id="bt-main"):
            yield TextPane(id="diff")
            yield TextPane(id="failures")
        yield Static(ASK, id="bt-prompt")
        yield TextPane(id="bt-report")
        yield KeyBar(show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "blind test: real or forged?"
        self.sub_title = f"curator {self.bf.curator}"
        self.query_one("#bt-report").display = False
        self.query_one("#diff", TextPane).border_title = "diff"
        self.query_one("#failures", TextPane).border_title = "failing tests"
        try:
            self.sess = session(self.bf.store, self.session_id)
        except UsageError as exc:
            self.query_one("#bt-main").display = False
            self.query_one("#bt-title", Static).update(Text(str(exc), style="yellow"))
            self.query_one("#bt-prompt", Static).update("esc: back")
            return
        self.items = curator_order(self.bf.store.blind_items(self.sess.session_id),
                                   self.bf.curator, self.sess.seed)
        self.mine = {a.instance_id: a for a in
                     self.bf.store.blind_answers(self.sess.session_id, self.bf.curator)}
        start = next_position(self.items, set(self.mine))
        if start is None:
            self.action_report()
        else:
            self.show_item(start)
        self.query_one("#diff", TextPane).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Answer keys only while an item is shown (not over the report or a message)."""
        if action in ("pick", "sure"):
            return self.position is not None
        return True

    # ---------------------------------------------------------------- one item
    def show_item(self, position: int) -> None:
        item = self.items[position]
        rec = self.bf.details.get(item.instance_id)
        if rec is None:
            self.notify(f"{item.display_id}: its instance is gone from the store",
                        severity="error")
            return
        self.position, self.pending = position, None
        self.refresh_bindings()
        view = test_view(rec, item)
        diff = parse_patch(view.patch)
        lines, _ = failure_lines(view.failures, diff, rec.meta.get("collection_errors"))
        self.query_one("#bt-main").display = True
        self.query_one("#bt-report").display = False
        self.query_one("#diff", TextPane).show(UnifiedDiff(diff))
        self.query_one("#failures", TextPane).show(TextLines(lines))
        self._title()
        self.query_one("#bt-prompt", Static).update(ASK)
        self.shown_at = self.bf.clock()

    def _title(self) -> None:
        if self.sess is None or self.position is None:
            return
        item = self.items[self.position]
        title = Text(f"{item.display_id}", style="bold")
        title.append(f"   item {self.position + 1}/{len(self.items)}   "
                     f"{len(self.mine)} answered   blind test {self.sess.session_id}")
        said = self.mine.get(item.instance_id)
        if said is not None:
            title.append(f"   you said {said.answer} ({said.confidence}/5)", style="cyan")
        self.query_one("#bt-title", Static).update(title)

    def _answerable(self) -> bool:
        if self.position is None or self.sess is None:
            return False
        if self.bf.read_only is not None:
            self.notify("read-only: another process holds the database, answers cannot be "
                        "saved", severity="warning")
            return False
        return True

    def action_pick(self, answer: str) -> None:
        if not self._answerable():
            return
        self.pending = answer
        self.query_one("#bt-prompt", Static).update(Text(SURE.format(answer=answer),
                                                         style="bold"))

    def action_sure(self, confidence: int) -> None:
        if not self._answerable():
            return
        if self.pending is None:
            self.notify("r (real) or f (forged) first, then how sure", timeout=3)
            return
        assert self.sess is not None and self.position is not None
        item = self.items[self.position]
        seconds = self.bf.clock() - self.shown_at
        self.bf.store.record_blind_answer(self.sess.session_id, item.instance_id,
                                          self.bf.curator, self.pending, confidence, seconds)
        self.mine[item.instance_id] = BlindAnswer(item.instance_id, self.bf.curator,
                                                  self.pending, confidence, seconds, "")
        self.pending = None
        later = next_position(self.items[self.position + 1:], set(self.mine))
        nxt = (self.position + 1 + later if later is not None
               else next_position(self.items, set(self.mine)))
        if nxt is None:
            self.notify(f"all {len(self.items)} answered: computing the report")
            self.action_report()
        else:
            self.show_item(nxt)

    def action_step(self, delta: int) -> None:
        if self.position is None:
            if self.items:
                self.show_item(0 if delta > 0 else len(self.items) - 1)
            return
        target = self.position + delta
        if 0 <= target < len(self.items):
            self.show_item(target)
        else:
            self.notify("the last item" if delta > 0 else "the first item", timeout=2)

    # ---------------------------------------------------------------- the report
    def action_report(self) -> None:
        if self.sess is None:
            return
        self.position, self.pending = None, None
        self.refresh_bindings()
        self.query_one("#bt-main").display = False
        pane = self.query_one("#bt-report", TextPane)
        pane.display = True
        pane.border_title = "report"
        pane.show(TextLines([Text("computing the report (and realism scores) ...")]))
        self.query_one("#bt-title", Static).update(Text(
            f"blind test {self.sess.session_id}: {len(self.mine)}/{len(self.items)} answered "
            "by you   n/p: back to the items", style="bold"))
        self.query_one("#bt-prompt", Static).update("")
        self._compute(self.sess)

    @work(thread=True, exclusive=True, name="blind test report", group="blindtest",
          exit_on_error=False)
    def _compute(self, sess: BlindSession) -> None:
        from engine.realism.blindreport import build_report, render_text
        from engine.realism.blindtest import session_scores

        with self.bf.store.reader() as store:
            rec = store.get_repo(sess.repo)
            root = Path(rec.path) if rec and Path(rec.path).is_dir() else None
            scores = session_scores(store, sess, root, save=self.bf.read_only is None)
            report = build_report(sess, store.blind_items(sess.session_id),
                                  store.blind_answers(sess.session_id), scores)
        if not get_current_worker().is_cancelled:
            self.post_message(ReportReady(render_text(report), report))

    def on_report_ready(self, message: ReportReady) -> None:
        self.report = message.report
        pane = self.query_one("#bt-report", TextPane)
        pane.show(TextLines([Text(line) for line in message.text.splitlines()]))
        pane.focus()

    def worker_failed(self, line: str) -> None:
        self.query_one("#bt-report", TextPane).show(TextLines([Text(
            f"the report failed: {line}", style="red")]))

    def action_back(self) -> None:
        if self.pending is not None:
            self.pending = None
            self.query_one("#bt-prompt", Static).update(ASK)
            return
        self.app.pop_screen()
