"""The shipped yield prior per modifier and how it weighs a --max sample (engine.strategies.
priors, engine.realism.gate.yield_prior), on a real DuckDB store."""

from __future__ import annotations

from pathlib import Path

from engine.forge.run import _interleave
from engine.models import Candidate
from engine.realism.gate import yield_prior
from engine.store import Store
from engine.strategies.priors import STRENGTH, neutral, posterior_yield, shipped


def test_the_shipped_prior_ranks_the_zoo_s_no_op_modifiers_last() -> None:
    prior = shipped()
    assert len(prior) >= 14
    assert all(p.validated >= p.kept >= 0 for p in prior.values())
    rates = {name: p.rate for name, p in prior.items()}
    worst = sorted(rates, key=rates.__getitem__)[:2]
    assert set(worst) == {"procedural/op_swap", "procedural/class_shuffle_funcs"}


def test_a_repo_s_own_verdicts_move_the_prior_and_unknown_modifiers_get_even_odds() -> None:
    name = "procedural/class_shuffle_funcs"
    base = shipped()[name].rate
    assert posterior_yield(name, 0, 0) == base
    # Twenty of twenty kept here outweigh the shipped prior's STRENGTH pseudo-verdicts.
    assert posterior_yield(name, 20, 20) == (20 + STRENGTH * base) / (20 + STRENGTH)
    assert posterior_yield(name, 20, 20) > 0.85
    assert posterior_yield("lm/new_thing", 0, 0) == 0.5
    assert posterior_yield("lm/new_thing", 8, 0) == 0.1


def test_a_first_forge_samples_low_yield_modifiers_less(tmp_path: Path) -> None:
    with Store.open(tmp_path / "bugfoundry.duckdb") as store:
        weights = yield_prior(store, "nothing-yet")
    assert weights == {n: posterior_yield(n, 0, 0) ** 2 for n in shipped()}
    buckets = {name: [Candidate(repo="r", strategy=name.split("/")[0],
                                modifier=name.split("/")[1], patch=f"{name}{i}", file="f.py")
                      for i in range(20)] for name in shipped()}
    sample = _interleave(buckets, weights)[:4 * len(buckets)]
    share = {n: sum(f"{c.strategy}/{c.modifier}" == n for c in sample) for n in buckets}
    assert share["procedural/class_shuffle_funcs"] <= 2
    assert share["procedural/ctrl_invert_if"] >= 6
    assert share["procedural/unwrap_call"] < share["procedural/remove_loop"]
    assert all(share[n] >= 1 for n in buckets if shipped()[n].rate > 0.5)


def test_a_new_modifier_starts_level_with_its_strategy_not_starved(tmp_path: Path) -> None:
    """A procedural modifier the zoo has not measured yet starts at the pooled procedural
    rate, not at even odds, and a first --max sample gives it a middle share."""
    new = "procedural/not_measured_yet"
    assert new not in shipped()
    pooled = neutral("procedural")
    assert pooled is not None and 0.6 < pooled < 0.9
    assert posterior_yield(new, 0, 0) == pooled
    assert posterior_yield(new, 4, 4) == (4 + STRENGTH * pooled) / 8
    assert posterior_yield(new, 10, 0) < 0.25  # its own verdicts rule
    with Store.open(tmp_path / "bugfoundry.duckdb") as store:
        weights = yield_prior(store, "nothing-yet")
    names = [*shipped(), new]
    buckets = {name: [Candidate(repo="r", strategy="procedural", modifier=name.split("/")[1],
                                patch=f"{name}{i}", file="f.py") for i in range(20)]
               for name in names}
    sample = _interleave(buckets, weights)[:5 * len(buckets)]
    share = {n: sum(f"{c.strategy}/{c.modifier}" == n for c in sample) for n in buckets}
    ranked = sorted(share.values())
    assert ranked[len(ranked) // 4] <= share[new] <= ranked[-1], share
    assert share["procedural/class_shuffle_funcs"] < share[new]
