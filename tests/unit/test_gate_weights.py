"""``--prefer-realistic`` weights: a modifier with no scored bug is not favoured."""

from __future__ import annotations

import math

from engine.realism.gate import modifier_weights, yield_prior


class _Store:
    """The two store queries the weights read: scored bugs per modifier, verdicts per
    modifier (none here, so the shipped yield priors stand)."""

    def modifier_realism(self, repo: str) -> dict[tuple[str, str], tuple[int, float]]:
        return {("procedural", "op_swap"): (30, -2.0), ("procedural", "remove_cond"): (10, 0.0)}

    def yield_by_modifier(self, repo: str) -> list[tuple[str, str, int, int]]:
        return []


def _logistic(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_an_unscored_modifier_counts_the_mean_score_of_the_scored_ones() -> None:
    store = _Store()
    weights, prior = modifier_weights(store, "r"), yield_prior(store, "r")  # type: ignore[arg-type]
    typical = (30 * -2.0 + 10 * 0.0) / 40
    unscored = "procedural/ctrl_invert_if"  # shipped, no bug of it scored here
    assert unscored in weights
    assert math.isclose(weights[unscored] / prior[unscored], _logistic(typical))
    assert math.isclose(weights["procedural/op_swap"] / prior["procedural/op_swap"],
                        _logistic(-2.0))
    # below a modifier scored at 0, above one scored at -2: neither favoured nor shunned
    assert _logistic(-2.0) < weights[unscored] / prior[unscored] < _logistic(0.0)
