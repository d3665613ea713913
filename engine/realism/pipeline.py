"""Realism for one repo, end to end: cached features -> scorecard -> calibration -> scores.

Features are computed lazily (only instances without a row for ``FEATURE_VERSION``) and in
batches, each batch committed at once, so an interrupted run keeps what it computed. Scores are
derived from the whole repo's reference and appended as one scoring pass.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.agreement import mean_kappa, pairwise
from engine.logs import Log, quiet
from engine.realism.calibrate import Calibration, Example, Fit, calibrate, majority
from engine.realism.features import FEATURE_VERSION, Features, compute, repo_model, repo_reader
from engine.realism.scoring import Item, Reason, Score, Scorecard
from engine.store import Store, StoredScore

BATCH = 500


def ensure_features(store: Store, repo: str, root: Path | None, log: Log = quiet,
                    save: bool = True) -> tuple[dict[str, dict], float]:
    """Compute features for instances that lack them, stored batch by batch when ``save``
    (a read-only store keeps them in memory); returns them and the seconds spent."""
    start = time.monotonic()
    missing = [r.instance_id for r in store.realism_inputs(repo, FEATURE_VERSION)
               if r.features is None]
    if not missing:
        return {}, 0.0
    log(f"realism: computing features of {len(missing)} instances ...")
    read = repo_reader(root)
    model = repo_model(root)
    done: dict[str, dict] = {}
    for k in range(0, len(missing), BATCH):
        recs = store.instances_for_features(missing[k:k + BATCH])
        batch = {r.instance_id: compute(r, read, model).to_dict() for r in recs}
        if save:
            store.save_features(FEATURE_VERSION, batch)
        done.update(batch)
    return done, round(time.monotonic() - start, 3)


def load_items(store: Store, repo: str, fresh: dict[str, dict] | None = None) -> list[Item]:
    """The repo's instances with their features (stored, or ``fresh`` from this pass)."""
    out = []
    fresh = fresh or {}
    for r in store.realism_inputs(repo, FEATURE_VERSION):
        data = json.loads(r.features) if r.features else fresh.get(r.instance_id)
        if data is None:
            continue
        out.append(Item(r.instance_id, r.strategy or "", r.modifier or "",
                        Features.from_dict(data), frozenset(r.fail_to_pass or ())))
    return out


def prior_points(card: Scorecard) -> dict[str, dict[str, float]]:
    """The unlabelled card as points per (feature, bin): the calibration's starting point."""
    return {name: {b: t.spec.weight * t.woe(b) for b in t.spec.bins}
            for name, t in card.tables.items() if t.spec.weight > 0}


def labelled_examples(store: Store, card: Scorecard) -> tuple[list[Example], float | None]:
    """Curators' realism tags on this repo's instances (majority per instance) and kappa."""
    tags: dict[str, list[str]] = {}
    for st in store.current_decisions(instance_ids=list(card.bins)):
        if st.realism:
            tags.setdefault(st.instance_id, []).append(st.realism)
    examples = []
    for iid, ts in sorted(tags.items()):
        y = majority(ts)
        if y is not None:
            bins = {f: b for f, b in card.bins[iid].items() if f != "size"}
            examples.append(Example(bins, y))
    kappa = mean_kappa(pairwise([lab for lab in store.shared_labels()
                                 if lab.instance_id in card.bins]), "realism")
    return examples, kappa


def calibrated_score(card: Scorecard, fitted: Fit, item: Item) -> Score:
    """Score with the curator-fitted points; the reasons keep the WoE card's wording."""
    base = {(r.feature, r.bin): r for r in card.score(item).reasons}
    reasons = []
    for (f, b), r in base.items():
        pts = fitted.points.get(f, {}).get(b, 0.0) if r.counted else r.points
        reasons.append(Reason(f, b, round(pts, 3), r.text, r.counted))
    reasons.sort(key=lambda r: -abs(r.points))
    total = fitted.intercept + sum(r.points for r in reasons if r.counted)
    return Score(item.instance_id, round(total, 4), tuple(reasons))


@dataclass
class RepoRealism:
    """Everything known about one repo's realism after a pass."""

    repo: str
    card: Scorecard
    calibration: Calibration
    scores: dict[str, Score]
    items: list[Item]
    features_computed: int = 0
    features_seconds: float = 0.0
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)


def score_repo(store: Store, repo: str, root: Path | None, *, save: bool = True,
               log: Log = quiet) -> RepoRealism:
    """Features (lazily), the scorecard, calibration when labels allow, and a scoring pass."""
    fresh, secs = ensure_features(store, repo, root, log, save=save)
    t0 = time.monotonic()
    items = load_items(store, repo, fresh)
    card = Scorecard(items)
    examples, kappa = labelled_examples(store, card)
    cal = calibrate(examples, prior_points(card), kappa)
    if cal.fit is not None:
        scores = {i.instance_id: calibrated_score(card, cal.fit, i) for i in items}
        model = f"calibrated:{cal.labelled}labels"
    else:
        scores = card.score_all()
        model = f"woe:{card.n_real}real"
    scoring = round(time.monotonic() - t0, 3)
    if save and scores:
        store.save_scores(model, [
            StoredScore(s.instance_id, model, s.score, s.probability,
                        [{"feature": r.feature, "bin": r.bin, "points": r.points,
                          "text": r.text, "counted": r.counted} for r in s.reasons])
            for s in scores.values()])
    return RepoRealism(repo, card, cal, scores, items, len(fresh), secs, model,
                       {"features": secs, "scoring": scoring})
