"""Score and rank fusion on hand-made score matrices with known fused orders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from rec_utils.base import Recommender, top_k_frame
from rec_utils.fusion import (
    RankFusion,
    ScoreFusion,
    candidate_ranks,
    ndcg_from_scores,
    normalise_scores,
    reciprocal_ranks,
    select_fusion_weights,
    simplex_grid,
    top_k_columns,
)
from rec_utils.metrics import ranking_metrics


class FixedScores(Recommender):
    """Scores looked up in a table: ``table[user_id][item_id]`` (missing: 0)."""

    def __init__(self, table):
        self.table = table

    def _fit(self, train):
        self.fit_calls_ = getattr(self, "fit_calls_", 0) + 1

    def _score(self, rows):
        return np.array(
            [
                [self.table.get(u, {}).get(i, 0.0) for i in self.item_ids_]
                for u in self.user_ids_[rows]
            ]
        )


ITEMS = ["a", "b", "c", "d", "e"]
# user u has seen a; user v has seen e
TRAIN = pd.DataFrame(
    {"user_id": ["u", "v"], "item_id": ["a", "e"], "rating": [5.0, 4.0]}
)
# part x likes b > c > d; part y likes d > c > b (both love the seen item a)
X = FixedScores({"u": {"a": 9, "b": 3, "c": 2, "d": 1, "e": 0}})
Y = FixedScores({"u": {"a": 90, "b": 0, "c": 20, "d": 40, "e": 10}})


def fused_items(model, user="u", k=5):
    return model.recommend([user], k=k)["item_id"].tolist()


def test_minmax_uses_candidate_statistics_only():
    scores = np.array([[9.0, 3.0, 2.0, 1.0, 0.0]])
    candidates = np.array([[False, True, True, True, True]])
    out = normalise_scores(scores, candidates, "minmax")
    np.testing.assert_allclose(out, [[3.0, 1.0, 2 / 3, 1 / 3, 0.0]])


def test_zscore_by_hand():
    scores = np.array([[100.0, 1.0, 2.0, 3.0]])
    candidates = np.array([[False, True, True, True]])
    # candidates 1, 2, 3: mean 2, population std sqrt(2/3)
    out = normalise_scores(scores, candidates, "zscore")
    std = np.sqrt(2 / 3)
    np.testing.assert_allclose(out[0, 1:], [-1 / std, 0.0, 1 / std])


def test_normalise_constant_and_non_finite_rows():
    scores = np.array([[5.0, 5.0, 5.0], [np.nan, 1.0, np.inf], [-np.inf, 0.0, 2.0]])
    candidates = np.ones_like(scores, dtype=bool)
    out = normalise_scores(scores, candidates, "minmax")
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0], [0.0, 0.0, 0.0])
    # row 1: one finite candidate -> constant -> zeros
    np.testing.assert_array_equal(out[1], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(out[2], [0.0, 0.0, 1.0])


def test_ranks_and_reciprocal_ranks_by_hand():
    scores = np.array([[0.5, 0.9, 0.5, np.nan, 0.1]])
    candidates = np.array([[True, True, True, True, False]])
    # 0.9 first, the two 0.5 in column order, NaN last, non-candidate 0
    np.testing.assert_array_equal(
        candidate_ranks(scores, candidates), [[2, 1, 3, 4, 0]]
    )
    rr = reciprocal_ranks(scores, candidates, c=1)
    np.testing.assert_allclose(rr, [[1 / 3, 1 / 2, 1 / 4, 1 / 5, 0.0]])


def test_score_fusion_known_order():
    # minmax over u's candidates b..e: x -> b 1, c 2/3, d 1/3, e 0
    #                                   y -> b 0, c 1/2, d 1, e 1/4
    # equal weights: b 1, c 7/6, d 4/3, e 1/4 -> d, c, b, e; a is seen
    fusion = ScoreFusion({"x": X, "y": Y}, {"x": 1.0, "y": 1.0}).fit(TRAIN, items=ITEMS)
    recs = fusion.recommend(["u"], k=5)
    assert recs["item_id"].tolist() == ["d", "c", "b", "e"]
    assert recs["score"].tolist() == pytest.approx([4 / 3, 7 / 6, 1.0, 0.25])
    # weight 3 on x: b 3, c 2 + 1/2, d 1 + 1, e 1/4 -> b, c, d, e
    heavy = ScoreFusion({"x": X, "y": Y}, {"x": 3.0, "y": 1.0}).fit(TRAIN, items=ITEMS)
    assert fused_items(heavy) == ["b", "c", "d", "e"]


def test_weights_one_and_zero_reproduce_a_part():
    for normalise in ("minmax", "zscore"):
        for name, part in (("x", X), ("y", Y)):
            weights = {"x": float(name == "x"), "y": float(name == "y")}
            fusion = ScoreFusion({"x": X, "y": Y}, weights, normalise).fit(
                TRAIN, items=ITEMS
            )
            assert fused_items(fusion) == fused_items(part)
            rank = RankFusion({"x": X, "y": Y}, weights).fit(TRAIN, items=ITEMS)
            assert fused_items(rank) == fused_items(part)


def test_reciprocal_rank_fusion_by_hand():
    # ranks over u's candidates (b, c, d, e): x: b1 c2 d3 e4; y: d1 c2 e3 b4
    # c = 1: b 1/2 + 1/5, c 1/3 + 1/3, d 1/4 + 1/2, e 1/5 + 1/4
    fusion = RankFusion({"x": X, "y": Y}, c=1).fit(TRAIN, items=ITEMS)
    recs = fusion.recommend(["u"], k=4)
    assert recs["item_id"].tolist() == ["d", "b", "c", "e"]
    assert recs["score"].tolist() == pytest.approx([3 / 4, 7 / 10, 2 / 3, 9 / 20])
    assert fusion.score(["u"])[0, 0] == 0.0  # the seen item


def test_seen_items_never_returned():
    for fusion in (
        ScoreFusion({"x": X, "y": Y}, {"x": 1.0, "y": 1.0}),
        ScoreFusion({"x": X, "y": Y}, {"x": 1.0, "y": 0.5}, normalise="zscore"),
        RankFusion({"x": X, "y": Y}),
    ):
        fusion.fit(TRAIN, items=ITEMS)
        recs = fusion.recommend(["u", "v"], k=5)
        assert "a" not in recs.loc[recs["user_id"] == "u", "item_id"].tolist()
        assert "e" not in recs.loc[recs["user_id"] == "v", "item_id"].tolist()
        assert recs.groupby("user_id").size().tolist() == [4, 4]


def test_prefit_parts_are_aligned_by_item_id_and_not_refitted():
    x = FixedScores(X.table).fit(TRAIN, items=["e", "d", "c", "b", "a"])
    y = FixedScores(Y.table).fit(TRAIN, items=ITEMS)
    fusion = ScoreFusion({"x": x, "y": y}, {"x": 1.0, "y": 1.0}, prefit=True)
    fusion.fit(TRAIN, items=ITEMS)
    assert x.fit_calls_ == 1
    assert fused_items(fusion) == ["d", "c", "b", "e"]


def test_catalogues_must_agree():
    x = FixedScores(X.table).fit(TRAIN, items=["a", "b", "e"])
    fusion = ScoreFusion({"x": x}, {"x": 1.0}, prefit=True)
    with pytest.raises(ValueError, match="catalogues must agree"):
        fusion.fit(TRAIN, items=ITEMS)


def test_bad_weights_are_named():
    with pytest.raises(ValueError, match="missing"):
        ScoreFusion({"x": X, "y": Y}, {"x": 1.0}).fit(TRAIN)
    with pytest.raises(ValueError, match="positive"):
        ScoreFusion({"x": X, "y": Y}, {"x": 0.0, "y": 0.0}).fit(TRAIN)


def test_simplex_grid_holds_every_single_part():
    grid = simplex_grid(["x", "y", "z"], step=0.5)
    assert len(grid) == 6
    for name in ("x", "y", "z"):
        assert {n: float(n == name) for n in ("x", "y", "z")} in grid
    assert all(sum(w.values()) == pytest.approx(1.0) for w in grid)


def test_top_k_columns_and_ndcg_match_the_reference_path():
    rng = np.random.RandomState(0)
    scores = rng.randint(0, 4, size=(30, 12)).astype(float)  # many ties
    seen = rng.rand(30, 12) < 0.3
    relevant = (rng.rand(30, 12) < 0.2) & ~seen
    relevant[:, 0] |= ~relevant.any(axis=1) & ~seen[:, 0]
    relevant[:, 1] |= ~relevant.any(axis=1)
    seen &= ~relevant
    users = np.array([f"u{n}" for n in range(30)], dtype=object)
    items = np.array([f"i{n}" for n in range(12)], dtype=object)
    masked = np.where(seen, -np.inf, scores)
    recs = top_k_frame(scores, users, items, 5, seen=sp.csr_matrix(seen))
    order = top_k_columns(masked, 5)
    for n, user in enumerate(users):
        expected = recs.loc[recs["user_id"] == user, "item_id"].tolist()
        assert items[order[n]].tolist()[: len(expected)] == expected
    r, c = np.nonzero(relevant)
    truth = pd.DataFrame({"user_id": users[r], "item_id": items[c]})
    expected = ranking_metrics(recs, truth, k=5)["ndcg@5"]
    got = ndcg_from_scores(scores, seen, relevant, relevant.sum(axis=1), k=5)
    assert got == pytest.approx(expected, abs=1e-12)


def test_weight_search_picks_the_part_that_finds_the_validation_items():
    # validation: u's item is d (y's favourite), v's item is b
    y = FixedScores({"u": Y.table["u"], "v": {"b": 5, "c": 1}})
    x = FixedScores({"u": X.table["u"], "v": {"c": 5, "b": 1}})
    validation = pd.DataFrame({"user_id": ["u", "v"], "item_id": ["d", "b"]})
    for method in ("score", "rank"):
        best, table = select_fusion_weights(
            {"x": x, "y": y},
            TRAIN,
            validation,
            grid=simplex_grid(["x", "y"], step=0.5),
            method=method,
            items=ITEMS,
            k=1,
            show_progress=False,
        )
        assert best == {"x": 0.0, "y": 1.0}
        assert len(table) == 3 and table["ndcg@1"].iloc[0] == pytest.approx(1.0)
        assert table.loc[table["x"] == 1.0, "ndcg@1"].item() == pytest.approx(0.0)


def test_weight_search_with_prefit_parts_matches_the_fusion_model():
    x = FixedScores(X.table).fit(TRAIN, items=ITEMS)
    y = FixedScores(Y.table).fit(TRAIN, items=ITEMS)
    validation = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["c", "e"]})
    grid = simplex_grid(["x", "y"], step=0.25)
    _, table = select_fusion_weights(
        {"x": x, "y": y},
        TRAIN,
        validation,
        grid,
        k=2,
        prefit=True,
        show_progress=False,
    )
    assert x.fit_calls_ == 1
    for _, row in table.iterrows():
        weights = {"x": row["x"], "y": row["y"]}
        fusion = ScoreFusion({"x": x, "y": y}, weights, prefit=True)
        fusion.fit(TRAIN, items=ITEMS)
        recs = fusion.recommend(["u"], k=2)
        expected = ranking_metrics(recs, validation, k=2)["ndcg@2"]
        assert row["ndcg@2"] == pytest.approx(expected, abs=1e-12)
