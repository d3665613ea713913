"""Agreement among any number of curators: Fleiss' kappa, Krippendorff's alpha, confusion.

``engine.agreement`` compares curators two at a time (Cohen's kappa); with overlap K > 2 a
team wants one figure for all of them. Pure functions over ``(item, rater, value)`` ratings,
no SQL, so the formulas are checked against textbook examples in unit tests.

Conventions:

* Items rated by fewer than two raters carry no information on agreement and are left out
  (both statistics are defined over pairable values).
* Fleiss' kappa is computed in its usual generalisation to a varying number of raters per
  item: P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1)), P = mean P_i, P_e = sum_j p_j^2
  with p_j the share of all ratings in category j; with equal n_i this is Fleiss (1971).
* Krippendorff's alpha (nominal) = 1 - D_o / D_e over the coincidence matrix
  (Krippendorff 2011, "Computing Krippendorff's alpha-reliability"), which handles missing
  ratings natively.
* Either is ``None`` ("undefined") when chance disagreement is 0: everyone used one label.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations, permutations

from engine.agreement import DECISION_LABELS, Label, PairAgreement, pairwise

Rating = tuple[str, str, str]  # (item, rater, value)


@dataclass(frozen=True)
class MultiAgreement:
    """One axis's agreement among all raters: how many items and ratings counted, and both
    chance-corrected figures."""

    items: int  # items with at least two ratings
    ratings: int  # ratings on those items
    raters: int
    fleiss_kappa: float | None
    krippendorff_alpha: float | None


@dataclass(frozen=True)
class Confusion:
    """How two raters' values meet on the items both rated: ``counts[(a_value, b_value)]``."""

    a: str
    b: str
    labels: tuple[str, ...]
    counts: dict[tuple[str, str], int]

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def rows(self) -> list[list[int]]:
        """The matrix, rows = ``a``'s value, columns = ``b``'s, in ``labels`` order."""
        return [[self.counts.get((x, y), 0) for y in self.labels] for x in self.labels]


def _units(ratings: Iterable[Rating]) -> dict[str, list[str]]:
    """Values per item (one per rater: a rater's later rating of an item replaces theirs),
    only items with two or more."""
    per: dict[str, dict[str, str]] = defaultdict(dict)
    for item, rater, value in ratings:
        per[item][rater] = value
    return {item: list(by.values()) for item, by in per.items() if len(by) >= 2}


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from an items x categories table of counts (``n_ij`` raters put item i
    in category j); rows with fewer than two ratings are ignored."""
    rows = [list(r) for r in table if sum(r) >= 2]
    if not rows:
        return None
    total = sum(sum(r) for r in rows)
    p_items = [sum(c * (c - 1) for c in r) / (sum(r) * (sum(r) - 1)) for r in rows]
    p_bar = sum(p_items) / len(rows)
    p_e = sum((sum(r[j] for r in rows) / total) ** 2 for j in range(len(rows[0])))
    if p_e >= 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def krippendorff_alpha(units: Iterable[Sequence[str]]) -> float | None:
    """Krippendorff's alpha for nominal values, one sequence of values per unit (missing
    ratings simply absent); units with fewer than two values are not pairable."""
    coincidence: defaultdict[tuple[str, str], float] = defaultdict(float)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for x, y in permutations(values, 2):  # ordered pairs of distinct raters
            coincidence[(x, y)] += 1.0 / (m - 1)
    n_c: defaultdict[str, float] = defaultdict(float)
    for (x, _), w in coincidence.items():
        n_c[x] += w
    n = sum(n_c.values())
    if n <= 1:
        return None
    observed = sum(w for (x, y), w in coincidence.items() if x != y)
    expected = sum(n_c[x] * n_c[y] for x in n_c for y in n_c if x != y) / (n - 1)
    if expected == 0:
        return None
    return 1.0 - observed / expected


def multi_agreement(ratings: Iterable[Rating]) -> MultiAgreement:
    """Fleiss' kappa and Krippendorff's alpha over every item rated at least twice."""
    ratings = list(ratings)
    units = _units(ratings)
    labels = sorted({v for values in units.values() for v in values})
    table = [[values.count(lab) for lab in labels] for values in units.values()]
    raters = {r for item, r, _ in ratings if item in units}
    return MultiAgreement(len(units), sum(len(v) for v in units.values()), len(raters),
                          fleiss_kappa(table), krippendorff_alpha(units.values()))


def confusion_matrices(ratings: Iterable[Rating], labels: Sequence[str] = ()
                       ) -> list[Confusion]:
    """A confusion matrix for every pair of raters who share an item (pairs in name order);
    ``labels`` fixes the order (values not in it are appended, sorted)."""
    by: dict[str, dict[str, str]] = defaultdict(dict)
    for item, rater, value in ratings:
        by[rater][item] = value
    seen = sorted({v for vals in by.values() for v in vals.values()} - set(labels))
    order = (*labels, *seen)
    out = []
    for a, b in combinations(sorted(by), 2):
        shared = by[a].keys() & by[b].keys()
        if shared:
            counts = Counter((by[a][i], by[b][i]) for i in shared)
            out.append(Confusion(a, b, order, dict(counts)))
    return out


@dataclass(frozen=True)
class AgreementReport:
    """Everything ``bugfoundry agreement`` and the progress screen show: Cohen's kappa per
    pair, Fleiss' kappa and Krippendorff's alpha over all curators, and confusion matrices
    per pair, on the decision axis (accept vs reject; a skip abstains from the statistics but
    shows in the matrices) and on the realism axis."""

    curators: tuple[str, ...]
    pairs: list[PairAgreement]
    decision: MultiAgreement
    realism: MultiAgreement
    decision_confusion: list[Confusion]
    realism_confusion: list[Confusion]


REALISM_ORDER = ("realistic", "plausible", "artificial")


def agreement_report(labels: Iterable[Label]) -> AgreementReport:
    """The report over curators' current labels (``Store.shared_labels``)."""
    labels = list(labels)
    decisions = [(lab.instance_id, lab.curator, lab.decision) for lab in labels
                 if lab.decision]
    realism = [(lab.instance_id, lab.curator, lab.realism) for lab in labels if lab.realism]
    return AgreementReport(
        tuple(sorted({lab.curator for lab in labels})), pairwise(labels),
        multi_agreement(r for r in decisions if r[2] in DECISION_LABELS),
        multi_agreement(realism),
        confusion_matrices(decisions, (*DECISION_LABELS, "skip")),
        confusion_matrices(realism, REALISM_ORDER))
