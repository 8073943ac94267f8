"""Notebook 05 (fusion) runs in smoke mode and records sensible numbers."""

from __future__ import annotations

import pytest

from rec_utils.benchmark import COLUMNS

pytestmark = pytest.mark.notebook

FUSIONS = ["score_fusion_minmax", "score_fusion_zscore", "rank_fusion"]
PARTS = ["ease", "item_knn", "user_knn_neighbours", "mult_dae", "content_tfidf"]
METRICS = COLUMNS


@pytest.fixture(scope="module")
def metrics(run_notebook):
    return run_notebook("05_fusion")


def test_protocol_and_choice_are_recorded(metrics):
    assert metrics["protocol"]["split"] == "stratified_split(by='item', ratio=0.75)"
    assert metrics["protocol"]["seed"] == 42
    assert metrics["protocol"]["validation"].startswith("stratified_split(train")
    assert metrics["protocol"]["smoke"] is True
    assert metrics["chosen_fusion"] in FUSIONS
    assert metrics["fusion_parts"] == PARTS
    weights = metrics["fusion_weights"]
    assert set(weights) == set(PARTS)
    assert sum(weights.values()) == pytest.approx(1.0)
    assert all(w >= 0 for w in weights.values())


def test_every_model_has_every_metric_in_range(metrics):
    models = metrics["models"]
    assert {"popularity", *PARTS, *FUSIONS} <= set(models)
    for name, values in models.items():
        for key in METRICS:
            assert key in values, f"{name} lacks {key}"
            if key == "novelty@10":
                assert values[key] > 0
            elif key.endswith("seconds"):
                assert values[key] >= 0
            else:
                assert 0.0 <= values[key] <= 1.0, f"{name} {key}={values[key]}"


def test_chosen_fusion_is_at_least_every_part_on_validation(metrics):
    # holds by construction: the weight grid holds each part alone
    validation = metrics["validation"]
    chosen = validation["fusions"][metrics["chosen_fusion"]]
    assert chosen == max(validation["fusions"].values())
    assert chosen >= max(validation["parts"].values()) - 1e-12


def test_chosen_fusion_beats_popularity_on_test(metrics):
    models = metrics["models"]
    chosen = models[metrics["chosen_fusion"]]["ndcg@10"]
    # measured in smoke mode: fusion about 0.39, popularity about 0.25
    assert chosen > models["popularity"]["ndcg@10"] + 0.05


def test_fusion_fit_time_includes_its_parts(metrics):
    models = metrics["models"]
    parts = sum(models[p]["fit_seconds"] for p in PARTS)
    for name in FUSIONS:
        assert models[name]["fit_seconds"] >= parts
