"""Score fusion and rank fusion of several recommenders, and their weight search.

Both fusions are recommenders themselves: ``fit`` fits every part on the same
training frame (or, with ``prefit=True``, checks parts that are already fitted),
and ``score`` combines the parts' scores item by item. Parts are aligned by item
ID, so their catalogues must hold the same items (in any order).

* :class:`ScoreFusion` normalises each part's scores per user over that user's
  candidate items (the catalogue items not seen in training), then takes a
  weighted sum.
* :class:`RankFusion` is reciprocal-rank fusion: each part contributes
  ``weight / (c + rank)`` for every candidate item.

:func:`select_fusion_weights` tries a grid of weights on a validation split and
returns the best by ``ndcg@k``; every part is fitted and scored once, and each grid
point only re-combines the cached matrices.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm import tqdm

from .base import Recommender, as_id_array

logger = logging.getLogger(__name__)

NORMALISERS = ("minmax", "zscore")
METHODS = ("score", "rank")


# -- per-user transforms ------------------------------------------------------------


def _finite_candidates(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    return candidates & np.isfinite(scores)


def normalise_scores(
    scores: np.ndarray, candidates: np.ndarray, method: str = "minmax"
) -> np.ndarray:
    """Per-row affine normalisation with statistics over the candidate entries.

    With ``C_u`` the finite candidate scores of row ``u``:

    * ``"minmax"``: ``(s - min C_u) / (max C_u - min C_u)``, candidates in [0, 1];
    * ``"zscore"``: ``(s - mean C_u) / std C_u`` (population std).

    The same transform is applied to the non-candidate entries of the row (they
    may fall outside [0, 1]). A row whose candidates are all equal, or which has
    no finite candidate, becomes all zeros. NaN and -inf become the row's lowest
    normalised candidate value, +inf the highest, so the output is always finite.

    Args:
        scores: array (users, items).
        candidates: boolean array of the same shape.
        method: ``"minmax"`` or ``"zscore"``.
    """
    if method not in NORMALISERS:
        raise ValueError(f"normalise must be one of {NORMALISERS}, not {method!r}")
    scores = np.asarray(scores, dtype=np.float64)
    mask = _finite_candidates(scores, np.asarray(candidates, dtype=bool))
    count = mask.sum(axis=1)
    filled = np.where(mask, scores, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # all-NaN rows (no finite candidate) are handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        if method == "minmax":
            low = np.nanmin(filled, axis=1)
            spread = np.nanmax(filled, axis=1) - low
        else:
            low = np.nanmean(filled, axis=1)
            spread = np.nanstd(filled, axis=1)
        good = (count > 0) & (spread > 0)
        low = np.where(good, low, 0.0)
        spread = np.where(good, spread, 1.0)
        out = (scores - low[:, None]) / spread[:, None]
        lowest = np.nanmin(np.where(mask, out, np.nan), axis=1)
        highest = np.nanmax(np.where(mask, out, np.nan), axis=1)
    out[~good] = 0.0
    lowest = np.where(good, lowest, 0.0)
    highest = np.where(good, highest, 0.0)
    out = np.where(np.isnan(out) | np.isneginf(out), lowest[:, None], out)
    return np.where(np.isposinf(out), highest[:, None], out)


def candidate_ranks(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Rank 1..n of each candidate item within its row; 0 for non-candidates.

    Higher score = better rank; ties are broken by column order (the earlier
    column ranks first), as in :meth:`Recommender.recommend`; NaN ranks last.
    """
    scores = np.where(np.isnan(scores), -np.inf, np.asarray(scores, dtype=np.float64))
    candidates = np.asarray(candidates, dtype=bool)
    # primary key: candidates first; secondary: higher score first; lexsort is
    # stable, so equal keys keep column order
    order = np.lexsort((-scores, ~candidates), axis=-1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
    return np.where(candidates, ranks, 0)


def reciprocal_ranks(
    scores: np.ndarray, candidates: np.ndarray, c: float = 60.0
) -> np.ndarray:
    """``1 / (c + rank)`` of each candidate item within its row, 0 elsewhere."""
    ranks = candidate_ranks(scores, candidates)
    return np.where(ranks > 0, 1.0 / (c + ranks), 0.0)


# -- fusion recommenders ------------------------------------------------------------


def _check_weights(names: Iterable[str], weights: Mapping[str, float]) -> dict:
    names = list(names)
    extra = sorted(set(weights) - set(names))
    missing = [n for n in names if n not in weights]
    if extra or missing:
        raise ValueError(
            f"weights must name every part exactly: missing {missing}, unknown {extra}"
        )
    weights = {n: float(weights[n]) for n in names}
    if any(w < 0 or not np.isfinite(w) for w in weights.values()):
        raise ValueError(f"weights must be finite and non-negative, got {weights}")
    if not any(w > 0 for w in weights.values()):
        raise ValueError("at least one weight must be positive")
    return weights


def part_columns(part: Recommender, item_ids: Sequence[str]) -> np.ndarray:
    """Column of each of ``item_ids`` in a fitted part's catalogue.

    Raises:
        ValueError: if the two catalogues do not hold the same items.
    """
    ids = as_id_array(item_ids)
    theirs = set(part.item_ids_)
    ours = set(ids)
    if theirs != ours:
        only_ours = sorted(ours - theirs)[:3]
        only_theirs = sorted(theirs - ours)[:3]
        raise ValueError(
            f"{type(part).__name__}: catalogues must agree; items only in the "
            f"fusion: {only_ours}, only in the part: {only_theirs} (fit every "
            "part and the fusion with the same items=...)"
        )
    return np.array([part.item_index_[i] for i in ids], dtype=np.int64)


class _Fusion(Recommender):
    """Shared fitting and alignment of the parts."""

    def fit(self, train: pd.DataFrame, items: Iterable | None = None) -> _Fusion:
        """Fit every part on ``train`` (unless ``prefit``), then align them.

        With ``prefit=True`` and no ``items``, the catalogue is the first part's.
        """
        if self.prefit and items is None and self.models:
            first = next(iter(self.models.values()))
            items = getattr(first, "item_ids_", None)
        return super().fit(train, items=items)

    def _fit(self, train: pd.DataFrame) -> None:
        if not self.models:
            raise ValueError("fusion needs at least one part")
        self.weights_ = self._weights()
        for name, part in self.models.items():
            if not self.prefit:
                logger.info("fusion: fitting part %r", name)
                part.fit(train, items=self.item_ids_)
            elif not hasattr(part, "user_items_"):
                raise RuntimeError(f"part {name!r} is not fitted but prefit=True")
        self.columns_ = {
            name: part_columns(part, self.item_ids_)
            for name, part in self.models.items()
        }
        for name, part in self.models.items():
            unknown = set(self.user_ids_) - set(part.user_ids_)
            if unknown:
                raise ValueError(
                    f"part {name!r} was fitted without {len(unknown)} training "
                    f"user(s) (first: {sorted(unknown)[0]!r}): fit all on one train"
                )

    def part_scores(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Raw scores of part ``name`` for the users at ``rows``, fusion columns."""
        part = self.models[name]
        scores = part.score(self.user_ids_[rows])
        return scores[:, self.columns_[name]]

    def _candidates(self, rows: np.ndarray) -> np.ndarray:
        return ~self.user_items_[rows].toarray().astype(bool)


class ScoreFusion(_Fusion):
    """Weighted sum of per-user normalised scores.

    .. math::

        s_{ui} = \\sum_m w_m \\, \\mathrm{norm}_u(s^{(m)}_{u\\cdot})_i

    where ``norm_u`` is min-max or z-score scaling with statistics over user
    ``u``'s candidate items (catalogue items not seen in training); see
    :func:`normalise_scores`. A part with weight 0 is fitted but not scored.
    With weights 1 and 0 the fusion ranks exactly as the weighted part.

    Args:
        models: name -> recommender.
        weights: name -> non-negative weight, one per part.
        normalise: ``"minmax"`` or ``"zscore"``.
        prefit: the parts are already fitted on the same training frame (and
            catalogue); ``fit`` then only checks and aligns them.
    """

    def __init__(
        self,
        models: Mapping[str, Recommender],
        weights: Mapping[str, float],
        normalise: str = "minmax",
        prefit: bool = False,
    ):
        self.models = models
        self.weights = weights
        self.normalise = normalise
        self.prefit = prefit

    def _weights(self) -> dict[str, float]:
        if self.normalise not in NORMALISERS:
            raise ValueError(
                f"normalise must be one of {NORMALISERS}, not {self.normalise!r}"
            )
        return _check_weights(self.models, self.weights)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        candidates = self._candidates(rows)
        fused = np.zeros((len(rows), len(self.item_ids_)))
        for name, weight in self.weights_.items():
            if weight > 0:
                scores = self.part_scores(name, rows)
                fused += weight * normalise_scores(scores, candidates, self.normalise)
        return fused


class RankFusion(_Fusion):
    """Weighted reciprocal-rank fusion (Cormack et al., 2009).

    .. math::

        s_{ui} = \\sum_m \\frac{w_m}{c + \\mathrm{rank}^{(m)}_u(i)}

    where ``rank_u^(m)(i)`` is item ``i``'s rank (1 = best) among user ``u``'s
    candidate items by part ``m``'s score (ties: catalogue order). Seen items
    score 0. ``c`` damps the weight of the very top ranks (60 in the paper).

    Args:
        models: name -> recommender.
        weights: name -> non-negative weight; default 1 for every part.
        c: the rank offset, positive.
        prefit: as in :class:`ScoreFusion`.
    """

    def __init__(
        self,
        models: Mapping[str, Recommender],
        weights: Mapping[str, float] | None = None,
        c: float = 60.0,
        prefit: bool = False,
    ):
        self.models = models
        self.weights = weights
        self.c = c
        self.prefit = prefit

    def _weights(self) -> dict[str, float]:
        if not self.c > 0:
            raise ValueError(f"c must be positive, not {self.c}")
        weights = self.weights
        if weights is None:
            weights = dict.fromkeys(self.models, 1.0)
        return _check_weights(self.models, weights)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        candidates = self._candidates(rows)
        fused = np.zeros((len(rows), len(self.item_ids_)))
        for name, weight in self.weights_.items():
            if weight > 0:
                scores = self.part_scores(name, rows)
                fused += weight * reciprocal_ranks(scores, candidates, self.c)
        return fused


# -- weight search ------------------------------------------------------------------


def simplex_grid(names: Sequence[str], step: float = 0.25) -> list[dict[str, float]]:
    """Every weighting with weights in multiples of ``step`` that sum to 1.

    The grid holds each single part (weight 1, the others 0), so a search over it
    can always fall back to the best part alone. Ordered with single parts first,
    then by the number of parts used.
    """
    n = int(round(1.0 / step))
    if n < 1 or not np.isclose(n * step, 1.0):
        raise ValueError(f"1 / step must be a whole number, not {1.0 / step}")
    grid = [
        dict(zip(names, (c / n for c in combo), strict=True))
        for combo in itertools.product(range(n + 1), repeat=len(names))
        if sum(combo) == n
    ]
    return sorted(grid, key=lambda w: sum(v > 0 for v in w.values()))


def top_k_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """Columns of the ``k`` best scores per row, best first (ties: earlier column).

    The same order as :func:`rec_utils.base.top_k_frame`, found with a partition
    instead of a full sort. Non-finite entries should be -inf; the caller drops
    them.
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
    above = scores > kth[:, None]
    tied = scores == kth[:, None]
    room = k - above.sum(axis=1)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= room[:, None]))
    columns = np.nonzero(chosen)[1].reshape(n_rows, k)
    values = np.take_along_axis(scores, columns, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(columns, order, axis=1)


def ndcg_from_scores(
    scores: np.ndarray, seen: np.ndarray, relevant: np.ndarray, n_relevant, k: int
) -> float:
    """Mean ``ndcg@k`` of full rankings, as :func:`rec_utils.metrics.ranking_metrics`.

    Args:
        scores: (users, items) fused scores.
        seen: boolean (users, items), training items (never recommended).
        relevant: boolean (users, items), the users' test items in the catalogue.
        n_relevant: per user, the number of distinct test items (also those
            outside the catalogue, which no ranking can hit).
        k: the cut-off.
    """
    masked = np.where(seen | np.isnan(scores), -np.inf, scores)
    top = top_k_columns(masked, k)
    valid = np.isfinite(np.take_along_axis(masked, top, axis=1))
    hits = np.take_along_axis(relevant, top, axis=1) & valid
    weights = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    ideal = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    n_relevant = np.asarray(n_relevant)
    dcg = (hits * weights).sum(axis=1)
    return float(np.mean(dcg / ideal[np.minimum(n_relevant, k) - 1]))


def select_fusion_weights(
    models: Mapping[str, Recommender],
    train: pd.DataFrame,
    validation: pd.DataFrame,
    grid: Sequence[Mapping[str, float]] | None = None,
    *,
    method: str = "score",
    normalise: str = "minmax",
    c: float = 60.0,
    k: int = 10,
    items: Iterable | None = None,
    prefit: bool = False,
    show_progress: bool = True,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Choose fusion weights by ``ndcg@k`` on a validation split.

    Every part is fitted once on ``train`` (skipped with ``prefit=True``: the
    parts must then be fitted on ``train``), the validation users are scored
    once per part and the per-user normalised scores (``method="score"``) or
    reciprocal ranks (``method="rank"``) are cached; each grid point only forms
    the weighted sum and ranks it. Validation users unknown in ``train`` are
    left out (logged). The ranking follows :meth:`Recommender.recommend`: seen
    items removed, ties broken by catalogue order.

    Args:
        models: name -> recommender.
        train, validation: the validation split of the training part (never the
            test part).
        grid: weightings to try; default :func:`simplex_grid` with step 0.25.
            It should hold each part alone so the fusion can fall back to one.
        method: ``"score"`` (:class:`ScoreFusion`) or ``"rank"``
            (:class:`RankFusion`).
        normalise: the normaliser of ``method="score"``.
        c: the offset of ``method="rank"``.
        k: the cut-off of ``ndcg@k``.
        items: the catalogue to fit on (e.g. every item ID).
        prefit: the parts are already fitted on ``train``.
        show_progress: a tqdm bar over the grid.

    Returns:
        ``(best, table)``: the best weights (ties: the earlier grid point) and a
        frame of every grid point with one column per part and ``ndcg@k``,
        best first.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    names = list(models)
    grid = simplex_grid(names) if grid is None else [dict(g) for g in grid]
    grid = [_check_weights(names, weights) for weights in grid]
    if method == "score":
        fusion = ScoreFusion(models, dict.fromkeys(names, 1.0), normalise, prefit)
    else:
        fusion = RankFusion(models, None, c, prefit)
    fusion.fit(train, items=items)

    truth = validation[["user_id", "item_id"]].astype(str).drop_duplicates()
    known = truth["user_id"].isin(fusion.user_index_)
    if (~known).any():
        logger.info(
            "weight search: %d validation user(s) unknown in train left out",
            truth.loc[~known, "user_id"].nunique(),
        )
    truth = truth[known]
    users = np.array(sorted(truth["user_id"].unique()), dtype=object)
    rows = fusion.user_rows(users)
    n_relevant = truth.groupby("user_id").size().loc[users].to_numpy()
    in_catalogue = truth[truth["item_id"].isin(fusion.item_index_)]
    relevant = sp.csr_matrix(
        (
            np.ones(len(in_catalogue), dtype=bool),
            (
                np.searchsorted(users, in_catalogue["user_id"].to_numpy()),
                in_catalogue["item_id"].map(fusion.item_index_).to_numpy(),
            ),
        ),
        shape=(len(users), len(fusion.item_ids_)),
    ).toarray()
    candidates = fusion._candidates(rows)
    cached = {}
    for name in names:
        scores = fusion.part_scores(name, rows)
        if method == "score":
            cached[name] = normalise_scores(scores, candidates, normalise)
        else:
            cached[name] = reciprocal_ranks(scores, candidates, c)

    results = []
    for weights in tqdm(grid, desc=f"{method} fusion grid", disable=not show_progress):
        fused = sum(w * cached[n] for n, w in weights.items() if w > 0)
        ndcg = ndcg_from_scores(fused, ~candidates, relevant, n_relevant, k)
        results.append({**{n: float(weights[n]) for n in names}, f"ndcg@{k}": ndcg})
    table = pd.DataFrame(results)
    table = table.sort_values(f"ndcg@{k}", ascending=False, kind="stable")
    best = {n: float(table.iloc[0][n]) for n in names}
    logger.info(
        "weight search (%s): best %s, ndcg@%d %.4f",
        method,
        best,
        k,
        table.iloc[0][f"ndcg@{k}"],
    )
    return best, table.reset_index(drop=True)
