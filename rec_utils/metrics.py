"""Ranking and rating metrics of PROTOCOL.md section 4, and the evaluation loop.

Note:
    Conventions, the same for every metric here:

    * A user is evaluated when it has at least one test item. Users with no test
      item are left out of every average; users with test items but no
      recommendations count with zero hits.
    * Every truth row is relevant (filter the truth frame first to use a rating
      threshold). A truth row given twice counts once.
    * Recommendation lists are read in ``rank`` order (else ``score`` order) and cut
      at ``k``; an item repeated in one list counts at its first position only.
    * ``ndcg@k`` divides by the ideal DCG of ``min(|R|, k)`` hits at the top, with
      ``R`` the user's relevant items; ``map@k`` divides by ``min(|R|, k)``; ``map``
      (what the published benchmark calls MAP) divides by ``|R|``.
    * ``coverage@k`` counts the distinct catalogue items recommended to anyone,
      over the catalogue size; items outside the catalogue do not count.
    * ``novelty@k`` is the mean over all recommended (user, item) pairs of
      ``-log2(share of training users who interacted with the item)``; items no
      training user interacted with are left out of that mean.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

RANKING_METRICS = (
    "map",
    "map@k",
    "ndcg@k",
    "precision@k",
    "recall@k",
    "hit@k",
    "mrr@k",
)


def _require(frame: pd.DataFrame, name: str, columns=("user_id", "item_id")) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {missing}")


def _truth_sets(truth: pd.DataFrame) -> dict[str, set[str]]:
    _require(truth, "truth")
    frame = truth[["user_id", "item_id"]].astype(str).drop_duplicates()
    return {u: set(g) for u, g in frame.groupby("user_id")["item_id"]}


def _rec_lists(recs: pd.DataFrame, k: int) -> dict[str, list[str]]:
    _require(recs, "recommendations")
    frame = recs.assign(
        user_id=recs["user_id"].astype(str), item_id=recs["item_id"].astype(str)
    )
    if "rank" in frame.columns:
        frame = frame.sort_values(["user_id", "rank"], kind="stable")
    elif "score" in frame.columns:
        frame = frame.sort_values(
            ["user_id", "score"], ascending=[True, False], kind="stable"
        )
    frame = frame.drop_duplicates(["user_id", "item_id"], keep="first")
    frame = frame.groupby("user_id", sort=False).head(k)
    return {u: list(g) for u, g in frame.groupby("user_id", sort=False)["item_id"]}


def hit_matrix(
    recs: pd.DataFrame, truth: pd.DataFrame, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per evaluated user: the 0/1 hits of the top ``k`` and the number relevant.

    Returns:
        ``hits`` of shape (evaluated users, k) and ``n_relevant`` of shape
        (evaluated users,), users in sorted ID order.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    relevant = _truth_sets(truth)
    lists = _rec_lists(recs, k)
    users = sorted(relevant)
    hits = np.zeros((len(users), k), dtype=np.float64)
    for n, user in enumerate(users):
        for i, item in enumerate(lists.get(user, [])):
            hits[n, i] = item in relevant[user]
    n_relevant = np.array([len(relevant[u]) for u in users], dtype=np.float64)
    return hits, n_relevant


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def precision_at_k(recs: pd.DataFrame, truth: pd.DataFrame, k: int = 10) -> float:
    """Hits in the top ``k`` over ``k``, averaged over evaluated users."""
    hits, _ = hit_matrix(recs, truth, k)
    return _mean(hits.sum(axis=1) / k)


def recall_at_k(recs: pd.DataFrame, truth: pd.DataFrame, k: int = 10) -> float:
    """Hits in the top ``k`` over ``|R|``, averaged over evaluated users."""
    hits, n_rel = hit_matrix(recs, truth, k)
    return _mean(hits.sum(axis=1) / n_rel)


def _dcg_weights(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(recs: pd.DataFrame, truth: pd.DataFrame, k: int = 10) -> float:
    """DCG of the top ``k`` over the DCG of ``min(|R|, k)`` hits at the top."""
    hits, n_rel = hit_matrix(recs, truth, k)
    return _mean(_ndcg(hits, n_rel, k))


def _ndcg(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    weights = _dcg_weights(k)
    ideal = np.cumsum(weights)[np.minimum(n_rel, k).astype(int) - 1]
    return (hits * weights).sum(axis=1) / ideal


def _ap_sum(hits: np.ndarray) -> np.ndarray:
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    return (precision * hits).sum(axis=1)


def map_at_k(recs: pd.DataFrame, truth: pd.DataFrame, k: int = 10) -> float:
    """Sum of precision@i at each hit i <= k, over ``min(|R|, k)``."""
    hits, n_rel = hit_matrix(recs, truth, k)
    return _mean(_ap_sum(hits) / np.minimum(n_rel, k))


def mean_average_precision(
    recs: pd.DataFrame, truth: pd.DataFrame, k: int = 10
) -> float:
    """Sum of precision@i at each hit i <= k, over ``|R|`` (the benchmark's MAP)."""
    hits, n_rel = hit_matrix(recs, truth, k)
    return _mean(_ap_sum(hits) / n_rel)


def coverage_at_k(recs: pd.DataFrame, catalogue: Iterable, k: int = 10) -> float:
    """Distinct catalogue items in anyone's top ``k``, over the catalogue size."""
    catalogue = {str(i) for i in catalogue}
    if not catalogue:
        raise ValueError("coverage@k needs a non-empty catalogue")
    lists = _rec_lists(recs, k)
    shown = {i for items in lists.values() for i in items} & catalogue
    return len(shown) / len(catalogue)


def novelty_at_k(recs: pd.DataFrame, train: pd.DataFrame, k: int = 10) -> float:
    """Mean self-information ``-log2(share of training users with the item)``."""
    pairs = train[["user_id", "item_id"]].astype(str).drop_duplicates()
    n_users = pairs["user_id"].nunique()
    share = pairs.groupby("item_id").size() / n_users
    lists = _rec_lists(recs, k)
    items = pd.Series([i for items in lists.values() for i in items], dtype=object)
    known = items[items.isin(share.index)]
    if known.empty:
        return float("nan")
    return float((-np.log2(share.loc[known].to_numpy())).mean())


def ranking_metrics(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    k: int = 10,
    catalogue: Iterable | None = None,
    train: pd.DataFrame | None = None,
) -> dict[str, float]:
    """All ranking metrics at once, named as in PROTOCOL.md (``@k`` filled in).

    ``coverage@k`` needs ``catalogue`` and ``novelty@k`` needs ``train``; each is
    left out when its input is not given.
    """
    hits, n_rel = hit_matrix(recs, truth, k)
    ap = _ap_sum(hits)
    first = np.where(hits.any(axis=1), 1.0 / (hits.argmax(axis=1) + 1), 0.0)
    out = {
        "map": _mean(ap / n_rel),
        f"map@{k}": _mean(ap / np.minimum(n_rel, k)),
        f"ndcg@{k}": _mean(_ndcg(hits, n_rel, k)),
        f"precision@{k}": _mean(hits.sum(axis=1) / k),
        f"recall@{k}": _mean(hits.sum(axis=1) / n_rel),
        f"hit@{k}": _mean(hits.any(axis=1).astype(float)),
        f"mrr@{k}": _mean(first),
    }
    if catalogue is not None:
        out[f"coverage@{k}"] = coverage_at_k(recs, catalogue, k)
    if train is not None:
        out[f"novelty@{k}"] = novelty_at_k(recs, train, k)
    out["users"] = float(len(n_rel))
    return out


def rmse(truth: Iterable[float], predicted: Iterable[float]) -> float:
    """Root mean squared error of predicted ratings."""
    t, p = _rating_arrays(truth, predicted)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(truth: Iterable[float], predicted: Iterable[float]) -> float:
    """Mean absolute error of predicted ratings."""
    t, p = _rating_arrays(truth, predicted)
    return float(np.mean(np.abs(t - p)))


def _rating_arrays(truth, predicted) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if t.shape != p.shape or t.size == 0:
        raise ValueError(
            "truth and predictions must be non-empty and of one shape, "
            f"got {t.shape} and {p.shape}"
        )
    if np.isnan(p).any():
        raise ValueError(f"{int(np.isnan(p).sum())} predictions are NaN")
    return t, p


def evaluate(
    model,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    on_unknown: str = "raise",
) -> dict[str, float]:
    """Fitted ``model`` on ``test``: full ranking of unseen catalogue items.

    Recommends to every user with a test row (seen = the user's items in the
    frame the model was fitted on) and returns :func:`ranking_metrics` plus
    ``recommend_seconds``.
    """
    users = np.array(sorted(test["user_id"].astype(str).unique()), dtype=object)
    start = time.perf_counter()
    recs = model.recommend(users, k=k, exclude_seen=True, on_unknown=on_unknown)
    seconds = time.perf_counter() - start
    out = ranking_metrics(recs, test, k=k, catalogue=model.item_ids_, train=train)
    out["recommend_seconds"] = seconds
    return out
