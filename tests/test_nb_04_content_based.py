"""Notebook 04 (content-based) runs in smoke mode and records sensible numbers."""

from __future__ import annotations

import pytest

from rec_utils.benchmark import COLUMNS

pytestmark = pytest.mark.notebook

CONTENT = ["content_genres", "content_tfidf", "content_ae_codes", "content_embeddings"]
BASELINES = ["popularity", "random"]
METRICS = [c for c in COLUMNS if c != "novelty@10"]  # cold items have no novelty


@pytest.fixture(scope="module")
def metrics(run_notebook):
    return run_notebook("04_content_based")


def test_protocol_names_both_splits(metrics):
    assert metrics["protocol"]["split"] == "stratified_split(by='item', ratio=0.75)"
    assert metrics["protocol"]["seed"] == 42
    assert metrics["protocol"]["smoke"] is True
    cold = metrics["item_cold_start"]["protocol"]
    assert cold["split"] == "item_cold_start_split(frac=0.2)"
    assert cold["seeds"] == [0, 1, 2]
    assert cold["ranked"] == "cold items only"


@pytest.mark.parametrize("split", ["warm", "cold"])
def test_every_model_has_every_metric_in_range(metrics, split):
    models = (
        metrics["models"] if split == "warm" else metrics["item_cold_start"]["models"]
    )
    assert set(CONTENT + BASELINES) <= set(models)
    for name, values in models.items():
        for key in METRICS:
            assert key in values, f"{split} {name} lacks {key}"
            if key.endswith("seconds"):
                assert values[key] >= 0
            else:
                assert 0.0 <= values[key] <= 1.0, f"{split} {name} {key}={values[key]}"
    if split == "warm":
        assert all(values["novelty@10"] > 0 for values in models.values())
    else:
        assert all(values["ndcg@10_std"] >= 0 for values in models.values())


def test_token_tfidf_beats_random_on_cold_items(metrics):
    cold = metrics["item_cold_start"]["models"]
    # measured in smoke mode: TF-IDF about 0.33, random about 0.16
    assert cold["content_tfidf"]["ndcg@10"] > cold["random"]["ndcg@10"] + 0.08
    assert cold["content_tfidf"]["recall@10"] > cold["random"]["recall@10"] + 0.08


def test_content_beats_random_on_warm_items(metrics):
    warm = metrics["models"]
    for name in ("content_tfidf", "content_embeddings"):
        assert warm[name]["ndcg@10"] > warm["random"]["ndcg@10"] + 0.03


def test_features_are_recorded(metrics):
    features = metrics["features"]
    assert set(features) == {"genres", "tfidf", "ae_codes", "embeddings"}
    assert features["ae_codes"]["columns"] == 64
    assert features["embeddings"]["columns"] == 384
    assert features["genres"]["columns"] == 18
