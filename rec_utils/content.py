"""Content-based recommendation: user profiles built from item features.

A user's profile is the rating-weighted mean of the feature vectors of the items
the user liked in training; every catalogue item is scored by its cosine with the
profile. Features come from anywhere, as long as they are aligned with a list of
item IDs: genre flags (:func:`genre_features`), bag-of-token TF-IDF and contextual
embeddings (:mod:`rec_utils.tokens`), or autoencoder codes
(:mod:`rec_utils.autoencoder`). Because scores depend only on item features, items
that no training user has seen (cold items) are scored like any other.

:func:`evaluate_on_candidates` ranks only a given subset of items, the protocol of
the item cold-start split (rank the cold items only).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import Recommender, as_id_array, top_k_frame
from .metrics import ranking_metrics

logger = logging.getLogger(__name__)

WEIGHTINGS = ("rating", "uniform")
FALLBACKS = ("all", "none")


def genre_features(
    items: pd.DataFrame, genres: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Multi-hot genre flags, one row per row of ``items`` (same order).

    Args:
        items: frame with a ``genres`` column holding a list of str per item.
        genres: the genre columns, in order. Default: every genre that occurs,
            sorted. Genres of an item not in this list are ignored.

    Returns:
        ``(flags, genres)``: a float64 array of shape (len(items), len(genres))
        with 1.0 where the item has the genre, and the genre of each column.
    """
    if "genres" not in items.columns:
        raise ValueError("items frame lacks the column 'genres'")
    lists = [
        list(g) if isinstance(g, list | tuple | np.ndarray) else []
        for g in items["genres"]
    ]
    if genres is None:
        genres = sorted({g for gs in lists for g in gs})
    column = {g: n for n, g in enumerate(genres)}
    flags = np.zeros((len(lists), len(genres)), dtype=np.float64)
    for row, gs in enumerate(lists):
        for g in gs:
            if g in column:
                flags[row, column[g]] = 1.0
    return flags, list(genres)


def _row_norms(features: np.ndarray | sp.csr_matrix) -> np.ndarray:
    if sp.issparse(features):
        return np.sqrt(np.asarray(features.multiply(features).sum(axis=1)).ravel())
    return np.linalg.norm(features, axis=1)


def l2_normalise_rows(features: np.ndarray | sp.csr_matrix):
    """Each row divided by its Euclidean norm; an all-zero row stays zero."""
    norms = _row_norms(features)
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    if sp.issparse(features):
        return sp.csr_matrix(sp.diags(inverse) @ features)
    return features * inverse[:, None]


class ContentBased(Recommender):
    """Cosine between a user's taste profile and each item's feature vector.

    With ``x_i`` the feature vector of item ``i``, ``r_ui`` the training rating
    and ``L_u`` the items user ``u`` liked (``r_ui >= like_threshold``):

    .. math::

        p_u = \\frac{\\sum_{i \\in L_u} w_{ui} x_i}{\\sum_{i \\in L_u} w_{ui}},
        \\qquad
        s_{ui} = \\frac{p_u \\cdot x_i}{\\lVert p_u \\rVert \\, \\lVert x_i \\rVert}

    with ``w_ui = r_ui`` (``weighting="rating"``) or 1 (``"uniform"``). A zero
    profile or a zero item vector gives the score 0, never NaN.

    Fallback: a user who liked nothing in training (every rating below the
    threshold) gets the profile of all their training items, weighted the same
    way (``fallback="all"``), or a zero profile and so all scores 0
    (``fallback="none"``). ``like_threshold=None`` uses every training item for
    everybody; with ``weighting="uniform"`` the profile is then, up to a factor
    that does not change the ranking, the sum of the rated items' features.

    The catalogue may hold items absent from training (cold items): fit with
    ``fit(train, items=item_ids)`` and they are scored from their features.
    A catalogue item without a feature row gets a zero vector (score 0) and a
    warning with the count.

    Args:
        item_features: dense array or sparse matrix, one row per item of
            ``item_ids``.
        item_ids: the item of each feature row.
        like_threshold: minimum rating of a liked item; ``None``: every item.
        weighting: ``"rating"`` or ``"uniform"``.
        fallback: ``"all"`` or ``"none"``, for users who liked nothing.
    """

    def __init__(
        self,
        item_features,
        item_ids: Sequence,
        like_threshold: float | None = 4.0,
        weighting: str = "rating",
        fallback: str = "all",
    ):
        self.item_features = item_features
        self.item_ids = item_ids
        self.like_threshold = like_threshold
        self.weighting = weighting
        self.fallback = fallback

    def _aligned_features(self):
        """Feature rows in catalogue order; zero rows for items without features."""
        features = self.item_features
        features = (
            sp.csr_matrix(features, dtype=np.float64)
            if sp.issparse(features)
            else np.asarray(features, dtype=np.float64)
        )
        ids = as_id_array(self.item_ids)
        if features.ndim != 2 or features.shape[0] != len(ids):
            raise ValueError(
                f"item_features has shape {features.shape} but item_ids has "
                f"{len(ids)} IDs: one feature row per item is needed"
            )
        if len(set(ids)) != len(ids):
            raise ValueError("item_ids holds repeated IDs")
        position = {i: n for n, i in enumerate(ids)}
        rows = np.array([position.get(i, -1) for i in self.item_ids_], dtype=np.int64)
        missing = int((rows < 0).sum())
        if missing:
            warnings.warn(
                f"{missing} catalogue item(s) have no feature row and score 0 "
                f"(first: {self.item_ids_[rows < 0][0]!r})",
                UserWarning,
                stacklevel=4,
            )
        if sp.issparse(features):
            padded = sp.vstack([features, sp.csr_matrix((1, features.shape[1]))])
            return sp.csr_matrix(padded[np.where(rows < 0, features.shape[0], rows)])
        padded = np.vstack([features, np.zeros((1, features.shape[1]))])
        return padded[np.where(rows < 0, features.shape[0], rows)]

    def _profile_weights(self) -> sp.csr_matrix:
        """Users x items weights ``w_ui`` of the profile (rows sum to 1 or 0)."""
        ratings = self.user_items_.tocsr().astype(np.float64)
        weights = ratings.copy()
        if self.weighting == "uniform":
            weights.data = np.ones_like(weights.data)
        if self.like_threshold is not None:
            liked = weights.copy()
            liked.data = np.where(ratings.data >= self.like_threshold, liked.data, 0.0)
            liked.eliminate_zeros()
            nothing = np.diff(liked.indptr) == 0
            if self.fallback == "all" and nothing.any():
                logger.debug(
                    "%d user(s) liked no training item: profile of all their items",
                    int(nothing.sum()),
                )
                keep = sp.diags((~nothing).astype(np.float64))
                fill = sp.diags(nothing.astype(np.float64))
                liked = sp.csr_matrix(keep @ liked + fill @ weights)
            weights = liked
        totals = np.asarray(weights.sum(axis=1)).ravel()
        inverse = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        return sp.csr_matrix(sp.diags(inverse) @ weights)

    def _fit(self, train: pd.DataFrame) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValueError(
                f"weighting must be one of {WEIGHTINGS}, not {self.weighting!r}"
            )
        if self.fallback not in FALLBACKS:
            raise ValueError(
                f"fallback must be one of {FALLBACKS}, not {self.fallback!r}"
            )
        features = self._aligned_features()
        profiles = self._profile_weights() @ features
        self.item_vectors_ = l2_normalise_rows(features)
        self.profiles_ = l2_normalise_rows(profiles)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        scores = self.profiles_[rows] @ self.item_vectors_.T
        if sp.issparse(scores):
            scores = scores.toarray()
        return np.asarray(scores, dtype=np.float64)


class RandomScores(Recommender):
    """Baseline: independent uniform scores in [0, 1) for every (user, item).

    User row ``r`` draws its scores from ``numpy.random.default_rng([seed, r])``,
    so a user's ranking does not depend on which other users are scored with it.
    """

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _fit(self, train: pd.DataFrame) -> None:
        pass

    def _score(self, rows: np.ndarray) -> np.ndarray:
        n_items = len(self.item_ids_)
        return np.array(
            [np.random.default_rng([self.seed, int(r)]).random(n_items) for r in rows]
        ).reshape(len(rows), n_items)


def evaluate_on_candidates(
    model: Recommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    candidates: Iterable,
    k: int = 10,
    on_unknown: str = "raise",
) -> dict[str, float]:
    """Rank only ``candidates`` (e.g. the cold items) for every test user.

    Every catalogue item is scored, then items outside ``candidates`` and the
    user's training items are removed before the top ``k`` is taken (ties:
    catalogue order). Truth rows on items outside ``candidates`` are dropped,
    so every user with a test row on a candidate is evaluated.

    Returns:
        :func:`~rec_utils.metrics.ranking_metrics` with ``coverage@k`` over the
        candidates, plus ``recommend_seconds``. ``novelty@k`` is left out: cold
        candidates have no training users, so their novelty is undefined.
    """
    candidates = {str(i) for i in candidates}
    unknown = candidates - set(model.item_ids_)
    if unknown:
        raise ValueError(
            f"{len(unknown)} candidate item(s) are not in the model's catalogue "
            f"(first: {sorted(unknown)[0]!r}); fit with items=... to include them"
        )
    truth = test.assign(
        user_id=test["user_id"].astype(str), item_id=test["item_id"].astype(str)
    )
    truth = truth[truth["item_id"].isin(candidates)]
    users = np.array(sorted(truth["user_id"].unique()), dtype=object)
    start = time.perf_counter()
    rows = model.user_rows(users, on_unknown)
    scores = model.score(users, on_unknown)
    outside = ~np.isin(model.item_ids_, list(candidates))
    scores[:, outside] = -np.inf
    recs = top_k_frame(scores, users, model.item_ids_, k, model.seen_mask(rows))
    seconds = time.perf_counter() - start
    out = ranking_metrics(recs, truth, k=k, catalogue=candidates)
    out["recommend_seconds"] = seconds
    return out
