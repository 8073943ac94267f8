"""The token autoencoder and its diagnostics, on tiny inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from rec_utils.autoencoder import (
    TokenAutoencoder,
    cosine_neighbours,
    genre_matrix,
    genre_prediction_score,
    hstack_features,
    neighbour_genre_overlap,
    reconstruction_diagnostics,
)


def blocks(n_per_block: int = 8, n_blocks: int = 4, width: int = 4) -> sp.csr_matrix:
    """Rows of block b have ones on columns b*width .. (b+1)*width - 1, L2-normed."""
    rows = []
    for b in range(n_blocks):
        row = np.zeros(n_blocks * width, dtype=np.float32)
        row[b * width : (b + 1) * width] = 1.0 / np.sqrt(width)
        rows += [row] * n_per_block
    return sp.csr_matrix(np.array(rows))


def small(**kwargs) -> TokenAutoencoder:
    params = {
        "widths": (8, 4),
        "epochs": 30,
        "batch_size": 8,
        "lr": 1e-2,
        "seed": 0,
        "show_progress": False,
    }
    return TokenAutoencoder(**{**params, **kwargs})


def test_shapes_of_codes_and_reconstructions():
    X = blocks()
    ae = small().fit(X)
    assert ae.transform(X).shape == (32, 4)
    assert ae.transform(X).dtype == np.float32
    assert ae.reconstruct(X).shape == X.shape
    assert len(ae.history_["train"]) == len(ae.history_["val"]) == ae.stopped_epoch_
    # dense input gives the same codes as sparse input
    np.testing.assert_array_equal(ae.transform(X.toarray()), ae.transform(X))


def test_default_widths_halve_to_a_64_wide_code():
    ae = TokenAutoencoder(epochs=1, show_progress=False).fit(np.eye(20))
    linear = [m for m in ae.net_.encoder if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linear] == [512, 256, 128, 64]
    decoder = [m for m in ae.net_.decoder if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in decoder] == [128, 256, 512, 20]


def test_same_seed_gives_identical_codes_and_another_seed_does_not():
    X = blocks()
    a = small(seed=3).fit(X).transform(X)
    b = small(seed=3).fit(X).transform(X)
    c = small(seed=4).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_leaves_the_global_torch_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    small().fit(blocks())
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize(
    ("loss", "output"),
    [
        ("mse", "sigmoid"),
        ("mse", "linear"),
        ("cosine", "linear"),
        ("multinomial", "softmax"),
    ],
)
def test_all_zero_rows_give_a_finite_loss(loss, output):
    X = blocks().toarray()
    X[:8] = 0.0  # the whole first block has no tokens
    ae = small(loss=loss, output=output, epochs=5).fit(X)
    assert np.isfinite(ae.history_["train"]).all()
    assert np.isfinite(ae.history_["val"]).all()
    assert np.isfinite(ae.score_loss(X, rows=np.arange(8)))
    assert np.isfinite(ae.transform(X)).all()


def test_cosine_and_multinomial_give_zero_rows_zero_loss():
    X = np.zeros((4, 6), dtype=np.float32)
    X[2:, 0] = 1.0
    for loss, output in [("cosine", "linear"), ("multinomial", "softmax")]:
        ae = small(loss=loss, output=output, epochs=1, val_frac=0.0).fit(X)
        assert ae.score_loss(X, rows=np.array([0, 1])) == 0.0


def test_early_stopping_stops_and_restores_the_best_weights():
    X = blocks()
    # a learning rate this large makes the validation loss worsen after a few
    # epochs; patience 3 must then stop the run and restore the best epoch
    ae = small(epochs=200, patience=3, lr=0.5, loss="mse", output="linear").fit(X)
    val = ae.history_["val"]
    assert ae.stopped_epoch_ < 200
    assert ae.stopped_epoch_ - ae.best_epoch_ == 3
    assert ae.best_epoch_ == int(np.argmin(val)) + 1
    assert ae.score_loss(X, rows=ae.val_rows_) == pytest.approx(
        min(val), rel=1e-5, abs=1e-7
    )


def test_hold_out_rows_are_a_seeded_tenth():
    ae = small(val_frac=0.25, epochs=1).fit(blocks())
    assert len(ae.val_rows_) == 8
    again = small(val_frac=0.25, epochs=1).fit(blocks())
    np.testing.assert_array_equal(ae.val_rows_, again.val_rows_)


@pytest.mark.parametrize(
    ("loss", "output"),
    [("mse", "linear"), ("cosine", "linear"), ("multinomial", "softmax")],
)
def test_block_structure_is_rebuilt_better_than_the_mean_predictor(loss, output):
    X = blocks()
    ae = small(loss=loss, output=output, epochs=150, val_frac=0.0).fit(X)
    diag = reconstruction_diagnostics(X, ae.reconstruct(X))
    # the mean predictor spreads a row's mass over all 4 blocks; a model that
    # knows the block puts (almost) all of it on the row's own 4 columns
    assert diag["token_recall"] == 1.0
    assert diag["mass_on_tokens"] > 0.9
    if loss == "mse":
        assert diag["mse"] < 0.1 * diag["mean_mse"]


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="multinomial"):
        small(loss="multinomial", output="sigmoid").fit(blocks())
    with pytest.raises(ValueError, match="output"):
        small(output="relu").fit(blocks())
    with pytest.raises(RuntimeError, match="not fitted"):
        small().transform(blocks())


def test_diagnostics_on_a_hand_made_case():
    X = sp.csr_matrix(np.array([[0.6, 0.8, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]))
    X_hat = np.array([[0.5, 0.005, 0.0, 0.02], [0.001, 0.0, 0.0, 0.9]])
    diag = reconstruction_diagnostics(X, X_hat)
    # outputs below 0.01: 0.005, 0.0, 0.001, 0.0, 0.0 -> 5 of 8
    assert diag["near_zero_share"] == pytest.approx(5 / 8)
    # true tokens: 0.5, 0.005, 0.9 -> one of three below 0.01
    assert diag["near_zero_share_on_tokens"] == pytest.approx(1 / 3)
    assert diag["mass_on_tokens"] == pytest.approx(1.405 / 1.426)
    assert diag["zero_mse"] == pytest.approx(2.0 / 8)
    # row 0: top-2 outputs are columns 0 and 3, one of its two tokens
    assert diag["token_recall"] == pytest.approx((0.5 + 1.0) / 2)
    expected = ((0.1**2) + 0.795**2 + 0.02**2 + 0.001**2 + 0.1**2) / 8
    assert diag["mse"] == pytest.approx(expected)
    assert diag["mse_over_zero"] == pytest.approx(expected / 0.25)


def test_all_zero_predictor_is_near_zero_everywhere():
    X = blocks()
    diag = reconstruction_diagnostics(X, np.zeros(X.shape))
    assert diag["near_zero_share"] == 1.0
    assert diag["mse_over_zero"] == 1.0


def test_hstack_features_normalises_rows():
    tfidf = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.0]]))
    emb = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    out = hstack_features(tfidf, emb)
    assert out.shape == (2, 5)
    np.testing.assert_allclose(out.toarray()[0], [0.5**0.5, 0, 0, 0.5**0.5, 0])
    assert out[1].nnz == 0 or np.allclose(out[1].toarray(), 0)
    with pytest.raises(ValueError, match="rows"):
        hstack_features(tfidf, emb[:1])


def test_genre_matrix_and_a_perfectly_predictable_genre():
    Y, names = genre_matrix([["b", "a"], ["a"], []])
    assert names == ["a", "b"]
    np.testing.assert_array_equal(Y, [[1, 1], [1, 0], [0, 0]])

    # features that are the genre indicators themselves predict them exactly
    genres = [["x"] if i % 2 else ["y"] for i in range(40)]
    Y, _ = genre_matrix(genres)
    score = genre_prediction_score(Y.astype(float), genres, seed=0)
    assert score["genre_micro_f1"] == 1.0
    assert score["genre_subset_accuracy"] == 1.0
    # always predicting the training folds' more frequent genre is right for at
    # most half of the held-out items (the genres are balanced overall)
    assert score["genre_baseline_micro_f1"] <= 0.5


def test_neighbours_by_cosine():
    F = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    index, sims = cosine_neighbours(F, k=1)
    np.testing.assert_array_equal(index.ravel(), [1, 0, 3, 2])
    assert sims[0, 0] == pytest.approx(0.9 / np.hypot(0.9, 0.1))
    genres = [["a"], ["a"], ["b"], ["b"]]
    assert neighbour_genre_overlap(F, genres, k=1) == 1.0
