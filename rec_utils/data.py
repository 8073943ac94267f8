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
import warnings
import zipfile
from dataclasses import dataclass
from http.client import HTTPException
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .base import deduplicate_interactions, id_sort_key

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
    """Split the year off a MovieLens title; other brackets are kept.

    ``"Toy Story (1995)"`` -> ``("Toy Story", 1995)``. One bracket after the year
    stays with the title: ``"Land Before Time III: ... (1995) (V)"`` ->
    ``("Land Before Time III: ... (V)", 1995)``. No year -> ``(raw, None)``.
    """
    match = re.match(r"^(.*?)\s*\((\d{4})\)\s*(\([^()]*\))?\s*$", raw)
    if match is None:
        return raw.strip(), None
    title = match.group(1)
    if match.group(3):
        title = f"{title} {match.group(3)}"
    return title, int(match.group(2))


def read_movielens_folder(folder: str | Path) -> Dataset:
    """Read the original files ``u.data``, ``u.item`` (latin-1) and ``u.user``.

    The year of an item is the one in its title (the film's year, e.g. "Kolya
    (1996)"); the release date, which for some films is a later release, is used
    only when the title has none.
    """
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
        quoting=csv.QUOTE_NONE, keep_default_na=False,
        names=["item_id", "title", "release_date", "video_date", "url", *ML100K_GENRES],
    )  # fmt: skip
    titles, years = zip(*(_split_title(t) for t in raw_items["title"]), strict=True)
    release_year = pd.to_datetime(
        raw_items["release_date"], format="%d-%b-%Y", errors="coerce"
    ).dt.year
    flags = raw_items[list(ML100K_GENRES)].astype(int).to_numpy()
    items = pd.DataFrame(
        {
            "item_id": raw_items["item_id"],
            "title": list(titles),
            "year": pd.Series(years, dtype="float").fillna(release_year),
            "genres": [
                [g for g, f in zip(ML100K_GENRES, row, strict=True) if f]
                for row in flags
            ],
        }
    )
    users = pd.read_csv(
        folder / "u.user", sep="|", header=None,
        dtype={"user_id": str, "zip_code": str},
        names=["user_id", "age", "gender", "occupation", "zip_code"],
    )  # fmt: skip
    return _finish(interactions, _drop_unknown_genre(items), users, f"folder {folder}")


def _drop_unknown_genre(items: pd.DataFrame) -> pd.DataFrame:
    """The genre flag "unknown" means no genre: it is left out of ``genres``."""
    genres = [[g for g in gs if g != "unknown"] for gs in items["genres"]]
    return items.assign(genres=genres)


def read_recbole_copy(folder: str | Path) -> Dataset:
    """Read the atomic files of MovieLens-100K that the ``recbole`` wheel ships.

    Only the data files are read; recbole itself is never imported. The copy
    keeps the original row order of ``u.data``; its titles are UTF-8 without the
    year, which sits in its own column. Title and year are joined back into the
    original title and split as :func:`read_movielens_folder` splits it, so both
    sources give the same items (item 1412's year column holds "V", the rest of
    its original "(1995) (V)"). Item 267 is spelled ``unkonwn`` there and is
    mapped back to the original ``unknown`` with no year.
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
    raw_titles = [
        "unknown" if t == "unkonwn" else f"{t} ({y})" if y else t
        for t, y in zip(raw_items["title"], raw_items["year"], strict=True)
    ]
    titles, years = zip(*(_split_title(t) for t in raw_titles), strict=True)
    items = pd.DataFrame(
        {
            "item_id": raw_items["item_id"],
            "title": list(titles),
            "year": pd.Series(years, dtype="float"),
            "genres": [s.split() for s in raw_items["genres"]],
        }
    )
    users = pd.read_csv(folder / "ml-100k.user", **read)
    users.columns = ["user_id", "age", "gender", "occupation", "zip_code"]
    users["age"] = users["age"].astype(int)
    return _finish(
        inter, _drop_unknown_genre(items), users, f"recbole==1.2.1 copy {folder}"
    )


def _recbole_folder() -> Path:
    dist = metadata.distribution("recbole")  # raises PackageNotFoundError
    folder = Path(str(dist.locate_file(RECBOLE_FOLDER)))
    if not (folder / "ml-100k.inter").is_file():
        raise FileNotFoundError(f"recbole {dist.version} has no {RECBOLE_FOLDER}")
    return folder


def download_movielens_100k(data_dir: str | Path, timeout: float = 10.0) -> Path:
    """Download the official archive, check its SHA-256 and unpack it atomically.

    Returns the folder holding ``u.data`` (an earlier download is reused without
    the network). An archive whose checksum differs is refused with
    ``ValueError`` and nothing is unpacked.
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


DOWNLOAD_ERRORS = (OSError, ValueError, KeyError, zipfile.BadZipFile, HTTPException)


def load_movielens_100k(
    path: str | Path | None = None,
    *,
    download: bool = True,
    data_dir: str | Path | None = None,
) -> Dataset:
    """MovieLens-100K from the first source that works.

    Sources, in order:

    1. a local folder of the original files (``u.data``, ``u.item``, ``u.user``):
       ``path``, else the environment variable ``MOVIELENS_100K_DIR``;
    2. the official archive, downloaded into ``data_dir`` (default ``data/``) when
       ``download`` is true and the network allows, verified by SHA-256 (an
       earlier download there is reused);
    3. the copy that the ``recbole==1.2.1`` wheel ships (installed with
       ``--no-deps`` by the Makefile as an offline mirror; read as files).

    One log line reports every source: used, failed (with the reason) or
    skipped. All sources give the same frames (the recbole copy keeps the
    original row order, so the benchmark split is the same too).

    Raises:
        FileNotFoundError: when no source works, listing every source tried and
            why it failed.
    """
    report: list[str] = []
    data = _try_sources(path, download, data_dir, report)
    if data is None:
        logger.warning("MovieLens-100K sources: %s", "; ".join(report))
        raise FileNotFoundError(
            "MovieLens-100K could not be loaded. Tried:\n  " + "\n  ".join(report)
        )
    logger.info("MovieLens-100K sources: %s", "; ".join(report))
    return data


def _try_sources(
    path: str | Path | None,
    download: bool,
    data_dir: str | Path | None,
    report: list[str],
) -> Dataset | None:
    """Try the sources in order, appending "source: outcome" to ``report``."""
    folder = path if path is not None else os.environ.get(ML100K_ENV)
    if not folder:
        report.append(f"local folder: skipped (no path given, ${ML100K_ENV} unset)")
    else:
        try:
            data = read_movielens_folder(folder)
            report.append(f"local folder {folder}: used")
            return data
        except (OSError, ValueError) as error:
            report.append(f"local folder {folder}: failed ({error})")
    if not download:
        report.append("download: skipped (download=False)")
    else:
        target = Path(data_dir) if data_dir is not None else default_data_dir()
        try:
            data = read_movielens_folder(download_movielens_100k(target))
            report.append(f"official archive in {target}: used (SHA-256 checked)")
            return data
        except DOWNLOAD_ERRORS as error:
            report.append(
                f"download {ML100K_URL}: failed ({type(error).__name__}: {error})"
            )
    try:
        recbole = _recbole_folder()
        data = read_recbole_copy(recbole)
        report.append(f"recbole==1.2.1 copy {recbole}: used")
        return data
    except (OSError, ValueError, metadata.PackageNotFoundError) as error:
        report.append(f"recbole copy: failed ({type(error).__name__}: {error})")
    return None


# -- your own data --------------------------------------------------------------------

CSV_SEPARATORS = (",", "\t", ";", "|")


def load_csv_dataset(
    ratings_csv: str | Path,
    items_csv: str | Path,
    users_csv: str | Path | None = None,
    *,
    sep: str | None = None,
    genre_sep: str = "|",
) -> Dataset:
    """Load your own ratings, items and (optionally) users from CSV files.

    Every file has a header line. Columns (names as written, surrounding spaces
    ignored; other columns of the ratings file are dropped):

    * ratings: ``user_id``, ``item_id``, ``rating`` (a number) and optionally
      ``timestamp`` (integer seconds). Without a timestamp column every row gets
      timestamp 0, so of a repeated pair the last row in the file is kept.
    * items: ``item_id``, ``title`` and optionally ``year`` (integer, may be
      empty), ``genres`` (``genre_sep``-separated, default ``"|"``) and ``text``.
      Without a ``text`` column the text is built by :func:`item_text`. An item
      with a missing or empty title gets the empty text (all-zero token features
      downstream), with a warning giving the count. Items rated but absent from
      the items file are added with an empty title and text (warning with the
      count); items nobody rated are kept (cold items).
    * users (optional): ``user_id`` and any other columns (``age`` is read as a
      nullable integer). Rated users absent from it are added with empty fields.

    Reading rules:

    * IDs are strings as written (surrounding spaces stripped): ``"196"`` and
      ``196`` name the same user; ``"0196"`` is another one.
    * Each file is decoded as UTF-8 (a byte-order mark is removed, so the first
      column keeps its name), and as latin-1 when it is not valid UTF-8 (one log
      line says so).
    * ``sep=None`` takes, per file, the one of ``, TAB ; |`` that the header line
      holds most often (``,`` when it holds none).
    * One row per (user, item): a repeated pair keeps its latest row by
      timestamp (ties: the later line) and a warning gives the number of rows
      dropped. Ratings are never summed. Blank lines are skipped.

    Line numbers in errors count the header as line 1 and assume one record per
    line (a quoted field spanning lines shifts them).

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: naming the file, the column and the first bad line, for an
            empty file, a header without rows, a missing column (also when a
            wrong ``sep`` reads the header as one column), a missing ID, a
            non-numeric rating, timestamp or year, or an item or user listed
            twice. Nothing is returned in part.
    """
    ratings_path = Path(ratings_csv)
    ratings = _read_table(ratings_path, sep, ("user_id", "item_id", "rating"))
    interactions = _checked_ratings(ratings, ratings_path)
    interactions = deduplicate_interactions(interactions, str(ratings_path))
    interactions = interactions.reset_index(drop=True)

    items_path = Path(items_csv)
    items = _checked_items(
        _read_table(items_path, sep, ("item_id", "title")), items_path, genre_sep
    )
    items = _add_missing(items, interactions["item_id"], "item_id", items_path)
    empty = int((items["text"] == "").sum())
    if empty:
        warnings.warn(
            f"{items_path}: {empty} item(s) without a title or text get the empty "
            "text (all-zero token features)",
            UserWarning,
            stacklevel=2,
        )

    if users_csv is None:
        users = pd.DataFrame({"user_id": id_sort_key(interactions["user_id"].unique())})
    else:
        users_path = Path(users_csv)
        users = _checked_users(_read_table(users_path, sep, ("user_id",)), users_path)
        users = _add_missing(users, interactions["user_id"], "user_id", users_path)
    source = f"CSV files {ratings_path.name}, {items_path.name}"
    if users_csv is not None:
        source += f", {Path(users_csv).name}"
    return Dataset(interactions, items, users, source)


def _decode(path: Path) -> str:
    """The file's text: UTF-8 (BOM removed), else Windows-1252, else latin-1.

    Windows-1252 is latin-1 plus curly quotes, dashes and the euro sign in bytes
    0x80-0x9F, which latin-1 would turn into invisible control characters; a
    file using the five bytes cp1252 leaves undefined is read as latin-1. Either
    fallback is reported in a log line naming the encoding.
    """
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        for encoding in ("cp1252", "latin-1"):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            logger.info(
                "%s is not UTF-8 (byte %d): read as %s (latin-1 compatible)",
                path, error.start, encoding,
            )  # fmt: skip
            return text
        raise  # pragma: no cover - latin-1 decodes every byte


def _read_table(path: Path, sep: str | None, required: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV as stripped strings with a ``line`` column; check its columns."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    text = _decode(path)
    lines = text.splitlines()
    if not text.strip():
        raise ValueError(f"{path}: the file is empty (line 1): expected a header line")
    header = lines[0]
    if sep is None:
        counts = {s: header.count(s) for s in CSV_SEPARATORS}
        sep = max(CSV_SEPARATORS, key=counts.get) if any(counts.values()) else ","
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
            skip_blank_lines=False, engine="python" if len(sep) > 1 else "c",
        )  # fmt: skip
    except pd.errors.ParserError as error:
        raise ValueError(f"{path}: cannot be read with sep={sep!r}: {error}") from error
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        hint = ""
        others = [s for s in CSV_SEPARATORS if s != sep and s in header]
        if frame.shape[1] == 1 and others:
            hint = (
                f"; with sep={sep!r} the header reads as the single column "
                f"{header!r}: the file seems separated by {others[0]!r}"
            )
        raise ValueError(
            f"{path}, line 1 (header): missing column(s) {missing}; "
            f"columns found {list(frame.columns)}{hint}"
        )
    frame = frame.apply(lambda column: column.str.strip())
    frame["line"] = np.arange(2, len(frame) + 2)
    frame = frame[frame.drop(columns="line").ne("").any(axis=1)]
    if frame.empty:
        raise ValueError(
            f"{path}: a header but no data rows (line 2): expected columns {required}"
        )
    return frame


def _fail(path: Path, frame: pd.DataFrame, bad: pd.Series, column: str, what: str):
    """Raise ``ValueError`` naming the file, the column and the first bad line."""
    first = frame[bad.to_numpy()].iloc[0]
    raise ValueError(
        f"{path}, line {first['line']}: column {column!r} {what} "
        f"{first[column]!r} ({int(bad.sum())} bad row(s) in all)"
    )


def _numbers(path: Path, frame: pd.DataFrame, column: str, integer: bool) -> pd.Series:
    """``column`` as float64; empty allowed only for integers (-> NaN)."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | ~np.isfinite(values)
    if integer:
        bad = (bad & frame[column].ne("")) | (values.notna() & (values % 1 != 0))
    if bad.any():
        kind = "has a non-integer value" if integer else "has a non-numeric value"
        _fail(path, frame, bad, column, kind)
    return values.astype(np.float64)


def _require_ids(path: Path, frame: pd.DataFrame, column: str) -> None:
    empty = frame[column].eq("")
    if empty.any():
        _fail(path, frame, empty, column, "is empty:")


def _unique_ids(path: Path, frame: pd.DataFrame, column: str) -> None:
    repeated = frame[column].duplicated()
    if repeated.any():
        _fail(path, frame, repeated, column, "lists an ID a second time:")


def _checked_ratings(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    for column in ("user_id", "item_id"):
        _require_ids(path, frame, column)
    rating = _numbers(path, frame, "rating", integer=False)
    if "timestamp" in frame.columns:
        stamps = _numbers(path, frame, "timestamp", integer=True)
        empty = stamps.isna()
        if empty.any():
            _fail(path, frame, empty, "timestamp", "is empty:")
        timestamp = stamps.astype(np.int64)
    else:
        timestamp = np.zeros(len(frame), dtype=np.int64)
    return pd.DataFrame(
        {
            "user_id": frame["user_id"].to_numpy(dtype=object),
            "item_id": frame["item_id"].to_numpy(dtype=object),
            "rating": rating.to_numpy(),
            "timestamp": np.asarray(timestamp, dtype=np.int64),
        }
    )


def _checked_items(frame: pd.DataFrame, path: Path, genre_sep: str) -> pd.DataFrame:
    _require_ids(path, frame, "item_id")
    _unique_ids(path, frame, "item_id")
    year = (
        _numbers(path, frame, "year", integer=True)
        if "year" in frame.columns
        else pd.Series(np.nan, index=frame.index)
    )
    genres = (
        [[g.strip() for g in s.split(genre_sep) if g.strip()] for s in frame["genres"]]
        if "genres" in frame.columns
        else [[] for _ in range(len(frame))]
    )
    items = pd.DataFrame(
        {
            "item_id": frame["item_id"].to_numpy(dtype=object),
            "title": frame["title"].to_numpy(dtype=object),
            "year": year.to_numpy(),
            "genres": genres,
        }
    )
    items["year"] = items["year"].astype("Int64")
    if "text" in frame.columns:
        items["text"] = frame["text"].to_numpy(dtype=object)
    else:
        items = _with_text(items)
        items.loc[items["title"] == "", "text"] = ""
    return items.reset_index(drop=True)


def _checked_users(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    _require_ids(path, frame, "user_id")
    _unique_ids(path, frame, "user_id")
    users = frame.drop(columns="line").replace("", pd.NA)
    if "age" in users.columns:
        users["age"] = _numbers(path, frame, "age", integer=True).astype("Int64")
    return users.reset_index(drop=True)


def _add_missing(
    frame: pd.DataFrame, used: pd.Series, column: str, path: Path
) -> pd.DataFrame:
    """Append rows (empty fields) for the IDs of ``used`` absent from ``frame``."""
    absent = [i for i in pd.unique(used) if i not in set(frame[column])]
    if not absent:
        return frame
    warnings.warn(
        f"{path}: {len(absent)} rated {column.removesuffix('_id')}(s) are missing "
        "from this file and are added with empty fields",
        UserWarning,
        stacklevel=3,
    )
    extra = pd.DataFrame({column: absent})
    if "title" in frame.columns:
        extra = extra.assign(title="", year=pd.NA, genres=[[] for _ in absent], text="")
    out = pd.concat([frame, extra], ignore_index=True)
    if "year" in out.columns:
        out["year"] = out["year"].astype("Int64")
    return out


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
