"""Using the score while forging: a gate that drops low scorers, and modifier preferences.

The gate scores a kept candidate the moment validation keeps it (its diff, its F2P set and
failure output are all a score needs) against the repo's scorecard as it stood when the run
began, so ``forge --min-realism X`` can record ``low_realism`` instead of an instance.
"""

from __future__ import annotations

import math
from pathlib import Path

from engine.instances import FeatureInput
from engine.logs import Log
from engine.models import Candidate, Verdict
from engine.realism.features import compute, repo_model, repo_reader
from engine.realism.pipeline import ensure_features, load_items
from engine.realism.scoring import Score, Scorecard, bins_of, ochiai
from engine.store import Store
from engine.strategies.priors import posterior_yield, shipped


class RealismGate:
    """Scores validated candidates of one repo; ``passes`` says whether one clears the bar."""

    def __init__(self, store: Store, repo: str, root: Path, threshold: float,
                 log: Log | None = None) -> None:
        fresh, _ = ensure_features(store, repo, root, log or (lambda _m: None))
        self.card = Scorecard(load_items(store, repo, fresh))
        self.read = repo_reader(root)
        self.model = repo_model(root)
        self.threshold = threshold

    def score(self, cand: Candidate, verdict: Verdict) -> Score:
        return self.score_input(FeatureInput(cand.candidate_id, cand.file, cand.patch,
                                             list(verdict.fail_to_pass), verdict.failures))

    def score_input(self, rec: FeatureInput) -> Score:
        """The score of one bug from what features read of it (a stored instance's
        ``Store.instances_for_features`` row too), against this gate's scorecard."""
        features = compute(rec, self.read, self.model)
        f2p = frozenset(rec.fail_to_pass)
        coupling = (max(ochiai(f2p, r.f2p) for r in self.card.real)
                    if self.card.real else None)
        reasons = self.card.terms(bins_of(features, coupling))
        total = sum(r.points for r in reasons if r.counted)
        return Score(rec.instance_id, round(total, 4), tuple(reasons))

    def judge(self, cand: Candidate, verdict: Verdict) -> Verdict:
        """The verdict unchanged, or a ``low_realism`` drop naming the score and its reason."""
        if not verdict.kept:
            return verdict
        s = self.score(cand, verdict)
        if s.score >= self.threshold:
            return verdict
        top = next((r for r in s.reasons if r.counted), None)
        why = f"; mostly: {top.text}" if top else ""
        return Verdict(verdict.candidate_id, False, "low_realism",
                       f"realism {s.score:+.2f} < {self.threshold:+.2f}{why}",
                       fail_to_pass=verdict.fail_to_pass, pass_to_pass=verdict.pass_to_pass,
                       tests_run=verdict.tests_run, failures=verdict.failures,
                       duration=verdict.duration, worker=verdict.worker, path=verdict.path,
                       cpu=verdict.cpu)


def yield_prior(store: Store, repo: str) -> dict[str, float]:
    """Per ``strategy/modifier``: its sampling weight, the square of its expected yield here
    (``engine.strategies.priors``: the zoo's pooled rate updated with this repo's verdicts).
    Squared so a modifier at half another's yield gets a quarter of its share under ``--max``:
    every modifier stays represented while the ones that rarely validate stop costing runs."""
    counts = {f"{strategy}/{modifier}": (validated, kept)
              for strategy, modifier, validated, kept in store.yield_by_modifier(repo)}
    names = set(counts) | set(shipped())
    return {name: posterior_yield(name, *counts.get(name, (0, 0))) ** 2 for name in names}


def modifier_weights(store: Store, repo: str) -> dict[str, float]:
    """Per ``strategy/modifier``: its yield weight here (``yield_prior``) times how realistic
    its bugs score here (logistic of the mean score), so a ``--max`` sample leans toward
    modifiers that pay off in this repo. A modifier with no scored bug here counts the mean
    score of those that have some (not 0: procedural bugs average about -1.5, so even odds
    would favour every unscored modifier over every scored one)."""
    realism = store.modifier_realism(repo)
    scored = sum(n for n, _mean in realism.values())
    typical = (sum(n * mean for n, mean in realism.values()) / scored) if scored else 0.0
    out: dict[str, float] = {}
    for name, prior in yield_prior(store, repo).items():
        strategy, _, modifier = name.partition("/")
        _n, mean = realism.get((strategy, modifier), (0, typical))
        out[name] = prior / (1 + math.exp(-mean))
    return out
