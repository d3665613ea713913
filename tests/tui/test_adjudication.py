"""Pilot tests for curation v2 in the TUI (issue 19, items 1 and 3): every curator's labels
in the review, adjudication and the disputes queue, reject reasons by key, guidelines,
agreement over all curators, and a curator's assigned queue. Each drives the real app on a
small fake workspace (``tests.fakes``), decisions in a real DuckDB."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from engine.curation import load_config, load_guidelines
from engine.reliability import agreement_report
from engine.store import BrowseFilter, Store
from tests.fakes import make_workspace
from tests.tui.test_curation_v2 import drive, title
from tui.adjudicate import DecisionDialog, GuidelinesScreen
from tui.app import BugfoundryApp
from tui.commands import MY_QUEUE, UNSETTLED
from tui.prefs import SavedFilter
from tui.progress import ProgressScreen
from tui.review import ReviewScreen

DB = "bugfoundry.duckdb"


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    """Ten instances; ann and bob disagree (accept vs reject) on the first three."""
    ids = make_workspace(tmp_path / "ws", 10)
    with Store.open(tmp_path / "ws" / DB) as s:
        for iid in ids[:3]:
            s.record_decision(iid, "ann", "accept", realism="realistic", note="looks real")
            s.record_decision(iid, "bob", "reject", reasons=["tests-wrong"],
                              note="tests check something else")
        s.record_decision(ids[3], "bob", "accept", realism="plausible")
    return tmp_path / "ws"


def meta(app: BugfoundryApp) -> str:
    return str(app.screen.query_one("#meta").plain_text())  # type: ignore[attr-defined]


def status(app: BugfoundryApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


def test_adjudicate_from_review_settles_a_dispute_and_the_queue_empties(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        app.browse_screen().apply_filter(UNSETTLED)  # the palette's "disputes to adjudicate"
        await pilot.pause()
        seen["before"] = app.listing.total
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        first = app.screen.instance_id
        text = meta(app)
        seen["meta"] = text
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, DecisionDialog)
        await pilot.press("r", "2", "1")  # reject: tests wrong, not a bug
        app.screen.query_one("#dialog-note", Input).value = "bob is right"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        seen["settled"] = meta(app)
        await pilot.press("escape")
        await pilot.pause()
        seen["after"] = app.listing.total
        seen["first"] = first
        await pilot.press("enter")  # the next dispute; settle it, then undo that
        await pilot.pause()
        second = app.screen.instance_id
        await pilot.press("A", "a", "enter")
        await pilot.pause()
        seen["after_accept"] = app.store.count(BrowseFilter(curator="ann", decision="disputed"))
        seen["accepted_meta"] = meta(app)
        await pilot.press("u")
        await pilot.pause()
        seen["after_undo"] = app.store.count(BrowseFilter(curator="ann", decision="disputed"))
        seen["undone_meta"] = meta(app)
        await pilot.press("3")  # a tag repaints the labels too
        await pilot.pause()
        seen["tagged_meta"] = meta(app)
        seen["second"] = second

    seen = drive(home, steps)
    assert seen["before"] == 3
    text = str(seen["meta"])
    assert "ann (you): accept · realistic · note: looks real" in text
    assert "bob: reject · untagged · reasons: tests wrong · note: tests check something else" \
        in text
    assert "disputed: accept and reject both given" in text
    assert "final: reject by ann · reasons: tests wrong, not a bug · note: bob is right" \
        in str(seen["settled"])
    assert seen["after"] == 2  # the queue emptied by the one settled
    assert (seen["after_accept"], seen["after_undo"]) == (1, 2)  # u takes a final back too
    assert "final: accept by ann" in str(seen["accepted_meta"])
    assert "final:" not in str(seen["undone_meta"])
    assert "disputed: accept and reject" in str(seen["undone_meta"])
    assert "ann (you): accept · artificial" in str(seen["tagged_meta"])
    with Store.open(home / DB) as s:
        finals = s.final_decisions()
        version = load_guidelines(load_config(home), create=False).version
    assert set(finals) == {seen["first"]}
    f = finals[str(seen["first"])]
    assert (f.decision, f.adjudicator, f.reasons, f.note, f.guidelines_version) == (
        "reject", "ann", ("tests-wrong", "not-a-bug"), "bob is right", version)


def test_review_title_marks_a_final_decision_and_an_open_dispute(home: Path) -> None:
    """The title says "final: reject (by cy)" or "disputed", blind mode too; it follows a
    final decision set (and undone) from the review."""
    with Store.open(home / DB) as s:
        settled, open_, other = sorted(c.instance_id for c in s.disputes())
        s.set_final(settled, "cy", "reject")
        plain = next(r.instance_id for r in s.browse(BrowseFilter(), limit=10)
                     if r.instance_id not in (settled, open_, other))

    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        for blind in (False, True):
            if blind:
                await pilot.press("B")
                await pilot.pause()
            for iid in (settled, open_, plain):
                app.open_review(iid)
                await pilot.pause()
                seen[(blind, iid)] = title(app)
                if iid == open_ and not blind:
                    await pilot.press("A", "a", "enter")  # ann settles it: accept
                    await pilot.pause()
                    seen["accepted"] = title(app)
                    await pilot.press("u")
                    await pilot.pause()
                    seen["undone"] = title(app)
                await pilot.press("escape")
                await pilot.pause()

    seen = drive(home, steps)
    for blind in (False, True):
        assert "final: reject (by cy)" in str(seen[(blind, settled)])
        assert "disputed" in str(seen[(blind, open_)])
        assert "final" not in str(seen[(blind, open_)])
        assert not re.search("final|disputed", str(seen[(blind, plain)]))
    assert str(seen[(True, settled)]).startswith("bug-")  # blind: a neutral id all the same
    assert "final: accept (by ann)" in str(seen["accepted"])
    assert "disputed" in str(seen["undone"]) and "final" not in str(seen["undone"])


def test_reject_reasons_by_key_are_stored_and_shown(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        app.browse_screen().apply_filter(SavedFilter(decision="undecided"))
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        seen["id"] = app.screen.instance_id
        await pilot.press("X")
        await pilot.pause()
        await pilot.press("4", "6", "6", "5")  # trivial, flaky on and off, crash on import
        await pilot.press("enter")  # rejects and moves on, as r does
        await pilot.pause()
        seen["moved"] = app.screen.instance_id != seen["id"]
        await pilot.press("p")
        await pilot.pause()
        seen["meta"] = meta(app)
        await pilot.press("n", "s")  # an ordinary decision key carries the version too
        await pilot.pause()
        await pilot.press("escape")  # browse: X works on the highlighted row too
        await pilot.pause()
        seen["row"] = app.browse_screen().current_id()
        await pilot.press("X", "7", "enter")
        await pilot.pause()

    seen = drive(home, steps)
    assert seen["moved"] is True
    assert "ann (you): reject · untagged · reasons: trivial, crash on import" in str(seen["meta"])
    with Store.open(home / DB) as s:
        states = {d.instance_id: d for d in s.current_decisions("ann")}
        events = [e for e in s.decision_events("ann") if e.action in ("reject", "skip")]
    st = states[str(seen["id"])]
    assert (st.decision, st.reasons) == ("reject", ("trivial", "crash-on-import"))
    assert states[str(seen["row"])].reasons == ("other",)
    assert len(events) == 3 and all(e.guidelines_version for e in events)


def test_guidelines_on_first_start_then_only_when_they_change(home: Path) -> None:
    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        seen.setdefault("screens", []).append(type(app.screen).__name__)  # type: ignore[union-attr]
        if isinstance(app.screen, GuidelinesScreen):
            seen["text"] = app.screen.guidelines.text
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("g")  # always openable by key
        await pilot.pause()
        seen.setdefault("by_key", []).append(  # type: ignore[union-attr]
            isinstance(app.screen, GuidelinesScreen))

    first = drive(home, steps, guidelines_on_start=True)
    again = drive(home, steps, guidelines_on_start=True)
    (home / "guidelines.md").write_text("# Ours\n\nReject anything touching io.\n")
    changed = drive(home, steps, guidelines_on_start=True)
    bob = drive(home, steps, curator="bob", guidelines_on_start=False)
    assert first["screens"] == ["GuidelinesScreen"] and "# Curation guidelines" in str(
        first["text"])
    assert again["screens"] == ["BrowseScreen"]
    assert changed["screens"] == ["GuidelinesScreen"] and "Reject anything" in str(
        changed["text"])
    assert bob["screens"] == ["BrowseScreen"]
    assert first["by_key"] == again["by_key"] == [True]
    seen_by = json.loads((home / "tui.json").read_text())["guidelines_seen"]
    assert set(seen_by) == {"ann", "bob"}


async def _progress_figures(app, pilot) -> None:  # noqa: ANN001
    await pilot.press("P")
    for _ in range(50):
        await pilot.pause(0.05)
        if isinstance(app.screen, ProgressScreen) and app.screen.figures is not None:
            return


def test_progress_d_browses_only_the_open_disputes(home: Path) -> None:
    """``D`` lists what ``bugfoundry disputes`` lists: a settled dispute leaves it (it stays
    in the table of disagreements and in ``is:settled``)."""
    with Store.open(home / DB) as s:
        disputed = [c.instance_id for c in s.disputes()]
        s.set_final(disputed[0], "cy", "reject")
        still = [c.instance_id for c in s.disputes()]

    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await _progress_figures(app, pilot)
        seen["table"] = [str(k.value) for k in app.screen.query_one("#disputes").rows]
        seen["title"] = str(app.screen.query_one("#disputes-title", Static).render())
        await pilot.press("D")
        await pilot.pause()
        seen["screen"] = type(app.screen).__name__
        seen["text"] = app.screen.query_one("#filter-text", Input).value
        seen["open"] = ([r.instance_id for r in app.listing.rows], app.listing.total)
        app.browse_screen().apply_filter(SavedFilter(text="is:settled"))
        await pilot.pause()
        seen["settled"] = [r.instance_id for r in app.listing.rows]
        app.browse_screen().apply_filter(SavedFilter(text="is:disagreement -is:settled"))
        await pilot.pause()
        seen["unsettled"] = [r.instance_id for r in app.listing.rows]

    seen = drive(home, steps)
    assert len(still) == 2 and disputed[0] not in still
    assert sorted(seen["table"]) == sorted(disputed)  # every disagreement, settled or not
    assert "open disputes: 2 (D browses them)" in str(seen["title"])
    assert (seen["screen"], seen["text"]) == ("BrowseScreen", "is:disputed")
    assert seen["open"] == (still, 2)
    assert seen["settled"] == [disputed[0]]
    assert seen["unsettled"] == still


def test_progress_shows_fleiss_alpha_and_a_pairs_confusion_matrix(home: Path) -> None:
    with Store.open(home / DB) as s:
        disputed = [c.instance_id for c in s.disputes()]
        labelled = {d.instance_id for d in s.current_decisions()}
        free = next(r.instance_id for r in s.browse(BrowseFilter(), limit=20)
                    if r.instance_id not in labelled)
        for curator in ("ann", "bob", "cy"):
            s.record_decision(free, curator, "reject")
        s.record_decision(disputed[0], "cy", "accept")
        report = agreement_report(s.shared_labels())

    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        await _progress_figures(app, pilot)
        seen["multi"] = str(app.screen.query_one("#multi", Static).render())
        seen["pair1"] = str(app.screen.query_one("#confusion", Static).render())
        await pilot.press("c")
        await pilot.pause()
        seen["pair2"] = str(app.screen.query_one("#confusion", Static).render())

    seen = drive(home, steps)
    multi = str(seen["multi"])
    # decision: 3 disputes (one with cy's accept too) and 1 unanimous reject
    assert (f"Fleiss' kappa {report.decision.fleiss_kappa:.2f}, Krippendorff's alpha "
            f"{report.decision.krippendorff_alpha:.2f} (4 instances, 10 labels, 3 curators)"
            ) in multi
    pair1 = str(seen["pair1"])
    assert "pair 1 of 3" in pair1 and "ann (rows) × bob (columns), 4 shared" in pair1
    rows = {ln.split()[0]: ln.split()[1:] for ln in pair1.splitlines()
            if ln.split() and ln.split()[0] in ("accept", "reject", "skip")}
    assert rows["accept"] == ["0", "3", "0"] and rows["reject"] == ["0", "1", "0"]
    assert "pair 2 of 3" in str(seen["pair2"]) and "ann (rows) × cy" in str(seen["pair2"])


def test_assigned_me_shows_the_curators_queue(home: Path) -> None:
    with Store.open(home / DB) as s:
        batch = s.assign(["ann", "bob"], overlap=1)
        mine = {iid for iid, cs in s.assigned_curators().items() if "ann" in cs}

    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        app.browse_screen().apply_filter(MY_QUEUE)
        await pilot.pause()
        seen["ids"] = {r.instance_id for r in app.listing.rows}
        seen["status"] = status(app)

    seen = drive(home, steps)
    assert batch.per_curator["ann"] == len(mine) > 0
    assert seen["ids"] == mine
    assert str(seen["status"]).startswith(f"{len(mine)} instance")


def test_a_teams_own_reasons_and_letter_keys_win_in_the_dialog(home: Path) -> None:
    (home / "curation.toml").write_text(
        '[[reasons]]\nid = "leaks"\nlabel = "statement leaks the fix"\nkey = "g"\n'
        '[[reasons]]\nid = "other"\nkey = "o"\n')

    async def steps(app, pilot, seen) -> None:  # noqa: ANN001
        app.browse_screen().apply_filter(UNSETTLED)
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        seen["id"] = app.screen.instance_id
        await pilot.press("A", "g")  # "g" is the app's guidelines key elsewhere
        await pilot.pause()
        seen["dialog"] = type(app.screen).__name__
        await pilot.press("enter")
        await pilot.pause()
        seen["meta"] = meta(app)

    seen = drive(home, steps)
    assert seen["dialog"] == "DecisionDialog"
    assert "final: reject by ann · reasons: statement leaks the fix" in str(seen["meta"])
    with Store.open(home / DB) as s:
        assert s.final_decisions()[str(seen["id"])].reasons == ("leaks",)
