"""The Recommender interface at its edges, with a model of fixed scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rec_utils.base import Recommender, as_id_array, top_k_frame
from rec_utils.metrics import evaluate


class FixedScores(Recommender):
    """Every user gets the same score per item (missing items score 0)."""

    def __init__(self, scores: dict[str, float] | None = None):
        self.scores = scores

    def _fit(self, train):
        table = self.scores or {}
        self.item_scores_ = np.array([table.get(i, 0.0) for i in self.item_ids_])

    def _score(self, rows):
        return np.tile(self.item_scores_, (len(rows), 1))


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


TRAIN = frame(
    [
        ("u1", "a", 5.0, 1),
        ("u1", "b", 3.0, 2),
        ("u2", "c", 4.0, 3),
        ("u3", "a", 2.0, 4),
        ("u3", "c", 1.0, 5),
    ]
)
CATALOGUE = ["a", "b", "c", "d", "e"]


def test_fit_returns_self_and_sets_learned_attributes():
    model = FixedScores()
    assert model.fit(TRAIN, items=CATALOGUE) is model
    assert model.item_ids_.tolist() == CATALOGUE
    assert model.user_ids_.tolist() == ["u1", "u2", "u3"]
    assert model.user_items_.shape == (3, 5)
    assert model.item_popularity_.tolist() == [2, 1, 2, 0, 0]


def test_unfitted_model_says_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        FixedScores().recommend("u1")


def test_recommend_skips_seen_items_and_duplicates():
    scores = {"a": 9, "b": 8, "c": 7, "d": 1, "e": 2}
    model = FixedScores(scores).fit(TRAIN, items=CATALOGUE)
    recs = model.recommend(["u1", "u2", "u3"], k=3)
    seen = set(zip(TRAIN["user_id"], TRAIN["item_id"], strict=True))
    assert not seen & set(zip(recs["user_id"], recs["item_id"], strict=True))
    assert not recs.duplicated(["user_id", "item_id"]).any()
    assert recs[recs["user_id"] == "u1"]["item_id"].tolist() == ["c", "e", "d"]
    assert recs[recs["user_id"] == "u1"]["rank"].tolist() == [1, 2, 3]
    with_seen = model.recommend("u1", k=2, exclude_seen=False)
    assert with_seen["item_id"].tolist() == ["a", "b"]


def test_ties_broken_by_catalogue_order():
    model = FixedScores({"e": 1.0, "b": 1.0, "d": 1.0}).fit(
        TRAIN, items=["e", "d", "c", "b", "a"]
    )
    assert model.recommend("u2", k=3)["item_id"].tolist() == ["e", "d", "b"]
    model = FixedScores().fit(TRAIN, items=CATALOGUE)  # all scores equal
    assert model.recommend("u2", k=4)["item_id"].tolist() == ["a", "b", "d", "e"]


def test_ties_in_a_large_catalogue_keep_catalogue_order():
    items = [f"i{n}" for n in range(300)]
    train = frame([("u1", "i0", 4.0, 1), ("u2", "i1", 4.0, 2)])
    model = FixedScores({"i250": 2.0}).fit(train, items=items[::-1])
    recs = model.recommend("u1", k=60)
    expected = ["i250"] + [i for i in items[::-1] if i not in ("i250", "i0")][:59]
    assert recs["item_id"].tolist() == expected


def test_fewer_than_k_rows_only_when_fewer_candidates():
    model = FixedScores({"d": 1.0}).fit(TRAIN, items=CATALOGUE)
    assert len(model.recommend("u1", k=10)) == 3  # 5 items, 2 seen
    assert len(model.recommend("u1", k=3)) == 3
    assert len(model.recommend("u1", k=2)) == 2
    nan_model = FixedScores({"c": np.nan, "d": -np.inf}).fit(TRAIN, items=CATALOGUE)
    recs = nan_model.recommend("u1", k=10)
    assert recs["item_id"].tolist() == ["e"] and recs["rank"].tolist() == [1]


def test_infinite_best_score_is_ranked_first():
    model = FixedScores({"d": np.inf, "e": 1.0}).fit(TRAIN, items=CATALOGUE)
    recs = model.recommend("u1", k=2)
    assert recs["item_id"].tolist() == ["d", "e"]
    assert recs["rank"].tolist() == [1, 2]


def test_unknown_user_raises_naming_the_id():
    model = FixedScores().fit(TRAIN, items=CATALOGUE)
    with pytest.raises(KeyError, match="'u9'"):
        model.recommend(["u1", "u9"])
    with pytest.raises(KeyError, match="'u9'"):
        model.score("u9")
    with pytest.raises(ValueError, match="on_unknown"):
        model.recommend("u9", on_unknown="ignore")


def test_unknown_user_popular_fallback():
    model = FixedScores({"e": 9.0}).fit(TRAIN, items=CATALOGUE)
    scores = model.score(["u9", "u1"], on_unknown="popular")
    assert scores[0].tolist() == [2, 1, 2, 0, 0]
    assert scores[1].tolist() == [0, 0, 0, 0, 9.0]
    recs = model.recommend("u9", k=3, on_unknown="popular")
    # most popular first, ties by catalogue order; nothing seen to exclude
    assert recs["item_id"].tolist() == ["a", "c", "b"]
    assert (recs["user_id"] == "u9").all()


def test_integer_and_string_ids_are_the_same_user():
    train = TRAIN.assign(user_id=TRAIN["user_id"].str[1:].astype(int))
    model = FixedScores({"d": 2.0, "e": 1.0}).fit(train, items=CATALOGUE)
    assert model.user_ids_.tolist() == ["1", "2", "3"]
    by_int = model.recommend(1, k=3)
    by_str = model.recommend("1", k=3)
    pd.testing.assert_frame_equal(by_int, by_str)
    assert by_int["user_id"].tolist() == ["1"] * 3
    assert as_id_array([196, "196", np.int64(196)]).tolist() == ["196"] * 3


def test_repeated_rows_in_fit_are_never_summed():
    train = frame([("u1", "a", 4.0, 10), ("u1", "a", 5.0, 20), ("u2", "b", 3.0, 5)])
    with pytest.warns(UserWarning, match="1 repeated"):
        model = FixedScores().fit(train)
    assert model.user_items_[0, 0] == 5.0  # the latest, not 4 + 5 = 9
    assert model.user_items_.nnz == 2
    earlier_last = frame([("u1", "a", 5.0, 20), ("u1", "a", 4.0, 10)])
    with pytest.warns(UserWarning):
        model = FixedScores().fit(earlier_last)
    assert model.user_items_[0, 0] == 5.0


def test_fit_needs_the_columns():
    with pytest.raises(ValueError, match="rating"):
        FixedScores().fit(TRAIN.drop(columns="rating"))


def test_top_k_frame_shapes():
    scores = np.array([[0.1, 0.3, 0.2], [0.0, 0.0, 0.0]])
    out = top_k_frame(
        scores, np.array(["x", "y"], dtype=object), np.array(list("abc")), 5
    )
    assert out["item_id"].tolist() == ["b", "c", "a", "a", "b", "c"]
    assert out["rank"].tolist() == [1, 2, 3, 1, 2, 3]


def test_evaluate_with_fixed_scores():
    model = FixedScores({"d": 2.0, "e": 1.0}).fit(TRAIN, items=CATALOGUE)
    test = frame([("u1", "d", 4.0, 9), ("u2", "e", 4.0, 9)])
    out = evaluate(model, TRAIN, test, k=2)
    assert out["users"] == 2.0
    assert out["hit@2"] == pytest.approx(1.0)
    assert out["mrr@2"] == pytest.approx((1 + 1 / 2) / 2)
    assert out["recommend_seconds"] >= 0.0
