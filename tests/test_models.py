"""Collaborative-filtering models on tiny hand-made frames with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from frames import frame

from rec_utils.models import (
    EASE,
    ItemKNN,
    MultDAE,
    Popularity,
    UserKNN,
    VectorCosine,
    cosine_rows,
    grid_search,
    rating_metrics,
)

# a rates i1=4, i2=2, i3=5; b rates i1=2, i2=4, i4=3. Co-rated: i1, i2.
# cosine over co-rated = (4*2 + 2*4) / (sqrt(16 + 4) * sqrt(4 + 16)) = 16/20 = 0.8
PAIR = frame(
    [("a", 1, 4), ("a", 2, 2), ("a", 3, 5), ("b", 1, 2), ("b", 2, 4), ("b", 4, 3)]
)

# Two blocks: users 1-3 take items 1-3, users 4-6 take items 4-6; user 1 lacks item 3.
BLOCKS = frame(
    [(u, i, 5) for u in (1, 2, 3) for i in (1, 2, 3) if (u, i) != (1, 3)]
    + [(u, i, 5) for u in (4, 5, 6) for i in (4, 5, 6)]
)

SMALL = frame(
    [
        (1, 1, 5), (1, 2, 3), (1, 3, 4), (2, 1, 4), (2, 3, 2), (2, 4, 5),
        (3, 2, 1), (3, 4, 4), (3, 5, 3), (4, 1, 5), (4, 5, 2), (4, 6, 4),
        (5, 1, 3), (5, 2, 3), (5, 6, 3),
    ]
)  # fmt: skip


def all_models():
    return [
        Popularity(),
        UserKNN("source", k=2, shrinkage=0.0),
        UserKNN("centered", k=2, shrinkage=1.0),
        UserKNN("centered", k=2, ranking="neighbours", similarity="pearson"),
        ItemKNN(k=2, shrinkage=0.0),
        EASE(lam=1.0),
        MultDAE(hidden=8, latent=4, epochs=3, batch_size=2, show_progress=False),
    ]


def sim(model, u, v) -> float:
    return model.similarity_[model.user_index_[u], model.user_index_[v]]


# -- user kNN --------------------------------------------------------------------


def test_user_cosine_over_co_rated_items_by_hand():
    model = UserKNN(shrinkage=0.0).fit(PAIR)
    assert sim(model, "a", "b") == pytest.approx(0.8, abs=1e-12)
    assert sim(model, "b", "a") == pytest.approx(0.8, abs=1e-12)
    assert sim(model, "a", "a") == 0.0  # a user never neighbours itself


def test_shrinkage_factor_by_hand():
    # n_uv = 2 co-rated items, shrinkage 2: 0.8 * 2 / (2 + 2) = 0.4
    model = UserKNN(shrinkage=2.0).fit(PAIR)
    assert sim(model, "a", "b") == pytest.approx(0.4, abs=1e-12)


def test_one_co_rated_item_rated_5_vs_1_gets_small_similarity():
    data = frame([("a", 1, 5), ("a", 2, 4), ("b", 1, 1), ("b", 3, 2)])
    plain = UserKNN(shrinkage=0.0).fit(data)
    shrunk = UserKNN(shrinkage=10.0).fit(data)
    assert sim(plain, "a", "b") == pytest.approx(1.0, abs=1e-12)  # the flaw
    assert sim(shrunk, "a", "b") == pytest.approx(1 / 11, abs=1e-12)


def test_min_overlap_zeroes_thin_pairs():
    model = UserKNN(shrinkage=0.0, min_overlap=3).fit(PAIR)
    assert sim(model, "a", "b") == 0.0


def test_source_prediction_is_the_unnormalised_sum():
    # c co-rates item 1 with a and b; a and b rate item 9 (4 and 2).
    data = frame([("a", 1, 3), ("a", 9, 4), ("b", 1, 1), ("b", 9, 2), ("c", 1, 2)])
    model = UserKNN("source", k=None, shrinkage=0.0).fit(data)
    # one co-rated item: s(c, a) = s(c, b) = 1, so r_hat = 1*4 + 1*2
    assert model.predict(["c"], ["9"])[0] == pytest.approx(6.0, abs=1e-12)


def test_centered_prediction_by_hand():
    data = frame(
        [("a", 1, 3), ("a", 9, 4), ("b", 1, 1), ("b", 9, 2), ("c", 1, 2), ("c", 2, 4)]
    )
    model = UserKNN("centered", k=None, shrinkage=0.0).fit(data)
    # means: a 3.5, b 1.5, c 3; s(c,a) = s(c,b) = 1
    # r_hat = 3 + (1 * (4 - 3.5) + 1 * (2 - 1.5)) / 2 = 3.5
    assert model.predict(["c"], ["9"])[0] == pytest.approx(3.5, abs=1e-12)


def test_top_k_keeps_most_similar_raters():
    data = frame(
        [("a", 1, 3), ("a", 9, 4), ("b", 1, 1), ("b", 9, 2), ("c", 1, 2), ("c", 2, 4)]
        + [("b", 2, 2)]  # b shares two items with c (cosine 1), a only one
    )
    model = UserKNN("source", k=1, shrinkage=1.0).fit(data)
    # s(c, b) = 1 * 2/3 > s(c, a) = 1 * 1/2: only b counts, r_hat = 2/3 * 2
    assert model.predict(["c"], ["9"])[0] == pytest.approx(4 / 3, abs=1e-12)


@pytest.mark.parametrize("similarity", ["cosine", "pearson"])
def test_identical_ratings_user_gets_finite_predictions(similarity):
    data = pd.concat([SMALL, frame([(9, 1, 3), (9, 2, 3), (9, 4, 3)])])
    model = UserKNN("centered", k=3, similarity=similarity).fit(data)
    predictions = model.predict(["9"] * 6, [str(i) for i in range(1, 7)])
    assert np.isfinite(predictions).all()
    assert np.isfinite(model.score(["9"])).all()
    if similarity == "pearson":  # a zero centred vector is never a neighbour
        assert np.all(model.similarity_[model.user_index_["9"]] == 0.0)


def test_item_no_neighbour_rated_falls_back_to_user_mean():
    data = frame([("a", 1, 4), ("a", 2, 2), ("b", 3, 5)])
    model = UserKNN("centered", shrinkage=0.0).fit(data)
    # a and b share no item: s = 0, so a's prediction for item 3 is a's mean
    assert model.predict(["a"], ["3"])[0] == pytest.approx(3.0, abs=1e-12)


def test_predict_unknown_user_or_item_uses_baseline():
    model = UserKNN("centered").fit(PAIR)
    # global mean 20/6; a's mean 11/3; item 1 mean 3
    mu = 20 / 6
    got = model.predict(["zz", "a", "zz"], ["1", "77", "77"])
    assert got == pytest.approx([3.0, 11 / 3, mu], abs=1e-12)


def test_rating_metrics_by_hand():
    model = UserKNN("centered").fit(PAIR)
    test = frame([("zz", 1, 4), ("zz", 77, 20 / 6 - 2)])
    # errors 1 and 2: rmse sqrt(5/2), mae 1.5
    got = rating_metrics(model, test)
    assert got["rmse"] == pytest.approx(np.sqrt(2.5), abs=1e-12)
    assert got["mae"] == pytest.approx(1.5, abs=1e-12)


def test_user_knn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="formula"):
        UserKNN(formula="mean").fit(PAIR)


# -- item kNN, EASE, Mult-DAE ------------------------------------------------------


def test_item_cosine_and_score_by_hand():
    # items 1, 2 share users a, b; item 3 has b only.
    data = frame([("a", 1, 5), ("a", 2, 1), ("b", 1, 5), ("b", 2, 5), ("b", 3, 5)])
    model = ItemKNN(k=None, shrinkage=0.0).fit(data)
    s = model.similarity_
    index = model.item_index_
    assert s[index["1"], index["2"]] == pytest.approx(1.0, abs=1e-12)
    assert s[index["1"], index["3"]] == pytest.approx(1 / np.sqrt(2), abs=1e-12)
    # a interacted with 1 and 2: score of 3 = s13 + s23
    scores = model.score(["a"])[0]
    assert scores[index["3"]] == pytest.approx(2 / np.sqrt(2), abs=1e-12)


def test_item_knn_keeps_k_neighbours_per_item():
    model = ItemKNN(k=1, shrinkage=0.0).fit(SMALL)
    assert ((model.similarity_ != 0).sum(axis=0) <= 1).all()


def test_ease_weights_have_zero_diagonal():
    model = EASE(lam=10.0).fit(SMALL)
    assert np.all(np.diag(model.weights_) == 0.0)


@pytest.mark.parametrize(
    "model",
    [
        EASE(lam=1.0),
        ItemKNN(k=5, shrinkage=0.0),
        UserKNN("centered", ranking="neighbours", shrinkage=0.0),
    ],
)
def test_block_diagonal_recommends_within_the_block(model):
    model.fit(BLOCKS)
    top = model.recommend(["1"], k=1)
    assert top["item_id"].tolist() == ["3"]


def test_mult_dae_loss_finite_on_all_zero_batch():
    import torch

    model = MultDAE(hidden=8, latent=4, epochs=1, show_progress=False).fit(SMALL)
    zeros = torch.zeros(3, len(model.item_ids_))
    loss = model.multinomial_loss(model._forward(zeros, torch.Generator()), zeros)
    assert torch.isfinite(loss) and loss.item() == 0.0
    assert np.isfinite(model.history_).all()


def test_mult_dae_is_deterministic_given_seed():
    def fit(seed):
        params = dict(hidden=8, latent=4, epochs=5, batch_size=2, seed=seed)
        return MultDAE(**params, show_progress=False).fit(SMALL).score(["1", "2"])

    first, again, other = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


# -- popularity, vector cosine -----------------------------------------------------


def test_popularity_order():
    model = Popularity().fit(SMALL)  # item 1: 4 users; 2: 3; 3, 4, 5, 6: 2
    top = model.recommend(["3"], k=4)  # 3 has seen 2, 4, 5
    assert top["item_id"].tolist() == ["1", "3", "6"]
    assert top["score"].tolist() == [4.0, 2.0, 2.0]


def test_vector_cosine_by_hand_and_zero_vectors():
    users = pd.DataFrame([[1.0, 0.0], [0.0, 0.0]], index=["a", "b"])
    items = pd.DataFrame([[1.0, 1.0], [0.0, 2.0], [0.0, 0.0]], index=[1, 2, 3])
    model = VectorCosine(users, items).fit(PAIR.query("item_id != '4'"))
    scores = model.score(["a", "b"])
    index = model.item_index_
    assert scores[0, index["1"]] == pytest.approx(1 / np.sqrt(2), abs=1e-12)
    assert scores[0, index["2"]] == 0.0
    assert scores[0, index["3"]] == 0.0
    assert np.all(scores[1] == 0.0)


def test_vector_cosine_warns_on_missing_vectors():
    users = pd.DataFrame([[1.0, 0.0]], index=["a"])
    items = pd.DataFrame(np.ones((4, 2)), index=["1", "2", "3", "4"])
    with pytest.warns(UserWarning, match="1 of 2 users have no vector"):
        VectorCosine(users, items).fit(PAIR)


def test_cosine_rows_zero_row_is_zero():
    got = cosine_rows(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[3.0, 4.0]]))
    assert got[:, 0] == pytest.approx([0.0, 1.0], abs=1e-12)


# -- the shared interface -----------------------------------------------------------


@pytest.mark.parametrize("model", all_models(), ids=lambda m: type(m).__name__)
def test_recommend_never_returns_seen_items_nor_duplicates(model):
    model.fit(SMALL)
    users = sorted(SMALL["user_id"].unique())
    recs = model.recommend(users, k=10)
    seen = set(zip(SMALL["user_id"], SMALL["item_id"], strict=True))
    assert not seen & set(zip(recs["user_id"], recs["item_id"], strict=True))
    assert not recs.duplicated(["user_id", "item_id"]).any()
    assert np.isfinite(recs["score"]).all()
    # fewer than k rows only because fewer unseen items exist
    expected = 6 - SMALL.groupby("user_id").size()
    assert recs.groupby("user_id").size().equals(expected)


@pytest.mark.parametrize("model", all_models(), ids=lambda m: type(m).__name__)
def test_unknown_user_raises_or_falls_back_to_popular(model):
    model.fit(SMALL)
    with pytest.raises(KeyError, match="'999'"):
        model.recommend(["999"])
    scores = model.score(["999"], on_unknown="popular")
    np.testing.assert_array_equal(scores[0], model.item_popularity_)


def test_grid_search_orders_best_first():
    # user 1's held-out item 3: EASE ranks it first, popularity (ties: item 1
    # first, and item 1 is seen) gives item 4 first, a miss
    valid = frame([(1, 3, 5)])
    table = grid_search(EASE, [{"lam": 1.0}], BLOCKS, valid)
    assert table["ndcg@10"].iloc[0] == pytest.approx(1.0, abs=1e-12)
    models = {"ease": EASE(lam=1.0), "popularity": Popularity()}
    grid = [{"name": "popularity"}, {"name": "ease"}]
    table = grid_search(lambda name: models[name], grid, BLOCKS, valid)
    assert list(table["name"]) == ["ease", "popularity"]
    assert table.index.tolist() == [1, 0]
    rated = grid_search(
        UserKNN, [{"formula": "source"}, {"formula": "centered"}], SMALL, SMALL,
        metric="rmse",
    )  # fmt: skip
    assert list(rated["formula"]) == ["centered", "source"]
