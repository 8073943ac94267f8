"""Notebook 00 in smoke mode: recorded counts, split sizes and popularity metrics."""

from __future__ import annotations

import numpy as np
import pytest

from rec_utils.data import load_movielens_100k, sample_users
from rec_utils.metrics import evaluate
from rec_utils.models import Popularity
from rec_utils.splits import (
    item_cold_start_split,
    stratified_split,
    temporal_split,
    user_cold_start_split,
)

pytestmark = pytest.mark.notebook

STEM = "00_data_and_protocol"
SEED, K, SMOKE_USERS = 42, 10, 150


@pytest.fixture(scope="module")
def recorded(run_notebook):
    return run_notebook(STEM)


@pytest.fixture(scope="module")
def sample():
    return sample_users(load_movielens_100k(download=False), SMOKE_USERS, seed=SEED)


def test_protocol_is_recorded(recorded):
    protocol = recorded["protocol"]
    assert protocol["split"] == "stratified_split(by='item')"
    assert protocol["seed"] == SEED and protocol["k"] == K
    assert protocol["ratio"] == 0.75 and protocol["smoke"] is True


def test_data_counts(recorded, sample):
    counts = recorded["data"]
    assert counts["users"] == SMOKE_USERS
    assert counts["items"] == 1_682  # the whole catalogue is kept
    assert counts["ratings"] == len(sample.interactions)
    assert counts["rated_items"] == sample.interactions["item_id"].nunique()
    expected = counts["ratings"] / (SMOKE_USERS * 1_682)
    assert counts["density"] == pytest.approx(expected, rel=1e-12)


def test_split_sizes(recorded, sample):
    inter = sample.interactions
    splits = recorded["splits"]
    train, test = stratified_split(inter, ratio=0.75, by="item", seed=SEED)
    assert splits["benchmark"] == {"train": len(train), "test": len(test)}
    fit_part, valid = stratified_split(train, ratio=0.75, by="item", seed=SEED)
    assert splits["validation"] == {"train": len(fit_part), "test": len(valid)}
    t_train, t_test = temporal_split(inter, ratio=0.8)
    temporal = splits["temporal"]
    assert temporal["train"] == len(t_train) and temporal["test"] == len(t_test)
    assert sum(temporal.values()) == len(inter)
    n_items = inter["item_id"].nunique()
    for seed in (0, 1, 2):
        _, c_test = item_cold_start_split(inter, frac=0.2, seed=seed)
        assert splits[f"item_cold_start_{seed}"]["test"] == len(c_test)
        held = splits[f"item_cold_start_{seed}"]["held_out"]
        assert held == int(np.round(0.2 * n_items))
    _, u_test = user_cold_start_split(inter, frac=0.2, seed=0)
    assert splits["user_cold_start_0"]["held_out"] == int(np.round(0.2 * SMOKE_USERS))
    assert splits["user_cold_start_0"]["test"] == len(u_test)


def test_popularity_metrics(recorded, sample):
    pop = recorded["models"]["popularity"]
    train, test = stratified_split(sample.interactions, by="item", seed=SEED)
    model = Popularity().fit(train, items=sample.items["item_id"])
    expected = evaluate(model, train, test, k=K)
    for name, value in expected.items():
        if name != "recommend_seconds":
            assert pop[name] == pytest.approx(value, abs=1e-12), name
    assert pop["users"] == SMOKE_USERS
    for name in ("map", "map@10", "ndcg@10", "precision@10", "recall@10",
                 "hit@10", "mrr@10", "coverage@10"):  # fmt: skip
        assert 0.0 <= pop[name] <= 1.0, name
    # a meaningful popularity list: well above an empty one, below perfect
    assert 0.1 < pop["ndcg@10"] < 0.6
    assert pop["fit_seconds"] >= 0.0 and pop["recommend_seconds"] >= 0.0
