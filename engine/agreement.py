"""Inter-curator agreement: Cohen's kappa per pair of curators, and the disagreement queue.

Pure functions over plain labels (no SQL, no Textual) so the maths is unit-tested on its own;
``engine.store`` supplies the labels (``CurationMixin.shared_labels``).

Conventions, each for a reason:

* A **skip** is an abstention, not a judgment: on the decision axis only accept and reject
  count, so two curators who both skipped neither agree nor disagree.
* Kappa is computed per pair of curators over the instances both labelled on that axis
  (Cohen's kappa is defined for two raters); with more curators the summary is the mean of the
  pairs (Light's kappa).
* When chance agreement is 1 (both curators used one and the same label throughout) kappa is
  0/0: reported as ``None`` ("undefined") rather than a made-up 1.0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

DECISION_LABELS = ("accept", "reject")  # what the decision axis compares (skip abstains)


@dataclass(frozen=True)
class Label:
    """One curator's current labels for one instance (None: not given)."""

    instance_id: str
    curator: str
    decision: str | None
    realism: str | None


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa for two raters: items both rated, observed and chance agreement."""

    n: int
    observed: float | None
    expected: float | None
    kappa: float | None  # None: no shared items, or chance agreement is 1 (undefined)


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of two curators on the decision axis and on the realism axis."""

    a: str
    b: str
    shared: int  # instances both labelled in any way
    decision: Kappa
    realism: Kappa


@dataclass(frozen=True)
class Disagreement:
    """An instance where curators' accept/reject or realism labels differ."""

    instance_id: str
    labels: tuple[Label, ...]  # every curator's labels, sorted by curator
    on_decision: bool
    on_realism: bool


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> Kappa:
    """Cohen's kappa of two raters over ``(label_a, label_b)`` pairs, one per item.

    kappa = (p_o - p_e) / (1 - p_e), with p_e from each rater's own label frequencies.
    """
    n = len(pairs)
    if n == 0:
        return Kappa(0, None, None, None)
    observed = sum(a == b for a, b in pairs) / n
    freq_a = Counter(a for a, _ in pairs)
    freq_b = Counter(b for _, b in pairs)
    expected = sum(freq_a[k] * freq_b[k] for k in freq_a) / (n * n)
    if expected >= 1.0:
        return Kappa(n, observed, expected, None)
    return Kappa(n, observed, expected, (observed - expected) / (1.0 - expected))


def _decision(label: Label) -> str | None:
    return label.decision if label.decision in DECISION_LABELS else None


def _by_curator(labels: Iterable[Label]) -> dict[str, dict[str, Label]]:
    out: dict[str, dict[str, Label]] = {}
    for lab in labels:
        out.setdefault(lab.curator, {})[lab.instance_id] = lab
    return out


def pairwise(labels: Iterable[Label]) -> list[PairAgreement]:
    """Kappa on decision and on realism for every pair of curators that share an instance."""
    by = _by_curator(labels)
    out = []
    for a, b in combinations(sorted(by), 2):
        shared = sorted(by[a].keys() & by[b].keys())
        if not shared:
            continue
        dec = [(x, y) for i in shared
               if (x := _decision(by[a][i])) and (y := _decision(by[b][i]))]
        rea = [(x, y) for i in shared
               if (x := by[a][i].realism) and (y := by[b][i].realism)]
        out.append(PairAgreement(a, b, len(shared), cohen_kappa(dec), cohen_kappa(rea)))
    return out


def mean_kappa(pairs: Iterable[PairAgreement], axis: str) -> float | None:
    """Light's kappa: the mean of the defined pairwise kappas on ``axis`` (decision|realism)."""
    values = [k for p in pairs if (k := getattr(p, axis).kappa) is not None]
    return sum(values) / len(values) if values else None


def disagreements(labels: Iterable[Label]) -> list[Disagreement]:
    """Instances where at least two curators gave different accept/reject or realism labels."""
    per: dict[str, list[Label]] = {}
    for lab in labels:
        per.setdefault(lab.instance_id, []).append(lab)
    out = []
    for iid in sorted(per):
        group = tuple(sorted(per[iid], key=lambda lab: lab.curator))
        on_decision = len({d for lab in group if (d := _decision(lab))}) > 1
        on_realism = len({lab.realism for lab in group if lab.realism}) > 1
        if on_decision or on_realism:
            out.append(Disagreement(iid, group, on_decision, on_realism))
    return out



def kappa_band(kappa: float | None) -> str:
    """Landis and Koch's words for a kappa, so a curator need not remember the scale."""
    if kappa is None:
        return "undefined"
    for upper, word in ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate"),
                        (0.8, "substantial")):
        if kappa <= upper:
            return word
    return "almost perfect"
