"""Cold-start helpers: features, AUC, the feature-to-EASE map, demographic models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rec_utils.cold_start import (
    DemographicNeighbours,
    DemographicPopularity,
    FeatureMapEASE,
    age_band,
    per_user_auc,
    reveal_first,
    stack_features,
    year_features,
)


def frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_year_features_bins_and_missing():
    items = pd.DataFrame({"year": pd.array([1925, 1950, 1999, None], dtype="Int64")})
    flags, names = year_features(items, edges=(1930, 1950, 1990))
    assert names == ["<1930", "1930-1949", "1950-1989", ">=1990"]
    expected = [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    np.testing.assert_array_equal(flags, expected)


def test_stack_features_normalises_each_block_and_weights_it():
    stacked = stack_features(
        {"a": np.array([[3.0, 4.0], [0.0, 0.0]]), "b": np.array([[2.0], [5.0]])},
        {"b": 2.0},
    )
    np.testing.assert_allclose(stacked, [[0.6, 0.8, 2.0], [0.0, 0.0, 2.0]])
    with pytest.raises(ValueError, match="unknown block"):
        stack_features({"a": np.ones((2, 1))}, {"c": 1.0})


def test_per_user_auc_hand_computed():
    scores = np.array([[0.9, 0.1, 0.5, 0.3], [1.0, 1.0, 0.0, 0.0], [1, 2, 3, 4]])
    relevant = np.array(
        [[True, False, False, False], [True, False, True, False], [True] * 4]
    )
    auc = per_user_auc(scores, relevant)
    # row 0: the relevant item beats all three others -> 1
    # row 1: pairs (0,1) tie 0.5, (0,3) 1, (2,1) 0, (2,3) tie 0.5 -> 2 / 4
    # row 2: no non-relevant candidate -> undefined
    np.testing.assert_allclose(auc[:2], [1.0, 0.5], atol=1e-12)
    assert np.isnan(auc[2])
    reverse = per_user_auc(-scores[:1], relevant[:1])
    np.testing.assert_allclose(reverse, [0.0], atol=1e-12)


def checkerboard():
    """Two tastes: users 0-3 take items a*, users 4-7 items b*; item c is cold."""
    rows = []
    for u in range(8):
        liked = ["a1", "a2", "a3"] if u < 4 else ["b1", "b2", "b3"]
        rows += [(str(u), i, 5.0, n) for n, i in enumerate(liked)]
    return frame(rows)


ITEM_IDS = ["a1", "a2", "a3", "b1", "b2", "b3", "ca", "cb"]
# the cold items ca, cb share the features of the a* and the b* items
FEATURES = np.array([[1, 0]] * 3 + [[0, 1]] * 3 + [[1, 0], [0, 1]], dtype=float)


def test_feature_map_scores_cold_items_like_their_warm_twins():
    model = FeatureMapEASE(FEATURES, ITEM_IDS, alpha=0.1, lam=1.0)
    model.fit(checkerboard(), items=ITEM_IDS)
    scores = model.score(["0", "4"])
    ca, cb = model.item_index_["ca"], model.item_index_["cb"]
    assert scores[0, ca] > scores[0, cb] + 0.1
    assert scores[1, cb] > scores[1, ca] + 0.1
    top = model.recommend(["0"], k=1)
    assert top["item_id"].iloc[0] == "ca"


def test_feature_contributions_sum_to_the_cold_score():
    model = FeatureMapEASE(FEATURES, ITEM_IDS, alpha=0.5, lam=1.0)
    model.fit(checkerboard(), items=ITEM_IDS)
    share = model.feature_contributions(["0", "1"], "ca")
    score = model.score(["0", "1"])[:, model.item_index_["ca"]].mean()
    np.testing.assert_allclose(share.sum(), score, atol=1e-10)
    assert share[1] == 0.0  # ca has no second feature
    near = model.nearest_warm_items("ca", k=3)
    assert list(near["item_id"]) == ["a1", "a2", "a3"]
    np.testing.assert_allclose(near["cosine"], 1.0)


def test_feature_map_rejects_bad_alpha():
    with pytest.raises(ValueError, match="alpha"):
        FeatureMapEASE(FEATURES, ITEM_IDS, alpha=0.0).fit(checkerboard())


USERS = pd.DataFrame(
    {
        "user_id": [str(u) for u in range(10)],
        "gender": ["F"] * 4 + ["M"] * 4 + ["F", "M"],
        "age": [20] * 8 + [21, 22],
    }
)


def test_age_band():
    assert [age_band(a) for a in (10, 18, 24, 60)] == ["<18", "18-24", "18-24", ">=56"]
    assert age_band(None) == "?"


def test_group_popularity_follows_the_group():
    model = DemographicPopularity(USERS, columns=("gender",), shrinkage=1.0)
    model.fit(checkerboard(), items=ITEM_IDS)
    top = model.recommend(["8", "9"], k=3, on_unknown="popular")
    assert set(top.loc[top["user_id"] == "8", "item_id"]) == {"a1", "a2", "a3"}
    assert set(top.loc[top["user_id"] == "9", "item_id"]) == {"b1", "b2", "b3"}
    # (4 group users + 1 * share 0.5) / (4 + 1)
    np.testing.assert_allclose(model.score(["8"])[0, 0], 4.5 / 5)


@pytest.mark.parametrize("method", ["knn", "ridge"])
def test_demographic_neighbours_follow_similar_users(method):
    features = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 4 + [[1, 0.1], [0.1, 1]])
    model = DemographicNeighbours(features, USERS["user_id"], method, k=4, alpha=0.1)
    model.fit(checkerboard(), items=ITEM_IDS)
    scores = model.score(["8", "9"])
    a, b = model.item_index_["a1"], model.item_index_["b1"]
    assert scores[0, a] > scores[0, b] + 0.5
    assert scores[1, b] > scores[1, a] + 0.5
    with pytest.raises(KeyError):
        model.score(["unknown"])


def test_reveal_first_moves_the_earliest_rows():
    train = frame([("1", "x", 4.0, 0)])
    test = frame([("2", "b", 3.0, 5), ("2", "a", 4.0, 1), ("3", "c", 5.0, 9)])
    new_train, rest = reveal_first(train, test, 1)
    assert set(zip(new_train["user_id"], new_train["item_id"], strict=True)) == {
        ("1", "x"),
        ("2", "a"),
        ("3", "c"),
    }
    assert list(rest["item_id"]) == ["b"]
    same_train, same_test = reveal_first(train, test, 0)
    assert len(same_train) == 1 and len(same_test) == 3
