"""Notebook 06 (benchmark) runs in smoke mode and records sensible numbers."""

from __future__ import annotations

import pytest

from rec_utils.benchmark import COLUMNS, PUBLISHED

pytestmark = pytest.mark.notebook

MODELS = [
    "popularity",
    "item_knn",
    "user_knn",
    "rp3beta",
    "pure_svd",
    "ials",
    "ease",
    "gen_ease",
    "mult_dae",
    "mult_vae",
    "content_tfidf",
    "token_code_cosine",
    "fusion",
]


@pytest.fixture(scope="module")
def metrics(run_notebook):
    return run_notebook("06_benchmark")


def test_protocol_is_recorded(metrics):
    protocol = metrics["protocol"]
    assert protocol["split"] == "stratified_split(by='item', ratio=0.75)"
    assert protocol["seed"] == 42
    assert protocol["validation"].startswith("stratified_split(train")
    assert protocol["smoke"] is True
    assert protocol["budget"] == 2  # the smoke budget
    assert protocol["robustness_seeds"] == [0, 1]


def test_every_model_has_every_metric_in_range(metrics):
    assert set(metrics["models"]) == set(MODELS)
    for name, values in metrics["models"].items():
        assert set(values) == set(COLUMNS), name
        for key, value in values.items():
            if key == "novelty@10":
                assert value > 0
            elif key.endswith("seconds"):
                assert value >= 0
            else:
                assert 0.0 <= value <= 1.0, f"{name} {key}={value}"


def test_equal_budget(metrics):
    configurations = metrics["configurations"]
    assert set(configurations) == set(MODELS)
    assert max(configurations.values()) <= max(metrics["protocol"]["budget"], 10)
    assert configurations["popularity"] == 1
    assert all(configurations[n] == 2 for n in ("ease", "gen_ease", "ials"))


def test_best_model_is_the_validation_choice(metrics):
    validation = metrics["validation"]
    assert set(validation) == set(MODELS)
    best = metrics["best_model"]
    assert best in metrics["models"]
    assert validation[best] == max(validation.values())
    assert metrics["target_reached"] == (metrics["models"][best]["ndcg@10"] >= 0.5)


def test_collaborative_models_beat_popularity(metrics):
    models = metrics["models"]
    popularity = models["popularity"]["ndcg@10"]
    # measured in smoke mode (150 users): popularity about 0.25, EASE about 0.38
    for name in ("ease", "gen_ease", "item_knn", "rp3beta", "ials"):
        assert models[name]["ndcg@10"] > popularity + 0.05, name
    assert models[metrics["best_model"]]["ndcg@10"] > popularity + 0.05


def test_fusion_weights_and_fit_time(metrics):
    weights = metrics["chosen"]["fusion"]
    assert set(weights) == set(metrics["fusion_parts"])
    assert sum(weights.values()) == pytest.approx(1.0)
    models = metrics["models"]
    parts = sum(models[p]["fit_seconds"] for p in metrics["fusion_parts"])
    assert models["fusion"]["fit_seconds"] >= 0.5 * parts


def test_published_rows_are_recorded(metrics):
    published = metrics["published"]
    assert set(published) == set(PUBLISHED.index)
    assert published["BiVAE"]["ndcg@10"] == pytest.approx(0.475077)


def test_robustness_and_temporal_tables(metrics):
    robustness = metrics["robustness"]
    assert set(robustness) == set(MODELS)
    for values in robustness.values():
        assert 0.0 <= values["ndcg@10 mean"] <= 1.0
        assert values["ndcg@10 std"] >= 0.0
    # two seeds give two different splits: some model's ndcg must move
    assert max(v["ndcg@10 std"] for v in robustness.values()) > 0.0
    temporal = metrics["temporal"]
    assert set(temporal) == set(MODELS)
    assert temporal["ease"]["ndcg@10"] > temporal["token_code_cosine"]["ndcg@10"]


def test_token_and_content_models_rank_below_collaborative_filtering(metrics):
    models = metrics["models"]
    for name in ("content_tfidf", "token_code_cosine"):
        assert models[name]["ndcg@10"] < models["ease"]["ndcg@10"] - 0.1, name
