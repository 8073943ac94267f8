"""Data loading: MovieLens-100K and your own CSV files, checked against the contract.

Frames returned (PROTOCOL.md section 1):

* interactions: ``user_id`` (str), ``item_id`` (str), ``rating`` (float),
  ``timestamp`` (int, seconds); one row per (user, item), the latest kept.
* items: ``item_id``, ``title``, ``year`` (nullable Int64), ``genres`` (list of
  str) and ``text``, the exact string handed to the tokenizer, built by
  :func:`item_text`.
* users: ``user_id`` and, where known, ``age``, ``gender``, ``occupation``,
  ``zip_code``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .base import deduplicate_interactions

logger = logging.getLogger(__name__)

ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_SHA256 = "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"
ML100K_ENV = "MOVIELENS_100K_DIR"
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
RECBOLE_FOLDER = "recbole/dataset_example/ml-100k"
INTERACTION_COLUMNS = ("user_id", "item_id", "rating", "timestamp")


@dataclass
class Dataset:
    """Interactions, items and users of one data set, and where they came from."""

    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    source: str

    def __repr__(self) -> str:
        return (
            f"Dataset({len(self.interactions):,} interactions, "
            f"{len(self.items):,} items, {len(self.users):,} users, from {self.source})"
        )


# -- item text ----------------------------------------------------------------------


def item_text(title: str | None, year: int | None, genres: list[str]) -> str:
    """The one template that turns an item into the text given to the tokenizer.

    ``"{title} ({year}). Genres: {g1}, {g2}."``; the year part is left out when
    unknown and the genres part when there are none. An item with no title and
    no genres gets the empty string (its token features are all zero).
    """
    title = (title or "").strip()
    text = title
    if title and year is not None and not pd.isna(year):
        text = f"{title} ({int(year)})"
    if text:
        text += "."
    if genres:
        text = f"{text} Genres: {', '.join(genres)}.".strip()
    return text


def _with_text(items: pd.DataFrame) -> pd.DataFrame:
    items = items.copy()
    items["year"] = items["year"].astype("Int64")
    items["text"] = [
        item_text(t, None if pd.isna(y) else int(y), g)
        for t, y, g in zip(items["title"], items["year"], items["genres"], strict=True)
    ]
    return items


# -- MovieLens-100K -------------------------------------------------------------------


def _finish(
    interactions: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame, source: str
) -> Dataset:
    interactions = interactions.astype(
        {"user_id": str, "item_id": str, "rating": np.float64, "timestamp": np.int64}
    )
    interactions = deduplicate_interactions(interactions, source).reset_index(drop=True)
    users = users.astype({"user_id": str, "age": "Int64"}).reset_index(drop=True)
    items = _with_text(items.astype({"item_id": str})).reset_index(drop=True)
    return Dataset(interactions, items, users, source)


def _split_title(raw: str) -> tuple[str, int | None]:
    """``"Toy Story (1995)"`` -> ``("Toy Story", 1995)``; other brackets are kept."""
    match = re.match(r"^(.*?)\s*\((\d{4})\)\s*$", raw)
    if match:
        return match.group(1), int(match.group(2))
    return raw.strip(), None


def read_movielens_folder(folder: str | Path) -> Dataset:
    """Read the original files ``u.data``, ``u.item`` (latin-1) and ``u.user``."""
    folder = Path(folder)
    missing = [n for n in ("u.data", "u.item", "u.user") if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks the MovieLens-100K file(s) {missing}")
    interactions = pd.read_csv(
        folder / "u.data", sep="\t", header=None, names=list(INTERACTION_COLUMNS),
        dtype={"user_id": str, "item_id": str},
    )  # fmt: skip
    raw_items = pd.read_csv(
        folder / "u.item", sep="|", header=None, encoding="latin-1", dtype=str,
        names=["item_id", "title", "release_date", "video_date", "url", *ML100K_GENRES],
    )  # fmt: skip
    titles, years = zip(
        *(_split_title(t or "") for t in raw_items["title"].fillna("")), strict=True
    )
    release_year = pd.to_datetime(
        raw_items["release_date"], format="%d-%b-%Y", errors="coerce"
    ).dt.year
    flags = raw_items[list(ML100K_GENRES)].astype(int).to_numpy()
    items = pd.DataFrame(
        {
            "item_id": raw_items["item_id"],
            "title": list(titles),
            "year": release_year.where(
                release_year.notna(), pd.Series(years, dtype="float")
            ),
            "genres": [
                [
                    g
                    for g, f in zip(ML100K_GENRES, row, strict=True)
                    if f and g != "unknown"
                ]
                for row in flags
            ],
        }
    )
    users = pd.read_csv(
        folder / "u.user", sep="|", header=None,
        dtype={"user_id": str, "zip_code": str},
        names=["user_id", "age", "gender", "occupation", "zip_code"],
    )  # fmt: skip
    return _finish(interactions, items, users, f"folder {folder}")


def read_recbole_copy(folder: str | Path) -> Dataset:
    """Read the atomic files of MovieLens-100K that the ``recbole`` wheel ships.

    Only the data files are read; recbole itself is never imported. The copy
    keeps the original row order of ``u.data``; its titles are UTF-8 without the
    year, which sits in its own column. Item 267 is spelled ``unkonwn`` there and
    is mapped back to the original ``unknown`` with no year.
    """
    folder = Path(folder)
    read = {
        "sep": "\t",
        "dtype": str,
        "quoting": csv.QUOTE_NONE,
        "keep_default_na": False,
    }
    inter = pd.read_csv(folder / "ml-100k.inter", **read)
    inter.columns = list(INTERACTION_COLUMNS)
    inter["timestamp"] = inter["timestamp"].astype(float).astype(np.int64)
    raw_items = pd.read_csv(folder / "ml-100k.item", **read)
    raw_items.columns = ["item_id", "title", "year", "genres"]
    unknown = raw_items["title"].eq("unkonwn")
    items = pd.DataFrame(
        {
            "item_id": raw_items["item_id"],
            "title": raw_items["title"].where(~unknown, "unknown"),
            "year": pd.to_numeric(raw_items["year"], errors="coerce"),
            "genres": [
                [g for g in s.split() if g != "unknown"] for s in raw_items["genres"]
            ],
        }
    )
    users = pd.read_csv(folder / "ml-100k.user", **read)
    users.columns = ["user_id", "age", "gender", "occupation", "zip_code"]
    users["age"] = users["age"].astype(int)
    return _finish(inter, items, users, f"recbole==1.2.1 copy {folder}")


def _recbole_folder() -> Path:
    dist = metadata.distribution("recbole")  # raises PackageNotFoundError
    folder = Path(str(dist.locate_file(RECBOLE_FOLDER)))
    if not (folder / "ml-100k.inter").is_file():
        raise FileNotFoundError(f"recbole {dist.version} has no {RECBOLE_FOLDER}")
    return folder


def download_movielens_100k(data_dir: str | Path, timeout: float = 20.0) -> Path:
    """Download the official archive, check its SHA-256 and unpack it atomically.

    Returns the folder holding ``u.data``. An archive whose checksum differs is
    refused and nothing is unpacked.
    """
    data_dir = Path(data_dir)
    target = data_dir / "ml-100k"
    if (target / "u.data").is_file():
        return target
    with urllib.request.urlopen(ML100K_URL, timeout=timeout) as response:  # noqa: S310
        payload = response.read()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != ML100K_SHA256:
        raise ValueError(f"{ML100K_URL}: SHA-256 {digest} differs from {ML100K_SHA256}")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            for name in ("u.data", "u.item", "u.user"):
                archive.extract(f"ml-100k/{name}", tmp)
        shutil.move(str(Path(tmp) / "ml-100k"), target)
    return target


def default_data_dir() -> Path:
    """``data/`` of the project (downloads go to ``data/ml-100k``)."""
    from .experiment import project_root

    return project_root() / "data"


def load_movielens_100k(
    path: str | Path | None = None,
    *,
    download: bool = True,
    data_dir: str | Path | None = None,
) -> Dataset:
    """MovieLens-100K from the first source that works, each tried in one log line.

    Sources, in order:

    1. a local folder of the original files (``u.data``, ``u.item``, ``u.user``):
       ``path``, else the environment variable ``MOVIELENS_100K_DIR``;
    2. the official archive, downloaded into ``data_dir`` (default ``data/``) when
       ``download`` is true and the network allows, verified by SHA-256;
    3. the copy that the ``recbole==1.2.1`` wheel ships (installed with
       ``--no-deps`` by the Makefile as an offline mirror).

    Raises:
        FileNotFoundError: listing every source tried and why it failed.
    """
    tried: list[str] = []
    folder = path if path is not None else os.environ.get(ML100K_ENV)
    if folder:
        try:
            data = read_movielens_folder(folder)
            logger.info("MovieLens-100K: read the local folder %s", folder)
            return data
        except (OSError, ValueError) as error:
            tried.append(f"local folder {folder}: {error}")
            logger.info("MovieLens-100K: local folder %s failed: %s", folder, error)
    else:
        tried.append(f"local folder: none given (argument path or ${ML100K_ENV})")
    if download:
        target = Path(data_dir) if data_dir is not None else default_data_dir()
        try:
            data = read_movielens_folder(download_movielens_100k(target))
            logger.info(
                "MovieLens-100K: official archive in %s (SHA-256 checked)", target
            )
            return data
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            tried.append(f"download {ML100K_URL}: {error}")
            logger.info("MovieLens-100K: download failed: %s", error)
    else:
        tried.append("download: switched off")
    try:
        recbole = _recbole_folder()
        data = read_recbole_copy(recbole)
        logger.info("MovieLens-100K: read the recbole==1.2.1 copy in %s", recbole)
        return data
    except (OSError, ValueError, metadata.PackageNotFoundError) as error:
        tried.append(f"recbole copy: {type(error).__name__}: {error}")
        logger.info("MovieLens-100K: recbole copy failed: %s", error)
    raise FileNotFoundError(
        "MovieLens-100K could not be loaded. Tried:\n  " + "\n  ".join(tried)
    )


# -- smoke-mode sample ----------------------------------------------------------------


def sample_users(data: Dataset, n_users: int, seed: int = 0) -> Dataset:
    """Keep ``n_users`` random users and all their interactions (for smoke runs).

    The item catalogue is kept whole, so item-side code sees the real catalogue.
    """
    users = np.array(
        sorted(
            data.interactions["user_id"].unique(),
            key=int if data.interactions["user_id"].str.isdigit().all() else str,
        )
    )
    if n_users >= len(users):
        return data
    keep = set(np.random.RandomState(seed).choice(users, size=n_users, replace=False))
    inter = data.interactions[data.interactions["user_id"].isin(keep)].reset_index(
        drop=True
    )
    user_rows = data.users[data.users["user_id"].isin(keep)].reset_index(drop=True)
    return Dataset(
        inter, data.items, user_rows, f"{data.source}, sample of {n_users} users"
    )
