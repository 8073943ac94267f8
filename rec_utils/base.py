"""The recommender interface every model of the collection follows.

A model is fitted on a long-format interactions frame (``user_id``, ``item_id``,
``rating``, ``timestamp``) and then answers:

* ``score(user_ids)``: a score for every catalogue item, shape (users, items);
* ``recommend(user_ids, k)``: the top ``k`` unseen items per user, as a frame;
* ``predict(user_ids, item_ids)``: a rating, for the models that predict ratings.

Subclasses implement ``_fit(train)`` and ``_score(rows)``; the base class keeps the
ID maps, the ``user_items`` matrix, the unknown-user policy and the tie-breaking
rule, so that every model behaves the same at the edges.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("user_id", "item_id", "rating")
UNKNOWN_POLICIES = ("raise", "popular")


def id_sort_key(ids: Iterable) -> list[str]:
    """IDs as strings, sorted numerically when all are integers, else lexically."""
    ids = [str(i) for i in ids]
    if all(i.isdigit() for i in ids):
        return sorted(ids, key=int)
    return sorted(ids)


def as_id_array(ids) -> np.ndarray:
    """Normalise one ID or a sequence of IDs to an array of ``str``.

    ``196`` and ``"196"`` name the same user: IDs are strings in every public
    function, whatever type the caller holds them in.
    """
    if isinstance(ids, str | int | np.integer):
        ids = [ids]
    return np.array([str(i) for i in ids], dtype=object)


def deduplicate_interactions(
    frame: pd.DataFrame, name: str = "interactions"
) -> pd.DataFrame:
    """Keep one row per (user, item): the latest by ``timestamp`` (else the last).

    Ratings of a repeated pair are never summed (a sparse matrix built from
    duplicates would add 4 and 5 up to 9). Warns with the number of rows dropped.
    """
    key = ["user_id", "item_id"]
    if not frame.duplicated(key).any():
        return frame
    ordered = frame
    if "timestamp" in frame.columns:
        ordered = frame.sort_values("timestamp", kind="stable")
    kept = ordered.drop_duplicates(key, keep="last").sort_index()
    dropped = len(frame) - len(kept)
    warnings.warn(
        f"{name}: {dropped} repeated (user_id, item_id) rows dropped, "
        "keeping the latest rating of each pair",
        UserWarning,
        stacklevel=3,
    )
    return kept


def build_user_items(
    frame: pd.DataFrame, user_index: dict[str, int], item_index: dict[str, int]
) -> sp.csr_matrix:
    """The users-by-items CSR matrix of ratings (one entry per pair, never summed)."""
    rows = np.fromiter((user_index[u] for u in frame["user_id"]), dtype=np.int64)
    cols = np.fromiter((item_index[i] for i in frame["item_id"]), dtype=np.int64)
    values = frame["rating"].to_numpy(dtype=np.float64)
    shape = (len(user_index), len(item_index))
    matrix = sp.csr_matrix((values, (rows, cols)), shape=shape)
    if matrix.nnz != len(frame):
        raise ValueError(
            "repeated (user_id, item_id) pairs: deduplicate before building"
        )
    return matrix


class Recommender:
    """Base class: ID maps, the ``user_items`` matrix, scoring and top-k lists.

    Attributes set by ``fit``:
        user_ids_: training users, in row order.
        item_ids_: the catalogue, in column order.
        user_index_, item_index_: ID -> row / column.
        user_items_: CSR matrix (users x items) of training ratings.
        item_popularity_: number of training users per item.

    Ties in ``recommend`` are broken by catalogue order (the earlier column wins),
    the same on every run.
    """

    def fit(self, train: pd.DataFrame, items: Iterable | None = None) -> Recommender:
        """Fit on ``train``; ``items`` optionally widens the catalogue.

        Args:
            train: interactions with at least ``user_id``, ``item_id``, ``rating``.
            items: catalogue item IDs (order kept). Items of ``train`` missing
                from it are appended. Default: the items of ``train``.
        """
        missing = [c for c in REQUIRED_COLUMNS if c not in train.columns]
        if missing:
            raise ValueError(f"training frame lacks column(s) {missing}")
        if train.empty:
            raise ValueError("training frame has no interactions: nothing to fit")
        train = train.assign(
            user_id=train["user_id"].astype(str), item_id=train["item_id"].astype(str)
        )
        train = deduplicate_interactions(train, "training frame")
        catalogue = [] if items is None else [str(i) for i in items]
        known = set(catalogue)
        catalogue += [
            i for i in id_sort_key(train["item_id"].unique()) if i not in known
        ]
        self.item_ids_ = np.array(catalogue, dtype=object)
        self.user_ids_ = np.array(id_sort_key(train["user_id"].unique()), dtype=object)
        self.user_index_ = {u: n for n, u in enumerate(self.user_ids_)}
        self.item_index_ = {i: n for n, i in enumerate(self.item_ids_)}
        self.user_items_ = build_user_items(train, self.user_index_, self.item_index_)
        self.item_popularity_ = np.diff(self.user_items_.tocsc().indptr).astype(
            np.float64
        )
        self._fit(train)
        return self

    # -- to implement -------------------------------------------------------------
    def _fit(self, train: pd.DataFrame) -> None:
        raise NotImplementedError

    def _score(self, rows: np.ndarray) -> np.ndarray:
        """Scores of the users at ``rows``: array of shape (len(rows), n_items)."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "user_items_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")

    def user_rows(self, user_ids, on_unknown: str = "raise") -> np.ndarray:
        """Row of each user; -1 for an unknown user when ``on_unknown="popular"``."""
        self._check_fitted()
        if on_unknown not in UNKNOWN_POLICIES:
            raise ValueError(
                f"on_unknown must be one of {UNKNOWN_POLICIES}, not {on_unknown!r}"
            )
        ids = as_id_array(user_ids)
        rows = np.array([self.user_index_.get(u, -1) for u in ids], dtype=np.int64)
        if on_unknown == "raise" and (rows < 0).any():
            unknown = ids[rows < 0]
            raise KeyError(
                f"user_id {unknown[0]!r} was not in the training data "
                f"({len(unknown)} unknown user(s)); pass on_unknown='popular' to "
                "fall back to popularity"
            )
        return rows

    def score(self, user_ids, on_unknown: str = "raise") -> np.ndarray:
        """A score for every catalogue item, shape (len(user_ids), n_items).

        Args:
            user_ids: IDs (str or int) of the users to score.
            on_unknown: ``"raise"`` (default) raises ``KeyError`` naming the first
                user unknown at fit time; ``"popular"`` scores such a user by item
                popularity in training.
        """
        rows = self.user_rows(user_ids, on_unknown)
        scores = np.empty((len(rows), len(self.item_ids_)), dtype=np.float64)
        known = rows >= 0
        if known.any():
            scores[known] = self._score(rows[known])
        if (~known).any():
            scores[~known] = self.item_popularity_
        return scores

    def seen_mask(self, rows: np.ndarray) -> sp.csr_matrix:
        """Boolean CSR of the training items of the users at ``rows`` (-1: none)."""
        empty = sp.csr_matrix((1, len(self.item_ids_)), dtype=bool)
        blocks = [self.user_items_[r] if r >= 0 else empty for r in rows]
        if not blocks:
            return sp.csr_matrix((0, len(self.item_ids_)), dtype=bool)
        return sp.vstack(blocks, format="csr").astype(bool)

    def recommend(
        self,
        user_ids,
        k: int = 10,
        exclude_seen: bool = True,
        on_unknown: str = "raise",
    ) -> pd.DataFrame:
        """Top-``k`` items per user as ``user_id, item_id, score, rank``.

        Seen items are the user's items in the frame given to ``fit``; with
        ``exclude_seen`` they are never returned. Items scored NaN or -inf are
        never returned either, so a user gets fewer than ``k`` rows only when
        fewer candidates exist. No item appears twice in a list. Ties are broken
        by catalogue order.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a whole number of at least 1, not {k!r}")
        ids = as_id_array(user_ids)
        rows = self.user_rows(ids, on_unknown)
        scores = self.score(ids, on_unknown)
        return top_k_frame(
            scores,
            ids,
            self.item_ids_,
            k,
            self.seen_mask(rows) if exclude_seen else None,
        )


def top_k_frame(
    scores: np.ndarray,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    k: int,
    seen: sp.csr_matrix | None = None,
) -> pd.DataFrame:
    """Turn a score matrix into a ranked top-``k`` frame (ties: earlier column wins)."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    scores[np.isnan(scores)] = -np.inf
    if seen is not None and seen.nnz:
        r, c = seen.nonzero()
        scores[r, c] = -np.inf
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(scores, order, axis=1)
    valid = top > -np.inf  # NaN was set to -inf; +inf is a valid best score
    n_rows = valid.sum(axis=1)
    ranks = np.tile(np.arange(1, k + 1), (len(user_ids), 1))
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.asarray(user_ids, dtype=object), n_rows),
            "item_id": np.asarray(item_ids, dtype=object)[order[valid]],
            "score": top[valid],
            "rank": ranks[valid],
        }
    )
