"""The blind test: graded answers, AUC and its intervals, the fooled rate (figures worked out by
hand), the draw, the store's append-only answers, and the report on a hand-made session."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.realism.blindreport import build_report, render_html, render_text
from engine.realism.blindstats import (
    auc,
    delong_se,
    estimate,
    fooled,
    graded,
    paired_difference,
    probability,
    wilson,
)
from engine.realism.blindtest import (
    curator_order,
    draw,
    neutral_patch,
    new_session,
    next_position,
    session,
)
from engine.store import BlindAnswer, BlindItem, BlindSession, PoolEntry, Store
from tests.fakes import add_real, populate

# Three real items and two forged: 4.5 of the 6 (real, forged) pairs are ordered right.
REAL = [0.9, 0.8, 0.3]
FORGED = [0.2, 0.8]
SCORES, LABELS = REAL + FORGED, [1, 1, 1, 0, 0]


def test_confidence_grades_the_answer() -> None:
    assert [probability(c) for c in range(1, 6)] == [0.5, 0.625, 0.75, 0.875, 1.0]
    assert graded("real", 5) == 1.0 and graded("real", 1) == 0.5
    assert graded("forged", 3) == 0.25 and graded("forged", 5) == 0.0
    with pytest.raises(ValueError):
        probability(6)


def test_auc_counts_ties_half() -> None:
    assert auc(SCORES, LABELS) == pytest.approx(4.5 / 6)
    assert auc([1.0, 2.0], [1, 1]) is None  # no forged item: undefined


def test_delong_standard_error_by_hand() -> None:
    # Placements: real [1, .75, .5] (var .0625), forged [1, .5] (var .125):
    # var = .0625/3 + .125/2 = 1/12.
    assert delong_se(SCORES, LABELS) == pytest.approx(math.sqrt(1 / 12))


def test_bootstrap_interval_is_reproducible_and_sane() -> None:
    est = estimate(SCORES, LABELS, seed=1)
    assert est.auc == pytest.approx(0.75) and (est.n_real, est.n_forged) == (3, 2)
    assert est.low is not None and est.high is not None
    assert 0.0 <= est.low <= 0.75 <= est.high <= 1.0 and est.high - est.low > 0.3
    assert estimate(SCORES, LABELS, seed=1) == est  # seeded
    perfect = estimate([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0])
    assert (perfect.auc, perfect.low, perfect.high) == (1.0, 1.0, 1.0)
    assert estimate([0.5], [1]).auc is None


def test_paired_difference_on_the_same_items() -> None:
    other = [0.1, 0.2, 0.3, 0.9, 0.8]  # every forged item above every real one: AUC 0
    d = paired_difference(SCORES, other, LABELS)
    assert d.diff == pytest.approx(0.75)
    assert d.low is not None and d.high is not None and d.low <= 0.75 <= d.high


def test_wilson_and_fooled_rate() -> None:
    low, high = wilson(3, 10)  # type: ignore[misc]
    assert (round(low, 3), round(high, 3)) == (0.108, 0.603)
    assert wilson(0, 0) is None
    rate = fooled(["real", "forged", "real"])
    assert (rate.k, rate.n) == (2, 3) and rate.value == pytest.approx(2 / 3)


def _pool() -> list[PoolEntry]:
    real = [PoolEntry(f"r{k}", "pr_mirror", "revert") for k in range(12)]
    proc = [PoolEntry(f"p{k}", "procedural", ("op_swap", "remove_cond")[k % 2])
            for k in range(30)]
    lm = [PoolEntry(f"l{k}", "lm_modify", "") for k in range(4)]
    return real + proc + lm


def test_draw_keeps_the_share_spreads_strategies_and_shuffles() -> None:
    d = draw(_pool(), 20, 0.5, seed=7)
    assert len(d.items) == 20 and d.n_real == 10 and not d.notes
    forged = [it for it in d.items if it.truth == "forged"]
    assert sum(it.strategy == "lm_modify" for it in forged) == 4  # all it has, round-robin
    assert {it.modifier for it in forged if it.strategy == "procedural"} == {"op_swap",
                                                                            "remove_cond"}
    assert [it.position for it in d.items] == list(range(20))
    assert [it.truth for it in d.items] != sorted(it.truth for it in d.items)  # shuffled
    assert draw(_pool(), 20, 0.5, seed=7).items == d.items  # deterministic in the seed
    assert all(it.display_id.startswith("bug-") and it.instance_id not in it.display_id
               for it in d.items)


def test_draw_shrinks_to_what_the_pool_has_and_refuses_the_impossible() -> None:
    d = draw(_pool(), 60, 0.5, seed=0)  # only 12 real
    assert d.n_real == 12 and len(d.items) == 24 and "12 real" in d.notes[0]
    only = draw(_pool(), 10, 0.5, seed=0, strategies=["lm_modify"])
    assert {it.strategy for it in only.items if it.truth == "forged"} == {"lm_modify"}
    with pytest.raises(UsageError, match="pr_mirror"):
        draw([e for e in _pool() if e.strategy != "pr_mirror"], 10, 0.5, 0)
    with pytest.raises(UsageError, match="it has lm_modify, procedural"):
        draw(_pool(), 10, 0.5, 0, strategies=["lm_rewrite"])
    with pytest.raises(UsageError, match="between 0 and 1"):
        draw(_pool(), 10, 1.0, 0)


def test_neutral_patch_drops_blob_hashes() -> None:
    patch = "diff --git a/x b/x\nindex 1234567..89abcde 100644\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n"
    assert "index" not in neutral_patch(patch) and neutral_patch(patch).startswith("diff --git")


def test_sessions_and_answers_are_stored_append_only(tmp_path: Path) -> None:
    path = tmp_path / "bf.duckdb"
    with Store.open(path) as store:
        populate(store, 12)
        with pytest.raises(UsageError, match="forge REPO --strategy pr_mirror"):
            new_session(store, items=10)
        with pytest.raises(UsageError, match="blindtest new"):
            session(store)
        add_real(store, 5)
        sess, picked = new_session(store, items=10, real_share=0.5, seed=3)
        assert sess.items == 10 and picked.n_real == 5 and sess.strategies == ("procedural",)
        items = store.blind_items(sess.session_id)
        assert [it.instance_id for it in items] == [it.instance_id for it in picked.items]
        first, second = items[0].instance_id, items[1].instance_id
        store.record_blind_answer(sess.session_id, first, "ann", "real", 2, 4.0)
        store.record_blind_answer(sess.session_id, first, "ann", "forged", 5, 3.0)  # changed
        store.record_blind_answer(sess.session_id, second, "bob", "real", 4, 9.5)
        with pytest.raises(ValueError):
            store.record_blind_answer(sess.session_id, first, "ann", "maybe", 3, 1.0)
    with Store.open(path, read_only=True) as store:  # every answer survived the close
        ann = store.blind_answers(sess.session_id, "ann")
        assert [(a.answer, a.confidence) for a in ann] == [("forged", 5)]
        assert len(store.blind_answers(sess.session_id)) == 2
        assert store.scalar("SELECT count(*) FROM blindtest_answers") == 3
        assert next_position(items, {first}) == 1
        mine, theirs = curator_order(items, "ann", 3), curator_order(items, "bob", 3)
        assert set(mine) == set(items) == set(theirs) and mine != theirs
        assert curator_order(items, "ann", 3) == mine  # the same order every time
        assert next_position(items, {it.instance_id for it in items}) is None


def _answer(iid: str, curator: str, answer: str, conf: int) -> BlindAnswer:
    return BlindAnswer(iid, curator, answer, conf, 5.0, "2026-12-07 02:00:00")


def test_report_on_a_hand_made_session() -> None:
    sess = BlindSession(4, "demo", 4, 0.5, 0, ("lm_modify", "procedural"), "2026-12-07")
    items = [BlindItem(0, "r1", "bug-1", "real", "pr_mirror", "revert"),
             BlindItem(1, "f1", "bug-2", "forged", "procedural", "op_swap"),
             BlindItem(2, "r2", "bug-3", "real", "pr_mirror", "revert"),
             BlindItem(3, "f2", "bug-4", "forged", "lm_modify", "")]
    answers = [
        # ann: r1 1.0, r2 0.5, f1 0.0, f2 0.75 -> AUC 3/4; f2 fooled her
        _answer("r1", "ann", "real", 5), _answer("r2", "ann", "forged", 1),
        _answer("f1", "ann", "forged", 5), _answer("f2", "ann", "real", 3),
        # bob: r1 .75, r2 1.0, f1 .5, f2 0.0 -> AUC 1; f1 fooled him
        _answer("r1", "bob", "real", 3), _answer("r2", "bob", "real", 5),
        _answer("f1", "bob", "real", 1), _answer("f2", "bob", "forged", 5),
    ]
    scores = {"r1": 2.0, "r2": -1.0, "f1": -2.0, "f2": 0.5}  # AUC 3/4
    rep = build_report(sess, items, answers, scores)
    ann, bob = rep["curators"]
    assert ann["human"]["auc"] == 0.75 and bob["human"]["auc"] == 1.0
    assert (ann["fooled"]["k"], ann["fooled"]["n"]) == (1, 2)
    assert (ann["accuracy"]["k"], ann["accuracy"]["n"]) == (2, 4)
    right = {d["confidence"]: (d["k"], d["n"]) for d in ann["by_confidence"]}
    assert right == {1: (0, 1), 2: (0, 0), 3: (0, 1), 4: (0, 0), 5: (2, 2)}
    per = {s["strategy"]: s for s in ann["strategies"]}
    assert per["procedural"]["human"]["auc"] == 1.0 and per["lm_modify"]["human"]["auc"] == 0.5
    assert per["lm_modify"]["fooled"]["rate"] == 1.0 and per["procedural"]["fooled"]["k"] == 0
    pooled = rep["pooled"]  # item means r1 .875, r2 .75, f1 .25, f2 .375
    assert pooled["human"]["auc"] == 1.0 and pooled["score"]["auc"] == 0.75
    assert pooled["human_minus_score"]["diff"] == 0.25
    assert (pooled["fooled"]["k"], pooled["fooled"]["n"]) == (2, 4)
    pair = rep["agreement"]["pairs"][0]  # observed 1/4, chance 1/2: kappa -0.5
    assert (pair["shared"], pair["kappa"]) == (4, -0.5)
    assert rep["session"]["per_strategy"] == {"lm_modify": 1, "procedural": 1}
    text = render_text(rep)
    assert "human AUC 1.00" in text and "Cohen's kappa -0.50" in text and "bootstrap" in text
    assert "right by confidence 1: 0% of 1 · 3: 0% of 1 · 5: 100% of 2" in text
    assert "<td>lm_modify</td>" in render_html(rep)
