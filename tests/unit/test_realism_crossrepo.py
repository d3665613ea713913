"""The cross-repo check: pooled priors without the repo under test, LORO scores, metrics."""

from __future__ import annotations

import pytest

from engine.realism import crossrepo as cr
from engine.realism.features import Features
from engine.realism.scoring import CAP, load_reference


def feat(kind: str, lines: int = 2, direction: str = "replace") -> Features:
    return Features(files=1, hunks=1, lines_added=lines // 2, lines_removed=lines - lines // 2,
                    edit_kind=kind, direction=direction, naturalness_delta=0.0)


def scored(repo: str, real: bool, score: float, lines: int = 2) -> cr.Scored:
    return cr.Scored(repo, real, "real" if real else "procedural", "m", score, lines)


def test_pooled_shares_leave_the_repo_out_and_cap_long_histories() -> None:
    per_repo = {
        "a": cr.feature_counts([feat("multi_stmt", 30)] * 300),  # a long history
        "b": cr.feature_counts([feat("guard_removed", 3, "add")] * 10),
        "c": cr.feature_counts([feat("change_identifier")] * 10),
    }
    shares = cr.pooled_shares(per_repo, cap=10)
    # "a" weighs as 10 fixes, not 300: each repo a third of the edit-kind mass
    assert shares["edit_kind"]["multi_stmt"] == pytest.approx(1 / 3, abs=1e-4)
    assert shares["direction"]["add"] == pytest.approx(1 / 3, abs=1e-4)
    without_b = cr.pooled_shares(per_repo, exclude="b", cap=10)
    assert without_b["edit_kind"]["guard_removed"] == 0.0
    assert without_b["edit_kind"]["change_identifier"] == pytest.approx(0.5, abs=1e-4)
    assert sum(without_b["size"].values()) == pytest.approx(1.0, abs=1e-3)
    base = load_reference()
    ref = cr.rebuilt_reference(base, per_repo, exclude="b", cap=10)
    # the published shares join as LITERATURE_WEIGHT fixes: rare kinds none of the repos has
    # keep a share, below the published one
    lit = base["features"]["edit_kind"].get("literature", base["features"]["edit_kind"]["p"])
    assert ref["features"]["edit_kind"]["literature"] == lit
    got = ref["features"]["edit_kind"]["p"]
    assert 0 < got["guard_removed"] < lit["guard_removed"]
    # a and c (20 capped fixes) against 100 literature fixes: c's kind is 10 of 120
    assert got["change_identifier"] == pytest.approx(
        (10 + 100 * lit["change_identifier"] / sum(lit.values())) / 120, abs=1e-4)
    assert cr.rebuilt_reference(ref, per_repo, exclude="b", cap=10) == ref  # no drift
    # test-side features (no test run for a mined fix) keep the shipped figures
    assert ref["features"]["failure_kind"] == load_reference()["features"]["failure_kind"]


def test_loro_scores_real_above_forged_and_leaves_each_forged_bug_out() -> None:
    per_repo = {r: cr.feature_counts([feat("change_identifier")] * 20 + [feat("multi_stmt", 12)]
                                     * 20) for r in ("a", "b")}
    ref = cr.rebuilt_reference(load_reference(), per_repo, exclude="r")
    real = [feat("change_identifier")] * 5
    forged = [("procedural", "flip", feat("change_binary_operator"))] * 9 + [
        ("procedural", "odd", feat("change_identifier"))]
    items = cr.score_repo("r", real, forged, ref)
    by = {(s.real, s.modifier): s for s in items}
    assert by[(True, "")].score > by[(False, "flip")].score
    # the 9 flips rank below every real fix; the odd one does not (see below): 45/50 pairs
    assert cr.auc_of(items) == pytest.approx(0.9)
    # the lone forged change_identifier is scored with itself out of the synthetic pool:
    # none of the others shares its kind; the real fixes are scored against a pool that
    # holds it, so its edit kind weighs less for them
    assert 0 < by[(True, "")].points["edit_kind"] < by[(False, "odd")].points["edit_kind"]
    assert by[(False, "flip")].points["edit_kind"] == -CAP
    assert set(by[(True, "")].points) == set(cr.DIFF_FEATURES)  # size never counted
    # an extra bug (a candidate) is scored against the pool without joining it: the same
    # points as a real fix of its kind, and the others' scores do not move
    extra = cr.score_repo("r", real, forged, ref,
                          extra=[("candidate:procedural", "new", feat("change_identifier"))])
    assert extra[-1].points == by[(True, "")].points
    assert [s.score for s in extra[:-1]] == [s.score for s in items]


def test_stratified_auc_removes_what_size_alone_explains() -> None:
    # real are large and forged small; inside each size bin the score is a coin flip
    items = [scored("r", True, s, 30) for s in (1.0, 2.0)] + [
        scored("r", False, s, 1) for s in (-1.0, -2.0)] + [
        scored("r", True, 0.5, 1), scored("r", False, 0.5, 1),
        scored("r", True, 0.2, 30), scored("r", False, 0.4, 30)]
    assert cr.auc_of(items) > 0.8  # type: ignore[operator]
    assert cr.auc_of(items, "size") > 0.7  # type: ignore[operator]
    within = cr.stratified_auc(items, cr.size_stratum)
    assert within is not None and within < cr.auc_of(items)  # type: ignore[operator]
    assert cr.stratified_auc([scored("r", True, 1.0)], cr.size_stratum) is None


def test_calibration_weights_each_class_of_each_repo_equally() -> None:
    items = [scored("a", True, 3.0)] * 3 + [scored("a", False, -3.0)] + [
        scored("b", True, 0.0), scored("b", False, 0.0)] + [scored("c", True, 1.0)]
    w = cr.balanced_weights(items)
    assert w[:4] == pytest.approx([1 / 6] * 3 + [0.5])
    assert w[-1] == 0.0  # a repo with one class only cannot be judged
    probs = [s.probability for s in items]
    labels = [int(s.real) for s in items]
    b = cr.brier(probs, labels, w)
    assert b is not None and 0.0 < b < 0.25
    rows = cr.reliability(probs, labels, w)
    assert sum(r["n"] for r in rows) == len(items) - 1  # "c" weighs nothing: no bin of its own
    mid = next(r for r in rows if r["bin"] == "0.5-0.6")
    assert mid["observed"] == pytest.approx(0.5) and mid["predicted"] == pytest.approx(0.5)
    assert [(r["bin"], r["n_real"]) for r in rows] == [("0.0-0.1", 0), ("0.5-0.6", 1),
                                                       ("0.9-1.0", 3)]


def test_bootstrap_interval_resamples_repos() -> None:
    items = [scored(r, True, 1.0 + i) for r in "abc" for i in range(3)] + [
        scored(r, False, -1.0 + (r == "c") * 3) for r in "abc" for _ in range(3)]
    lo, hi = cr.bootstrap_auc(items, rounds=200)  # type: ignore[misc]
    assert 0.5 < lo <= cr.auc_of(items) <= hi <= 1.0  # type: ignore[operator]
