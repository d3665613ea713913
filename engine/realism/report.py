"""The per-strategy realism report: typicality, separability and coverage (realism.md §3.2).

- **Score distribution** per strategy and modifier (histogram over fixed score bins).
- **AUC**: a naive-Bayes classifier on the binned features, cross-validated, separating the
  strategy's bugs from the real ones (PR-mirror, when there are >= 10), else from a sample of
  the shrunk reference distributions. 0.5 = indistinguishable; realism = 1 - 2|AUC - 0.5|.
- **Coverage**: the share of real bugs some bug of the strategy resembles (same edit kind and
  size within 2x, or Ochiai >= 0.5 on failing tests), and the share of the real edit-kind mass
  the strategy produces at all (which exposes a typical-looking strategy with two bug kinds).
- **Controls**: PR-mirror instances scored leave-one-out against the others; the score's rank
  correlation with diff size.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from engine.realism.calibrate import MIN_LABELS, auc, average_ranks
from engine.realism.pipeline import RepoRealism
from engine.realism.scoring import REAL_STRATEGY, SPECS, Item, Scorecard, ochiai

HIST_EDGES = tuple(range(-5, 6))  # 10 bins of one nat; scores outside land in the end bins
MIN_REAL_FOR_AUC = 10
REFERENCE_SAMPLE = 600
COUNTED = tuple(s.name for s in SPECS)


def histogram(values: Sequence[float]) -> list[int]:
    counts = [0] * (len(HIST_EDGES) - 1)
    for v in values:
        i = int(math.floor(v)) - HIST_EDGES[0]
        counts[max(0, min(len(counts) - 1, i))] += 1
    return counts


def _quantile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def distribution(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "mean": round(statistics.fmean(values), 3),
            "median": round(_quantile(values, 0.5), 3), "p10": round(_quantile(values, 0.1), 3),
            "p90": round(_quantile(values, 0.9), 3), "hist": histogram(values)}


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    if len(x) < 3:
        return None
    rx, ry = average_ranks(x), average_ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    vy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return round(cov / (vx * vy), 3) if vx and vy else None


# ---------------------------------------------------------------------- separability
Bins = dict[str, str]


class _NB:
    """Bin counts of one class (naive Bayes with half-count smoothing)."""

    def __init__(self, examples: list[Bins]) -> None:
        self.bins: Counter[tuple[str, str]] = Counter()
        self.n: Counter[str] = Counter()
        for e in examples:
            for f, b in e.items():
                self.bins[(f, b)] += 1
                self.n[f] += 1

    def logp(self, f: str, b: str) -> float:
        return math.log((self.bins[(f, b)] + 0.5) / (self.n[f] + 1.0))


def _nb_llr(pos: _NB, neg: _NB, x: Bins) -> float:
    return sum(pos.logp(f, b) - neg.logp(f, b) for f, b in x.items())


def nb_auc(pos: list[Bins], neg: list[Bins], k: int = 5, seed: int = 0) -> float | None:
    """Cross-validated AUC of a naive-Bayes classifier telling ``pos`` from ``neg``."""
    if len(pos) < 2 or len(neg) < 2:
        return None
    rng = random.Random(seed)
    fold_p = [i % k for i in range(len(pos))]
    fold_n = [i % k for i in range(len(neg))]
    rng.shuffle(fold_p)
    rng.shuffle(fold_n)
    scores, labels = [], []
    for f in range(k):
        tp = _NB([e for e, g in zip(pos, fold_p, strict=True) if g != f])
        tn = _NB([e for e, g in zip(neg, fold_n, strict=True) if g != f])
        for e, g in zip(pos, fold_p, strict=True):
            if g == f:
                scores.append(_nb_llr(tp, tn, e))
                labels.append(1)
        for e, g in zip(neg, fold_n, strict=True):
            if g == f:
                scores.append(_nb_llr(tp, tn, e))
                labels.append(0)
    value = auc(scores, labels)
    return round(value, 3) if value is not None else None


def reference_sample(card: Scorecard, n: int = REFERENCE_SAMPLE, seed: int = 0) -> list[Bins]:
    """Pseudo-real bugs drawn from the shrunk reference marginals (features independent)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        e: Bins = {}
        for name in COUNTED:
            t = card.tables[name]
            if t.prior is None and not card.n_real:
                continue  # coupling: nothing to compare with
            weights = [t.real_p(b) for b in t.spec.bins]
            e[name] = rng.choices(t.spec.bins, weights)[0]
        out.append(e)
    return out


def _counted(card: Scorecard, item: Item) -> Bins:
    return {f: b for f, b in card.bins[item.instance_id].items() if f in COUNTED}


def _js(p: dict[str, float], q: dict[str, float]) -> float:
    keys = set(p) | set(q)
    m = {x: (p.get(x, 0) + q.get(x, 0)) / 2 for x in keys}

    def kl(a: dict[str, float]) -> float:
        return sum(v * math.log2(v / m[x]) for x, v in a.items() if v > 0)
    return 0.5 * kl(p) + 0.5 * kl(q)


def divergent_features(card: Scorecard, items: list[Item], top: int = 3) -> list[dict]:
    """Features whose distribution in ``items`` differs most from the real reference (JS)."""
    out: list[dict[str, Any]] = []
    for name in COUNTED:
        t = card.tables[name]
        seen = Counter(card.bins[i.instance_id][name] for i in items
                       if name in card.bins[i.instance_id])
        n = sum(seen.values())
        if not n or (t.prior is None and not card.n_real):
            continue
        p = {b: c / n for b, c in seen.items()}
        q = {b: t.real_p(b) for b in t.spec.bins}
        common = max(p, key=lambda b: p[b])
        out.append({"feature": name, "js": round(_js(p, q), 3), "most_common": common,
                    "share": round(p[common], 3), "real_share": round(q.get(common, 0.0), 3)})
    return sorted(out, key=lambda d: -d["js"])[:top]


def coverage(card: Scorecard, items: list[Item]) -> dict[str, Any]:
    kinds = {i.features.edit_kind for i in items}
    t = card.tables["edit_kind"]
    mass = sum(t.real_p(b) for b in t.spec.bins if b in kinds)
    out: dict[str, Any] = {"edit_kinds": len(kinds), "real_kind_mass": round(mass, 3)}
    if card.real:
        hit = 0
        for r in card.real:
            rl = max(r.features.lines_changed, 1)
            if any(ochiai(s.f2p, r.f2p) >= 0.5 or (
                    s.features.edit_kind == r.features.edit_kind
                    and 0.5 <= max(s.features.lines_changed, 1) / rl <= 2.0) for s in items):
                hit += 1
        out["real_resembled"] = round(hit / len(card.real), 3)
    else:
        out["real_resembled"] = None
    return out


# ---------------------------------------------------------------------- the report
def build_report(rr: RepoRealism) -> dict[str, Any]:
    card = rr.card
    by_strategy: dict[str, list[Item]] = defaultdict(list)
    for item in rr.items:
        by_strategy[item.strategy].append(item)
    use_real = card.n_real >= MIN_REAL_FOR_AUC
    against = [_counted(card, i) for i in card.real] if use_real else reference_sample(card)
    strategies = []
    for name in sorted(by_strategy, key=lambda s: (s == REAL_STRATEGY, s)):
        items = by_strategy[name]
        row: dict[str, Any] = {"strategy": name,
                               **distribution([rr.scores[i.instance_id].score for i in items])}
        if name == REAL_STRATEGY:
            row["note"] = "real bugs, each scored leave-one-out"
        else:
            value = nb_auc(against, [_counted(card, i) for i in items])
            row["auc"] = value
            row["auc_vs"] = "real" if use_real else "reference"
            row["realism"] = round(1 - 2 * abs(value - 0.5), 3) if value is not None else None
            row["coverage"] = coverage(card, items)
            row["divergent"] = divergent_features(card, items)
        mods: dict[str, list[float]] = defaultdict(list)
        for i in items:
            mods[i.modifier].append(rr.scores[i.instance_id].score)
        row["modifiers"] = [{"modifier": m, **distribution(v)} for m, v in sorted(mods.items())]
        strategies.append(row)
    scores = [rr.scores[i.instance_id].score for i in rr.items]
    sizes = [float(i.features.lines_changed) for i in rr.items]
    real_mean = statistics.fmean([rr.scores[i.instance_id].score for i in card.real]) \
        if card.real else None
    cal = rr.calibration
    return {
        "repo": rr.repo, "model": rr.model, "reference": card.reference_note,
        "n_real": card.n_real, "n_synthetic": card.n_synth,
        "features_computed": rr.features_computed, "features_seconds": rr.features_seconds,
        "timings": rr.timings,
        "hist_edges": list(HIST_EDGES),
        "strategies": strategies,
        "real_mean_loo": round(real_mean, 3) if real_mean is not None else None,
        "size_correlation": spearman(scores, sizes),
        "calibration": {
            "fitted": cal.fitted, "labelled": cal.labelled, "positives": cal.positives,
            "needed": cal.needed, "min_labels": MIN_LABELS,
            "heldout_accuracy": cal.heldout_accuracy, "heldout_auc": cal.heldout_auc,
            "prior_accuracy": cal.prior_accuracy, "kappa": cal.kappa,
            "summary": cal.summary(),
            "changes": [{"feature": f, "bin": b, "before": o, "after": n}
                        for f, b, o, n in cal.changes[:10]],
        },
    }
