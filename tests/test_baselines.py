"""Benchmark baselines on tiny hand-made frames with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from frames import frame

from rec_utils.baselines import GenEASE, ImplicitALS, MultVAE, PureSVD, RP3beta
from rec_utils.models import EASE

# Two blocks: users 1-3 take items 1-3, users 4-6 take items 4-6; user 1 lacks
# item 3 and user 4 lacks item 6: each one's best unseen item is in its block.
BLOCKS = frame(
    [(u, i, 5) for u in (1, 2, 3) for i in (1, 2, 3) if (u, i) != (1, 3)]
    + [(u, i, 4) for u in (4, 5, 6) for i in (4, 5, 6) if (u, i) != (4, 6)]
    + [(7, 1, 3), (7, 4, 3)]
)

SMALL = frame(
    [
        (1, 1, 5), (1, 2, 3), (1, 3, 4), (2, 1, 4), (2, 3, 2), (2, 4, 5),
        (3, 2, 1), (3, 4, 4), (3, 5, 3), (4, 1, 5), (4, 5, 2), (4, 6, 4),
        (5, 1, 3), (5, 2, 3), (5, 6, 3),
    ]
)  # fmt: skip


def block_models():
    return [
        RP3beta(alpha=1.0, beta=0.5),
        RP3beta(alpha=0.8, beta=0.3, k=2),
        PureSVD(factors=2, seed=0),
        ImplicitALS(factors=2, regularization=0.01, alpha=5.0, iterations=20),
        GenEASE(lam=0.1, dropout=0.2, user_exponent=0.25, rating_slope=0.1),
    ]


@pytest.mark.parametrize("model", block_models(), ids=lambda m: type(m).__name__)
def test_recommends_within_the_block(model):
    model.fit(BLOCKS)
    top = model.recommend(["1", "4"], k=1).set_index("user_id")["item_id"]
    assert top.to_dict() == {"1": "3", "4": "6"}


@pytest.mark.parametrize("model", block_models(), ids=lambda m: type(m).__name__)
def test_scores_have_the_catalogue_shape_and_are_finite(model):
    model.fit(SMALL, items=[str(i) for i in range(1, 8)])
    scores = model.score(["1", "2", "5"])
    assert scores.shape == (3, 7)
    assert np.isfinite(scores).all()
    assert len(model.recommend(["3"], k=10)) == 7 - 3


def test_rp3beta_by_hand():
    # alpha = 1, beta = 0 (P3): w_ij = sum_u x_ui / n_i * x_uj / n_u
    model = RP3beta(alpha=1.0, beta=0.0).fit(SMALL)
    x = (model.user_items_.toarray() > 0).astype(float)
    n_u, n_i = x.sum(1), x.sum(0)
    expected = (x / n_i[None, :]).T @ (x / n_u[:, None])
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.similarity_, expected, atol=1e-12)
    # beta divides column j by n_j ** beta
    penalised = RP3beta(alpha=1.0, beta=1.0).fit(SMALL)
    np.testing.assert_allclose(penalised.similarity_, expected / n_i, atol=1e-12)


def test_pure_svd_with_full_rank_reconstructs_x():
    # with every singular vector kept, V V^T = I on the row space: scores = X
    model = PureSVD(factors=4, seed=0).fit(BLOCKS.query("user_id != '7'"))
    x = (model.user_items_.toarray() > 0).astype(float)
    np.testing.assert_allclose(model.score(model.user_ids_), x, atol=1e-8)


def test_gen_ease_reduces_to_ease():
    # c = g = p = b = 0: plain EASE with lambda = lam * mean item degree
    plain = GenEASE(0.5, dropout=0, user_exponent=0, rating_slope=0, pop_exponent=0)
    plain.fit(SMALL)
    degree = plain.item_popularity_.mean()
    ease = EASE(lam=0.5 * degree).fit(SMALL)
    users = plain.user_ids_
    np.testing.assert_allclose(plain.score(users), ease.score(users), atol=1e-10)
    assert np.allclose(np.diag(plain.weights_), 0.0)


def test_gen_ease_rejects_bad_arguments():
    with pytest.raises(ValueError, match="lam"):
        GenEASE(lam=0).fit(SMALL)
    with pytest.raises(ValueError, match="dropout"):
        GenEASE(dropout=1.0).fit(SMALL)


def test_implicit_als_is_deterministic():
    first = ImplicitALS(factors=3, iterations=5, seed=3).fit(SMALL).score(["1"])
    second = ImplicitALS(factors=3, iterations=5, seed=3).fit(SMALL).score(["1"])
    np.testing.assert_array_equal(first, second)


def test_mult_vae_finite_loss_and_deterministic():
    options = {"hidden": 8, "latent": 4, "epochs": 6, "batch_size": 2}
    first = MultVAE(**options, anneal_steps=6, seed=1, show_progress=False)
    second = MultVAE(**options, anneal_steps=6, seed=1, show_progress=False)
    first.fit(BLOCKS)
    second.fit(BLOCKS)
    assert len(first.history_) == 6 and np.isfinite(first.history_).all()
    np.testing.assert_array_equal(first.score(["1", "5"]), second.score(["1", "5"]))
    shallow = MultVAE(hidden=0, latent=4, epochs=2, show_progress=False).fit(BLOCKS)
    assert np.isfinite(shallow.score(["2"])).all()


def test_mult_vae_learns_the_blocks():
    model = MultVAE(
        hidden=0, latent=4, dropout=0.0, epochs=200, lr=0.05, batch_size=7,
        beta_max=0.01, seed=0, show_progress=False,
    )  # fmt: skip
    model.fit(BLOCKS)
    top = model.recommend(["1", "4"], k=1).set_index("user_id")["item_id"]
    assert top.to_dict() == {"1": "3", "4": "6"}


def test_token_code_cosine_matches_the_manual_pipeline():
    from rec_utils.autoencoder import TokenAutoencoder
    from rec_utils.baselines import TokenCodeCosine
    from rec_utils.models import VectorCosine, cosine_rows
    from rec_utils.tokens import BagOfTokens, user_documents

    titles = ["Toy Story", "Heat", "Jumanji", "Casino", "Babe", "Fargo"]
    items = pd.DataFrame(
        {
            "item_id": [str(i) for i in range(1, 7)],
            "title": titles,
            "text": [f"{t}. Genres: Comedy" for t in titles],
        }
    )
    vectoriser = BagOfTokens()
    tokens = vectoriser.fit_transform(items["text"])
    encoder = TokenAutoencoder(widths=(8, 4), epochs=3, seed=0, show_progress=False)
    encoder.fit(tokens)
    model = TokenCodeCosine(vectoriser, encoder, items, like_threshold=3.0)
    model.fit(SMALL, items=items["item_id"])
    documents = user_documents(SMALL, items, min_rating=3.0)  # nobody empty
    user_codes = encoder.transform(vectoriser.transform(documents))
    expected = cosine_rows(user_codes, encoder.transform(tokens))
    rows = [list(documents.index).index(u) for u in model.user_ids_]
    np.testing.assert_allclose(model.score(model.user_ids_), expected[rows], atol=1e-6)
    assert isinstance(model.cosine_, VectorCosine)
