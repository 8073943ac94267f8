"""Tokenizer, bag of tokens, embeddings and user texts, with the bundled model."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from rec_utils import tokens
from rec_utils.tokens import (
    BagOfTokens,
    embed_texts,
    load_tokenizer,
    nearest_neighbours,
    resolve_model,
    token_counts,
    token_table,
    unk_rate,
    user_documents,
    user_sentence,
    word_pieces,
)

SNOWMAN = "\u2603"  # a character outside the WordPiece vocabulary


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REC_CACHE_DIR", str(tmp_path))
    return tmp_path / "embeddings"


# -- tokenizer ----------------------------------------------------------------------


def test_default_model_is_the_bundled_folder_without_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = resolve_model()
    assert resolve_model(tokens.DEFAULT_MODEL) == path
    assert (tokens.Path(path) / "vocab.txt").is_file()
    assert resolve_model("someone/some-model") == "someone/some-model"
    assert tokens.model_max_length() == 256


def test_known_word_splits(tokenizer):
    assert tokenizer.vocab_size == 30522
    assert tokenizer.tokenize("Toy Story (1995)") == ["toy", "story", "(", "1995", ")"]
    assert tokenizer.tokenize("Misérables") == ["miserable", "##s"]
    assert tokenizer.tokenize("Shawshank") == ["shaw", "##shan", "##k"]


def test_unknown_character_becomes_unk(tokenizer):
    table = token_table([f"Toy {SNOWMAN} Story", ""], tokenizer)
    assert table.loc[0, "tokens"] == ["toy", "[UNK]", "story"]
    assert table.loc[0, "ids"][1] == tokenizer.unk_token_id == 100
    assert table["n_tokens"].tolist() == [3, 0]
    assert table["n_unk"].tolist() == [1, 0]
    assert unk_rate([f"Toy {SNOWMAN} Story", "toy"], tokenizer) == pytest.approx(0.25)
    assert unk_rate([""], tokenizer) == 0.0


def test_word_pieces_mark_split_words(tokenizer):
    words = word_pieces(["Shawshank rocks", "Toy"], tokenizer)
    assert words["word"].tolist() == ["Shawshank", "rocks", "Toy"]
    assert words["text_index"].tolist() == [0, 0, 1]
    assert words["n_pieces"].tolist() == [3, 1, 1]
    assert words.loc[0, "pieces"] == ["shaw", "##shan", "##k"]


def test_token_counts_most_frequent_first(tokenizer):
    counts = token_counts(["toy story", "toy toy", "story of toys"], tokenizer)
    assert counts.index[0] == "toy" and counts["toy"] == 3
    assert counts["story"] == 2


# -- bag of tokens ------------------------------------------------------------------


def test_counts_on_a_tiny_corpus():
    bag = BagOfTokens(weighting="count")
    counts = bag.fit_transform(["toy story", "toy toy", "story of toys"])
    names = list(bag.get_feature_names_out())
    assert names == sorted(["toy", "story", "of", "toys"])
    expected = pd.DataFrame(
        [[0, 1, 1, 0], [0, 0, 2, 0], [1, 1, 0, 1]],
        columns=["of", "story", "toy", "toys"],
    )
    assert np.array_equal(counts.toarray(), expected[names].to_numpy())
    assert counts.dtype == np.float64
    tokenizer = bag.tokenizer_
    assert bag.token_ids_.tolist() == tokenizer.convert_tokens_to_ids(names)


def test_tfidf_rows_are_unit_length_and_idf_weighted():
    bag = BagOfTokens()
    matrix = bag.fit_transform(["toy story", "toy toy", "story of toys"])
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0, atol=1e-12)
    # "of" (in 1 of 3 texts) outweighs "story" (in 2 of 3) in the third text
    column = bag.vocabulary_
    row = matrix.toarray()[2]
    assert row[column["of"]] > row[column["story"]] + 0.1


def test_unknown_tokens_at_transform_time_are_dropped():
    bag = BagOfTokens(weighting="count").fit(["toy story", "star wars"])
    row = bag.transform(["toy casino toy"]).toarray()[0]
    assert row.sum() == 2 and row[bag.vocabulary_["toy"]] == 2
    assert bag.transform(["casino"]).nnz == 0


def test_empty_text_gives_zero_row_and_warning():
    bag = BagOfTokens()
    with pytest.warns(UserWarning, match="2 of 3 texts have no tokens"):
        matrix = bag.fit_transform(["toy story", "", None])
    assert matrix.shape[0] == 3
    assert matrix[1].nnz == 0 and matrix[2].nnz == 0


def test_bag_truncates_long_text_with_warning():
    bag = BagOfTokens(weighting="count", max_length=5)  # 3 tokens + [CLS] + [SEP]
    with pytest.warns(UserWarning, match="1 of 2 texts have more than 3 tokens"):
        matrix = bag.fit_transform(["one two three four five", "six"])
    assert list(bag.get_feature_names_out()) == ["one", "six", "three", "two"]
    assert matrix.sum() == 4


def test_no_warning_for_ordinary_texts():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BagOfTokens().fit_transform(["Toy Story (1995). Genres: Comedy."])


def test_bad_weighting_and_unfitted_use_are_refused():
    with pytest.raises(ValueError, match="weighting"):
        BagOfTokens(weighting="bm25").fit(["toy"])
    with pytest.raises(RuntimeError, match="not fitted"):
        BagOfTokens().transform(["toy"])


# -- embeddings ---------------------------------------------------------------------

TEXTS = ["Toy Story (1995).", "Star Wars (1977). Genres: Sci-Fi.", "Heat (1995)."]


@pytest.fixture(scope="module")
def reference():
    return embed_texts(TEXTS, cache=False, show_progress=False)


def test_embeddings_shape_norm_and_determinism(cache, reference):
    first = reference
    again = embed_texts(TEXTS, cache=False, show_progress=False)
    assert first.shape == (3, 384) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first, again)
    assert not cache.exists()


def test_padding_does_not_change_an_embedding(cache, reference):
    # the short text is padded in a batch with a long one: the mask must hide it
    alone = embed_texts(TEXTS[:1], cache=False, show_progress=False)
    assert np.allclose(alone[0], reference[0], atol=1e-5)


def test_empty_text_gives_zero_vector_and_warning(cache):
    with pytest.warns(UserWarning, match="1 of 2 texts have no tokens"):
        vectors = embed_texts(["", "Toy Story"], cache=False, show_progress=False)
    assert np.array_equal(vectors[0], np.zeros(384, dtype=np.float32))
    assert np.linalg.norm(vectors[1]) == pytest.approx(1.0, abs=1e-5)


def test_embedding_truncates_long_text_with_warning(cache):
    with pytest.warns(UserWarning, match="1 of 1 texts have more than 4 tokens"):
        long = embed_texts(
            ["one two three four five six"], max_length=6, cache=False,
            show_progress=False,
        )  # fmt: skip
    prefix = embed_texts(["one two three four"], cache=False, show_progress=False)
    assert np.allclose(long, prefix, atol=1e-5)


def test_cache_hit_does_not_run_the_model(cache, monkeypatch):
    first = embed_texts(TEXTS, show_progress=False)
    files = sorted(p.suffix for p in cache.iterdir())
    assert files == [".json", ".npy"]

    def refuse(*args, **kwargs):
        raise AssertionError("the model ran although the cache holds the texts")

    monkeypatch.setattr(tokens, "_encode", refuse)
    assert np.array_equal(embed_texts(TEXTS, show_progress=False), first)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "one value changed"])
def test_corrupt_cache_is_rebuilt(cache, reference, damage):
    first = reference
    tokens._write_cache(tokens.embedding_cache_key(TEXTS), first, "test")
    (array_path,) = cache.glob("*.npy")
    raw = array_path.read_bytes()
    if damage == "garbage":
        array_path.write_bytes(b"not an array at all")
    elif damage == "truncated":
        array_path.write_bytes(raw[: len(raw) // 2])
    else:
        tampered = first.copy()
        tampered[0, 0] += 0.5
        np.save(array_path, tampered)
    with pytest.warns(UserWarning, match="corrupt"):
        rebuilt = embed_texts(TEXTS, show_progress=False)
    assert np.allclose(rebuilt, first, atol=1e-6)
    meta = json.loads(array_path.with_suffix(".json").read_text())
    assert meta["shape"] == [3, 384]
    assert np.array_equal(np.load(array_path, allow_pickle=False), rebuilt)


def test_cache_key_depends_on_texts_and_length():
    key = tokens.embedding_cache_key(TEXTS)
    assert key == tokens.embedding_cache_key(list(TEXTS))
    assert key != tokens.embedding_cache_key(TEXTS[:2])
    assert key != tokens.embedding_cache_key(TEXTS, max_length=128)


# -- users as text ------------------------------------------------------------------


def test_user_sentence_with_all_and_missing_fields():
    row = {"user_id": "1", "age": 24, "gender": "M", "occupation": "technician"}
    assert user_sentence(row) == "A 24-year-old male technician."
    assert user_sentence(pd.Series(row)) == "A 24-year-old male technician."
    assert user_sentence({"age": 18, "gender": "F"}) == "An 18-year-old female person."
    assert user_sentence({"occupation": "engineer"}) == "An engineer."
    assert user_sentence({"age": np.nan, "gender": None}) == "A user."
    assert user_sentence({"age": pd.NA, "occupation": "none"}) == (
        "A person with no occupation."
    )
    assert user_sentence({}) == "A user."


def test_user_documents_on_a_tiny_frame():
    train = pd.DataFrame(
        {
            "user_id": ["1", "1", "1", "2", "3"],
            "item_id": ["10", "20", "30", "10", "20"],
            "rating": [4.0, 5.0, 2.0, 3.0, 5.0],
            "timestamp": [1, 2, 3, 4, 5],
        }
    )
    items = pd.DataFrame({"item_id": ["10", "20", "30"], "title": ["A", "B", "C"]})
    users = pd.DataFrame(
        {
            "user_id": ["1", "2", "4"],
            "age": [24, 53, 30],
            "gender": ["M", "F", "F"],
            "occupation": ["technician", "other", "writer"],
        }
    )
    docs = user_documents(train, items, users)
    assert docs.index.tolist() == ["1", "2", "4", "3"]
    assert docs["1"] == "A 24-year-old male technician. Liked: B; A"
    assert docs["2"] == "A 53-year-old female person with another occupation."
    assert docs["4"] == "A 30-year-old female writer."
    assert docs["3"] == "Liked: B"
    assert user_documents(train, items, users, min_rating=5.0)["1"].endswith("Liked: B")


def test_nearest_neighbours_on_known_vectors():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [1.0, 0.0]])
    labels = ["a", "b", "c", "d"]
    table = nearest_neighbours(vectors, labels, ["a", "c"], k=2)
    assert table["query"].tolist() == ["a", "a", "c", "c"]
    assert table["neighbour"].tolist() == ["d", "b", "b", "a"]
    assert table["cosine"].iloc[0] == pytest.approx(1.0)
    assert table["rank"].tolist() == [1, 2, 1, 2]
    sparse = nearest_neighbours(tokens.sp.csr_matrix(vectors), labels, ["a"], k=1)
    assert sparse["neighbour"].tolist() == ["d"]
    with pytest.raises(KeyError, match="zzz"):
        nearest_neighbours(vectors, labels, ["zzz"])
