"""Blind mode's data: an instance as a curator sees it without what biases a realism label.

A curator who reads ``pr_mirror`` or ``route_b`` knows the bug is a real one undone; one who
reads ``procedural_op_swap`` knows it is synthetic. Blind mode hides the strategy, the
modifier (the route, for PR mirrors), where the problem statement came from, the meta that
names them (fix commit, model, route), and the instance id, whose suffix spells the strategy
out (``repo.commit.procedural_op_swap__3c9a01d2``). What stays is what an agent would get:
the repo, the diff, the tests, their failures and the statement's text.

``blind_id`` is a stable short hash of the id (the same instance keeps its display id across
sessions, and sorting by it mixes strategies); pure functions, unit-tested.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from engine.instances import Instance, InstanceRow

HIDDEN = ("strategy", "modifier", "route", "statement source", "instance id")


def blind_id(instance_id: str, salt: str = "") -> str:
    """``bug-3f9a12c4``: the same for the same id (and ``salt``), telling nothing of it."""
    return "bug-" + hashlib.sha256(f"{salt}\0{instance_id}".encode()).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class BlindRow:
    """A listing row in blind mode: no strategy, modifier or telling id."""

    instance_id: str  # the real id, for the app's own lookups; never displayed
    display_id: str
    repo: str
    file: str
    entity: str
    n_f2p: int
    n_p2p: int
    lines_changed: int


@dataclass(frozen=True, slots=True)
class BlindView(BlindRow):
    """An instance in blind mode: what an agent would be given, and the failures."""

    patch: str
    fail_to_pass: list[str]
    pass_to_pass: list[str]
    failures: dict[str, str]
    problem_statement: str  # its text only: its source (model, commit message) is hidden


def blind_row(rec: InstanceRow, salt: str = "") -> BlindRow:
    return BlindRow(rec.instance_id, blind_id(rec.instance_id, salt), rec.repo, rec.file,
                    rec.entity, rec.n_f2p, rec.n_p2p, rec.lines_changed)


def blind_view(rec: Instance, salt: str = "") -> BlindView:
    """``rec`` without strategy, modifier, route, statement source, meta or telling id."""
    return BlindView(rec.instance_id, blind_id(rec.instance_id, salt), rec.repo, rec.file,
                     rec.entity, rec.n_f2p, rec.n_p2p, rec.lines_changed, rec.patch,
                     list(rec.fail_to_pass), list(rec.pass_to_pass), dict(rec.failures or {}),
                     rec.problem_statement or "")


def blind_text(text: str, rec: InstanceRow, salt: str = "") -> str:
    """``text`` (a toast, a header) with the instance id replaced by its blind id and the
    strategy and modifier names blanked."""
    out = text.replace(rec.instance_id, blind_id(rec.instance_id, salt))
    for word in (rec.modifier, rec.strategy):
        if word:
            out = out.replace(word, "•" * 3)
    return out
