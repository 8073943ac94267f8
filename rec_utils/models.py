"""Collaborative-filtering models: popularity, neighbourhoods, EASE, Mult-DAE, codes.

Every model subclasses :class:`rec_utils.base.Recommender`: ``fit(train)`` learns
from a long-format interactions frame, ``score(user_ids)`` gives a score for every
catalogue item and ``recommend(user_ids, k)`` the top ``k`` unseen items. The
catalogue is small (MovieLens-100K: 943 users x 1,682 items), so the models work
on dense NumPy matrices.

Notation used in the docstrings: ``R`` is the users x items matrix of training
ratings (0 = not rated), ``X`` the same matrix made binary (1 = interacted),
``u, v`` users and ``i, j`` items.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import Recommender, as_id_array
from .metrics import evaluate, mae, rmse

logger = logging.getLogger(__name__)

__all__ = [
    "EASE",
    "ItemKNN",
    "MultDAE",
    "Popularity",
    "UserKNN",
    "VectorCosine",
    "cosine_rows",
    "grid_search",
    "rating_metrics",
]


def _binary(user_items: sp.csr_matrix) -> sp.csr_matrix:
    """The 0/1 interaction matrix ``X`` of a ratings matrix."""
    binary = user_items.copy().astype(np.float64)
    binary.data[:] = 1.0
    return binary


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``.

    A zero row has cosine 0 with everything (never NaN).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    a = np.divide(a, norm_a, out=np.zeros_like(a), where=norm_a > 0)
    b = np.divide(b, norm_b, out=np.zeros_like(b), where=norm_b > 0)
    return a @ b.T


def _keep_top_k_columns(similarity: np.ndarray, k: int | None) -> np.ndarray:
    """Zero all but the ``k`` largest entries of every column (ties: lower row)."""
    if k is None or k >= similarity.shape[0]:
        return similarity
    order = np.argsort(-similarity, axis=0, kind="stable")[:k]
    kept = np.zeros_like(similarity)
    cols = np.arange(similarity.shape[1])
    kept[order, cols] = similarity[order, cols]
    return kept


# -- popularity ----------------------------------------------------------------------


class Popularity(Recommender):
    """Score of an item = number of training users who interacted with it.

    The same list for everyone (minus each user's seen items); ties are broken by
    catalogue order, as in the base class.
    """

    def _fit(self, train: pd.DataFrame) -> None:
        self.scores_ = self.item_popularity_.copy()

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.scores_, (len(rows), 1))


# -- rating baseline shared by the rating models -------------------------------------


class _RatingBaseline:
    """Global mean plus user and item biases, the fallback of rating prediction.

    ``mu`` is the mean training rating, ``b_u = mean_u - mu`` and
    ``b_i = mean_i - mu`` (plain means, no damping). A prediction for a pair whose
    user or item is unknown is ``mu`` plus the bias(es) that are known.
    """

    def _fit_baseline(self) -> None:
        ratings = self.user_items_
        counts_u = np.diff(ratings.indptr).astype(np.float64)
        counts_i = self.item_popularity_
        sums_u = np.asarray(ratings.sum(axis=1)).ravel()
        sums_i = np.asarray(ratings.sum(axis=0)).ravel()
        self.global_mean_ = float(ratings.data.mean())
        self.user_mean_ = sums_u / np.maximum(counts_u, 1.0)
        item_mean = np.divide(
            sums_i, counts_i, out=np.full_like(sums_i, np.nan), where=counts_i > 0
        )
        self.item_bias_ = np.nan_to_num(item_mean - self.global_mean_, nan=0.0)
        self.rating_range_ = (float(ratings.data.min()), float(ratings.data.max()))

    def _lookup(self, user_ids, item_ids) -> tuple[np.ndarray, np.ndarray]:
        users = as_id_array(user_ids)
        items = as_id_array(item_ids)
        if len(users) != len(items):
            raise ValueError(
                f"user_ids and item_ids differ in length: {len(users)} vs {len(items)}"
            )
        rows = np.array([self.user_index_.get(u, -1) for u in users], dtype=np.int64)
        cols = np.array([self.item_index_.get(i, -1) for i in items], dtype=np.int64)
        known_item = cols >= 0
        known_item[known_item] = self.item_popularity_[cols[known_item]] > 0
        cols[~known_item] = -1
        return rows, cols

    def _baseline(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        out = np.full(len(rows), self.global_mean_)
        known_u, known_i = rows >= 0, cols >= 0
        out[known_u] += self.user_mean_[rows[known_u]] - self.global_mean_
        out[known_i] += self.item_bias_[cols[known_i]]
        return out


def rating_metrics(model, test: pd.DataFrame) -> dict[str, float]:
    """``rmse`` and ``mae`` of ``model.predict`` over the rows of ``test``."""
    predicted = model.predict(test["user_id"].to_numpy(), test["item_id"].to_numpy())
    truth = test["rating"].to_numpy(dtype=np.float64)
    return {"rmse": rmse(truth, predicted), "mae": mae(truth, predicted)}


LOWER_IS_BETTER = ("rmse", "mae")


def grid_search(
    factory,
    grid: list[dict],
    train: pd.DataFrame,
    valid: pd.DataFrame,
    items=None,
    metric: str = "ndcg@10",
    k: int = 10,
    show_progress: bool = False,
) -> pd.DataFrame:
    """Fit ``factory(**params)`` on ``train`` for each ``params`` of ``grid``.

    Each model is scored on ``valid`` (never the test part): ranking metrics by
    :func:`rec_utils.metrics.evaluate` at cut-off ``k``, or ``rmse``/``mae`` by
    :func:`rating_metrics` when ``metric`` is one of them.

    Returns:
        One row per grid point (index = position in ``grid``) with the
        parameters and the metrics, best ``metric`` first (lowest for
        ``rmse``/``mae``, else highest; ties keep grid order). The best
        parameters are ``grid[table.index[0]]``.
    """
    from tqdm import tqdm

    if not grid:
        raise ValueError("grid is empty: give at least one parameter dict")
    rows = []
    for params in tqdm(grid, desc="grid", disable=not show_progress):
        model = factory(**params).fit(train, items=items)
        if metric in LOWER_IS_BETTER:
            scores = rating_metrics(model, valid)
        else:
            scores = evaluate(model, train, valid, k=k)
        if metric not in scores:
            raise KeyError(f"metric {metric!r} not among {sorted(scores)}")
        rows.append({**params, **scores})
        logger.info("grid %s: %s = %.4f", params, metric, scores[metric])
    table = pd.DataFrame(rows)
    ascending = metric in LOWER_IS_BETTER
    return table.sort_values(metric, ascending=ascending, kind="stable")


# -- user-based kNN ------------------------------------------------------------------


class UserKNN(_RatingBaseline, Recommender):
    r"""User-based nearest neighbours on explicit ratings.

    Similarity (``similarity="cosine"``) is the cosine over co-rated items,

    .. math::
        s_{uv} = \frac{\sum_{i \in I_{uv}} r_{ui} r_{vi}}
        {\sqrt{\sum_{i \in I_{uv}} r_{ui}^2}\sqrt{\sum_{i \in I_{uv}} r_{vi}^2}}
        \cdot \frac{n_{uv}}{n_{uv} + \lambda},

    with ``I_uv`` the items both rated, ``n_uv = |I_uv|`` and ``lambda`` the
    ``shrinkage`` (0 gives the plain cosine). The shrinkage factor pulls the
    similarity of users who share few items towards 0: with one co-rated item the
    plain cosine is always 1, whatever the two ratings. ``similarity="pearson"``
    takes the same cosine of the ratings minus each user's mean (over all the
    user's ratings). Pairs with ``n_uv < min_overlap`` get 0; a user never
    neighbours itself; cosine with an all-zero vector is 0, so such a user is
    never a neighbour.

    Neighbourhood: for user ``u`` and item ``i``, ``N_k(u, i)`` are the ``k`` users
    most similar to ``u`` among those who rated ``i`` (``k=None``: all of them).

    Predictions:

    * ``formula="source"`` (as the source design writes it): the unnormalised sum
      :math:`\hat r_{ui} = \sum_{v \in N_k(u,i)} s_{uv} r_{vi}`. It grows with the
      number of raters of ``i``, so it ranks like popularity and its values are
      not on the rating scale. An item nobody rated gets 0. Not clipped.
    * ``formula="centered"``: :math:`\hat r_{ui} = \bar r_u + \sum_{v} s_{uv}
      (r_{vi} - \bar r_v) / \sum_{v} |s_{uv}|` over ``v`` in ``N_k(u, i)``. When
      the denominator is 0 (no neighbour rated ``i``, or all similarities are 0)
      the prediction is the user mean. Clipped to the training rating range.

    Ranking (``ranking``):

    * ``"prediction"`` (default): rank by the formula's own prediction.
    * ``"neighbours"``: rank by :math:`\sum_{v \in N_k(u)} s_{uv} x_{vi}`, the
      summed similarity of ``u``'s ``k`` nearest neighbours overall
      (:math:`N_k(u)`) who interacted with ``i`` (``x`` = 1 if rated). This is
      the usual top-N form of user kNN: ranking by a predicted rating puts
      items with one enthusiastic rater first.

    ``predict`` for an unknown user or item uses the baseline
    ``global mean + known biases`` (see ``_RatingBaseline``).
    """

    def __init__(
        self,
        formula: str = "source",
        k: int | None = 50,
        shrinkage: float = 10.0,
        min_overlap: int = 1,
        similarity: str = "cosine",
        ranking: str = "prediction",
    ):
        self.formula = formula
        self.k = k
        self.shrinkage = shrinkage
        self.min_overlap = min_overlap
        self.similarity = similarity
        self.ranking = ranking

    def _check_args(self) -> None:
        choices = {
            "formula": ("source", "centered"),
            "similarity": ("cosine", "pearson"),
            "ranking": ("prediction", "neighbours"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {allowed}, not {getattr(self, name)!r}"
                )
        if self.shrinkage < 0:
            raise ValueError(f"shrinkage must be >= 0, not {self.shrinkage}")
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be at least 1 or None, not {self.k}")

    def _fit(self, train: pd.DataFrame) -> None:
        self._check_args()
        self._fit_baseline()
        ratings = self.user_items_.toarray()
        mask = (ratings != 0).astype(np.float64)
        values = ratings
        if self.similarity == "pearson":
            values = (ratings - self.user_mean_[:, None]) * mask
        self.similarity_ = self._similarity(values, mask)
        self.predictions_ = self._predict_all(ratings, mask)

    def _similarity(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        dot = values @ values.T
        squares = (values**2) @ mask.T  # [u, v] = sum over co-rated of values_u^2
        norm = np.sqrt(squares * squares.T)
        sim = np.divide(dot, norm, out=np.zeros_like(dot), where=norm > 0)
        overlap = mask @ mask.T
        if self.shrinkage > 0:
            sim *= overlap / (overlap + self.shrinkage)
        sim[overlap < max(self.min_overlap, 1)] = 0.0
        np.fill_diagonal(sim, 0.0)
        return sim

    def _predict_all(self, ratings: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Predictions of every (user, item), one item at a time over its raters."""
        n_users, n_items = ratings.shape
        sim = self.similarity_
        centered = self.formula == "centered"
        out = np.zeros((n_users, n_items))
        if centered:
            out[:] = self.user_mean_[:, None]
        csc = sp.csc_matrix(ratings)
        for i in range(n_items):
            raters = csc.indices[csc.indptr[i] : csc.indptr[i + 1]]
            if len(raters) == 0:
                continue
            weights = sim[:, raters]
            values = ratings[raters, i]
            if centered:
                values = values - self.user_mean_[raters]
            if self.k is not None and len(raters) > self.k:
                top = np.argpartition(-weights, self.k - 1, axis=1)[:, : self.k]
                weights = np.take_along_axis(weights, top, axis=1)
                values = values[top]
            else:
                values = np.broadcast_to(values, weights.shape)
            total = (weights * values).sum(axis=1)
            if not centered:
                out[:, i] = total
                continue
            norm = np.abs(weights).sum(axis=1)
            has = norm > 0
            out[has, i] += total[has] / norm[has]
        if centered:
            np.clip(out, *self.rating_range_, out=out)
        return out

    def predict(self, user_ids, item_ids) -> np.ndarray:
        """Predicted ratings of the pairs ``(user_ids[n], item_ids[n])``.

        Unknown users or items (and items with no training rating) get the
        baseline ``global mean + known biases``. Never NaN.
        """
        self._check_fitted()
        rows, cols = self._lookup(user_ids, item_ids)
        out = self._baseline(rows, cols)
        known = (rows >= 0) & (cols >= 0)
        out[known] = self.predictions_[rows[known], cols[known]]
        return out

    def _score(self, rows: np.ndarray) -> np.ndarray:
        if self.ranking == "prediction":
            return self.predictions_[rows]
        sim = _keep_top_k_columns(self.similarity_[rows].T, self.k).T
        return np.asarray(_binary(self.user_items_).T.dot(sim.T).T)


# -- item-based kNN ------------------------------------------------------------------


class ItemKNN(Recommender):
    r"""Item-based nearest neighbours on implicit (binary) interactions.

    With ``X`` the binary users x items matrix and ``n_ij`` the number of users
    who interacted with both ``i`` and ``j``,

    .. math::
        s_{ij} = \frac{n_{ij}}{\sqrt{n_i}\sqrt{n_j}} \cdot
        \frac{n_{ij}}{n_{ij} + \lambda},

    the cosine of the item columns times the same shrinkage factor as
    :class:`UserKNN` (``lambda = shrinkage``; 0 gives the plain cosine). The
    diagonal is 0; each item ``j`` keeps its ``k`` most similar items ``i`` (the
    largest entries of column ``j``) and the rest are set to 0. An item nobody
    interacted with has similarity 0 with all.

    Score: ``X @ S``, i.e. :math:`\hat x_{uj} = \sum_{i \in I_u} s_{ij}`.
    """

    def __init__(self, k: int | None = 100, shrinkage: float = 10.0):
        self.k = k
        self.shrinkage = shrinkage

    def _fit(self, train: pd.DataFrame) -> None:
        if self.shrinkage < 0:
            raise ValueError(f"shrinkage must be >= 0, not {self.shrinkage}")
        binary = _binary(self.user_items_)
        overlap = (binary.T @ binary).toarray()
        norms = np.sqrt(np.diag(overlap))
        outer = np.outer(norms, norms)
        sim = np.divide(overlap, outer, out=np.zeros_like(overlap), where=outer > 0)
        if self.shrinkage > 0:
            sim *= overlap / (overlap + self.shrinkage)
        np.fill_diagonal(sim, 0.0)
        self.similarity_ = _keep_top_k_columns(sim, self.k)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        binary = _binary(self.user_items_[rows])
        return np.asarray(binary @ self.similarity_)


# -- EASE ------------------------------------------------------------------------


class EASE(Recommender):
    r"""Embarrassingly shallow autoencoder (Steck, 2019), closed form.

    .. math::
        P = (X^\top X + \lambda I)^{-1}, \qquad
        B = I - P \,\mathrm{diag}(1 / \mathrm{diag}(P)),

    so that ``B`` has a zero diagonal (``B_ij = -P_ij / P_jj`` off it). ``X`` is
    the binary users x items matrix and ``lambda = lam`` the L2 penalty. Score:
    ``X @ B``.
    """

    def __init__(self, lam: float = 300.0):
        self.lam = lam

    def _fit(self, train: pd.DataFrame) -> None:
        if self.lam <= 0:
            raise ValueError(f"lam must be > 0, not {self.lam}")
        binary = _binary(self.user_items_)
        gram = (binary.T @ binary).toarray()
        gram[np.diag_indices_from(gram)] += self.lam
        inverse = np.linalg.inv(gram)
        weights = -inverse / np.diag(inverse)[None, :]
        np.fill_diagonal(weights, 0.0)
        self.weights_ = weights

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(_binary(self.user_items_[rows]) @ self.weights_)


# -- Mult-DAE ----------------------------------------------------------------------


class MultDAE(Recommender):
    r"""Denoising autoencoder with multinomial likelihood (Liang et al., 2018).

    Each user's binary interaction row ``x_u`` is L2-normalised, corrupted by
    dropout (rate ``dropout``, survivors scaled by ``1/(1-dropout)``), passed
    through ``items -> hidden -> latent -> hidden -> items`` with tanh between
    layers (``hidden=0`` or ``None``: the shallow ``items -> latent -> items``),
    and turned into a distribution over items by a softmax. The loss of
    a batch ``B`` is the mean multinomial negative log-likelihood

    .. math::
        \mathcal{L} = -\frac{1}{|B|} \sum_{u \in B} \sum_i x_{ui}
        \log \mathrm{softmax}(f(\tilde x_u))_i,

    plus ``weight_decay`` (Adam's L2 term). A user with no interaction has a
    zero row: its normalised input stays 0 and its loss term is 0, so the loss
    stays finite. Score = the output logits (ranking by them equals ranking by
    the softmax).

    Deterministic given ``seed``: weights, dropout masks and batch order come
    from generators seeded with it; the global random state is left untouched.
    """

    label = "Mult-DAE"  # names the model in the progress bar and the log

    def __init__(
        self,
        hidden: int = 600,
        latent: int = 200,
        dropout: float = 0.5,
        epochs: int = 100,
        lr: float = 1e-3,
        batch_size: int = 128,
        weight_decay: float = 0.0,
        seed: int = 0,
        show_progress: bool = True,
    ):
        self.hidden = hidden
        self.latent = latent
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.seed = seed
        self.show_progress = show_progress

    def _network(self, n_items: int):
        import torch
        from torch import nn

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if not self.hidden:
                return nn.Sequential(
                    nn.Linear(n_items, self.latent),
                    nn.Tanh(),
                    nn.Linear(self.latent, n_items),
                )
            return nn.Sequential(
                nn.Linear(n_items, self.hidden),
                nn.Tanh(),
                nn.Linear(self.hidden, self.latent),
                nn.Tanh(),
                nn.Linear(self.latent, self.hidden),
                nn.Tanh(),
                nn.Linear(self.hidden, n_items),
            )

    @staticmethod
    def multinomial_loss(logits, target):
        """Mean over rows of ``-sum_i x_i log softmax(logits)_i``."""
        import torch

        return -(torch.log_softmax(logits, dim=1) * target).sum(dim=1).mean()

    def _forward(self, batch, generator=None):
        import torch

        inputs = torch.nn.functional.normalize(batch, dim=1)
        if generator is not None and self.dropout > 0:
            keep = 1.0 - self.dropout
            mask = torch.bernoulli(torch.full_like(inputs, keep), generator=generator)
            inputs = inputs * mask / keep
        return self.network_(inputs)

    def _fit(self, train: pd.DataFrame) -> None:
        import torch
        from tqdm import tqdm

        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), not {self.dropout}")
        data = torch.from_numpy(_binary(self.user_items_).toarray().astype(np.float32))
        self.network_ = self._network(data.shape[1])
        optimiser = torch.optim.Adam(
            self.network_.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        generator = torch.Generator().manual_seed(self.seed)
        order_rng = np.random.RandomState(self.seed)
        self.history_ = []
        bar = tqdm(range(self.epochs), desc=self.label, disable=not self.show_progress)
        self.network_.train()
        for _ in bar:
            total = 0.0
            order = order_rng.permutation(len(data))
            for start in range(0, len(order), self.batch_size):
                batch = data[order[start : start + self.batch_size]]
                loss = self.multinomial_loss(self._forward(batch, generator), batch)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            self.history_.append(total / len(data))
            bar.set_postfix(loss=f"{self.history_[-1]:.2f}")
        self.network_.eval()
        logger.info("%s: final training loss %.3f", self.label, self.history_[-1])

    def _score(self, rows: np.ndarray) -> np.ndarray:
        import torch

        batch = _binary(self.user_items_[rows]).toarray().astype(np.float32)
        with torch.no_grad():
            logits = self._forward(torch.from_numpy(batch))
        return logits.numpy().astype(np.float64)


# -- cosine between given user and item vectors --------------------------------------


class VectorCosine(Recommender):
    """Score = cosine between a given user vector and a given item vector.

    The source design's last step: users and items are encoded elsewhere (e.g. as
    token-autoencoder codes) into one space and ranked by cosine. ``fit`` only
    aligns the vectors with the training users and the catalogue; pass
    ``items=item_vectors.index`` to ``fit`` to make every vector's item a
    candidate.

    A training user or catalogue item with no vector, or with a zero vector,
    scores 0 (never NaN); the number of missing ones is warned about.

    Args:
        user_vectors: one row per user, indexed by ``user_id``.
        item_vectors: one row per item, indexed by ``item_id``, same width.
    """

    def __init__(self, user_vectors: pd.DataFrame, item_vectors: pd.DataFrame):
        self.user_vectors = user_vectors
        self.item_vectors = item_vectors

    @staticmethod
    def _aligned(vectors: pd.DataFrame, ids: np.ndarray, kind: str) -> np.ndarray:
        frame = vectors.copy()
        frame.index = frame.index.astype(str)
        if frame.index.duplicated().any():
            dup = frame.index[frame.index.duplicated()][0]
            raise ValueError(f"{kind}_vectors: {kind}_id {dup!r} appears twice")
        missing = ~pd.Index(ids).isin(frame.index)
        if missing.any():
            warnings.warn(
                f"{int(missing.sum())} of {len(ids)} {kind}s have no vector and "
                "score 0",
                UserWarning,
                stacklevel=4,
            )
        return frame.reindex(ids).fillna(0.0).to_numpy(dtype=np.float64)

    def _fit(self, train: pd.DataFrame) -> None:
        if self.user_vectors.shape[1] != self.item_vectors.shape[1]:
            raise ValueError(
                "user and item vectors differ in width: "
                f"{self.user_vectors.shape[1]} vs {self.item_vectors.shape[1]}"
            )
        self.user_matrix_ = self._aligned(self.user_vectors, self.user_ids_, "user")
        self.item_matrix_ = self._aligned(self.item_vectors, self.item_ids_, "item")

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return cosine_rows(self.user_matrix_[rows], self.item_matrix_)
