"""The blind test's statistics: graded answers, AUC with its intervals, the fooled rate.

Pure functions over numbers (no SQL), unit-tested against figures worked out by hand.

* **Graded score.** An answer "real" with confidence c (1 a guess .. 5 certain) is the
  probability p = 0.5 + (c - 1) / 8 that the item is real (0.5, 0.625, 0.75, 0.875, 1.0);
  "forged" with confidence c is 1 - p. A person's AUC is then the ROC area of these scores,
  so a confident right answer counts more than a hesitant one, and a coin-flipper scores 0.5.
* **AUC** is the Mann-Whitney statistic (ties count half): the chance that a random real item
  scores above a random forged one.
* **Intervals.** 95% stratified percentile bootstrap (2,000 resamples of the real and the
  forged items separately, seeded, so a report is reproducible). With 60 items, and some 5-15
  forged items per strategy, the bootstrap holds where DeLong's normal approximation does not
  (it gives zero width at perfect separation and ignores the skew near 1); DeLong's standard
  error is reported beside it for the overall figures, where both are meaningful.
* **Fooled rate**: the share of forged items answered "real", with a Wilson 95% interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVELS = 5
REPS = 2000
Z95 = 1.959963984540054


def probability(confidence: int) -> float:
    """How sure a confidence level says the curator is: 1 -> 0.5 .. 5 -> 1.0."""
    if not 1 <= confidence <= LEVELS:
        raise ValueError(f"confidence {confidence} is not in 1..{LEVELS}")
    return 0.5 + (confidence - 1) / (2 * (LEVELS - 1))


def graded(answer: str, confidence: int) -> float:
    """The answer as a score for "real": p for "real", 1 - p for "forged"."""
    p = probability(confidence)
    return p if answer == "real" else 1.0 - p


@dataclass(frozen=True)
class AucEstimate:
    """An AUC with its 95% bootstrap interval and DeLong's standard error (None: undefined,
    a class is missing)."""

    auc: float | None
    n_real: int
    n_forged: int
    low: float | None = None
    high: float | None = None
    se_delong: float | None = None

    def to_dict(self) -> dict[str, float | int | None]:
        r = _round
        return {"auc": r(self.auc), "low": r(self.low), "high": r(self.high),
                "se_delong": r(self.se_delong), "n_real": self.n_real,
                "n_forged": self.n_forged}


def _round(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


def _psi(scores: Sequence[float], labels: Sequence[int]) -> np.ndarray:
    """real x forged matrix: 1 where the real item scores higher, 0.5 on ties, else 0."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    pos, neg = s[y][:, None], s[~y][None, :]
    return (pos > neg) + 0.5 * (pos == neg)


def auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Mann-Whitney AUC of ``scores`` for ``labels`` (1 = real); None when a class is
    missing."""
    psi = _psi(scores, labels)
    return float(psi.mean()) if psi.size else None


def delong_se(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """DeLong's standard error of the AUC (structural components; needs two of each)."""
    psi = _psi(scores, labels)
    m, n = psi.shape
    if m < 2 or n < 2:
        return None
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return math.sqrt(float(v10.var(ddof=1)) / m + float(v01.var(ddof=1)) / n)


def _resampled(psis: Sequence[np.ndarray], reps: int, seed: int) -> list[np.ndarray]:
    """Each matrix's AUC over the same ``reps`` stratified resamples of real and forged
    items (the same draws for every matrix: a paired bootstrap)."""
    rng = np.random.default_rng(seed)
    m, n = psis[0].shape
    rows = np.stack([np.bincount(r, minlength=m) for r in rng.integers(0, m, (reps, m))])
    cols = np.stack([np.bincount(c, minlength=n) for c in rng.integers(0, n, (reps, n))])
    return [np.einsum("ri,ij,rj->r", rows, psi, cols) / (m * n) for psi in psis]


def estimate(scores: Sequence[float], labels: Sequence[int], reps: int = REPS,
             seed: int = 0) -> AucEstimate:
    """The AUC, its 95% stratified bootstrap interval and DeLong's standard error."""
    psi = _psi(scores, labels)
    m, n = psi.shape
    if not m or not n:
        return AucEstimate(None, m, n)
    (aucs,) = _resampled([psi], reps, seed)
    low, high = np.quantile(aucs, [0.025, 0.975])
    return AucEstimate(float(psi.mean()), m, n, float(low), float(high),
                       delong_se(scores, labels))


@dataclass(frozen=True)
class Difference:
    """AUC(a) - AUC(b) on the same items, with its paired 95% bootstrap interval."""

    diff: float | None
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {"diff": _round(self.diff), "low": _round(self.low), "high": _round(self.high)}


def paired_difference(a: Sequence[float], b: Sequence[float], labels: Sequence[int],
                      reps: int = REPS, seed: int = 0) -> Difference:
    """How much better ``a`` tells the classes apart than ``b`` on the same items."""
    pa, pb = _psi(a, labels), _psi(b, labels)
    if not pa.size:
        return Difference(None)
    ra, rb = _resampled([pa, pb], reps, seed)
    low, high = np.quantile(ra - rb, [0.025, 0.975])
    return Difference(float(pa.mean() - pb.mean()), float(low), float(high))


@dataclass(frozen=True)
class Rate:
    """k of n, with a Wilson 95% interval (None when n is 0)."""

    k: int
    n: int

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.k, self.n)

    def to_dict(self) -> dict[str, float | int | None]:
        ci = self.interval
        return {"k": self.k, "n": self.n, "rate": _round(self.value),
                "low": _round(ci[0]) if ci else None, "high": _round(ci[1]) if ci else None}


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson's score interval for k successes in n trials."""
    if n <= 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def fooled(answers: Sequence[str]) -> Rate:
    """Of these answers on forged items, how many said "real"."""
    return Rate(sum(a == "real" for a in answers), len(answers))
