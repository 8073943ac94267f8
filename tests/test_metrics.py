"""Ranking and rating metrics on small cases computed by hand (PROTOCOL.md 4)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_utils.metrics import (
    coverage_at_k,
    mae,
    map_at_k,
    mean_average_precision,
    ndcg_at_k,
    novelty_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    rmse,
)

TOL = 1e-12


def recs_frame(lists: dict[str, list[str]]) -> pd.DataFrame:
    rows = [
        (user, item, float(len(items) - i), i + 1)
        for user, items in lists.items()
        for i, item in enumerate(items)
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "score", "rank"])


def truth_frame(sets: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(user, item) for user, items in sets.items() for item in items]
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


def test_keys_follow_the_protocol_names():
    out = ranking_metrics(
        recs_frame({"u": ["a"]}),
        truth_frame({"u": ["a"]}),
        k=10,
        catalogue=["a", "b"],
        train=truth_frame({"v": ["a"]}),
    )
    assert set(out) == {
        "map", "map@10", "ndcg@10", "precision@10", "recall@10", "hit@10",
        "mrr@10", "coverage@10", "novelty@10", "users",
    }  # fmt: skip


def test_ndcg_by_hand():
    recs = recs_frame({"u": ["b", "c", "d"]})
    truth = truth_frame({"u": ["a", "d", "e"]})
    expected = (1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert expected == pytest.approx(0.2346, abs=1e-4)
    assert ndcg_at_k(recs, truth, k=3) == pytest.approx(expected, abs=TOL)
    assert ranking_metrics(recs, truth, k=3)["ndcg@3"] == pytest.approx(expected)


def test_ndcg_ideal_uses_min_of_relevant_and_k():
    # one relevant item found at rank 2: DCG = 1/log2(3), ideal = 1 (one hit)
    recs = recs_frame({"u": ["b", "a", "c"]})
    truth = truth_frame({"u": ["a"]})
    assert ndcg_at_k(recs, truth, k=3) == pytest.approx(1 / math.log2(3), abs=TOL)


def test_perfect_top3_of_eight_relevant():
    relevant = list("abcdefgh")
    recs = recs_frame({"u": ["a", "b", "c"]})
    truth = truth_frame({"u": relevant})
    out = ranking_metrics(recs, truth, k=3)
    assert out["map@3"] == pytest.approx(1.0, abs=TOL)
    assert out["precision@3"] == pytest.approx(1.0, abs=TOL)
    assert out["recall@3"] == pytest.approx(3 / 8, abs=TOL)
    assert out["map"] == pytest.approx(3 / 8, abs=TOL)
    assert out["ndcg@3"] == pytest.approx(1.0, abs=TOL)
    assert map_at_k(recs, truth, 3) == pytest.approx(1.0, abs=TOL)
    assert mean_average_precision(recs, truth, 3) == pytest.approx(3 / 8, abs=TOL)
    assert precision_at_k(recs, truth, 3) == pytest.approx(1.0, abs=TOL)
    assert recall_at_k(recs, truth, 3) == pytest.approx(3 / 8, abs=TOL)


def test_map_at_k_by_hand():
    # hits at ranks 1 and 3 of 3, |R| = 4: (1/1 + 2/3) / min(4, 3) and / 4
    recs = recs_frame({"u": ["a", "x", "b"]})
    truth = truth_frame({"u": ["a", "b", "c", "d"]})
    out = ranking_metrics(recs, truth, k=3)
    assert out["map@3"] == pytest.approx((1 + 2 / 3) / 3, abs=TOL)
    assert out["map"] == pytest.approx((1 + 2 / 3) / 4, abs=TOL)


def test_user_without_test_items_is_left_out():
    truth = truth_frame({"u": ["a"], "v": ["b"]})
    base = ranking_metrics(recs_frame({"u": ["a"], "v": ["x"]}), truth, k=1)
    extra = ranking_metrics(
        recs_frame({"u": ["a"], "v": ["x"], "w": ["c"]}), truth, k=1
    )
    assert base == extra
    assert base["users"] == 2.0
    assert base["precision@1"] == pytest.approx(0.5, abs=TOL)


def test_user_with_test_items_but_no_recommendations_counts_zero():
    truth = truth_frame({"u": ["a"], "v": ["b"]})
    out = ranking_metrics(recs_frame({"u": ["a"]}), truth, k=1)
    assert out["users"] == 2.0
    assert out["hit@1"] == pytest.approx(0.5, abs=TOL)


def test_truth_row_given_twice_counts_once():
    recs = recs_frame({"u": ["a", "x"]})
    once = truth_frame({"u": ["a", "b"]})
    twice = truth_frame({"u": ["a", "b", "b", "a"]})
    assert ranking_metrics(recs, twice, k=2) == ranking_metrics(recs, once, k=2)
    assert recall_at_k(recs, twice, k=2) == pytest.approx(0.5, abs=TOL)


def test_item_repeated_in_a_list_counts_once():
    recs = pd.DataFrame(
        {"user_id": ["u"] * 3, "item_id": ["a", "a", "b"], "rank": [1, 2, 3]}
    )
    truth = truth_frame({"u": ["a"]})
    # the list reads a, b: one hit in the top 2, not two
    assert precision_at_k(recs, truth, k=2) == pytest.approx(0.5, abs=TOL)
    assert recall_at_k(recs, truth, k=2) == pytest.approx(1.0, abs=TOL)


def test_mrr_and_hit_by_hand():
    recs = recs_frame({"u": ["x", "a", "b"], "v": ["x", "y", "z"], "w": ["c"]})
    truth = truth_frame({"u": ["a", "b"], "v": ["a"], "w": ["c"]})
    out = ranking_metrics(recs, truth, k=3)
    assert out["mrr@3"] == pytest.approx((1 / 2 + 0 + 1) / 3, abs=TOL)
    assert out["hit@3"] == pytest.approx(2 / 3, abs=TOL)


def test_coverage_never_exceeds_one():
    recs = recs_frame({"u": ["a", "z", "y"], "v": ["b", "w", "q"]})
    assert coverage_at_k(recs, ["a", "b"], k=3) == pytest.approx(1.0, abs=TOL)
    assert coverage_at_k(recs, ["a", "b", "c", "d"], k=3) == pytest.approx(0.5)
    # only the top k count
    assert coverage_at_k(recs, ["a", "b", "y", "q"], k=1) == pytest.approx(0.5)


def test_novelty_by_hand():
    # 4 training users: "a" seen by all (share 1, 0 bits), "b" by one (2 bits)
    train = truth_frame({"1": ["a", "b"], "2": ["a"], "3": ["a"], "4": ["a", "a"]})
    recs = recs_frame({"1": ["a", "b"], "2": ["b", "unseen"]})
    # pairs: a (0), b (2), b (2); "unseen" has no training users and is left out
    assert novelty_at_k(recs, train, k=2) == pytest.approx(4 / 3, abs=TOL)


def test_rmse_and_mae_by_hand():
    assert rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3), abs=TOL)
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0, abs=TOL)
    with pytest.raises(ValueError, match="NaN"):
        rmse([1, 2], [1, float("nan")])
    with pytest.raises(ValueError, match="shape"):
        mae([1, 2], [1])


# -- properties on random inputs -------------------------------------------------------

ITEMS = list("abcdefgh")
USERS = ["1", "2", "3", "4"]


@st.composite
def ranking_case(draw):
    k = draw(st.integers(1, 5))
    truth, recs = {}, {}
    for user in USERS:
        if draw(st.booleans()):
            truth[user] = draw(st.lists(st.sampled_from(ITEMS), min_size=1))
        if draw(st.booleans()):
            recs[user] = draw(st.permutations(ITEMS))[: draw(st.integers(0, 8))]
    return recs_frame(recs), truth_frame(truth), k


BOUNDED = ("map", "map@k", "ndcg@k", "precision@k", "recall@k", "hit@k", "mrr@k")


@settings(max_examples=60, deadline=None)
@given(ranking_case())
def test_every_metric_lies_in_unit_interval(case):
    recs, truth, k = case
    out = ranking_metrics(recs, truth, k=k, catalogue=ITEMS, train=truth)
    names = [n.replace("@k", f"@{k}") for n in BOUNDED] + [f"coverage@{k}"]
    for name in names:
        value = out[name]
        assert math.isnan(value) or 0.0 <= value <= 1.0 + 1e-12, (name, value)
    if not truth.empty:
        assert not any(math.isnan(out[n]) for n in names)


@settings(max_examples=60, deadline=None)
@given(ranking_case(), st.randoms(use_true_random=False))
def test_row_order_changes_nothing(case, rnd):
    recs, truth, k = case
    order_r = list(range(len(recs)))
    order_t = list(range(len(truth)))
    rnd.shuffle(order_r)
    rnd.shuffle(order_t)
    before = ranking_metrics(recs, truth, k=k, catalogue=ITEMS)
    after = ranking_metrics(
        recs.iloc[order_r], truth.iloc[order_t], k=k, catalogue=ITEMS
    )
    assert before.keys() == after.keys()
    for name, value in before.items():
        assert after[name] == pytest.approx(value, abs=1e-12, nan_ok=True), name


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(ITEMS), min_size=1, unique=True),
    st.integers(1, 8),
    st.randoms(use_true_random=False),
)
def test_perfect_ranking_scores_one(relevant, k, rnd):
    rest = [i for i in ITEMS if i not in relevant]
    rnd.shuffle(relevant)
    recs = recs_frame({"u": relevant + rest})
    out = ranking_metrics(recs, truth_frame({"u": relevant}), k=k)
    assert out[f"ndcg@{k}"] == pytest.approx(1.0, abs=1e-12)
    assert out[f"map@{k}"] == pytest.approx(1.0, abs=1e-12)
    assert out[f"hit@{k}"] == 1.0 and out[f"mrr@{k}"] == 1.0
    assert out[f"recall@{k}"] == pytest.approx(min(k, len(relevant)) / len(relevant))


def test_scores_order_when_no_rank_column():
    recs = pd.DataFrame(
        {"user_id": ["u", "u"], "item_id": ["x", "a"], "score": [0.1, 0.9]}
    )
    truth = truth_frame({"u": ["a"]})
    assert ranking_metrics(recs, truth, k=1)["precision@1"] == pytest.approx(1.0)


def test_numpy_shapes_of_empty_truth():
    out = ranking_metrics(recs_frame({"u": ["a"]}), truth_frame({}), k=2)
    assert out["users"] == 0.0 and np.isnan(out["ndcg@2"])
