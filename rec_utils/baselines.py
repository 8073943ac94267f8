"""Further baselines of the benchmark: graph, factor, autoencoder and linear models.

Every model subclasses :class:`rec_utils.base.Recommender` and works on the
training matrix the base class builds. Notation as in :mod:`rec_utils.models`:
``R`` the users x items matrix of training ratings (0 = not rated), ``X`` the same
matrix made binary, ``n_i`` the number of training users of item ``i`` and ``n_u``
the number of training items of user ``u``.

* :class:`RP3beta`: three-step random walk on the user-item graph, popularity
  penalised (Paudel et al., 2017).
* :class:`PureSVD`: truncated SVD of ``X`` (Cremonesi et al., 2010).
* :class:`ImplicitALS`: matrix factorisation on implicit feedback (Hu et al.,
  2008), trained by the ``implicit`` library on the CPU.
* :class:`MultVAE`: the variational autoencoder over interaction rows (Liang et
  al., 2018).
* :class:`GenEASE`: EASE (Steck, 2019) generalised with rating-weighted inputs,
  user weights, a dropout-style diagonal penalty (Steck, 2020) and a popularity
  exponent on the output.
* :class:`TokenCodeCosine`: the source design's token-autoencoder pipeline as one
  model that refits on any training frame.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import Recommender
from .models import MultDAE, _binary, _keep_top_k_columns

logger = logging.getLogger(__name__)

__all__ = ["GenEASE", "ImplicitALS", "MultVAE", "PureSVD", "RP3beta", "TokenCodeCosine"]


def _degrees(binary: sp.csr_matrix, axis: int) -> np.ndarray:
    """Row (axis=1) or column (axis=0) sums of a binary matrix, at least 1."""
    return np.maximum(np.asarray(binary.sum(axis=axis)).ravel(), 1.0)


def _zero_diagonal_ease(gram: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """``B = I - P diag(1/diag(P))`` with ``P = (G + diag(penalty))^-1``; diag(B)=0."""
    gram = gram.copy()
    gram[np.diag_indices_from(gram)] += penalty
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


# -- RP3beta -------------------------------------------------------------------------


class RP3beta(Recommender):
    r"""Random walk user -> item -> user -> item, divided by popularity.

    With :math:`P_{ui} = x_{ui} / n_u` and :math:`P_{iu} = x_{ui} / n_i` the
    transition probabilities of the bipartite graph,

    .. math::
        w_{ij} = \frac{\sum_u P_{iu}^{\alpha} P_{uj}^{\alpha}}{n_j^{\beta}},
        \qquad \text{score}_{uj} = \sum_i x_{ui} w_{ij},

    ``alpha`` sharpens (>1) or flattens (<1) the transition probabilities and
    ``beta`` divides by popularity (``beta = 0``, ``alpha = 1`` is P3). The
    diagonal is 0; with ``k`` set, each item ``j`` keeps its ``k`` largest
    ``w_ij`` (the rest 0).
    """

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, k: int | None = None):
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def _fit(self, train: pd.DataFrame) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, not {self.alpha}")
        binary = _binary(self.user_items_)
        user_item = sp.diags(1.0 / _degrees(binary, 1)) @ binary
        item_user = sp.diags(1.0 / _degrees(binary, 0)) @ binary.T
        if self.alpha != 1.0:
            user_item = user_item.power(self.alpha)
            item_user = item_user.power(self.alpha)
        walk = (item_user @ user_item).toarray()
        walk /= _degrees(binary, 0)[None, :] ** self.beta
        np.fill_diagonal(walk, 0.0)
        self.similarity_ = _keep_top_k_columns(walk, self.k)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(_binary(self.user_items_[rows]) @ self.similarity_)


# -- PureSVD -------------------------------------------------------------------------


class PureSVD(Recommender):
    r"""Truncated SVD of the binary matrix, scores projected back onto the items.

    .. math::
        X \approx U_f \Sigma_f V_f^\top, \qquad \text{score}_u = x_u V_f V_f^\top,

    with ``f = factors`` the number of singular vectors kept. Computed by
    randomised SVD (``sklearn.utils.extmath.randomized_svd``) seeded with ``seed``.
    """

    def __init__(self, factors: int = 50, seed: int = 0):
        self.factors = factors
        self.seed = seed

    def _fit(self, train: pd.DataFrame) -> None:
        from sklearn.utils.extmath import randomized_svd

        binary = _binary(self.user_items_)
        rank = min(self.factors, min(binary.shape) - 1)
        if rank < 1:
            raise ValueError(f"factors must be at least 1, not {self.factors}")
        if rank < self.factors:
            logger.info("PureSVD: factors capped at %d by the matrix shape", rank)
        _, _, vt = randomized_svd(binary, rank, random_state=self.seed)
        self.item_factors_ = vt.T

    def _score(self, rows: np.ndarray) -> np.ndarray:
        binary = _binary(self.user_items_[rows])
        return np.asarray(binary @ self.item_factors_) @ self.item_factors_.T


# -- implicit ALS --------------------------------------------------------------------


class ImplicitALS(Recommender):
    r"""Matrix factorisation on implicit feedback (Hu, Koren and Volinsky, 2008).

    Minimises, over user factors ``p_u`` and item factors ``q_i``,

    .. math::
        \sum_{u,i} c_{ui} (y_{ui} - p_u^\top q_i)^2
        + \lambda \Big(\sum_u \lVert p_u\rVert^2 + \sum_i \lVert q_i\rVert^2\Big),

    with ``y_ui = x_ui`` and the confidence ``c_ui = alpha * v_ui`` for an observed
    pair and 1 otherwise (the ``implicit`` library's convention), where ``v = x``
    (``values="binary"``) or the rating (``values="rating"``). ``lambda =
    regularization``. Trained by ``implicit.cpu.als.AlternatingLeastSquares``
    with conjugate-gradient steps; ``threads`` CPU threads (0: all). Score:
    ``p_u^T q_i``. Deterministic given ``seed`` with ``threads=1``.
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 10.0,
        alpha: float = 2.0,
        iterations: int = 15,
        values: str = "binary",
        threads: int = 1,
        seed: int = 0,
        show_progress: bool = False,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.values = values
        self.threads = threads
        self.seed = seed
        self.show_progress = show_progress

    def _fit(self, train: pd.DataFrame) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        if self.values not in ("binary", "rating"):
            raise ValueError(f"values must be 'binary' or 'rating', not {self.values}")
        matrix = self.user_items_ if self.values == "rating" else None
        matrix = _binary(self.user_items_) if matrix is None else matrix
        # implicit warns when BLAS runs threads of its own: keep BLAS at one
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                num_threads=self.threads,
                random_state=self.seed,
            )
            model.fit(
                matrix.astype(np.float32).tocsr(), show_progress=self.show_progress
            )
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float64)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float64)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self.user_factors_[rows] @ self.item_factors_.T


# -- Mult-VAE ------------------------------------------------------------------------


class MultVAE(MultDAE):
    r"""Variational autoencoder with multinomial likelihood (Liang et al., 2018).

    A user's binary row ``x_u`` is L2-normalised and corrupted by dropout (rate
    ``dropout``), as in :class:`rec_utils.models.MultDAE`; an encoder
    (``items -> hidden -> 2 latent`` with tanh, or ``items -> 2 latent`` with
    ``hidden=0``) gives the mean ``mu`` and log variance of a Gaussian code,
    drawn by the reparametrisation ``z = mu + sigma * eps``; a decoder (the
    mirror image) gives logits over all items. The loss of a batch ``B`` is

    .. math::
        \mathcal{L} = \frac{1}{|B|}\sum_{u \in B} \Big[-\sum_i x_{ui}
        \log \mathrm{softmax}(f(z_u))_i
        + \beta \, \mathrm{KL}\big(\mathcal N(\mu_u, \sigma_u^2)
        \,\Vert\, \mathcal N(0, I)\big)\Big],

    where ``beta`` grows linearly from 0 to ``beta_max`` over the first
    ``anneal_steps`` optimiser updates (KL annealing) and then stays. Scores are
    the decoder's logits at ``z = mu`` (no sampling, no dropout).

    Deterministic given ``seed``: weights, dropout masks, noise ``eps`` and batch
    order come from generators seeded with it. The training loop is Mult-DAE's.
    """

    label = "Mult-VAE"

    def __init__(
        self,
        hidden: int = 0,
        latent: int = 200,
        dropout: float = 0.5,
        beta_max: float = 0.2,
        anneal_steps: int = 200,
        epochs: int = 50,
        lr: float = 1e-3,
        batch_size: int = 128,
        weight_decay: float = 0.0,
        seed: int = 0,
        show_progress: bool = True,
    ):
        super().__init__(
            hidden, latent, dropout, epochs, lr, batch_size, weight_decay, seed,
            show_progress,
        )  # fmt: skip
        self.beta_max = beta_max
        self.anneal_steps = anneal_steps

    def _network(self, n_items: int):
        import torch
        from torch import nn

        width = self.hidden or None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if width is None:
                encoder = nn.Linear(n_items, 2 * self.latent)
                decoder = nn.Linear(self.latent, n_items)
            else:
                encoder = nn.Sequential(
                    nn.Linear(n_items, width),
                    nn.Tanh(),
                    nn.Linear(width, 2 * self.latent),
                )
                decoder = nn.Sequential(
                    nn.Linear(self.latent, width), nn.Tanh(), nn.Linear(width, n_items)
                )
        return nn.ModuleDict({"encoder": encoder, "decoder": decoder})

    def _forward(self, batch, generator=None):
        """Logits; with a ``generator`` (training) also the batch's KL penalty."""
        import torch

        inputs = torch.nn.functional.normalize(batch, dim=1)
        if generator is None:
            mu, _ = self.network_["encoder"](inputs).chunk(2, dim=1)
            return self.network_["decoder"](mu)
        if self.dropout > 0:
            keep = 1.0 - self.dropout
            mask = torch.bernoulli(torch.full_like(inputs, keep), generator=generator)
            inputs = inputs * mask / keep
        mu, log_var = self.network_["encoder"](inputs).chunk(2, dim=1)
        eps = torch.randn(mu.shape, generator=generator)
        kl = 0.5 * (torch.exp(log_var) + mu**2 - 1.0 - log_var).sum(dim=1).mean()
        beta = self.beta_max * min(1.0, self.steps_ / max(self.anneal_steps, 1))
        self.steps_ += 1
        self._penalty = beta * kl
        return self.network_["decoder"](mu + torch.exp(0.5 * log_var) * eps)

    def multinomial_loss(self, logits, target):
        """Mult-DAE's multinomial loss plus the KL penalty of the same batch."""
        return MultDAE.multinomial_loss(logits, target) + self._penalty

    def _fit(self, train: pd.DataFrame) -> None:
        self.steps_ = 0
        super()._fit(train)
        del self._penalty


# -- generalised EASE ----------------------------------------------------------------


class GenEASE(Recommender):
    r"""EASE with rating-weighted inputs, user weights and a dropout-style penalty.

    Inputs: :math:`y_{ui} = \max(1 + c\,(r_{ui} - 3),\ 0.05)` for a rated pair
    and 0 otherwise (``c = rating_slope``; ``c = 0`` gives the binary ``X``).
    Gram matrix weighted by user activity,
    :math:`G = Y^\top \mathrm{diag}(n_u^{-g})\, Y` (``g = user_exponent``; light
    users count relatively more when ``g > 0``). Diagonal penalty

    .. math::
        \Lambda = \lambda \cdot \overline{\mathrm{diag}(G)}
        + \frac{p}{1 - p}\,\mathrm{diag}(G),

    with ``lambda = lam`` relative to the mean diagonal of ``G`` (so it carries over
    between input scalings) and the second term the emphasis of a denoising
    autoencoder with dropout rate ``p`` (Steck, 2020, EDLAE). Weights in closed
    form with a zero diagonal, ``P = (G + \Lambda)^{-1}``, ``B = I - P
    diag(1/diag(P))``, and scores

    .. math::
        \text{score}_{uj} = (y_u B)_j \cdot n_j^{b},

    (``b = pop_exponent``; ``b < 0`` favours less popular items). With ``c = g
    = p = b = 0`` this is plain EASE with ``lambda`` scaled by the mean item
    degree.
    """

    def __init__(
        self,
        lam: float = 8.0,
        dropout: float = 0.67,
        user_exponent: float = 0.25,
        rating_slope: float = 0.1,
        pop_exponent: float = -0.1,
    ):
        self.lam = lam
        self.dropout = dropout
        self.user_exponent = user_exponent
        self.rating_slope = rating_slope
        self.pop_exponent = pop_exponent

    def _inputs(self, ratings: sp.csr_matrix) -> sp.csr_matrix:
        inputs = ratings.copy().astype(np.float64)
        inputs.data = np.maximum(1.0 + self.rating_slope * (inputs.data - 3.0), 0.05)
        return inputs

    def _fit(self, train: pd.DataFrame) -> None:
        if self.lam <= 0:
            raise ValueError(f"lam must be > 0, not {self.lam}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), not {self.dropout}")
        inputs = self._inputs(self.user_items_)
        user_weights = _degrees(_binary(self.user_items_), 1) ** -self.user_exponent
        gram = (inputs.T @ sp.diags(user_weights) @ inputs).toarray()
        diagonal = np.diag(gram).copy()
        penalty = self.lam * max(diagonal.mean(), 1e-12)
        penalty = penalty + self.dropout / (1.0 - self.dropout) * diagonal
        self.weights_ = _zero_diagonal_ease(gram, penalty)
        self.output_scale_ = np.maximum(self.item_popularity_, 1.0) ** self.pop_exponent

    def _score(self, rows: np.ndarray) -> np.ndarray:
        scores = np.asarray(self._inputs(self.user_items_[rows]) @ self.weights_)
        return scores * self.output_scale_[None, :]


# -- the source design's token-code pipeline as one model -----------------------------


class TokenCodeCosine(Recommender):
    """Cosine between token-autoencoder codes of users and items, refitted per split.

    The pipeline of the source design (notebook 03, section 7) as one model: the
    item side, a bag-of-token vectoriser (:class:`rec_utils.tokens.BagOfTokens`)
    and a :class:`rec_utils.autoencoder.TokenAutoencoder` fitted on the item
    texts, is given already fitted (it depends on no interaction). ``fit`` builds
    each user's document from the training frame (:func:`user_documents`:
    demographics and the titles rated at least ``like_threshold``), encodes it
    with the same vectoriser and encoder, and items are ranked by the cosine of
    the codes (:class:`rec_utils.models.VectorCosine`).

    Args:
        vectoriser: a fitted :class:`BagOfTokens`.
        encoder: a :class:`TokenAutoencoder` fitted on the item vectors.
        items: the item frame (``item_id``, ``title``, ``text``).
        users: the user frame (demographics), or None.
        like_threshold: a user's document lists the titles rated at least this.
    """

    def __init__(
        self,
        vectoriser,
        encoder,
        items: pd.DataFrame,
        users: pd.DataFrame | None = None,
        like_threshold: float = 4.0,
    ):
        self.vectoriser = vectoriser
        self.encoder = encoder
        self.items = items
        self.users = users
        self.like_threshold = like_threshold

    def _fit(self, train: pd.DataFrame) -> None:
        from .models import VectorCosine
        from .tokens import user_documents

        documents = user_documents(train, self.items, self.users, self.like_threshold)
        user_codes = self.encoder.transform(self.vectoriser.transform(documents))
        item_codes = self.encoder.transform(
            self.vectoriser.transform(self.items["text"])
        )
        item_ids = self.items["item_id"].astype(str).to_numpy()
        self.cosine_ = VectorCosine(
            pd.DataFrame(user_codes, index=documents.index),
            pd.DataFrame(item_codes, index=item_ids),
        ).fit(train, items=self.item_ids_)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self.cosine_.score(self.user_ids_[rows])
