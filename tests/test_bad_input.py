"""Small inputs that commonly break recommender code, each with its right answer.

Loading, models, metrics, splits, text features, caches and notebook runs; the
cases already covered where the code lives (test_data, test_metrics, ...) are
not repeated here.
"""

from __future__ import annotations

import ast
import json
import math
import socket
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_utils import experiment, tokens
from rec_utils.autoencoder import cosine_neighbours
from rec_utils.data import ML100K_ENV, load_csv_dataset, load_movielens_100k
from rec_utils.metrics import evaluate, ranking_metrics
from rec_utils.models import EASE
from rec_utils.splits import stratified_split
from rec_utils.tokens import BagOfTokens, embed_texts, nearest_neighbours

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rec_utils"
NOTEBOOKS = ROOT / "notebooks"


def frame(rows) -> pd.DataFrame:
    """``[(user, item, rating), ...]`` -> an interactions frame (IDs as given)."""
    users, items, ratings = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user_id": list(users),
            "item_id": list(items),
            "rating": np.asarray(ratings, dtype=float),
            "timestamp": np.arange(len(rows)),
        }
    )


# -- IDs as integers and as strings -------------------------------------------------


def test_quoted_and_bare_ids_in_different_files_are_one_user(tmp_path):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text('user_id,item_id,rating\n196,1,4\n"196",2,5\n')
    items = tmp_path / "items.csv"
    items.write_text('item_id,title\n"1",Heat\n2,Babe\n')
    users = tmp_path / "users.csv"
    users.write_text('user_id,age\n"196",49\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "missing from this file" warning
        data = load_csv_dataset(ratings, items, users)
    assert data.interactions["user_id"].tolist() == ["196", "196"]
    assert data.users["user_id"].tolist() == ["196"]
    assert data.users["age"].tolist() == [49]
    assert data.items["item_id"].tolist() == ["1", "2"]


SMALL = [
    (1, 10, 5), (1, 20, 3), (1, 30, 4), (2, 10, 4), (2, 30, 2), (2, 40, 5),
    (3, 20, 1), (3, 40, 4), (3, 50, 3), (4, 10, 5), (4, 50, 2), (4, 60, 4),
    (196, 10, 3), (196, 20, 3), (196, 60, 3),
]  # fmt: skip


def test_ease_gives_the_same_answer_for_int_and_str_ids():
    as_int = frame(SMALL)
    as_str = as_int.astype({"user_id": str, "item_id": str})
    by_int = EASE(lam=1.0).fit(as_int)
    by_str = EASE(lam=1.0).fit(as_str)
    expected = by_str.recommend(["196"], k=3)
    assert len(expected) == 3
    for model in (by_int, by_str):
        for user in (196, "196", np.int64(196), [196], np.array([196])):
            pd.testing.assert_frame_equal(model.recommend(user, k=3), expected)
    # a test frame with integer IDs is evaluated against a string-ID model
    test = frame([(196, 30, 4), (1, 40, 5)])
    by_int_test = evaluate(by_str, as_str, test, k=3)
    by_str_test = evaluate(by_str, as_str, test.astype(str), k=3)
    for metrics in (by_int_test, by_str_test):
        metrics.pop("recommend_seconds")
    assert by_int_test == by_str_test and by_int_test["users"] == 2.0


# -- zero vectors are nobody's neighbour --------------------------------------------


def test_zero_vector_is_never_a_neighbour():
    # row 2 (an empty text) has cosine 0 with all; row 3 points away from row 0
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 0.0], [-1.0, 0.1]])
    labels = ["a", "b", "empty", "d"]
    table = nearest_neighbours(vectors, labels, ["a", "empty"], k=3)
    assert "empty" not in set(table["neighbour"])
    assert table.loc[table["query"] == "a", "neighbour"].tolist() == ["b", "d"]
    assert np.isfinite(table["cosine"]).all()
    sparse = nearest_neighbours(tokens.sp.csr_matrix(vectors), labels, ["a"], k=3)
    assert sparse["neighbour"].tolist() == ["b", "d"]

    index, sims = cosine_neighbours(vectors, k=2)
    assert 2 not in index[[0, 1, 3]]
    assert index[0].tolist() == [1, 3]
    assert not np.isnan(sims).any()
    assert np.all(sims[2] == 0.0)


# -- metrics: relabelling users changes nothing -------------------------------------

ITEMS = list("abcdefg")
USERS = ["1", "2", "3", "4", "5"]


@st.composite
def labelled_case(draw):
    k = draw(st.integers(1, 4))
    truth, recs = [], []
    for user in USERS:
        for item in draw(st.lists(st.sampled_from(ITEMS), max_size=4)):
            truth.append((user, item))
        for rank, item in enumerate(draw(st.permutations(ITEMS))[:k], start=1):
            recs.append((user, item, rank))
    names = draw(st.permutations(["u9", "u10", "196", "x", "0"]))
    return truth, recs, dict(zip(USERS, names, strict=True)), k


@settings(max_examples=50, deadline=None)
@given(labelled_case())
def test_renaming_and_shuffling_users_changes_nothing(case):
    truth_rows, rec_rows, names, k = case
    truth = pd.DataFrame(truth_rows, columns=["user_id", "item_id"])
    recs = pd.DataFrame(rec_rows, columns=["user_id", "item_id", "rank"])
    before = ranking_metrics(recs, truth, k=k, catalogue=ITEMS, train=truth)
    renamed = ranking_metrics(
        recs.assign(user_id=recs["user_id"].map(names)).iloc[::-1],
        truth.assign(user_id=truth["user_id"].map(names)).sample(
            frac=1, random_state=0
        ),
        k=k,
        catalogue=ITEMS[::-1],
        train=truth.assign(user_id=truth["user_id"].map(names)),
    )
    assert renamed.keys() == before.keys()
    for name, value in before.items():
        assert renamed[name] == pytest.approx(value, abs=1e-12, nan_ok=True), name
        if name != "users" and not math.isnan(value) and not name.startswith("nov"):
            assert 0.0 <= value <= 1.0, name


# -- splits: every user keeps training rows, whatever the ratio ---------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=8),
    st.floats(0.05, 0.95),
    st.integers(0, 2**31 - 1),
)
def test_user_split_never_leaves_a_test_user_without_training_rows(sizes, ratio, seed):
    rows = [
        (f"u{n}", f"i{j}", 4.0) for n, size in enumerate(sizes) for j in range(size)
    ]
    df = frame(rows)
    train, test = stratified_split(df, ratio=ratio, by="user", seed=seed)
    assert set(test["user_id"]) <= set(train["user_id"])
    assert set(train["user_id"]) == set(df["user_id"])  # single ratings stay
    assert len(train) + len(test) == len(df)


# -- long texts are truncated explicitly --------------------------------------------

WORDS = ["movie", "story", "love", "war", "night", "city", "house", "dream"]
LONG_TEXT = " ".join(WORDS[n % len(WORDS)] for n in range(5_000))  # 1 token a word


def test_bag_of_tokens_truncates_a_5000_word_text_to_the_model_length():
    bag = BagOfTokens(weighting="count")
    assert tokens.model_max_length() == 256
    with pytest.warns(UserWarning, match="1 of 2 texts have more than 254 tokens"):
        counts = bag.fit_transform([LONG_TEXT, "heat"])
    assert counts[0].sum() == 254  # 256 minus [CLS] and [SEP]
    assert counts[1].sum() == 1


def test_embedding_of_a_5000_word_text_is_its_first_tokens(tmp_path, monkeypatch):
    monkeypatch.setenv("REC_CACHE_DIR", str(tmp_path))
    with pytest.warns(UserWarning, match="1 of 1 texts have more than 254 tokens"):
        long = embed_texts([LONG_TEXT], cache=False, show_progress=False)
    prefix = " ".join(LONG_TEXT.split()[:254])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        head = embed_texts([prefix], cache=False, show_progress=False)
    assert long.shape == (1, 384) and np.isfinite(long).all()
    np.testing.assert_allclose(long, head, atol=1e-5)


# -- the embedding cache ------------------------------------------------------------

TEXTS = ["Toy Story (1995).", "Heat (1995)."]


def test_interrupted_cache_write_leaves_no_cache_file(tmp_path, monkeypatch):
    monkeypatch.setenv("REC_CACHE_DIR", str(tmp_path))

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(experiment.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        embed_texts(TEXTS, show_progress=False)
    assert list((tmp_path / "embeddings").iterdir()) == []


@pytest.mark.parametrize(
    "damage", ["sidecar garbage", "sidecar shape", "no sidecar", "reshaped array"]
)
def test_damaged_cache_sidecar_is_never_trusted(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("REC_CACHE_DIR", str(tmp_path))
    first = embed_texts(TEXTS, show_progress=False)
    array_path = tokens.embedding_cache_path(TEXTS)
    meta_path = array_path.with_suffix(".json")
    np.save(array_path, np.zeros_like(first))  # what a stale writer left
    if damage == "reshaped array":  # same bytes, so the same checksum
        np.save(array_path, first.reshape(1, -1))
    elif damage == "sidecar garbage":
        meta_path.write_text("{not json")
    elif damage == "sidecar shape":
        meta = json.loads(meta_path.read_text())
        meta["shape"] = [3, 384]
        meta_path.write_text(json.dumps(meta))
    elif damage == "no sidecar":
        meta_path.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = embed_texts(TEXTS, show_progress=False)
    np.testing.assert_allclose(again, first, atol=1e-6)
    np.testing.assert_array_equal(np.load(array_path, allow_pickle=False), again)


# -- nothing unsafe is loaded --------------------------------------------------------


def _python_sources() -> dict[str, str]:
    sources = {str(p.relative_to(ROOT)): p.read_text() for p in PACKAGE.glob("*.py")}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        # IPython magics and shell lines are not Python
        lines = [
            line
            for line in "\n".join(code).splitlines()
            if not line.lstrip().startswith(("%", "!"))
        ]
        sources[str(path.relative_to(ROOT))] = "\n".join(lines)
    return sources


PICKLE_MODULES = ("pickle", "cPickle", "_pickle", "joblib", "dill", "shelve")


def _unsafe_calls(name: str, source: str) -> list[str]:
    """Calls that could run code from a file: pickle, remote code, unsafe loads."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom):
                modules.append(node.module or "")
            if any(m.split(".")[0] in PICKLE_MODULES for m in modules):
                problems.append(f"{name}: imports {', '.join(modules)}")
        if isinstance(node, ast.Attribute) and node.attr == "read_pickle":
            problems.append(f"{name}: {ast.unparse(node)}")
        if not isinstance(node, ast.Call):
            continue
        called = ast.unparse(node.func)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        for arg, value in keywords.items():
            if arg in ("trust_remote_code", "allow_pickle") and not (
                isinstance(value, ast.Constant) and value.value is False
            ):
                problems.append(f"{name}: {called}({arg}={ast.unparse(value)})")
        if called.endswith("torch.load"):
            value = keywords.get("weights_only")
            if not (isinstance(value, ast.Constant) and value.value is True):
                problems.append(f"{name}: {called} without weights_only=True")
        if called.endswith("from_pretrained") and "trust_remote_code" not in keywords:
            problems.append(f"{name}: {called} without trust_remote_code=False")
    return problems


def test_no_pickle_no_remote_code_no_unsafe_torch_load():
    sources = _python_sources()
    assert any(name.endswith("tokens.py") for name in sources)
    problems = [p for name, text in sources.items() for p in _unsafe_calls(name, text)]
    assert problems == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle\npickle.loads(b'')",
        "import numpy as np\nnp.load('x.npy', allow_pickle=True)",
        "import torch\ntorch.load('w.pt')",
        "import torch\ntorch.load('w.pt', weights_only=False)",
        "AutoModel.from_pretrained('m', trust_remote_code=True)",
        "AutoTokenizer.from_pretrained('m')",
        "import pandas as pd\npd.read_pickle('x')",
        "from joblib import load",
    ],
)
def test_the_scan_catches_each_unsafe_load(snippet):
    assert _unsafe_calls("snippet", snippet) != []


# -- offline ------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to open a connection fails, as on a machine with no network."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)

    def urlopen(*args, **kwargs):
        raise urllib.error.URLError("network disabled in this test")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv(ML100K_ENV, raising=False)


def test_data_and_tokenizer_load_without_network(no_network, tmp_path):
    data = load_movielens_100k(data_dir=tmp_path)  # tries the download first
    assert len(data.interactions) == 100_000 and len(data.items) == 1_682
    assert not (tmp_path / "ml-100k").exists()
    tokens._tokenizer.cache_clear()
    tokenizer = tokens.load_tokenizer()
    assert tokenizer.tokenize("Misérables") == ["miserable", "##s"]
    bag = BagOfTokens().fit(data.items["text"].head(20))
    assert len(bag.vocabulary_) > 20


# -- notebook runs are reproducible -------------------------------------------------


def _without_timings(value):
    if isinstance(value, dict):
        return {
            k: _without_timings(v)
            for k, v in value.items()
            if not str(k).endswith("_seconds")
        }
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.notebook
def test_same_seed_records_identical_metrics(run_notebook, tmp_path):
    from conftest import execute_notebook

    stem = "03_collaborative_filtering"  # includes the seeded Mult-DAE
    first = run_notebook(stem)
    dirs = {"build": tmp_path, "metrics": tmp_path / "m", "cache": tmp_path / "c"}
    second = execute_notebook(stem, dirs)
    assert first["models"] and first["smoke"] is True
    assert any(k.endswith("_seconds") for m in first["models"].values() for k in m)
    assert _without_timings(second) == _without_timings(first)


def test_recommend_rejects_a_fractional_k_and_fit_an_empty_frame():
    from rec_utils.models import EASE

    frame = pd.DataFrame(
        {"user_id": ["1", "1", "2"], "item_id": ["a", "b", "a"], "rating": 4.0}
    )
    model = EASE(lam=1.0).fit(frame)
    with pytest.raises(ValueError, match="k must be a whole number"):
        model.recommend(["1"], k=2.5)
    with pytest.raises(ValueError, match="no interactions"):
        EASE().fit(frame.iloc[:0])


def test_metrics_name_a_missing_column():
    from rec_utils.metrics import ranking_metrics

    truth = pd.DataFrame({"user_id": ["1"], "item_id": ["a"]})
    with pytest.raises(ValueError, match=r"recommendations frame lacks.*item_id"):
        ranking_metrics(pd.DataFrame({"user_id": ["1"]}), truth, k=1)


def test_windows_1252_quotes_read_correctly(tmp_path):
    (tmp_path / "ratings.csv").write_text("user_id,item_id,rating\n1,2,4\n")
    title = "It\u2019s \u201cHeat\u201d \u2013 Misérables"
    (tmp_path / "items.csv").write_bytes(f"item_id,title\n2,{title}\n".encode("cp1252"))
    data = load_csv_dataset(tmp_path / "ratings.csv", tmp_path / "items.csv")
    assert data.items.loc[0, "title"] == title
