"""Which instances an export writes, and the counts its summary reports.

Three steps, each counted so the summary adds up to the rows written:

1. **Resolve** each instance's decisions into one outcome (``accept``, ``reject``,
   ``disputed`` for accept *and* reject, ``skip``, ``undecided``) and, when an adjudicator set
   one, its final decision. :func:`resolve_decisions` is the one place that reads decisions
   from the store.
2. **Split**: a final decision settles it; otherwise the ``--rule`` decides.
3. **Duplicates**: per exact or near group (``engine.dedup``), the first member *in the split*
   is kept and the others left out, so an accepted duplicate of a rejected representative is
   not lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.curation import in_split
from engine.dedup import find_groups
from engine.store import Store

OUTCOMES = ("accept", "reject", "disputed", "skip", "undecided")
DEDUP: dict[str, tuple[str, ...]] = {"none": (), "exact": ("exact",), "near": ("exact", "near")}


@dataclass(frozen=True)
class Resolved:
    """One instance's decisions as the export sees them."""

    instance_id: str
    states: list[Any]  # every curator's current DecisionState
    final: str | None = None  # the adjudicated decision, when one is set
    final_by: str | None = None  # who set it

    @property
    def decided(self) -> list[str]:
        return [s.decision for s in self.states if s.decision]

    @property
    def outcome(self) -> str:
        if self.final in ("accept", "reject", "skip"):
            return self.final
        return outcome_of(self.decided)


def outcome_of(decisions: Sequence[str]) -> str:
    """``accept``/``reject`` when the curators agree, ``disputed`` when one accepted and
    another rejected, ``skip`` when only skips, else ``undecided`` (pure)."""
    made = set(decisions)
    if "accept" in made and "reject" in made:
        return "disputed"
    for d in ("accept", "reject", "skip"):
        if d in made:
            return d
    return "undecided"


def resolve_decisions(store: Store, instance_ids: Sequence[str]) -> dict[str, Resolved]:
    """Every instance's current decisions (one per curator) and its final decision (an
    adjudicator's, which settles the instance before any ``--rule``): the one call that
    reads decisions for an export."""
    states: dict[str, list[Any]] = {}
    for s in store.current_decisions():
        states.setdefault(s.instance_id, []).append(s)
    finals = store.final_decisions()
    return {iid: Resolved(iid, states.get(iid, []),
                          finals[iid].decision if iid in finals else None,
                          finals[iid].adjudicator if iid in finals else None)
            for iid in instance_ids}


@dataclass
class Selection:
    """The instances to write, in order, and the counts behind them."""

    chosen: list[Resolved] = field(default_factory=list)
    decisions: Counter[str] = field(default_factory=Counter)  # outcome -> instances in scope
    duplicates: Counter[str] = field(default_factory=Counter)  # exact|near -> left out
    duplicate_of: dict[str, str] = field(default_factory=dict)  # left out -> kept


def select(store: Store, split: str, repo: str | None, rule: str, dedup: str) -> Selection:
    """The split (every instance with ``split="all"``), one per duplicate group of the kinds
    ``dedup`` names."""
    ids = store.instance_ids(repo)
    out = Selection()
    in_scope = []
    for r in resolve_decisions(store, ids).values():
        out.decisions[r.outcome] += 1
        if split == "all" or (r.final == "accept" if r.final else in_split(r.decided, rule)):
            in_scope.append(r)
    kinds = DEDUP[dedup]
    if kinds:
        wanted = {r.instance_id for r in in_scope}
        for g in find_groups(store.dedup_records(repo)):
            if g.kind not in kinds:
                continue
            members = [m for m in g.members if m in wanted]
            for m in members[1:]:
                out.duplicates[g.kind] += 1
                out.duplicate_of[m] = members[0]
                wanted.discard(m)
        in_scope = [r for r in in_scope if r.instance_id in wanted]
    out.chosen = in_scope
    return out


def row_summary(resolved: Resolved) -> dict[str, Any]:
    """An exported row's ``decision_summary``: every curator's decision, reject reasons,
    rubric and note, the final decision and its adjudicator, and the realism label most
    voted. A tie (1-1) exports ``realism: null`` with
    ``realism_tie: true``: no label is picked silently; the votes are in ``realism_votes``."""
    states = resolved.states
    decisions = {s.curator: s.decision for s in states if s.decision}
    realism = Counter(s.realism for s in states if s.realism)
    top = realism.most_common(2)
    tie = len(top) == 2 and top[0][1] == top[1][1]
    return {
        "decisions": decisions,
        "final": ({"decision": resolved.final, "adjudicator": resolved.final_by}
                  if resolved.final else None),
        "reasons": {s.curator: list(s.reasons) for s in states if s.reasons},
        "realism": top[0][0] if top and not tie else None,
        "realism_tie": tie,
        "realism_votes": dict(realism),
        "rubric": {s.curator: {"clarity": s.clarity, "test_validity": s.test_validity,
                               "difficulty": s.difficulty} for s in states
                   if s.clarity is not None or s.test_validity is not None or s.difficulty},
        "notes": {s.curator: s.note for s in states if s.note},
    }
