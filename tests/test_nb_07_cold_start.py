"""Notebook 07 (cold start) runs in smoke mode and records sensible numbers."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.notebook

FEATURES = ["genres", "year", "counts", "tfidf", "embeddings", "ae_codes"]
FEATURES += ["genres+year", "tfidf+genres+year", "tfidf+embeddings"]
METHODS = ["profile", "ridge map"]
METRICS = ["ndcg@10", "recall@10", "auc", "ndcg@10_std", "recall@10_std", "auc_std"]
USER_MODELS = ["popularity", "group popularity", "neighbours (tfidf)"]
USER_MODELS += ["neighbours (embeddings)", "ridge map (tfidf)"]
USER_MODELS += ["ridge map (embeddings)"]


@pytest.fixture(scope="module")
def metrics(run_notebook):
    return run_notebook("07_cold_start")


def test_protocols(metrics):
    protocol = metrics["protocol"]
    assert protocol["split"] == "item_cold_start_split(frac=0.2)"
    assert protocol["seeds"] == [0, 1, 2]
    assert protocol["ranked"] == "cold items only"
    assert protocol["smoke"] is True
    user = metrics["user_cold_start"]["protocol"]
    assert user["split"] == "user_cold_start_split(frac=0.2)"
    assert user["seeds"] == [0, 1, 2]


def test_every_feature_and_method_has_every_metric(metrics):
    models = metrics["models"]
    expected = {"random:random"}
    expected |= {f"{m}:{f}" for f in FEATURES for m in METHODS}
    assert set(models) == expected
    for name, values in models.items():
        for key in METRICS:
            assert 0.0 <= values[key] <= 1.0, f"{name} {key}={values.get(key)}"
        assert values["fit_seconds"] >= 0


def test_random_is_random_and_tokens_beat_it(metrics):
    models = metrics["models"]
    assert abs(models["random:random"]["auc"] - 0.5) < 0.03
    # measured in smoke mode: random ndcg@10 about 0.16, TF-IDF profile about 0.33,
    # ridge map on TF-IDF + embeddings about 0.40
    random = models["random:random"]["ndcg@10"]
    assert models["profile:tfidf"]["ndcg@10"] > random + 0.08
    assert models["ridge map:tfidf+embeddings"]["ndcg@10"] > random + 0.15
    assert models["ridge map:tfidf+embeddings"]["auc"] > 0.65


def test_ridge_map_beats_the_profile_on_tokens(metrics):
    models = metrics["models"]
    for feature in ("tfidf", "embeddings", "tfidf+embeddings"):
        ridge = models[f"ridge map:{feature}"]["ndcg@10"]
        assert ridge > models[f"profile:{feature}"]["ndcg@10"] + 0.02, feature


def test_chosen_alpha_recorded_per_seed(metrics):
    chosen = metrics["chosen_alpha"]
    assert len(chosen) == 3 * len(FEATURES)
    assert all(row["alpha"] in (1.0, 3.0, 10.0) for row in chosen)


def test_user_cold_start(metrics):
    users = metrics["user_cold_start"]["models"]
    assert set(users) == set(USER_MODELS)
    for name, values in users.items():
        for key in METRICS:
            assert 0.0 <= values[key] <= 1.0, f"{name} {key}"
    # every model is far above random on the full catalogue (AUC 0.5)
    assert min(values["auc"] for values in users.values()) > 0.75


def test_warmup_curve(metrics):
    warmup = metrics["user_cold_start"]["warmup"]
    assert set(warmup) == {"0", "1", "3", "5", "10", "20"}
    assert set(warmup["0"]) == {"popularity", "neighbours (embeddings)"}
    assert {"EASE", "user kNN"} <= set(warmup["20"])
    # with 20 ratings revealed, the user's own ratings beat their demographics
    # (smoke: user kNN about 0.46, demographic neighbours about 0.38)
    twenty = warmup["20"]
    assert twenty["user kNN"]["ndcg@10"] > twenty["neighbours (embeddings)"]["ndcg@10"]
