"""Blind mode's data hides what biases a realism label (strategy, modifier, route, ids)."""

from __future__ import annotations

from dataclasses import fields

from engine.blind import blind_id, blind_text, blind_view
from tests.records import instance


def test_blind_view_hides_strategy_route_and_the_telling_id() -> None:
    iid = "sample.0123abcd.pr_mirror__route_b__3c9a01d2"
    rec = instance(instance_id=iid, strategy="pr_mirror", modifier="route_b",
                   problem_statement="Growth is wrong",
                   meta={"route": "b", "statement_source": "commit message",
                         "fix_commit": "deadbeef"})
    view = blind_view(rec)
    shown = {f.name: getattr(view, f.name) for f in fields(view) if f.name != "instance_id"}
    flat = repr(shown)
    for secret in ("pr_mirror", "route", "commit message", "deadbeef", "3c9a01d2"):
        assert secret not in flat, secret
    assert view.display_id == blind_id(iid) and view.display_id.startswith("bug-")
    assert view.problem_statement == "Growth is wrong" and view.patch == rec.patch
    assert blind_id(iid) == blind_id(iid) != blind_id(iid + "x")
    assert blind_id(iid, "ann") != blind_id(iid, "bob")
    assert blind_text(f"accepted {iid} (pr_mirror/route_b)", rec) == (
        f"accepted {view.display_id} (•••/•••)")
