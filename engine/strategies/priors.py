"""Shipped yield priors per modifier: how often each one's candidates validated across the zoo.

A first forge on a new repo has no verdicts of its own; without a prior every modifier gets an
even share, and the ones that almost never validate anywhere (shuffled methods, swapped
operands) spend a tenth of the runs. The counts are aggregated from the zoo's forges after the
pruner's skips (``bench/yield_prior.py`` rebuilds ``yield_prior.json``), no code in them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).with_name("yield_prior.json")
STRENGTH = 4.0  # the shipped prior weighs as much as this many of the repo's own verdicts


@dataclass(frozen=True)
class Prior:
    validated: int
    kept: int

    @property
    def rate(self) -> float:
        return (self.kept + 1) / (self.validated + 2)


@cache
def shipped() -> dict[str, Prior]:
    """``strategy/modifier`` -> its pooled counts; empty when the file is missing."""
    try:
        raw = json.loads(DATA.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {name: Prior(int(v["validated"]), int(v["kept"]))
            for name, v in raw.get("modifiers", {}).items()}


@cache
def neutral(strategy: str) -> float | None:
    """The pooled shipped rate of ``strategy``'s modifiers: the prior of a modifier of that
    strategy the zoo has not measured yet (a new one), so it starts level with its siblings
    instead of at even odds below them. None when nothing of ``strategy`` is shipped."""
    mine = [p for name, p in shipped().items() if name.partition("/")[0] == strategy]
    if not mine:
        return None
    return Prior(sum(p.validated for p in mine), sum(p.kept for p in mine)).rate


def posterior_yield(name: str, validated: int, kept: int) -> float:
    """Mean yield of ``name`` here: the shipped rate as ``STRENGTH`` pseudo-verdicts (for an
    unmeasured modifier its strategy's pooled rate, ``neutral``; Beta(1, 1) when nothing of the
    strategy is shipped) updated with this repo's ``validated``/``kept``."""
    prior = shipped().get(name)
    rate = prior.rate if prior is not None else neutral(name.partition("/")[0])
    if rate is None:
        return (kept + 1) / (validated + 2)
    return (kept + STRENGTH * rate) / (validated + STRENGTH)
