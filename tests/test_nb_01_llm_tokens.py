"""Notebook 01 (LLM tokens) runs in smoke mode and records sensible numbers."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def metrics(run_notebook):
    return run_notebook("01_llm_tokens")


def test_protocol_and_sections_are_recorded(metrics):
    assert set(metrics["models"]) == {
        "tokenizer",
        "tfidf",
        "embeddings",
        "user_documents",
    }
    assert metrics["protocol"]["seed"] == 42
    assert metrics["protocol"]["smoke"] is True
    assert metrics["protocol"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_tokenizer_statistics(metrics):
    tokenizer = metrics["models"]["tokenizer"]
    assert tokenizer["vocab_size"] == 30522
    assert tokenizer["max_length"] == 256
    # measured: 2,748 distinct tokens in the 1,682 item texts, no [UNK]
    assert 2600 <= tokenizer["vocab_used"] <= 2900
    assert tokenizer["unk_rate"] < 1e-3
    assert 0.01 < tokenizer["split_word_share"] < 0.06
    assert 10 < tokenizer["mean_tokens"] < 20
    assert tokenizer["max_tokens"] <= tokenizer["max_length"] - 2


def test_tfidf_has_one_column_per_used_token(metrics):
    tfidf = metrics["models"]["tfidf"]
    assert tfidf["n_items"] == 1682  # smoke mode keeps the whole catalogue
    assert tfidf["n_features"] == metrics["models"]["tokenizer"]["vocab_used"]
    assert 0 < tfidf["density"] < 0.01


def test_embeddings_are_unit_vectors_of_the_model_width(metrics):
    embeddings = metrics["models"]["embeddings"]
    assert embeddings["dim"] == 384
    assert embeddings["n_items"] == 200  # SMOKE_ITEMS
    assert embeddings["max_norm_error"] < 1e-5
    assert 0.2 < embeddings["mean_cosine"] < 0.8
    assert embeddings["seconds"] >= 0


def test_star_wars_neighbours_are_its_sequels(metrics):
    nearest = metrics["neighbours"]["Star Wars"][:2]
    assert set(nearest) == {"Return of the Jedi", "Empire Strikes Back, The"}


def test_user_documents(metrics):
    docs = metrics["models"]["user_documents"]
    assert docs["n_users"] == 150  # the smoke sample
    assert docs["median_tokens"] > 20
    assert 0 < docs["truncated_share"] < 1
