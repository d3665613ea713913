"""Calibration: fit the scorecard's points to curators' realism tags.

The model stays a scorecard (so explanations do not change shape): logit = b + sum over features
of points[feature][bin]. It is an L2 logistic regression whose penalty pulls each point toward
the unlabelled WoE value, not toward zero: with few labels it stays the WoE card, with many it
follows the curators. A hand-written Newton solver on numpy (tens of parameters) keeps the
dependencies light. Tags collapse to binary: artificial (0) vs plausible or realistic (1).

Held-out accuracy and AUC come from stratified k-fold cross-validation; the curators' own
agreement (Cohen's kappa on realism) is shown next to them, because it caps what any model of
their labels can reach.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MIN_LABELS = 150  # realism.md §0.7: 150-300 labels for a regularised scorecard
MIN_PER_CLASS = 30
L2 = 1.0
FOLDS = 5


@dataclass(frozen=True)
class Example:
    bins: dict[str, str]  # feature -> bin (the features that apply)
    label: int  # 1 realistic or plausible, 0 artificial


@dataclass
class Fit:
    """A fitted scorecard: intercept and points per (feature, bin)."""

    intercept: float
    points: dict[str, dict[str, float]]
    n: int

    def logit(self, bins: dict[str, str]) -> float:
        return self.intercept + sum(self.points.get(f, {}).get(b, 0.0) for f, b in bins.items())


@dataclass
class Calibration:
    """What the report and the TUI show about calibration."""

    labelled: int
    positives: int
    needed: int  # more labels needed before a fit (0 once fitted)
    fit: Fit | None = None
    heldout_accuracy: float | None = None
    heldout_auc: float | None = None
    prior_accuracy: float | None = None  # the unlabelled WoE card on the same labels
    kappa: float | None = None  # curators' agreement on realism (caps accuracy)
    changes: list[tuple[str, str, float, float]] = field(default_factory=list)  # f, b, old, new

    @property
    def fitted(self) -> bool:
        return self.fit is not None

    def summary(self) -> str:
        k = f"{self.kappa:.2f}" if self.kappa is not None else "n/a (no double labels)"
        if not self.fitted:
            return (f"calibration: {self.labelled} labelled instances ({self.positives} "
                    f"realistic/plausible); {self.needed} more needed to fit "
                    f"(>= {MIN_LABELS}, >= {MIN_PER_CLASS} per class); curator kappa {k}")
        auc_s = f"{self.heldout_auc:.2f}" if self.heldout_auc is not None else "n/a"
        return (f"calibration: fitted on {self.labelled} labels; held-out accuracy "
                f"{self.heldout_accuracy or 0:.2f} (AUC {auc_s}) vs "
                f"{self.prior_accuracy or 0:.2f} for the unlabelled card; curator kappa {k} "
                "caps it")


def labels_needed(n: int, positives: int) -> int:
    negatives = n - positives
    short_class = max(0, MIN_PER_CLASS - positives) + max(0, MIN_PER_CLASS - negatives)
    return max(MIN_LABELS - n, short_class, 0)


def _design(examples: Sequence[Example], columns: list[tuple[str, str]]) -> np.ndarray:
    index = {c: j for j, c in enumerate(columns)}
    x = np.zeros((len(examples), len(columns) + 1))
    x[:, 0] = 1.0
    for i, e in enumerate(examples):
        for f, b in e.bins.items():
            j = index.get((f, b))
            if j is not None:
                x[i, j + 1] = 1.0
    return x


def fit(examples: Sequence[Example], prior: dict[str, dict[str, float]],
        l2: float = L2, iterations: int = 50) -> Fit:
    """Newton-Raphson on the penalised log-likelihood (intercept unpenalised)."""
    columns = sorted({(f, b) for e in examples for f, b in e.bins.items()})
    x = _design(examples, columns)
    y = np.array([e.label for e in examples], dtype=float)
    beta0 = np.array([0.0] + [prior.get(f, {}).get(b, 0.0) for f, b in columns])
    pen = np.full(len(beta0), l2)
    pen[0] = 0.0
    beta = beta0.copy()

    def objective(b: np.ndarray) -> float:
        z = x @ b
        loglik = float(np.sum(y * z - np.logaddexp(0.0, z)))
        return loglik - 0.5 * float(np.sum(pen * (b - beta0) ** 2))

    current = objective(beta)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        grad = x.T @ (y - p) - pen * (beta - beta0)
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(pen) + 1e-6 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        t = 1.0  # damped Newton: halve the step until the penalised likelihood improves
        while t > 1e-6 and objective(beta + t * step) < current - 1e-12:
            t /= 2
        beta = beta + t * step
        new = objective(beta)
        if abs(new - current) < 1e-9:
            break
        current = new
    points: dict[str, dict[str, float]] = {}
    for (f, b), v in zip(columns, beta[1:], strict=True):
        points.setdefault(f, {})[b] = float(v)
    return Fit(float(beta[0]), points, len(examples))


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank (for AUC and Spearman)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Mann-Whitney AUC (ties count half); None when a class is missing."""
    n_pos = sum(1 for y in labels if y)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return None
    r_pos = sum(r for r, y in zip(average_ranks(scores), labels, strict=True) if y)
    return (r_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def folds(labels: Sequence[int], k: int = FOLDS, seed: int = 0) -> list[list[int]]:
    """Stratified fold assignment (deterministic)."""
    rng = random.Random(seed)
    out: list[list[int]] = [[] for _ in range(k)]
    for cls in (0, 1):
        idx = [i for i, y in enumerate(labels) if y == cls]
        rng.shuffle(idx)
        for n, i in enumerate(idx):
            out[n % k].append(i)
    return [f for f in out if f]


def prior_logit(prior: dict[str, dict[str, float]], bins: dict[str, str]) -> float:
    return sum(prior.get(f, {}).get(b, 0.0) for f, b in bins.items())


def calibrate(examples: Sequence[Example], prior: dict[str, dict[str, float]],
              kappa: float | None = None, l2: float = L2) -> Calibration:
    """Fit when there are enough labels; else say how many more are needed."""
    n = len(examples)
    positives = sum(e.label for e in examples)
    need = labels_needed(n, positives)
    cal = Calibration(n, positives, need, kappa=kappa)
    if need:
        return cal
    labels = [e.label for e in examples]
    held: list[float] = [0.0] * n
    for test in folds(labels):
        test_set = set(test)
        model = fit([e for i, e in enumerate(examples) if i not in test_set], prior, l2)
        for i in test:
            held[i] = model.logit(examples[i].bins)
    cal.heldout_accuracy = sum((s > 0) == bool(y) for s, y in zip(held, labels, strict=True)) / n
    cal.heldout_auc = auc(held, labels)
    base = [prior_logit(prior, e.bins) for e in examples]
    cal.prior_accuracy = sum((s > 0) == bool(y) for s, y in zip(base, labels, strict=True)) / n
    cal.fit = fit(examples, prior, l2)
    cal.needed = 0
    for f, per in cal.fit.points.items():
        for b, v in per.items():
            old = prior.get(f, {}).get(b, 0.0)
            if abs(v - old) >= 0.25:
                cal.changes.append((f, b, round(old, 3), round(v, 3)))
    cal.changes.sort(key=lambda c: -abs(c[3] - c[2]))
    return cal


def majority(tags: Sequence[str]) -> int | None:
    """One binary label from several curators' realism tags (None on a tie)."""
    votes = [0 if t == "artificial" else 1 for t in tags]
    if not votes or 2 * sum(votes) == len(votes):
        return None
    return int(2 * sum(votes) > len(votes))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))
