"""How candidates of many modifiers are interleaved before ``--max`` cuts the list."""

from __future__ import annotations

import random

from engine.forge.run import _interleave


def test_equal_weights_are_the_plain_round_robin() -> None:
    for trial in range(100):
        rng = random.Random(trial)
        buckets = {f"m{i}": [f"m{i}-{j}" for j in range(rng.randint(0, 6))]
                   for i in range(rng.randint(1, 8))}
        queues = [list(v) for _, v in sorted(buckets.items())]
        expected = []
        while any(queues):
            for q in queues:
                if q:
                    expected.append(q.pop(0))
        assert _interleave(buckets, {}) == expected


def test_weights_set_the_share_of_a_prefix_and_nothing_is_lost() -> None:
    buckets = {"good": [f"g{i}" for i in range(40)], "poor": [f"p{i}" for i in range(40)],
               "new": [f"n{i}" for i in range(40)]}
    out = _interleave(buckets, {"good": 0.6, "poor": 0.2})  # "new" weighs the mean, 0.4
    head = out[:24]
    assert [sum(x.startswith(k) for x in head) for k in "gnp"] == [12, 8, 4]
    assert sorted(out) == sorted(x for v in buckets.values() for x in v)
