"""Content-based profiles on tiny hand-made items with answers checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from rec_utils.content import (
    ContentBased,
    RandomScores,
    evaluate_on_candidates,
    genre_features,
    l2_normalise_rows,
)

# Four items on two axes: a and b point along x, c along y, d is a zero vector.
ITEMS = ["a", "b", "c", "d"]
FEATURES = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 0.0]])


def frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


def test_genre_features_flags_and_order():
    items = pd.DataFrame(
        {"item_id": ["1", "2", "3"], "genres": [["Drama"], ["Comedy", "Drama"], []]}
    )
    flags, genres = genre_features(items)
    assert genres == ["Comedy", "Drama"]
    np.testing.assert_array_equal(flags, [[0, 1], [1, 1], [0, 0]])
    flags, genres = genre_features(items, genres=["Drama", "War"])
    np.testing.assert_array_equal(flags, [[1, 0], [1, 0], [0, 0]])


def test_l2_normalise_rows_keeps_zero_rows():
    dense = l2_normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(dense, [[0.6, 0.8], [0.0, 0.0]])
    sparse = l2_normalise_rows(sp.csr_matrix([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(sparse.toarray(), [[0.6, 0.8], [0.0, 0.0]])


def test_profile_of_liked_items_only():
    # u liked a (5) but not c (2): profile along x; cosine 1 with a and b, 0 with c
    train = frame([("u", "a", 5.0), ("u", "c", 2.0)])
    model = ContentBased(FEATURES, ITEMS).fit(train, items=ITEMS)
    np.testing.assert_allclose(model.score(["u"]), [[1.0, 1.0, 0.0, 0.0]])


def test_rating_weighted_mean_profile():
    # profile = (5 * (1, 0) + 4 * (0, 3)) / 9 = (5, 12) / 9; |(5, 12)| = 13
    train = frame([("u", "a", 5.0), ("u", "c", 4.0)])
    model = ContentBased(FEATURES, ITEMS).fit(train, items=ITEMS)
    np.testing.assert_allclose(model.score(["u"]), [[5 / 13, 5 / 13, 12 / 13, 0.0]])
    uniform = ContentBased(FEATURES, ITEMS, weighting="uniform").fit(train, items=ITEMS)
    # (1, 3) / 2 -> cosine with x: 1 / sqrt(10), with y: 3 / sqrt(10)
    expected = [[1, 1, 3, 0]] / np.sqrt(10)
    np.testing.assert_allclose(uniform.score(["u"]), expected)


def test_fallback_for_a_user_who_liked_nothing():
    # every rating below 4: the profile uses all the user's items, rating-weighted
    train = frame([("u", "a", 3.0), ("u", "c", 1.0), ("v", "b", 5.0)])
    model = ContentBased(FEATURES, ITEMS).fit(train, items=ITEMS)
    # (3 * (1, 0) + 1 * (0, 3)) / 4 = (3, 3) / 4: cosine 1 / sqrt(2) with a, b, c
    np.testing.assert_allclose(model.score(["u"])[0], [2**-0.5] * 3 + [0.0])
    none = ContentBased(FEATURES, ITEMS, fallback="none").fit(train, items=ITEMS)
    np.testing.assert_array_equal(none.score(["u"]), [[0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(none.score(["v"]), [[1.0, 1.0, 0.0, 0.0]])


def test_threshold_none_uses_every_item():
    train = frame([("u", "a", 5.0), ("u", "c", 5.0), ("u", "b", 1.0)])
    model = ContentBased(FEATURES, ITEMS, like_threshold=None, weighting="uniform").fit(
        train, items=ITEMS
    )
    # (1 + 2, 3) / 3 -> direction (1, 1)
    np.testing.assert_allclose(model.score(["u"])[0], [2**-0.5] * 3 + [0.0])


def test_zero_vectors_score_zero_never_nan():
    train = frame([("u", "d", 5.0), ("v", "a", 5.0)])
    model = ContentBased(FEATURES, ITEMS).fit(train, items=ITEMS)
    scores = model.score(["u", "v"])
    assert not np.isnan(scores).any()
    np.testing.assert_array_equal(scores[0], [0.0, 0.0, 0.0, 0.0])
    assert scores[1, 3] == 0.0


def test_sparse_and_dense_features_agree():
    train = frame([("u", "a", 5.0), ("u", "c", 4.0), ("v", "b", 4.5)])
    dense = ContentBased(FEATURES, ITEMS).fit(train, items=ITEMS)
    sparse = ContentBased(sp.csr_matrix(FEATURES), ITEMS).fit(train, items=ITEMS)
    np.testing.assert_allclose(dense.score(["u", "v"]), sparse.score(["u", "v"]))


def test_cold_items_are_scored_and_recommended():
    # b and c are absent from training, but in the catalogue
    train = frame([("u", "a", 5.0), ("v", "d", 4.0)])
    model = ContentBased(FEATURES, ITEMS).fit(train, items=ITEMS)
    recs = model.recommend(["u"], k=2)
    assert recs["item_id"].tolist() == ["b", "c"]
    assert recs["score"].tolist() == pytest.approx([1.0, 0.0])


def test_catalogue_order_may_differ_from_feature_order():
    train = frame([("u", "c", 5.0)])
    model = ContentBased(FEATURES, ITEMS).fit(train, items=["d", "c", "b", "a"])
    np.testing.assert_allclose(model.score(["u"]), [[0.0, 1.0, 0.0, 0.0]])


def test_missing_feature_rows_warn_and_score_zero():
    train = frame([("u", "a", 5.0), ("u", "x", 5.0)])
    with pytest.warns(UserWarning, match="1 catalogue item"):
        model = ContentBased(FEATURES, ITEMS).fit(train, items=ITEMS)
    assert model.score(["u"])[0, model.item_index_["x"]] == 0.0


def test_bad_arguments_are_named():
    train = frame([("u", "a", 5.0)])
    with pytest.raises(ValueError, match="one feature row per item"):
        ContentBased(FEATURES[:2], ITEMS).fit(train)
    with pytest.raises(ValueError, match="weighting"):
        ContentBased(FEATURES, ITEMS, weighting="log").fit(train)


def test_evaluate_on_candidates_ranks_only_the_candidates():
    # u's profile points along x. Candidates b (x) and c (y); a is excluded even
    # though it scores as high as b. Truth: b for u, c for v (v's profile: y).
    train = frame([("u", "a", 5.0), ("v", "c", 5.0), ("v", "a", 1.0)])
    test = frame([("u", "b", 4.0), ("v", "b", 3.0), ("v", "d", 3.0)])
    model = ContentBased(FEATURES, ITEMS).fit(train, items=ITEMS)
    out = evaluate_on_candidates(model, train, test, candidates=["b", "d"], k=1)
    # u: b first -> hit. v: c is seen and not a candidate; b (cos 0) and d (0)
    # tie and b wins by catalogue order -> hit. Both ndcg@1 = 1.
    assert out["ndcg@1"] == pytest.approx(1.0)
    assert out["users"] == 2.0
    assert out["coverage@1"] == pytest.approx(0.5)
    assert "novelty@1" not in out
    out = evaluate_on_candidates(model, train, test, candidates=["d"], k=1)
    # only v has a truth row on d; d is its only candidate
    assert out["users"] == 1.0 and out["precision@1"] == pytest.approx(1.0)


def test_evaluate_on_candidates_rejects_unknown_candidates():
    train = frame([("u", "a", 5.0)])
    model = ContentBased(FEATURES, ITEMS).fit(train)
    with pytest.raises(ValueError, match="not in the model's catalogue"):
        evaluate_on_candidates(model, train, train, candidates=["b"])


def test_random_scores_are_seeded_per_user():
    train = frame([("u", "a", 5.0), ("v", "b", 4.0)])
    model = RandomScores(seed=3).fit(train, items=ITEMS)
    both = model.score(["u", "v"])
    np.testing.assert_array_equal(both[1], model.score(["v"])[0])
    again = RandomScores(seed=3).fit(train, items=ITEMS).score(["u", "v"])
    np.testing.assert_array_equal(both, again)
    assert ((both >= 0) & (both < 1)).all()
    assert not np.array_equal(
        both, RandomScores(seed=4).fit(train, items=ITEMS).score(["u", "v"])
    )
