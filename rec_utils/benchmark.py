"""The benchmark loop: equal-budget tuning on validation, one test score, seed runs.

Protocol (PROTOCOL.md sections 3 to 5):

* hyperparameters are chosen by ``ndcg@k`` on validation splits carved from the
  training part with the same split function (never the test part); with several
  validation seeds the mean ``ndcg@k`` over them decides;
* every model gets the same budget: at most ``budget`` configurations, drawn from
  its search space by :func:`sample_configs` (the whole space when it is smaller);
* the chosen configuration is refitted on the whole training part and the test
  part is scored once, by :func:`fit_and_evaluate`;
* :func:`seed_runs` repeats the refit and the test score over other split seeds
  (same hyperparameters), and :func:`mean_std` summarises them;
* :data:`PUBLISHED` holds the published benchmark rows, which
  :func:`results_table` puts beside the measured ones.
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from .base import Recommender
from .fusion import ndcg_from_scores, select_fusion_weights
from .metrics import evaluate

logger = logging.getLogger(__name__)

#: The published MovieLens-100K table (PROTOCOL.md section 5): same split, k = 10.
PUBLISHED = pd.DataFrame(
    {
        "map": [0.146126, 0.132478, 0.088526, 0.107720, 0.110591, 0.012873, 0.004732],
        "ndcg@10": [
            0.475077, 0.441997, 0.419846, 0.396118, 0.382461, 0.095930, 0.044239,
        ],
        "precision@10": [
            0.411771, 0.388229, 0.379626, 0.347296, 0.330753, 0.091198, 0.048462,
        ],
        "recall@10": [
            0.219145, 0.212522, 0.144336, 0.180775, 0.176385, 0.032783, 0.017796,
        ],
    },
    index=["BiVAE", "BPR", "LightGCN", "NCF", "SAR", "SVD", "ALS"],
)  # fmt: skip

#: Columns of the result tables, in order (k = 10).
COLUMNS = [
    "map",
    "map@10",
    "ndcg@10",
    "precision@10",
    "recall@10",
    "coverage@10",
    "novelty@10",
    "fit_seconds",
    "recommend_seconds",
]


def sample_configs(
    space: Mapping[str, Sequence], budget: int, seed: int = 0
) -> list[dict]:
    """At most ``budget`` configurations of a grid ``space`` (name -> values).

    When the full grid has at most ``budget`` points it is returned whole, in
    grid order. Otherwise ``budget`` distinct points are drawn uniformly without
    replacement with ``RandomState(seed)`` and returned in grid order, so the
    same budget, space and seed always give the same configurations. An empty
    space gives one empty configuration (a model without hyperparameters).
    """
    if budget < 1:
        raise ValueError(f"budget must be at least 1, not {budget}")
    names = list(space)
    grid = [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(space[n] for n in names))
    ]
    if len(grid) <= budget:
        return grid
    chosen = np.random.RandomState(seed).choice(len(grid), budget, replace=False)
    return [grid[i] for i in sorted(chosen)]


class ValidationSplit:
    """A (training, validation) pair with the truth arrays for fast ``ndcg@k``.

    The validation ``ndcg@k`` equals that of :func:`rec_utils.metrics.evaluate`
    (full ranking of unseen items, ties by catalogue order) but is computed from
    the score matrix directly, without building recommendation frames.
    """

    def __init__(self, train: pd.DataFrame, valid: pd.DataFrame, items: Sequence):
        self.train = train
        self.valid = valid
        self.items = [str(i) for i in items]
        truth = valid[["user_id", "item_id"]].astype(str).drop_duplicates()
        known = set(train["user_id"].astype(str))
        truth = truth[truth["user_id"].isin(known)]
        self.users = np.array(sorted(truth["user_id"].unique()), dtype=object)
        self.n_relevant = truth.groupby("user_id").size().loc[self.users].to_numpy()
        column = {i: n for n, i in enumerate(self.items)}
        truth = truth[truth["item_id"].isin(column)]
        self.relevant = np.zeros((len(self.users), len(self.items)), dtype=bool)
        rows = np.searchsorted(self.users, truth["user_id"].to_numpy())
        self.relevant[rows, truth["item_id"].map(column).to_numpy()] = True

    def ndcg(self, model: Recommender, k: int = 10) -> float:
        """Validation ``ndcg@k`` of a model fitted on ``self.train``."""
        columns = np.array([model.item_index_[i] for i in self.items])
        rows = model.user_rows(self.users)
        scores = model.score(self.users)[:, columns]
        seen = model.user_items_[rows].toarray()[:, columns] != 0
        return ndcg_from_scores(scores, seen, self.relevant, self.n_relevant, k)


def validation_splits(
    train: pd.DataFrame,
    seeds: Iterable[int],
    split: Callable,
    items: Sequence,
) -> list[ValidationSplit]:
    """``split(train, seed=s)`` for each seed, as :class:`ValidationSplit` objects."""
    return [ValidationSplit(*split(train, seed=s), items) for s in seeds]


def tune(
    factory: Callable[..., Recommender],
    configs: Sequence[Mapping],
    splits: Sequence[ValidationSplit],
    k: int = 10,
    fixed: Mapping | None = None,
    show_progress: bool = False,
) -> pd.DataFrame:
    """Fit ``factory(**config, **fixed)`` on every validation split; rank by ``ndcg@k``.

    Returns:
        One row per configuration (index = position in ``configs``): the
        parameters, ``ndcg@k`` on each split (``ndcg@k/<n>``), their mean
        ``ndcg@k`` and the mean ``fit_seconds``; best mean first (ties keep
        configuration order). The chosen one is ``configs[table.index[0]]``.
    """
    if not configs:
        raise ValueError("configs is empty: give at least one configuration")
    if not splits:
        raise ValueError("splits is empty: give at least one validation split")
    fixed = dict(fixed or {})
    rows = []
    for config in tqdm(configs, desc="tuning", disable=not show_progress):
        row, seconds = dict(config), 0.0
        for n, split in enumerate(splits):
            start = time.perf_counter()
            model = factory(**config, **fixed).fit(split.train, items=split.items)
            seconds += time.perf_counter() - start
            row[f"ndcg@{k}/{n}"] = split.ndcg(model, k)
        row[f"ndcg@{k}"] = float(
            np.mean([row[f"ndcg@{k}/{n}"] for n in range(len(splits))])
        )
        row["fit_seconds"] = seconds / len(splits)
        rows.append(row)
        name = getattr(factory, "__name__", type(factory).__name__)
        logger.info("%s %s: ndcg@%d %.4f", name, config, k, row[f"ndcg@{k}"])
    table = pd.DataFrame(rows)
    return table.sort_values(f"ndcg@{k}", ascending=False, kind="stable")


def select_weights(
    models: Mapping[str, Recommender],
    splits: Sequence[ValidationSplit],
    grid: Sequence[Mapping[str, float]],
    k: int = 10,
    **options,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Fusion weights by mean validation ``ndcg@k`` over several splits.

    Calls :func:`rec_utils.fusion.select_fusion_weights` on each split (fresh
    copies of ``models`` fitted on its training part) and averages each grid
    point's ``ndcg@k``. ``options`` go to it (``method``, ``normalise``, ...).

    Returns:
        ``(best, table)``: the best weights (ties: earlier grid point) and every
        grid point with its mean ``ndcg@k``, best first.
    """
    names = list(models)
    mean = np.zeros(len(grid))
    for split in splits:
        parts = {name: copy.deepcopy(model) for name, model in models.items()}
        _, table = select_fusion_weights(
            parts, split.train, split.valid, grid, k=k, items=split.items, **options
        )
        lookup = {tuple(r[names]): r[f"ndcg@{k}"] for _, r in table.iterrows()}
        mean += [lookup[tuple(float(w[n]) for n in names)] for w in grid]
    mean /= len(splits)
    table = pd.DataFrame([dict(w) for w in grid]).assign(**{f"ndcg@{k}": mean})
    table = table.sort_values(f"ndcg@{k}", ascending=False, kind="stable")
    best = {n: float(table.iloc[0][n]) for n in names}
    return best, table.reset_index(drop=True)


def fit_and_evaluate(
    model: Recommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    items: Sequence,
    k: int = 10,
) -> dict[str, float]:
    """Fit ``model`` on ``train`` and score ``test`` once.

    Returns :func:`rec_utils.metrics.evaluate`'s metrics plus ``fit_seconds``.
    ``recommend_seconds`` is the time of the top-``k`` lists of every test user
    over the full catalogue.
    """
    start = time.perf_counter()
    model.fit(train, items=items)
    seconds = time.perf_counter() - start
    return {**evaluate(model, train, test, k=k), "fit_seconds": seconds}


def seed_runs(
    models: Mapping[str, Recommender],
    interactions: pd.DataFrame,
    seeds: Iterable[int],
    split: Callable,
    items: Sequence,
    k: int = 10,
    show_progress: bool = False,
) -> pd.DataFrame:
    """Refit every model on ``split(interactions, seed=s)`` for each seed; score test.

    The models keep their hyperparameters (chosen once, on validation); only the
    split changes. Returns one row per (seed, model) with the metrics.
    """
    rows = []
    seeds = list(seeds)
    for seed in tqdm(seeds, desc="split seeds", disable=not show_progress):
        train, test = split(interactions, seed=seed)
        for name, prototype in models.items():
            metrics = fit_and_evaluate(copy.deepcopy(prototype), train, test, items, k)
            rows.append({"seed": seed, "model": name, **metrics})
            logger.info("seed %d %s: ndcg@%d %.4f", seed, name, k, metrics[f"ndcg@{k}"])
    return pd.DataFrame(rows)


def mean_std(runs: pd.DataFrame, metrics: Sequence[str] = ("ndcg@10",)) -> pd.DataFrame:
    """Mean and sample standard deviation (ddof=1) over seeds, per model.

    Columns ``<metric> mean`` and ``<metric> std``; rows sorted by the first
    metric's mean, best first.
    """
    grouped = runs.groupby("model")[list(metrics)]
    table = pd.concat(
        {"mean": grouped.mean(), "std": grouped.std(ddof=1)}, axis=1
    ).swaplevel(axis=1)
    table.columns = [f"{metric} {stat}" for metric, stat in table.columns]
    table = table[[f"{m} {s}" for m in metrics for s in ("mean", "std")]]
    return table.sort_values(f"{metrics[0]} mean", ascending=False)


def results_table(
    results: Mapping[str, Mapping[str, float]],
    published: pd.DataFrame | None = PUBLISHED,
    columns: Sequence[str] = COLUMNS,
) -> pd.DataFrame:
    """Measured models and published rows in one table, best ``ndcg@10`` first.

    Column ``source`` says ``"measured"`` or ``"published"``; metrics the
    published table lacks are NaN.
    """
    measured = pd.DataFrame(results).T.reindex(columns=list(columns))
    measured.insert(0, "source", "measured")
    frames = [measured]
    if published is not None:
        rows = published.reindex(columns=list(columns))
        rows.insert(0, "source", "published")
        frames.append(rows)
    table = pd.concat(frames)
    return table.sort_values("ndcg@10", ascending=False, kind="stable")
