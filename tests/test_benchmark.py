"""The benchmark loop: configuration sampling, tuning, seed runs and tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rec_utils.base import Recommender
from rec_utils.benchmark import (
    COLUMNS,
    PUBLISHED,
    ValidationSplit,
    fit_and_evaluate,
    mean_std,
    results_table,
    sample_configs,
    seed_runs,
    select_weights,
    tune,
)
from rec_utils.metrics import evaluate
from rec_utils.models import EASE, Popularity
from rec_utils.splits import stratified_split


class Preferred(Recommender):
    """Scores item ``best`` highest for everyone, then catalogue order."""

    def __init__(self, best: str = "1"):
        self.best = best

    def _fit(self, train):
        self.scores_ = -np.arange(len(self.item_ids_), dtype=float)
        self.scores_[self.item_index_[self.best]] = 10.0

    def _score(self, rows):
        return np.tile(self.scores_, (len(rows), 1))


def frame(rows) -> pd.DataFrame:
    users, items = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user_id": [str(u) for u in users],
            "item_id": [str(i) for i in items],
            "rating": 4.0,
            "timestamp": np.arange(len(rows)),
        }
    )


ITEMS = [str(i) for i in range(1, 7)]
TRAIN = frame([(u, 6) for u in range(1, 5)] + [(1, 5), (2, 5)])
VALID = frame([(u, 4) for u in range(1, 5)])  # everyone's held-out item is 4


def test_sample_configs_whole_grid_when_small():
    space = {"a": [1, 2], "b": ["x", "y"]}
    assert sample_configs(space, 4) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"},
    ]  # fmt: skip
    assert sample_configs({}, 3) == [{}]


def test_sample_configs_respects_the_budget_and_the_seed():
    space = {"a": list(range(10)), "b": list(range(10))}
    first = sample_configs(space, 7, seed=1)
    assert len(first) == 7
    assert len({tuple(c.values()) for c in first}) == 7
    assert first == sample_configs(space, 7, seed=1)
    assert first != sample_configs(space, 7, seed=2)
    with pytest.raises(ValueError, match="budget"):
        sample_configs(space, 0)


def test_validation_ndcg_matches_evaluate():
    split = ValidationSplit(TRAIN, VALID, ITEMS)
    for best in ("1", "4"):
        model = Preferred(best).fit(TRAIN, items=ITEMS)
        expected = evaluate(model, TRAIN, VALID, k=3)["ndcg@3"]
        assert split.ndcg(model, k=3) == pytest.approx(expected, abs=1e-12)
    assert split.ndcg(Preferred("4").fit(TRAIN, items=ITEMS), k=3) == 1.0


def test_tune_picks_the_configuration_that_finds_the_held_out_item():
    splits = [ValidationSplit(TRAIN, VALID, ITEMS)] * 2
    configs = [{"best": "1"}, {"best": "4"}, {"best": "2"}]
    table = tune(Preferred, configs, splits, k=3)
    assert configs[table.index[0]] == {"best": "4"}
    assert table["ndcg@3"].iloc[0] == 1.0
    assert {"ndcg@3/0", "ndcg@3/1", "fit_seconds"} <= set(table.columns)
    # the others miss item 4 in the top 3 (ranks: 1 or 2 first, then 1, 2, 3)
    assert table["ndcg@3"].iloc[1:].max() < 1.0


def test_select_weights_prefers_the_part_that_ranks_the_held_out_item_first():
    splits = [ValidationSplit(TRAIN, VALID, ITEMS)]
    models = {"good": Preferred("4"), "bad": Preferred("1")}
    grid = [{"good": 0.0, "bad": 1.0}, {"good": 1.0, "bad": 0.0}]
    best, table = select_weights(models, splits, grid, k=3, show_progress=False)
    assert best == {"good": 1.0, "bad": 0.0}
    assert table["ndcg@3"].iloc[0] == pytest.approx(1.0)


def test_fit_and_evaluate_and_seed_runs():
    data = frame([(u, i) for u in range(1, 9) for i in range(1, 7) if (u + i) % 3])
    result = fit_and_evaluate(Popularity(), TRAIN, VALID, ITEMS, k=3)
    assert result["fit_seconds"] >= 0 and "recommend_seconds" in result

    def split(df, seed):
        return stratified_split(df, by="user", seed=seed)

    runs = seed_runs(
        {"pop": Popularity(), "ease": EASE(1.0)}, data, [0, 1, 2], split, ITEMS, k=3
    )
    assert len(runs) == 6 and set(runs["model"]) == {"pop", "ease"}
    summary = mean_std(runs, ["ndcg@3"])
    assert list(summary.columns) == ["ndcg@3 mean", "ndcg@3 std"]
    pop = runs.loc[runs["model"] == "pop", "ndcg@3"]
    assert summary.loc["pop", "ndcg@3 std"] == pytest.approx(pop.std(ddof=1))


def test_results_table_holds_the_published_rows():
    measured = {"mine": dict.fromkeys(COLUMNS, 0.5)}
    table = results_table(measured)
    assert table.loc["BiVAE", "ndcg@10"] == pytest.approx(0.475077)
    assert table.loc["BPR", "map"] == pytest.approx(0.132478)
    assert (table.loc[PUBLISHED.index, "source"] == "published").all()
    assert table.loc["mine", "source"] == "measured"
    assert table.index[0] == "mine"  # sorted by ndcg@10, best first
    assert np.isnan(table.loc["SAR", "coverage@10"])
