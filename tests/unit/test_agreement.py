"""Cohen's kappa and the disagreement rule (engine.agreement), on hand-checked figures."""

from __future__ import annotations

import pytest

from engine.agreement import Label, cohen_kappa, disagreements, mean_kappa, pairwise


def test_kappa_textbook_example() -> None:
    # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15.
    # p_o = 35/50 = 0.7; p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.2/0.5 = 0.4
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    k = cohen_kappa(pairs)
    assert k.n == 50
    assert k.observed == pytest.approx(0.7)
    assert k.expected == pytest.approx(0.5)
    assert k.kappa == pytest.approx(0.4)


def test_kappa_three_categories() -> None:
    # 10 items over three realism labels; computed by hand:
    # agree on 6 -> p_o = 0.6; A: r4 p3 a3, B: r3 p4 a3 -> p_e = (12 + 12 + 9) / 100 = 0.33
    pairs = ([("r", "r")] * 3 + [("p", "p")] * 2 + [("a", "a")] * 1
             + [("r", "p"), ("p", "a"), ("a", "p"), ("a", "p")])
    k = cohen_kappa(pairs)
    assert k.observed == pytest.approx(0.6)
    assert k.expected == pytest.approx(0.33)
    assert k.kappa == pytest.approx((0.6 - 0.33) / 0.67)


def test_kappa_edges() -> None:
    assert cohen_kappa([]).kappa is None and cohen_kappa([]).n == 0
    assert cohen_kappa([("a", "a"), ("r", "r")]).kappa == pytest.approx(1.0)
    assert cohen_kappa([("a", "r"), ("r", "a")]).kappa == pytest.approx(-1.0)
    one_label = cohen_kappa([("a", "a")] * 4)  # chance agreement is 1: 0/0
    assert one_label.kappa is None and one_label.observed == 1.0


def L(iid: str, cur: str, dec: str | None = None, rea: str | None = None) -> Label:  # noqa: N802
    return Label(iid, cur, dec, rea)


LABELS = [
    L("i1", "ann", "accept", "realistic"), L("i1", "bob", "accept", "plausible"),
    L("i2", "ann", "reject", "artificial"), L("i2", "bob", "accept", "artificial"),
    L("i3", "ann", "skip"), L("i3", "bob", "reject"),  # a skip abstains: no dispute
    L("i4", "ann", "reject"), L("i4", "bob", "reject", "plausible"),
    L("i5", "ann", None, "realistic"), L("i5", "cy", None, "realistic"),
    L("i6", "bob", "accept"),  # one curator only
]


def test_pairwise_counts_only_labels_both_gave() -> None:
    pairs = {(p.a, p.b): p for p in pairwise(LABELS)}
    assert set(pairs) == {("ann", "bob"), ("ann", "cy")}  # bob and cy share nothing
    ab = pairs[("ann", "bob")]
    assert ab.shared == 4  # i1..i4
    # decision pairs (skip excluded): i1 a/a, i2 r/a, i4 r/r
    assert ab.decision == cohen_kappa([("accept", "accept"), ("reject", "accept"),
                                       ("reject", "reject")])
    # realism pairs: i1 realistic/plausible, i2 artificial/artificial
    assert ab.realism.n == 2 and ab.realism.observed == 0.5
    ac = pairs[("ann", "cy")]
    assert ac.decision.n == 0 and ac.realism.n == 1 and ac.realism.kappa is None
    assert mean_kappa(pairs.values(), "decision") == ab.decision.kappa
    assert mean_kappa([], "realism") is None


def test_disagreements_queue() -> None:
    got = {d.instance_id: (d.on_decision, d.on_realism) for d in disagreements(LABELS)}
    assert got == {"i1": (False, True), "i2": (True, False)}
    (first,) = [d for d in disagreements(LABELS) if d.instance_id == "i1"]
    assert [lab.curator for lab in first.labels] == ["ann", "bob"]


def test_kappa_band() -> None:
    from engine.agreement import kappa_band

    assert [kappa_band(k) for k in (None, -0.3, 0.1, 0.4, 0.55, 0.7, 0.95)] == [
        "undefined", "poor", "slight", "fair", "moderate", "substantial", "almost perfect"]
