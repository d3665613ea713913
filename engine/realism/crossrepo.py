"""The stick checked across repos: priors rebuilt from many repos' fixes, leave-one-repo-out.

Pure logic over features (no git, no store), used by ``bench/realism.py``:

- **Reference from counts**: per repo, the bin counts of its mined fixes' diff features;
  pooled over repos (each repo's weight capped, so one long history does not speak for all)
  into the shares ``reference.json`` ships. Only counts, never code.
- **Leave-one-repo-out (LORO)**: repo R is scored with the reference rebuilt *without* R and
  no repo-local real bug, i.e. exactly what a new user's repo gets from the shipped priors.
  Its forged pool is the synthetic side, each forged bug scored with itself left out of it.
- **Metrics**: AUC (real vs forged), reliability by probability bin and Brier score with the
  two classes weighted equally per repo (the score has no prior log-odds: it reads as the
  chance of being real in a 50/50 mix), and size controls.

Mined fixes have no test run, so only the diff features are scored here (``DIFF_FEATURES``);
failure kind, blast radius and coupling need validated instances.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.realism.calibrate import auc, sigmoid
from engine.realism.features import Features
from engine.realism.scoring import _SIZE as SIZE_BIN
from engine.realism.scoring import SPEC_BY_NAME, Table, bins_of

DIFF_FEATURES = ("edit_kind", "direction", "naturalness")  # scored from a diff alone
MINED_FEATURES = (*DIFF_FEATURES, "size")  # what the rebuilt reference holds
REPO_CAP = 150  # a repo counts as at most this many fixes in the pooled reference
# The published shares (BugsInPy, TSSB-3M: realism.md) count as this many fixes: they keep
# the rare edit kinds (a bool flip, swapped arguments) that a few thousand fixes may miss.
LITERATURE_WEIGHT = 100.0
PROB_BINS = 10

Counts = dict[str, Counter[str]]  # feature -> bin -> count


def diff_bins(f: Features) -> dict[str, str]:
    """The bins of the features a diff alone gives (size included, never counted)."""
    return {k: v for k, v in bins_of(f, None).items() if k in MINED_FEATURES}


def feature_counts(features: Iterable[Features]) -> Counts:
    out: Counts = {name: Counter() for name in MINED_FEATURES}
    for f in features:
        for name, b in diff_bins(f).items():
            out[name][b] += 1
    return out


def pooled_shares(per_repo: Mapping[str, Counts], exclude: str | None = None,
                  cap: int = REPO_CAP, literature: Mapping[str, Mapping[str, float]] | None = None,
                  literature_weight: float = LITERATURE_WEIGHT) -> dict[str, dict[str, float]]:
    """Per feature, the share of each bin over repos (all but ``exclude``); a repo with more
    than ``cap`` fixes is down-weighted to ``cap``; ``literature`` shares (per feature) join
    as ``literature_weight`` fixes."""
    out: dict[str, dict[str, float]] = {}
    for name in MINED_FEATURES:
        weights: dict[str, float] = {}
        for repo, counts in per_repo.items():
            if repo == exclude:
                continue
            n = sum(counts.get(name, Counter()).values())
            if n:
                weights[repo] = min(1.0, cap / n)
        mass: dict[str, float] = {}
        for repo, w in weights.items():
            for b, c in per_repo[repo][name].items():
                mass[b] = mass.get(b, 0.0) + w * c
        lit = (literature or {}).get(name) or {}
        z_lit = sum(lit.values())
        for b, v in lit.items():
            mass[b] = mass.get(b, 0.0) + literature_weight * v / z_lit
        z = sum(mass.values())
        if z:
            bins = SPEC_BY_NAME[name].bins
            out[name] = {b: round(mass.get(b, 0.0) / z, 5) for b in bins}
    return out


def rebuilt_reference(base: dict[str, Any], per_repo: Mapping[str, Counts],
                      exclude: str | None = None, cap: int = REPO_CAP) -> dict[str, Any]:
    """``base`` (the shipped reference) with the diff features' shares replaced by the pooled
    fixes of ``per_repo`` (minus ``exclude``) and the published shares (a feature's
    ``literature`` in ``base``, else its ``p``); the test-side features are kept."""
    ref = {**base, "features": {k: dict(v) for k, v in base["features"].items()}}
    lit = {name: d.get("literature", d["p"]) for name, d in base["features"].items()}
    for name, p in pooled_shares(per_repo, exclude, cap, lit).items():
        ref["features"][name] = {**ref["features"].get(name, {}), "p": p,
                                 "literature": lit.get(name, {})}
    return ref


# ---------------------------------------------------------------------- LORO scoring
@dataclass(frozen=True)
class Scored:
    """One bug scored leave-one-repo-out."""

    repo: str
    real: bool
    strategy: str  # "real" for a mined fix
    modifier: str
    score: float
    lines_changed: int
    points: dict[str, float] = field(default_factory=dict)  # feature -> WoE points
    edit_kind: str = ""  # "" when the diff did not parse

    @property
    def probability(self) -> float:
        return sigmoid(self.score)


Bug = tuple[str, str, Features]  # strategy, modifier, features


def score_repo(repo: str, real: Sequence[Features], forged: Sequence[Bug],
               reference: dict[str, Any], features: Sequence[str] = DIFF_FEATURES,
               real_local: bool = False, extra: Sequence[Bug] = ()) -> list[Scored]:
    """Score ``repo``'s real fixes and forged bugs (strategy, modifier, features) against
    ``reference`` (which must not hold the repo) and the repo's forged pool.

    Each forged bug is left out of the synthetic counts it is scored against. With
    ``real_local`` the repo's other real fixes are shrunk into the real side (as PR-mirror
    instances are in the product), each real fix left out of it. ``extra`` bugs (e.g.
    unvalidated candidates of a new modifier) are scored against the same pool, not in it.
    """
    k = float(reference.get("shrinkage_k", 20))
    priors = {n: d["p"] for n, d in reference["features"].items()}
    tables = {n: Table(SPEC_BY_NAME[n], priors.get(n), k) for n in features}
    real_bins = [diff_bins(f) for f in real]
    forged_bins = [diff_bins(f) for _s, _m, f in forged]
    for bins in forged_bins:
        for n, b in bins.items():
            if n in tables:
                tables[n].synth[b] += 1
    if real_local:
        for bins in real_bins:
            for n, b in bins.items():
                if n in tables:
                    tables[n].real[b] += 1

    def points(bins: dict[str, str], own: str) -> dict[str, float]:
        """WoE points; ``own`` says which side holds the bug itself ("real", "synth" or
        ""), so it is left out of that side's counts."""
        out = {}
        for n, b in bins.items():
            t = tables.get(n)
            if t is None:
                continue
            if own == "synth":
                t.synth[b] -= 1
            try:
                out[n] = t.spec.weight * t.woe(b, leave_out=own == "real")
            finally:
                if own == "synth":
                    t.synth[b] += 1
        return out

    out = []
    groups = [(True, "real", "", f, bins, "real" if real_local else "")
              for f, bins in zip(real, real_bins, strict=True)]
    groups += [(False, st, mod, f, bins, "synth")
               for (st, mod, f), bins in zip(forged, forged_bins, strict=True)]
    groups += [(False, st, mod, f, diff_bins(f), "") for st, mod, f in extra]
    for is_real, strategy, modifier, f, bins, own in groups:
        p = points(bins, own)
        out.append(Scored(repo, is_real, strategy, modifier, round(sum(p.values()), 4),
                          f.lines_changed, p, bins.get("edit_kind", "")))
    return out


# ---------------------------------------------------------------------- metrics
def auc_of(items: Sequence[Scored], value: str = "score") -> float | None:
    """AUC of ``value`` ("score", "size" or a feature's points) for real vs forged."""
    def get(s: Scored) -> float:
        if value == "score":
            return s.score
        if value == "size":
            return float(s.lines_changed)
        return s.points.get(value, 0.0)
    a = auc([get(s) for s in items], [int(s.real) for s in items])
    return None if a is None else round(a, 4)


def stratified_auc(items: Sequence[Scored], stratum: Callable[[Scored], str]
                   ) -> float | None:
    """AUC over real/forged pairs of the same stratum only (e.g. the same size bin): what
    the score tells apart beyond the strata. Each stratum weighs its number of pairs."""
    groups: dict[str, list[Scored]] = {}
    for s in items:
        groups.setdefault(stratum(s), []).append(s)
    num = den = 0.0
    for group in groups.values():
        pos = sum(s.real for s in group)
        pairs = pos * (len(group) - pos)
        a = auc_of(group)
        if a is not None and pairs:
            num += a * pairs
            den += pairs
    return round(num / den, 4) if den else None


def size_stratum(s: Scored) -> str:
    """The size bins of the scorecard (1-2, 3-5, 6-10, 11-20, >20 changed lines)."""
    return SIZE_BIN(s.lines_changed)


def balanced_weights(items: Sequence[Scored]) -> list[float]:
    """Weights giving each class of each repo half of that repo's weight (1 per repo)."""
    n: Counter[tuple[str, bool]] = Counter((s.repo, s.real) for s in items)
    return [0.5 / n[(s.repo, s.real)] if n[(s.repo, not s.real)] else 0.0 for s in items]


def brier(probs: Sequence[float], labels: Sequence[int],
          weights: Sequence[float] | None = None) -> float | None:
    w = list(weights) if weights is not None else [1.0] * len(probs)
    z = sum(w)
    if not z:
        return None
    return round(sum(wi * (p - y) ** 2 for p, y, wi in zip(probs, labels, w, strict=True)) / z, 4)


def reliability(probs: Sequence[float], labels: Sequence[int],
                weights: Sequence[float] | None = None, bins: int = PROB_BINS
                ) -> list[dict[str, Any]]:
    """Per probability bin: items, mean predicted, observed (weighted) share real."""
    w = list(weights) if weights is not None else [1.0] * len(probs)
    rows = []
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        idx = [i for i, p in enumerate(probs) if lo <= p < hi or (k == bins - 1 and p == 1.0)]
        z = sum(w[i] for i in idx)
        if not idx or not z:
            continue
        rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": len(idx),
                     "n_real": sum(labels[i] for i in idx),
                     "predicted": round(sum(w[i] * probs[i] for i in idx) / z, 3),
                     "observed": round(sum(w[i] * labels[i] for i in idx) / z, 3)})
    return rows


def ece(rows: Sequence[dict[str, Any]]) -> float | None:
    """Expected calibration error over reliability rows (each row weighs its item count)."""
    n = sum(r["n"] for r in rows)
    if not n:
        return None
    return round(sum(r["n"] * abs(r["predicted"] - r["observed"]) for r in rows) / n, 4)


def bootstrap_auc(items: Sequence[Scored], rounds: int = 300, seed: int = 0
                  ) -> tuple[float, float] | None:
    """90% interval of the pooled AUC, resampling repos (the unit LORO generalises over)."""
    import random

    repos = sorted({s.repo for s in items})
    by_repo = {r: [s for s in items if s.repo == r] for r in repos}
    rng = random.Random(seed)
    vals = []
    for _ in range(rounds):
        sample = [s for r in (rng.choice(repos) for _ in repos) for s in by_repo[r]]
        a = auc_of(sample)
        if a is not None:
            vals.append(a)
    if not vals:
        return None
    vals.sort()
    return vals[int(0.05 * (len(vals) - 1))], vals[int(math.ceil(0.95 * (len(vals) - 1)))]
