"""Notebook 02 (token autoencoder), run in smoke mode: what its recorded metrics say."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.notebook

SHARES = (
    "genre_micro_f1",
    "genre_subset_accuracy",
    "neighbour_genre_overlap@10",
    "near_zero_share",
    "mass_on_tokens",
    "token_recall",
    "held_out_token_recall",
)


@pytest.fixture(scope="module")
def metrics(run_notebook):
    return run_notebook("02_autoencoder")


def test_expected_models_and_keys_are_recorded(metrics):
    models = metrics["models"]
    for name in (
        "source_ae_sigmoid_mse",
        "ae_cosine",
        "ae_multinomial",
        "truncated_svd",
        "random_codes",
        "ae_cosine_tokens_embeddings",
        "embeddings",
    ):
        assert "genre_micro_f1" in models[name], name
    for name in ("source_ae_sigmoid_mse", "ae_cosine", "ae_multinomial"):
        for key in ("near_zero_share", "mse_over_zero", "val_loss", "fit_seconds"):
            assert key in models[name], (name, key)
    assert metrics["best_ae"] in ("ae_cosine", "ae_multinomial")
    assert metrics["protocol"]["seed"] == 42


def test_values_are_finite_and_shares_in_unit_interval(metrics):
    for name, values in metrics["models"].items():
        for key, value in values.items():
            assert math.isfinite(value), (name, key)
            if key in SHARES:
                assert 0.0 <= value <= 1.0, (name, key, value)


def test_source_design_collapses_to_the_all_zero_output(metrics):
    source = metrics["models"]["source_ae_sigmoid_mse"]
    assert source["near_zero_share"] > 0.99
    assert source["mse_over_zero"] == pytest.approx(1.0, abs=0.02)
    assert source["token_recall"] < 0.1


def test_better_loss_rebuilds_the_films_own_tokens(metrics):
    models = metrics["models"]
    source, best = models["source_ae_sigmoid_mse"], models[metrics["best_ae"]]
    assert best["token_recall"] > source["token_recall"] + 0.3
    assert best["held_out_token_recall"] > source["held_out_token_recall"] + 0.3
    assert best["mass_on_tokens"] > 5 * source["mass_on_tokens"]


def test_codes_predict_genres_above_trivial_levels(metrics):
    models, baseline = metrics["models"], metrics["baseline"]["genre_micro_f1"]
    assert 0.1 < baseline < 0.5
    assert models["random_codes"]["genre_micro_f1"] < baseline
    assert models[metrics["best_ae"]]["genre_micro_f1"] > baseline + 0.1
    # the genre names are in the text, so a linear code of width 64 keeps them
    assert models["truncated_svd"]["genre_micro_f1"] > baseline + 0.5
