"""Curation v2 in the TUI: every curator's labels in the review, the decision dialog (a
reject with reasons, or an adjudicator's final decision) and the guidelines screen.

The dialog's reasons are the workspace's (``engine.curation.load_config``), each toggled by
its key; what it returns is written by the review through the store
(``record_decision(reasons=...)`` or ``set_final``), with the guidelines' version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Markdown, Static

from engine.curation import Guidelines, Reason, is_conflict
from engine.instances import InstanceDetail
from tui.widgets import decision_text, realism_text


def reason_labels(reasons: Sequence[Reason], ids: Sequence[str]) -> str:
    """Reason ids as their labels (an id no longer configured shows as itself)."""
    by_id = {r.id: r.label for r in reasons}
    return ", ".join(by_id.get(i, i) for i in ids)


def curation_text(rec: InstanceDetail, reasons: Sequence[Reason], me: str) -> Text:
    """Every curator's decision, realism, rubric, reasons and note, then the final decision
    and the assigned curators: what an adjudicator reads before settling a dispute."""
    text = Text()
    for d in rec.decisions:
        text.append(f"{d.curator}{' (you)' if d.curator == me else ''}: ", style="bold")
        text.append_text(decision_text(d.decision) if d.decision
                         else Text("undecided", style="dim"))
        text.append(" · ")
        text.append_text(realism_text(d.realism) if d.realism
                         else Text("untagged", style="dim"))
        scores = [f"{name} {value}" for name, value in (
            ("clarity", d.clarity), ("test validity", d.test_validity),
            ("difficulty", d.difficulty)) if value is not None]
        if scores:
            text.append(" · rubric " + ", ".join(scores))
        if d.reasons:
            text.append(" · reasons: " + reason_labels(reasons, d.reasons), style="yellow")
        if d.note:
            text.append(f" · note: {d.note}", style="italic")
        text.append("\n")
    final = rec.final
    if final is not None:
        text.append("final: ", style="bold magenta")
        text.append_text(decision_text(final.decision))
        text.append(f" by {final.adjudicator}")
        if final.reasons:
            text.append(" · reasons: " + reason_labels(reasons, final.reasons))
        if final.note:
            text.append(f" · note: {final.note}", style="italic")
        text.append("\n")
    elif is_conflict([d.decision for d in rec.decisions if d.decision]):
        text.append("disputed: accept and reject both given; A sets the final decision\n",
                    style="bold magenta")
    if rec.assigned:
        text.append(f"assigned to {', '.join(rec.assigned)}\n", style="dim")
    return text


def settlement_text(rec: InstanceDetail) -> Text:
    """The review title's mark: ``final: accept (by cy)`` when an adjudicator decided,
    ``disputed`` while curators' accept and reject conflict unsettled, else nothing. Shown
    in blind mode too: it says what curators decided, nothing of where the bug came from."""
    if rec.final is not None:
        text = Text("   final: ", style="bold magenta")
        text.append_text(decision_text(rec.final.decision))
        text.append(f" (by {rec.final.adjudicator})", style="magenta")
        return text
    if is_conflict([d.decision for d in rec.decisions if d.decision]):
        return Text("   disputed: A settles it", style="bold magenta")
    return Text()


@dataclass(frozen=True)
class Chosen:
    """What the decision dialog returns."""

    decision: str
    reasons: tuple[str, ...]
    note: str | None


class DecisionDialog(ModalScreen[Chosen | None]):
    """Pick reasons by their keys (and, adjudicating, accept or reject), an optional note;
    enter records it, escape cancels. Keys act at once; tab moves to the note. A reason's key
    wins over ``a``/``r`` when a team gave a reason one of those."""

    def __init__(self, title: str, reasons: Sequence[Reason], *, decisions: Sequence[str],
                 decision: str, picked: Sequence[str] = (), note: str = "") -> None:
        super().__init__()
        self.heading = title
        self.reasons = [r for r in reasons if r.key]
        self.decisions = tuple(decisions)
        self.decision = decision
        self.picked = list(picked)
        self.initial_note = note

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel"),
        Binding("enter", "save", "Save", id="dialog.save"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="decision-dialog"):
            yield Static(self.heading, classes="section")
            yield Static(id="dialog-state")
            yield Input(value=self.initial_note, placeholder="note (optional; enter saves)",
                        id="dialog-note")
            keys = "a / r choose accept or reject, " if len(self.decisions) > 1 else ""
            yield Static(f"{keys}a reason's key toggles it (reject only), tab goes to the "
                         "note, enter saves, escape cancels", classes="hint")

    def on_mount(self) -> None:
        self.set_focus(None)  # the keys act at once; tab reaches the note
        self._paint()

    def on_key(self, event: events.Key) -> None:
        """A reason's key (any one character ``curation.toml`` gives it) toggles it; ``a`` /
        ``r`` pick the decision when adjudicating. Handled here, before any binding (the
        app's ``g`` or ``P`` included), unless the note has focus."""
        if isinstance(self.focused, Input) or not event.character:
            return
        if any(r.key == event.character for r in self.reasons):
            self.action_pick(event.character)
        elif len(self.decisions) > 1 and event.character in ("a", "r"):
            self.action_choose("accept" if event.character == "a" else "reject")
        else:
            return
        event.stop()
        event.prevent_default()

    def _paint(self) -> None:
        text = Text("decision: ")
        text.append_text(decision_text(self.decision))
        text.append("\n")
        for r in self.reasons:
            on_ = r.id in self.picked
            mark = "[x]" if on_ else "[ ]"
            style = "bold yellow" if on_ else ("dim" if self.decision != "reject" else "")
            text.append(f"{r.key} {mark} {r.label}\n", style=style)
        self.query_one("#dialog-state", Static).update(text)

    def action_choose(self, decision: str) -> None:
        if decision in self.decisions:
            self.decision = decision
            if decision != "reject":
                self.picked.clear()
            self._paint()

    def action_pick(self, key: str) -> None:
        reason = next((r for r in self.reasons if r.key == key), None)
        if reason is None:
            return
        if self.decision != "reject":
            self.notify("reasons go with a reject (r)", severity="warning")
            return
        if reason.id in self.picked:
            self.picked.remove(reason.id)
        else:
            self.picked.append(reason.id)
        self._paint()

    def action_save(self) -> None:
        note = self.query_one("#dialog-note", Input).value.strip()
        reasons = tuple(self.picked) if self.decision == "reject" else ()
        self.dismiss(Chosen(self.decision, reasons, note or None))

    @on(Input.Submitted, "#dialog-note")
    def _note_submitted(self) -> None:
        self.action_save()


class GuidelinesScreen(ModalScreen[None]):
    """The workspace's guidelines (Markdown), over the review or at first start."""

    BINDINGS = [Binding("escape,g,q", "dismiss", "Close", id="guidelines.close")]

    def __init__(self, guidelines: Guidelines) -> None:
        super().__init__()
        self.guidelines = guidelines

    def compose(self) -> ComposeResult:
        g = self.guidelines
        with VerticalScroll(id="guidelines"):
            yield Static(f"{g.path.name} · version {g.version} · escape or g closes; edit the "
                         "file to change them (decisions record the version)", classes="hint")
            yield Markdown(g.text)
