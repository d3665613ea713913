"""Weight-of-evidence scoring, its reasons, the size control and calibration on labels."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from engine.realism.calibrate import (
    MIN_LABELS,
    Example,
    auc,
    calibrate,
    labels_needed,
    majority,
)
from engine.realism.features import Features
from engine.realism.scoring import CAP, Item, Scorecard, load_reference, ochiai


def feat(**kw: object) -> Features:
    base = {"files": 1, "hunks": 1, "lines_added": 1, "lines_removed": 1, "changed_tokens": 1,
            "edit_kind": "change_binary_operator", "direction": "replace",
            "failure_kind": "assertion", "n_f2p": 1, "f2p_files": 1, "naturalness_delta": 0.1}
    base.update(kw)
    return Features(**base)  # type: ignore[arg-type]


def pool() -> list[Item]:
    """A procedural-looking pool: operator flips and removed assignments crashing at the edit."""
    items = []
    for k in range(60):
        f = feat() if k % 2 else feat(edit_kind="stmt_removed", direction="add",
                                      failure_kind="structural_at_edit", n_f2p=8, f2p_files=3)
        items.append(Item(f"s{k}", "procedural", "m", f, frozenset({f"t::{k % 7}"})))
    return items


def test_reasons_explain_the_score_and_name_the_structural_tell() -> None:
    card = Scorecard(pool())
    crash = card.score(card.items[0])
    flip = card.score(card.items[1])
    assert crash.score == pytest.approx(sum(r.points for r in crash.reasons if r.counted))
    # the structural crash is among the strongest reasons against (at the cap); with the
    # priors mined from the zoo, removing a statement (2% of real fixes) is as strong a tell
    worst = next(r for r in crash.top() if r.feature == "failure_kind")
    assert worst.points == min(r.points for r in crash.reasons) and worst.points <= -2.0
    assert "NameError/UnboundLocalError/ImportError raised at the edited line" in worst.text
    assert worst.line().startswith("-2.5 ") or worst.line().startswith("-2.")
    # an assertion failure is what real bugs mostly do: a positive reason
    assert any(r.feature == "failure_kind" and r.points > 0 for r in flip.reasons)
    assert flip.score > crash.score
    assert all(abs(r.points) <= CAP for r in crash.reasons)
    assert "no PR-mirror" in card.reference_note


def test_size_alone_does_not_change_the_score() -> None:
    items = pool()
    small = Item("small", "procedural", "m", feat(lines_added=1, lines_removed=1))
    large = Item("large", "procedural", "m", feat(lines_added=20, lines_removed=25))
    card = Scorecard([*items, small, large])
    s, b = card.score(small), card.score(large)
    assert s.score == b.score
    size_lines = [r for r in b.reasons if r.feature == "size"]
    assert size_lines and not size_lines[0].counted  # shown, never summed
    assert card.bins["small"]["size"] != card.bins["large"]["size"]


def test_real_bugs_shrink_toward_the_reference_and_are_scored_leave_one_out() -> None:
    real = [Item(f"r{k}", "pr_mirror", "revert",
                 feat(edit_kind="guard_removed", direction="add"),
                 frozenset({f"t::{k}"})) for k in range(5)]
    card = Scorecard([*pool(), *real])
    t = card.tables["edit_kind"]
    prior = load_reference()["features"]["edit_kind"]["p"]["guard_removed"]
    assert prior < t.real_p("guard_removed") < 1.0  # pulled up by the repo, held by k=20
    # leave-one-out: a real bug's own kind weighs less than with itself counted
    assert t.real_p("guard_removed", leave_out=True) < t.real_p("guard_removed")
    assert card.n_real == 5 and "5 repo bugs" in card.reference_note
    # coupling: a synthetic bug failing a real bug's test is coupled, others are not
    assert card.coupling["s3"] == pytest.approx(ochiai(frozenset({"t::3"}), frozenset({"t::3"})))
    assert card.coupling["s5"] == 0.0


def planted(n: int, seed: int = 1) -> list[Example]:
    """Labels that depend on one feature only: a structural crash at the edit is artificial."""
    rng = random.Random(seed)
    kinds = ["assertion", "domain", "type_attribute", "structural_at_edit"]
    out = []
    for _ in range(n):
        bins = {"failure_kind": rng.choice(kinds),
                "edit_kind": rng.choice(["change_identifier", "stmt_removed", "multi_stmt"]),
                "blast_radius": rng.choice(["1", "2", "3-5"])}
        y = 0 if bins["failure_kind"] == "structural_at_edit" else 1
        if rng.random() < 0.05:
            y = 1 - y  # label noise
        out.append(Example(bins, y))
    return out


def test_calibration_recovers_a_planted_signal() -> None:
    examples = planted(240)
    # The unlabelled card knows nothing about this signal (all points 0) ...
    cal = calibrate(examples, prior={}, kappa=0.7)
    assert cal.fitted and cal.needed == 0
    fitted = cal.fit.points  # type: ignore[union-attr]
    # ... and the fit finds it: the planted bin is the most negative by far.
    planted_pts = fitted["failure_kind"]["structural_at_edit"]
    others = [v for f, per in fitted.items() for b, v in per.items()
              if (f, b) != ("failure_kind", "structural_at_edit")]
    assert planted_pts < -2.0 and planted_pts < min(others) - 1.5
    assert cal.heldout_accuracy is not None and cal.heldout_accuracy >= 0.9
    assert cal.heldout_auc is not None and cal.heldout_auc >= 0.85
    assert "held-out accuracy" in cal.summary() and "kappa 0.70" in cal.summary()


def test_below_the_threshold_it_says_how_many_more_labels() -> None:
    cal = calibrate(planted(40), prior={})
    assert not cal.fitted and cal.needed == MIN_LABELS - 40
    assert f"{MIN_LABELS - 40} more needed" in cal.summary()
    assert labels_needed(200, 195) == 25  # enough in total, too few artificial ones


def test_majority_and_auc_helpers() -> None:
    assert majority(["realistic", "artificial", "plausible"]) == 1
    assert majority(["artificial", "realistic"]) is None
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert auc([1.0, 2.0], [1, 1]) is None


def test_replace_keeps_feature_dataclass_round_trip() -> None:
    f = replace(feat(), exceptions={"ValueError": 2})
    assert Features.from_dict({**f.to_dict(), "unknown_future_field": 1}) == f
