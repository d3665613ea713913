"""The realism score: a weight-of-evidence scorecard, so every score explains itself.

For each feature, WoE(bin) = log P(bin | real) - log P(bin | this repo's synthetic bugs), where
"real" is the repo's PR-mirror instances shrunk toward the shipped reference distributions
(``reference.json``, aggregates from realism.md): p = (n·p_repo + k·p_prior) / (n + k). With no
PR-mirror instance the real side *is* the prior. The score is the weighted sum of the WoE terms,
each capped, and each term is a reason a curator can read.

Size control (Papadakis et al. 2018: size masquerades as realism): diff size is shown as its
own line but never counted, so two bugs that differ only in size score the same; the report
gives the score's rank correlation with size to show what is left.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from engine.realism.features import Features
from engine.realism.sstub import EDIT_KINDS

REAL_STRATEGY = "pr_mirror"
CAP = 2.5  # no single feature moves the score by more than this (in nats)
ALPHA = 0.5  # Laplace pseudo-count per bin
FLOOR = 0.002  # smallest prior probability of a bin


@dataclass(frozen=True)
class Item:
    """What scoring needs of one instance."""

    instance_id: str
    strategy: str
    modifier: str
    features: Features
    f2p: frozenset[str] = frozenset()

    @property
    def is_real(self) -> bool:
        return self.strategy == REAL_STRATEGY


def ochiai(a: frozenset[str], b: frozenset[str]) -> float:
    """Overlap of two failing-test sets (Ojdanic et al.: semantic similarity of two bugs)."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


def _numeric(edges: Sequence[float], labels: Sequence[str]) -> Callable[[float], str]:
    def bin_of(x: float) -> str:
        for edge, label in zip(edges, labels, strict=False):
            if x <= edge:
                return label
        return labels[-1]
    return bin_of


_F2P = _numeric((1, 2, 5, 15), ("1", "2", "3-5", "6-15", ">15"))
_SPREAD = _numeric((1, 2), ("1", "2", "3+"))
_NATURAL = _numeric((-0.5, 0.0, 0.4, 1.0), ("<-0.5", "-0.5..0", "0..0.4", "0.4..1", ">1"))
_SIZE = _numeric((2, 5, 10, 20), ("1-2", "3-5", "6-10", "11-20", ">20"))
_COUPLING = _numeric((0.0, 0.4999), ("none", "weak", "strong"))


@dataclass(frozen=True)
class Spec:
    """One scored feature: its name, what a curator reads, its weight and how it bins."""

    name: str
    label: str
    weight: float
    bins: tuple[str, ...]
    describe: Callable[[str], str]


def _edit(b: str) -> str:
    return f"the fix {EDIT_KINDS.get(b, b)}"


FAILURE_TEXT = {
    "assertion": "tests fail on wrong values (assertions)",
    "mixed": "tests fail on assertions and exceptions",
    "domain": "tests fail with a domain error (ValueError, KeyError, ...)",
    "type_attribute": "tests fail with TypeError/AttributeError",
    "structural": "tests fail with NameError/ImportError-like errors",
    "structural_at_edit": "NameError/UnboundLocalError/ImportError raised at the edited line",
}
SPECS: tuple[Spec, ...] = (
    Spec("edit_kind", "edit", 1.0, tuple(k for k in EDIT_KINDS
                                          if k not in ("cosmetic", "unparsable")), _edit),
    Spec("direction", "direction", 0.5, ("add", "replace", "remove"),
         lambda b: {"add": "the fix only adds code (the bug is an omission)",
                    "replace": "the fix replaces code",
                    "remove": "the fix only removes code"}[b]),
    Spec("failure_kind", "failure", 1.0, tuple(FAILURE_TEXT), lambda b: FAILURE_TEXT[b]),
    Spec("blast_radius", "F2P", 1.0, ("1", "2", "3-5", "6-15", ">15"),
         lambda b: f"{b} failing test{'s' if b != '1' else ''}"),
    Spec("test_spread", "spread", 0.5, ("1", "2", "3+"),
         lambda b: f"failing tests in {b} test file{'s' if b != '1' else ''}"),
    Spec("naturalness", "naturalness", 0.5, ("<-0.5", "-0.5..0", "0..0.4", "0.4..1", ">1"),
         lambda b: f"buggy lines {b} bits/token vs the original (repo trigram)"),
    Spec("coupling", "coupling", 0.5, ("none", "weak", "strong"),
         lambda b: {"none": "shares no failing test with a real bug",
                    "weak": "shares some failing tests with a real bug",
                    "strong": "fails the same tests as a real bug (Ochiai >= 0.5)"}[b]),
)
SIZE = Spec("size", "size", 0.0, ("1-2", "3-5", "6-10", "11-20", ">20"),
            lambda b: f"{b} changed lines")
SPEC_BY_NAME = {s.name: s for s in (*SPECS, SIZE)}


def bins_of(f: Features, coupling: float | None) -> dict[str, str]:
    """The bin of each feature for one instance; a feature that does not apply is absent."""
    out: dict[str, str] = {"size": _SIZE(f.lines_changed)}
    if f.edit_kind in SPEC_BY_NAME["edit_kind"].bins:
        out["edit_kind"] = f.edit_kind
    if f.lines_changed:
        out["direction"] = f.direction
    if f.failure_kind in FAILURE_TEXT:
        out["failure_kind"] = f.failure_kind
    if f.n_f2p:
        out["blast_radius"] = _F2P(f.n_f2p)
        out["test_spread"] = _SPREAD(f.f2p_files)
    if f.naturalness_delta is not None:
        out["naturalness"] = _NATURAL(f.naturalness_delta)
    if coupling is not None:
        out["coupling"] = _COUPLING(coupling)
    return out


@cache
def load_reference() -> dict[str, Any]:
    """The shipped aggregate distributions (``engine/realism/reference.json``)."""
    return json.loads((Path(__file__).parent / "reference.json").read_text(encoding="utf-8"))


@dataclass
class Table:
    """One feature's counts among real and synthetic instances, and its shipped prior."""

    spec: Spec
    prior: dict[str, float] | None
    k: float
    real: Counter[str] = field(default_factory=Counter)
    synth: Counter[str] = field(default_factory=Counter)

    def _synth_p(self, b: str) -> float:
        n = sum(self.synth.values())
        return (self.synth[b] + ALPHA) / (n + ALPHA * len(self.spec.bins))

    def _prior_p(self, b: str) -> float:
        if self.prior is None:  # no shipped figure: lean on the synthetic pool (WoE -> 0)
            return self._synth_p(b)
        total = sum(max(self.prior.get(x, 0.0), FLOOR) for x in self.spec.bins)
        return max(self.prior.get(b, 0.0), FLOOR) / total

    def real_p(self, b: str, leave_out: bool = False) -> float:
        counts = self.real.copy()
        if leave_out and counts[b] > 0:
            counts[b] -= 1
        n = sum(counts.values())
        prior = self._prior_p(b)
        if n == 0:
            return prior
        repo = (counts[b] + ALPHA) / (n + ALPHA * len(self.spec.bins))
        return (n * repo + self.k * prior) / (n + self.k)

    def synth_p(self, b: str) -> float:
        return self._synth_p(b)

    def woe(self, b: str, leave_out: bool = False) -> float:
        value = math.log(self.real_p(b, leave_out)) - math.log(self.synth_p(b))
        return max(-CAP, min(CAP, value))


@dataclass(frozen=True)
class Reason:
    """One signed term of a score."""

    feature: str
    bin: str
    points: float
    text: str
    counted: bool = True  # False for the size line (shown, never summed)

    def line(self) -> str:
        return f"{self.points:+.1f} {self.text}"


@dataclass(frozen=True)
class Score:
    instance_id: str
    score: float
    reasons: tuple[Reason, ...]  # every term, largest effect first

    @property
    def probability(self) -> float:
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, self.score))))

    def top(self, n: int = 3) -> list[Reason]:
        """The ``n`` strongest reasons for and ``n`` against (counted terms only)."""
        counted = [r for r in self.reasons if r.counted and abs(r.points) >= 0.05]
        pro = [r for r in counted if r.points > 0][:n]
        con = [r for r in counted if r.points < 0][:n]
        return sorted(pro + con, key=lambda r: -abs(r.points))


def verdict_words(p: float) -> str:
    if p >= 0.6:
        return "leans realistic"
    if p <= 0.4:
        return "leans artificial"
    return "uncertain"


class Scorecard:
    """WoE tables built from one repo's instances; scores any of them with reasons."""

    kind = "woe"

    def __init__(self, items: Sequence[Item], reference: dict[str, Any] | None = None) -> None:
        ref = reference or load_reference()
        k = float(ref.get("shrinkage_k", 20))
        priors = {name: d["p"] for name, d in ref["features"].items()}
        self.items = list(items)
        self.real = [i for i in self.items if i.is_real]
        self.n_real = len(self.real)
        self.n_synth = len(self.items) - self.n_real
        self.coupling = coupling_map(self.items)
        self.bins = {i.instance_id: bins_of(i.features, self.coupling.get(i.instance_id))
                     for i in self.items}
        self.tables = {s.name: Table(s, priors.get(s.name), k) for s in (*SPECS, SIZE)}
        for item in self.items:
            for name, b in self.bins[item.instance_id].items():
                side = self.tables[name].real if item.is_real else self.tables[name].synth
                side[b] += 1

    @property
    def reference_note(self) -> str:
        if self.n_real == 0:
            return ("no PR-mirror instances in this repo: the real side is the shipped "
                    "reference distributions alone")
        return f"reference: {self.n_real} repo bugs (pr_mirror) shrunk toward shipped priors"

    def terms(self, bins: dict[str, str], leave_out: bool = False) -> list[Reason]:
        out = []
        for name, b in bins.items():
            t = self.tables[name]
            w = t.spec.weight or 1.0
            pts = w * t.woe(b, leave_out)
            text = (f"{t.spec.describe(b)} ({t.real_p(b, leave_out):.0%} of real, "
                    f"{t.synth_p(b):.0%} of this repo's synthetic)")
            counted = t.spec.weight > 0
            if not counted:
                text = "size alone, not counted: " + text
            out.append(Reason(name, b, round(pts, 3), text, counted))
        return sorted(out, key=lambda r: -abs(r.points))

    def score(self, item: Item) -> Score:
        """The item's score; a real item is scored without itself in the reference."""
        reasons = self.terms(self.bins[item.instance_id], leave_out=item.is_real)
        total = sum(r.points for r in reasons if r.counted)
        return Score(item.instance_id, round(total, 4), tuple(reasons))

    def score_all(self) -> dict[str, Score]:
        return {i.instance_id: self.score(i) for i in self.items}


def coupling_map(items: Iterable[Item]) -> dict[str, float]:
    """Per instance, max Ochiai of its F2P set with a real bug's (none when no real bug)."""
    items = list(items)
    real = [i for i in items if i.is_real]
    if not real:
        return {}
    out = {}
    for i in items:
        others = [r for r in real if r.instance_id != i.instance_id]
        if others:
            out[i.instance_id] = max(ochiai(i.f2p, r.f2p) for r in others)
    return out
