"""Fleiss' kappa and Krippendorff's alpha against published worked examples."""

from __future__ import annotations

import pytest

from engine.reliability import (
    confusion_matrices,
    fleiss_kappa,
    krippendorff_alpha,
    multi_agreement,
)

# Fleiss (1971) as worked in Wikipedia's "Fleiss' kappa" article: 10 subjects, 14 raters,
# 5 categories; P = 0.378, P_e = 0.213, kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the example with
# missing data: 4 observers, 12 units, nominal alpha = 0.743 (None: no value given).
KRIPP = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def test_fleiss_kappa_matches_the_worked_example() -> None:
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.2099, abs=5e-4)


def test_krippendorff_alpha_matches_the_worked_example() -> None:
    units = [[str(KRIPP[o][u]) for o in KRIPP if KRIPP[o][u] is not None] for u in range(12)]
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)


def test_multi_agreement_from_ratings_equals_the_table_forms() -> None:
    ratings = [(f"u{u}", o, str(v)) for o, vals in KRIPP.items()
               for u, v in enumerate(vals) if v is not None]
    m = multi_agreement(ratings)
    assert (m.items, m.ratings, m.raters) == (11, 40, 4)  # unit 12 has one value: unpairable
    assert m.krippendorff_alpha == pytest.approx(0.743, abs=5e-4)
    fleiss = [(f"s{i}", f"r{r}", str(j)) for i, row in enumerate(FLEISS_TABLE)
              for j, c in enumerate(row) for r in range(sum(row[:j]), sum(row[:j]) + c)]
    assert multi_agreement(fleiss).fleiss_kappa == pytest.approx(0.2099, abs=5e-4)


def test_perfect_agreement_and_undefined_cases() -> None:
    perfect = [(i, r, v) for i, v in (("x", "a"), ("y", "b"), ("z", "a")) for r in "pqr"]
    m = multi_agreement(perfect)
    assert m.fleiss_kappa == pytest.approx(1.0) and m.krippendorff_alpha == pytest.approx(1.0)
    one_label = [(i, r, "a") for i in "xyz" for r in "pq"]  # chance agreement is 1: 0/0
    m = multi_agreement(one_label)
    assert m.fleiss_kappa is None and m.krippendorff_alpha is None
    assert multi_agreement([("x", "p", "a")]).items == 0  # nothing pairable


def test_two_raters_alpha_is_below_cohen_style_agreement_when_they_disagree() -> None:
    # 4 items, two raters agreeing on 2: p_o = 0.5; alpha = 1 - (n-1) D_o / sum n_c n_k.
    r = [("1", "a", "x"), ("1", "b", "x"), ("2", "a", "y"), ("2", "b", "y"),
         ("3", "a", "x"), ("3", "b", "y"), ("4", "a", "y"), ("4", "b", "x")]
    # coincidences: x-x 2, y-y 2, x-y 2, y-x 2; n = 8, n_x = n_y = 4:
    # alpha = 1 - 7 * 4 / (4 * 4 * 2) = 0.125
    assert krippendorff_alpha([[v for i, _, v in r if i == u] for u in "1234"]) == \
        pytest.approx(0.125)
    (c,) = confusion_matrices(r, labels=("x", "y"))
    assert (c.a, c.b, c.n) == ("a", "b", 4)
    assert c.rows() == [[1, 1], [1, 1]]


def test_confusion_matrices_for_every_pair() -> None:
    r = [("1", "ann", "accept"), ("1", "bob", "reject"), ("1", "cy", "accept"),
         ("2", "ann", "accept"), ("2", "bob", "accept"), ("3", "cy", "skip")]
    mats = {(c.a, c.b): c for c in confusion_matrices(r, labels=("accept", "reject"))}
    assert set(mats) == {("ann", "bob"), ("ann", "cy"), ("bob", "cy")}
    assert mats[("ann", "bob")].counts == {("accept", "reject"): 1, ("accept", "accept"): 1}
    assert mats[("bob", "cy")].labels == ("accept", "reject", "skip")
    assert mats[("bob", "cy")].rows() == [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
