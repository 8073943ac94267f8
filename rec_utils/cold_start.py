"""Cold start: items nobody has rated and users nobody has seen, from their tokens.

Item cold start. :class:`FeatureMapEASE` learns, on warm items only, a linear map
from an item's features (token TF-IDF, embeddings, ...) to the item's column of
an EASE weight matrix, so a cold item is scored by the warm model as if it had
interactions. :func:`year_features` and :func:`stack_features` build and combine
item features; :func:`evaluate_cold_items` adds the per-user AUC
(:func:`per_user_auc`) to :func:`rec_utils.content.evaluate_on_candidates`.

User cold start. :class:`DemographicPopularity` ranks by popularity inside the
user's demographic group; :class:`DemographicNeighbours` maps the features of a
user's demographic sentence to the preferences of similar warm users (nearest
neighbours or a ridge map). :func:`reveal_first` moves a user's first test
ratings into training, for the warm-up curve.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import rankdata

from .base import Recommender, as_id_array
from .content import ContentBased, evaluate_on_candidates, l2_normalise_rows
from .metrics import evaluate
from .models import EASE, cosine_rows
from .splits import item_cold_start_split

logger = logging.getLogger(__name__)

NEIGHBOUR_METHODS = ("knn", "ridge")


# -- item features --------------------------------------------------------------------


def year_features(
    items: pd.DataFrame, edges: Sequence[int] = (1930, 1950, 1970, 1980, 1990, 1995)
) -> tuple[np.ndarray, list[str]]:
    """One-hot release-year bins, one row per row of ``items`` (same order).

    Bin ``b`` holds the years in ``[edges[b-1], edges[b])``; the first bin is
    everything before ``edges[0]`` and the last everything from ``edges[-1]`` on.
    An item with no year gets an all-zero row.

    Returns:
        ``(flags, names)``: float64 array (len(items), len(edges) + 1) and the
        bin name of each column, e.g. ``"1970-1979"``.
    """
    if "year" not in items.columns:
        raise ValueError("items frame lacks the column 'year'")
    edges = list(edges)
    names = [f"<{edges[0]}"]
    names += [f"{a}-{b - 1}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    names += [f">={edges[-1]}"]
    years = pd.to_numeric(items["year"], errors="coerce").to_numpy(dtype=float)
    flags = np.zeros((len(years), len(names)), dtype=np.float64)
    known = ~np.isnan(years)
    flags[np.where(known)[0], np.searchsorted(edges, years[known], side="right")] = 1
    return flags, names


def stack_features(
    blocks: Mapping[str, np.ndarray | sp.spmatrix],
    weights: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Side-by-side feature blocks, each row-L2-normalised, then weighted.

    With ``x_i^b`` the row of item ``i`` in block ``b`` and ``w_b`` its weight
    (default 1), the stacked row is ``[w_1 x_i^1 / |x_i^1|, w_2 x_i^2 / |x_i^2|,
    ...]``, so the dot product of two stacked rows is the weighted sum of
    ``w_b^2`` times the blocks' cosines. A block with weight 0 is left out.

    Returns:
        Dense float64 array with the blocks' columns in the order given.
    """
    weights = dict.fromkeys(blocks, 1.0) | dict(weights or {})
    unknown = set(weights) - set(blocks)
    if unknown:
        raise ValueError(f"weights name unknown block(s) {sorted(unknown)}")
    rows = {name: block.shape[0] for name, block in blocks.items()}
    if len(set(rows.values())) != 1:
        raise ValueError(f"blocks differ in their number of rows: {rows}")
    parts = []
    for name, block in blocks.items():
        if weights[name] == 0:
            continue
        block = block.toarray() if sp.issparse(block) else np.asarray(block, float)
        parts.append(weights[name] * l2_normalise_rows(block.astype(np.float64)))
    return np.hstack(parts)


# -- metrics --------------------------------------------------------------------------


def per_user_auc(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of each row: relevant vs other candidates.

    The share of (relevant, non-relevant) pairs of a row where the relevant item
    scores higher, ties counting one half (average ranks, Mann-Whitney):

    .. math::

        \\mathrm{AUC}_u = \\frac{\\sum_{i \\in R_u} \\mathrm{rank}_u(i)
        - |R_u| (|R_u| + 1) / 2}{|R_u| \\, |N_u|}

    with ``R_u`` the relevant and ``N_u`` the non-relevant candidates of row
    ``u`` and ranks ascending in the score (1 = lowest). A row without a
    relevant or without a non-relevant candidate gets NaN. Random scores give
    0.5 on average, a perfect ranking 1.

    Args:
        scores: (users, candidates) scores; only candidates are passed.
        relevant: boolean array of the same shape.
    """
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    if scores.shape != relevant.shape:
        raise ValueError(f"scores {scores.shape} and relevant {relevant.shape} differ")
    ranks = rankdata(scores, axis=1)
    n_rel = relevant.sum(axis=1)
    n_neg = relevant.shape[1] - n_rel
    rank_sum = (ranks * relevant).sum(axis=1)
    out = np.full(len(scores), np.nan)
    ok = (n_rel > 0) & (n_neg > 0)
    out[ok] = (rank_sum[ok] - n_rel[ok] * (n_rel[ok] + 1) / 2) / (n_rel[ok] * n_neg[ok])
    return out


def mean_auc(
    model: Recommender,
    test: pd.DataFrame,
    candidates: Iterable | None = None,
    on_unknown: str = "raise",
) -> float:
    """Mean :func:`per_user_auc` over the users of ``test``.

    The candidates of a user are ``candidates`` (default: the catalogue) minus
    the user's training items; test rows outside them are ignored. Users whose
    AUC is undefined (no relevant or no other candidate) are left out.
    """
    truth = test[["user_id", "item_id"]].astype(str)
    allowed = np.ones(len(model.item_ids_), dtype=bool)
    if candidates is not None:
        allowed = np.isin(model.item_ids_, [str(i) for i in candidates])
    truth = truth[truth["item_id"].isin(set(model.item_ids_[allowed]))]
    users = np.array(sorted(truth["user_id"].unique()), dtype=object)
    scores = model.score(users, on_unknown)
    seen = model.seen_mask(model.user_rows(users, on_unknown)).toarray()
    relevant = np.zeros(scores.shape, dtype=bool)
    relevant[
        np.searchsorted(users, truth["user_id"].to_numpy()),
        truth["item_id"].map(model.item_index_).to_numpy(),
    ] = True
    values = []
    for row in range(len(users)):
        keep = allowed & ~seen[row]
        values.append(per_user_auc(scores[row, keep][None], relevant[row, keep][None]))
    values = np.concatenate(values) if values else np.array([np.nan])
    return float(np.nanmean(values))


def evaluate_cold_items(
    model: Recommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    candidates: Iterable,
    k: int = 10,
    on_unknown: str = "popular",
) -> dict[str, float]:
    """:func:`~rec_utils.content.evaluate_on_candidates` plus ``auc`` (mean per user).

    Only ``candidates`` (the cold items) are ranked. A test user unknown in
    ``train`` falls back as ``on_unknown`` says (default: popularity, which ties
    on cold items and so ranks them in catalogue order).
    """
    candidates = [str(i) for i in candidates]
    out = evaluate_on_candidates(model, train, test, candidates, k, on_unknown)
    out["auc"] = mean_auc(model, test, candidates, on_unknown)
    return out


def evaluate_cold_users(
    model: Recommender, train: pd.DataFrame, test: pd.DataFrame, k: int = 10
) -> dict[str, float]:
    """Full ranking for the users of ``test`` (cold or not), plus mean ``auc``.

    Users unknown in ``train`` are passed with ``on_unknown="popular"``: the
    demographic models score them from their description, the others fall back
    to popularity.
    """
    out = evaluate(model, train, test, k=k, on_unknown="popular")
    out["auc"] = mean_auc(model, test, on_unknown="popular")
    return out


def select_on_validation(
    prototype: Recommender,
    grid: Sequence[Mapping[str, object]],
    train: pd.DataFrame,
    items: Sequence,
    frac: float = 0.2,
    seed: int = 0,
    k: int = 10,
) -> tuple[dict, pd.DataFrame]:
    """Choose parameters by cold-item ``ndcg@k`` on a validation split of ``train``.

    ``item_cold_start_split(train, frac, seed)`` holds out validation cold items
    from the training part (the test part is never touched); each grid point
    (parameter name -> value, set on a copy of ``prototype``) is fitted on the
    rest and ranks the validation cold items.

    Returns:
        ``(best, table)``: the best grid point (ties: the earlier) and every
        point with its ``ndcg@k``, best first.
    """
    fit_part, validation = item_cold_start_split(train, frac=frac, seed=seed)
    cold = sorted(validation["item_id"].astype(str).unique())
    rows = []
    for point in grid:
        model = copy.deepcopy(prototype)
        for name, value in point.items():
            if not hasattr(model, name):
                raise ValueError(f"{type(model).__name__} has no parameter {name!r}")
            setattr(model, name, value)
        model.fit(fit_part, items=items)
        result = evaluate_on_candidates(
            model, fit_part, validation, cold, k, on_unknown="popular"
        )
        rows.append({**point, f"ndcg@{k}": result[f"ndcg@{k}"]})
    table = pd.DataFrame(rows).sort_values(f"ndcg@{k}", ascending=False, kind="stable")
    best = dict(grid[int(table.index[0])])
    logger.info("validation: best %s, ndcg@%d %.4f", best, k, table.iloc[0, -1])
    return best, table.reset_index(drop=True)


# -- item cold start: a map from features to the collaborative model -----------------


class FeatureMapEASE(Recommender):
    """EASE on warm items, with a ridge map from item features to EASE columns.

    EASE (:class:`rec_utils.models.EASE`) is fitted on the warm items (those
    with training interactions), giving ``B`` (warm x warm). Column ``B[:, j]``
    says how much each warm item a user has speaks for item ``j``; it is the
    target ``t_j`` of item ``j``. A linear map ``W`` from the features ``f_j``
    to ``t_j`` is fitted by ridge regression on the warm items,

    .. math::

        W = \\arg\\min_W \\sum_{j \\,\\mathrm{warm}} \\lVert f_j W - t_j \\rVert^2
        + \\alpha \\lVert W \\rVert^2
        = F_w^\\top (F_w F_w^\\top + \\alpha I)^{-1} T_w,

    written in its dual (kernel) form, since items are fewer than token
    columns. A cold item ``c`` gets the predicted column ``\\hat t_c = f_c W``
    and the score ``s_{uc} = x_u \\cdot \\hat t_c``, with ``x_u`` the user's 0/1
    row over warm items: the warm model scores it as if it had interactions.
    Warm items keep their EASE scores ``x_u B``. No intercept: an item whose
    features are all zero scores 0.

    The score is linear in the features, ``s_uc = f_c . g_u`` with
    ``g_u = F_w^T (F_w F_w^T + alpha I)^{-1} T_w x_u``, so it splits into one
    contribution per feature column (:meth:`feature_contributions`).

    Args:
        item_features: dense array or sparse matrix, one row per item of
            ``item_ids`` (cold items included).
        item_ids: the item of each feature row.
        alpha: ridge penalty of the map.
        lam: the EASE penalty.
    """

    def __init__(
        self, item_features, item_ids: Sequence, alpha: float = 3.0, lam: float = 300.0
    ):
        self.item_features = item_features
        self.item_ids = item_ids
        self.alpha = alpha
        self.lam = lam

    def _fit(self, train: pd.DataFrame) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, not {self.alpha}")
        features = ContentBased._aligned_features(self)
        features = features.toarray() if sp.issparse(features) else features
        warm = np.flatnonzero(self.item_popularity_ > 0)
        ease = EASE(self.lam).fit(train, items=self.item_ids_[warm])
        targets = ease.weights_.T  # row j: the EASE column of warm item j
        kernel = features[warm] @ features[warm].T
        kernel[np.diag_indices_from(kernel)] += self.alpha
        dual = np.linalg.solve(kernel, targets)
        columns = features @ features[warm].T @ dual  # predicted t_i, every item
        columns[warm] = targets
        self.warm_ = warm
        self.features_ = features
        self.dual_ = dual
        self.columns_ = columns

    def _user_rows(self, rows: np.ndarray) -> np.ndarray:
        binary = self.user_items_[rows][:, self.warm_].toarray()
        return (binary > 0).astype(np.float64)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self._user_rows(rows) @ self.columns_.T

    def feature_contributions(self, user_ids, item_id) -> np.ndarray:
        """Per feature column, its share ``f_c[t] g_u[t]`` of the map's score.

        Averaged over ``user_ids``. Summed over the columns it gives the mean
        predicted score of ``item_id`` (for a cold item, its score).
        """
        rows = self.user_rows(user_ids)
        column = self.item_index_[str(item_id)]
        weights = self.features_[self.warm_].T @ (self.dual_ @ self._user_rows(rows).T)
        return self.features_[column] * weights.mean(axis=1)

    def nearest_warm_items(self, item_id, k: int = 5) -> pd.DataFrame:
        """The ``k`` warm items whose features have the largest cosine with the item's.

        Returns:
            Frame with ``item_id``, ``rank`` (1..k) and ``cosine``; ties by
            catalogue order. The item itself is left out.
        """
        column = self.item_index_[str(item_id)]
        warm = self.warm_[self.warm_ != column]
        cosine = cosine_rows(self.features_[[column]], self.features_[warm])[0]
        order = np.argsort(-cosine, kind="stable")[:k]
        return pd.DataFrame(
            {
                "item_id": self.item_ids_[warm[order]],
                "rank": np.arange(1, len(order) + 1),
                "cosine": cosine[order],
            }
        )


# -- user cold start ------------------------------------------------------------------


class _Described(Recommender):
    """Users with a description are scored from it, whether in training or not.

    Subclasses set ``described_`` (user_id -> position) in ``_fit`` and implement
    ``_score_described(positions)``. Users without a description follow the
    base class (``on_unknown``); training users without one get ``_score``.
    """

    def score(self, user_ids, on_unknown: str = "raise") -> np.ndarray:
        ids = as_id_array(user_ids)
        has = np.array([u in self.described_ for u in ids], dtype=bool)
        scores = np.empty((len(ids), len(self.item_ids_)), dtype=np.float64)
        if has.any():
            positions = np.array([self.described_[u] for u in ids[has]])
            scores[has] = self._score_described(positions)
        if (~has).any():
            scores[~has] = super().score(ids[~has], on_unknown)
        return scores

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.item_popularity_, (len(rows), 1))


def age_band(age, edges: Sequence[int] = (18, 25, 35, 45, 56)) -> str:
    """Age as a band label: ``"<18"``, ``"18-24"``, ..., ``">=56"``; none: ``"?"``."""
    if age is None or pd.isna(age):
        return "?"
    edges = list(edges)
    band = int(np.searchsorted(edges, float(age), side="right"))
    if band == 0:
        return f"<{edges[0]}"
    if band == len(edges):
        return f">={edges[-1]}"
    return f"{edges[band - 1]}-{edges[band] - 1}"


class DemographicPopularity(_Described):
    """Popularity inside the user's demographic group, shrunk to global popularity.

    A user's group is the tuple of its ``columns`` (``"age"`` is banded by
    :func:`age_band`). With ``n_g`` the training users of group ``g``,
    ``n_g(i)`` those of them who interacted with item ``i``, ``p(i)`` the share
    of all training users who did and ``beta = shrinkage``:

    .. math::

        s_{gi} = \\frac{n_g(i) + \\beta\\, p(i)}{n_g + \\beta}

    A small group leans on global popularity; an empty one is global
    popularity. Ties are broken by catalogue order.

    Args:
        users: frame with ``user_id`` and the ``columns``, for every user to be
            scored (training and cold users).
        columns: the demographic fields forming a group.
        shrinkage: ``beta``, in pseudo-users.
    """

    def __init__(
        self,
        users: pd.DataFrame,
        columns: Sequence[str] = ("gender", "age"),
        shrinkage: float = 10.0,
    ):
        self.users = users
        self.columns = columns
        self.shrinkage = shrinkage

    def _groups(self) -> pd.Series:
        missing = [c for c in self.columns if c not in self.users.columns]
        if missing:
            raise ValueError(f"users frame lacks column(s) {missing}")
        parts = []
        for column in self.columns:
            values = self.users[column]
            if column == "age":
                values = values.map(age_band)
            parts.append(values.astype(str))
        keys = parts[0].str.cat(parts[1:], sep="|") if len(parts) > 1 else parts[0]
        return pd.Series(keys.to_numpy(), index=self.users["user_id"].astype(str))

    def _fit(self, train: pd.DataFrame) -> None:
        groups = self._groups()
        self.described_ = {u: n for n, u in enumerate(groups.index)}
        self.group_of_ = groups.to_numpy()
        binary = (self.user_items_ > 0).astype(np.float64)
        share = self.item_popularity_ / max(len(self.user_ids_), 1)
        train_groups = groups.reindex(self.user_ids_).fillna("?").to_numpy()
        self.group_scores_ = {}
        for group in np.unique(train_groups):
            members = np.flatnonzero(train_groups == group)
            counts = np.asarray(binary[members].sum(axis=0)).ravel()
            self.group_scores_[group] = (counts + self.shrinkage * share) / (
                len(members) + self.shrinkage
            )
        self.global_scores_ = share

    def _score_described(self, positions: np.ndarray) -> np.ndarray:
        return np.array(
            [
                self.group_scores_.get(self.group_of_[p], self.global_scores_)
                for p in positions
            ]
        ).reshape(len(positions), len(self.item_ids_))


class DemographicNeighbours(_Described):
    """Preferences of the warm users whose demographic features are most similar.

    With ``f_u`` the feature row of user ``u`` (e.g. TF-IDF of the tokens of
    its demographic sentence, or its embedding), ``F`` those of the training
    users and ``X`` their 0/1 interaction rows:

    * ``method="knn"``: ``s_u = sum_{v in N_k(u)} cos(f_u, f_v) x_v``, over the
      ``k`` training users of largest cosine (ties: training-user order);
    * ``method="ridge"``: ``s_u = f_u F^T (F F^T + alpha I)^{-1} X``, the ridge
      map from features to interaction rows in its dual form.

    A training user with features is scored the same way (it is its own nearest
    neighbour, but its own items are seen and never recommended).

    Args:
        user_features: dense array or sparse matrix, one row per user of
            ``user_ids``.
        user_ids: the user of each row.
        method: ``"knn"`` or ``"ridge"``.
        k: neighbours of ``"knn"``.
        alpha: ridge penalty of ``"ridge"``.
    """

    def __init__(
        self,
        user_features,
        user_ids: Sequence,
        method: str = "knn",
        k: int = 50,
        alpha: float = 1.0,
    ):
        self.user_features = user_features
        self.user_ids = user_ids
        self.method = method
        self.k = k
        self.alpha = alpha

    def _fit(self, train: pd.DataFrame) -> None:
        if self.method not in NEIGHBOUR_METHODS:
            raise ValueError(
                f"method must be one of {NEIGHBOUR_METHODS}, not {self.method!r}"
            )
        features = self.user_features
        features = features.toarray() if sp.issparse(features) else features
        features = np.asarray(features, dtype=np.float64)
        ids = as_id_array(self.user_ids)
        if features.shape[0] != len(ids):
            raise ValueError(
                f"user_features has {features.shape[0]} rows but user_ids has "
                f"{len(ids)} IDs"
            )
        self.described_ = {u: n for n, u in enumerate(ids)}
        missing = [u for u in self.user_ids_ if u not in self.described_]
        if missing:
            raise ValueError(
                f"{len(missing)} training user(s) have no feature row "
                f"(first: {missing[0]!r})"
            )
        self.features_ = features
        self.train_features_ = features[[self.described_[u] for u in self.user_ids_]]
        self.binary_ = (self.user_items_ > 0).astype(np.float64).toarray()
        if self.method == "ridge":
            kernel = self.train_features_ @ self.train_features_.T
            kernel[np.diag_indices_from(kernel)] += self.alpha
            self.dual_ = np.linalg.solve(kernel, self.binary_)

    def _score_described(self, positions: np.ndarray) -> np.ndarray:
        queries = self.features_[positions]
        if self.method == "ridge":
            return queries @ self.train_features_.T @ self.dual_
        similarity = cosine_rows(queries, self.train_features_)
        k = min(self.k, similarity.shape[1])
        order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
        kept = np.zeros_like(similarity)
        np.put_along_axis(
            kept, order, np.take_along_axis(similarity, order, axis=1), axis=1
        )
        return kept @ self.binary_


def reveal_first(
    train: pd.DataFrame, test: pd.DataFrame, n: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Move each test user's first ``n`` test rows into training (the warm-up).

    "First" is by ``timestamp``, then ``item_id``: the ratings a new user would
    give first. A user with ``n`` or fewer test rows leaves the test part, so
    compare warm-up levels on users with more test rows than the largest ``n``.

    Returns:
        ``(train + revealed rows, remaining test rows)``.
    """
    if n < 0:
        raise ValueError(f"n must be at least 0, not {n}")
    order = test.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    position = order.groupby("user_id", sort=False).cumcount()
    revealed = order.index[position.to_numpy() < n]
    return (
        pd.concat([train, test.loc[revealed]]),
        test.drop(index=revealed),
    )
