"""Data loading: the three MovieLens-100K sources and your own CSV files."""

from __future__ import annotations

import hashlib
import io
import logging
import urllib.error
import urllib.request
import warnings
import zipfile
from importlib import metadata

import pandas as pd
import pytest

from rec_utils import data as data_module
from rec_utils.data import (
    ML100K_ENV,
    ML100K_GENRES,
    download_movielens_100k,
    item_text,
    load_csv_dataset,
    load_movielens_100k,
    sample_users,
)
from rec_utils.splits import stratified_split

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t242\t5\t881250999\n"
U_USER = "196|49|M|writer|55105\n186|39|F|executive|00000\n"


def _flags(*genres: str) -> str:
    return "|".join("1" if g in genres else "0" for g in ML100K_GENRES)


U_ITEM = (
    f"242|Kolya (1996)|24-Jan-1997||http://x|{_flags('Comedy')}\n"
    f"302|Misérables, Les (1995)|01-Jan-1995||http://x|{_flags('Drama', 'Musical')}\n"
)


def _write_folder(folder, u_data=U_DATA, u_item=U_ITEM, u_user=U_USER):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(u_data, encoding="utf-8")
    (folder / "u.item").write_bytes(u_item.encode("latin-1"))
    (folder / "u.user").write_text(u_user, encoding="utf-8")
    return folder


def _source_lines(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "rec_utils.data" and "MovieLens-100K sources" in r.getMessage()
    ]


@pytest.fixture(autouse=True)
def _no_env_folder(monkeypatch):
    monkeypatch.delenv(ML100K_ENV, raising=False)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """No test reaches the network: urlopen fails unless a test replaces it."""

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline)


@pytest.fixture(scope="module")
def recbole():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_movielens_100k(download=False)


# -- local folder ---------------------------------------------------------------------


def test_local_folder_reads_latin1_titles_and_keeps_latest_rating(tmp_path, caplog):
    folder = _write_folder(tmp_path / "ml")
    caplog.set_level(logging.INFO, logger="rec_utils.data")
    with pytest.warns(UserWarning, match="1 repeated"):
        data = load_movielens_100k(folder, download=False)

    items = data.items.set_index("item_id")
    assert items.loc["302", "title"] == "Misérables, Les"
    assert items.loc["302", "text"] == "Misérables, Les (1995). Genres: Drama, Musical."
    # the film's year is the one in the title, not the later release date
    assert items.loc["242", "year"] == 1996
    inter = data.interactions
    assert len(inter) == 2 and inter["user_id"].map(type).eq(str).all()
    assert inter.loc[inter["user_id"] == "196", "rating"].tolist() == [5.0]
    assert data.users.set_index("user_id").loc["186", "zip_code"] == "00000"
    assert data.source.startswith("folder")
    (line,) = _source_lines(caplog)
    assert "local folder" in line and "used" in line


def test_env_folder_is_used(tmp_path, monkeypatch):
    folder = _write_folder(tmp_path / "ml", u_data=U_DATA.splitlines(True)[0])
    monkeypatch.setenv(ML100K_ENV, str(folder))
    assert load_movielens_100k(download=False).source.startswith("folder")


# -- the recbole copy -----------------------------------------------------------------


def test_recbole_copy_counts_and_benchmark_split(recbole):
    assert len(recbole.interactions) == 100_000
    assert len(recbole.items) == 1_682
    assert len(recbole.users) == 943
    assert recbole.interactions["user_id"].nunique() == 943
    train, test = stratified_split(recbole.interactions, by="item", seed=42)
    assert (len(train), len(test)) == (75_066, 24_934)
    items = recbole.items.set_index("item_id")
    assert items.loc["543", "text"] == "Misérables, Les (1995). Genres: Drama, Musical."
    assert items.loc["267", "title"] == "unknown" and pd.isna(items.loc["267", "year"])


def test_every_source_is_reported_in_one_line(caplog):
    caplog.set_level(logging.INFO, logger="rec_utils.data")
    load_movielens_100k(download=False)
    (line,) = _source_lines(caplog)
    assert "local folder: skipped" in line
    assert "download: skipped" in line
    assert "recbole==1.2.1 copy" in line and line.endswith("used")


def test_sources_give_the_same_items(recbole, tmp_path):
    """An original-format folder written from the recbole rows reads the same."""
    rows = []
    for item in recbole.items.itertuples():
        raw = item.title
        if item.title.endswith(" (V)"):  # "... (1995) (V)" in the original
            raw = f"{item.title[:-4]} ({item.year}) (V)"
        elif not pd.isna(item.year):
            raw = f"{item.title} ({item.year})"
        date = "" if pd.isna(item.year) else f"01-Jan-{item.year}"
        if item.item_id == "242":
            date = "24-Jan-1997"  # a release later than the film's year
        genres = item.genres or ["unknown"]
        rows.append(f"{item.item_id}|{raw}|{date}||http://x|{_flags(*genres)}\n")
    inter = recbole.interactions.head(500)
    users = recbole.users
    folder = _write_folder(
        tmp_path / "ml",
        u_data=inter.to_csv(sep="\t", header=False, index=False),
        u_item="".join(rows),
        u_user=users.to_csv(sep="|", header=False, index=False),
    )
    original = load_movielens_100k(folder, download=False)
    pd.testing.assert_frame_equal(original.items, recbole.items)
    pd.testing.assert_frame_equal(original.users, recbole.users)
    pd.testing.assert_frame_equal(original.interactions, inter)
    land = original.items.set_index("item_id").loc["1412"]
    assert land["title"] == "Land Before Time III: The Time of the Great Giving (V)"
    assert land["year"] == 1995


# -- the download ---------------------------------------------------------------------


def _archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-100k/u.data", U_DATA)
        archive.writestr("ml-100k/u.item", U_ITEM.encode("latin-1"))
        archive.writestr("ml-100k/u.user", U_USER)
        archive.writestr("ml-100k/README", "not unpacked")
    return buffer.getvalue()


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _serve(monkeypatch, payload: bytes) -> list[str]:
    calls: list[str] = []

    def urlopen(url, timeout=None):
        calls.append(url)
        return _Response(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


def test_download_checked_and_unpacked(tmp_path, monkeypatch, caplog):
    payload = _archive()
    monkeypatch.setattr(
        data_module, "ML100K_SHA256", hashlib.sha256(payload).hexdigest()
    )
    calls = _serve(monkeypatch, payload)
    caplog.set_level(logging.INFO, logger="rec_utils.data")
    with pytest.warns(UserWarning, match="1 repeated"):
        data = load_movielens_100k(data_dir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "ml-100k").iterdir()) == [
        "u.data",
        "u.item",
        "u.user",
    ]
    assert data.items.set_index("item_id").loc["302", "title"] == "Misérables, Les"
    assert "SHA-256 checked" in _source_lines(caplog)[0]
    # a second call reuses the unpacked folder without the network
    download_movielens_100k(tmp_path)
    assert len(calls) == 1


def test_download_with_bad_checksum_is_refused(tmp_path, monkeypatch):
    _serve(monkeypatch, _archive())  # its SHA-256 is not the official one
    with pytest.raises(ValueError, match="SHA-256"):
        download_movielens_100k(tmp_path)
    assert not (tmp_path / "ml-100k").exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_checksum_falls_through_to_the_next_source(tmp_path, monkeypatch, caplog):
    _serve(monkeypatch, _archive())
    caplog.set_level(logging.INFO, logger="rec_utils.data")
    data = load_movielens_100k(data_dir=tmp_path)
    assert data.source.startswith("recbole")
    (line,) = _source_lines(caplog)
    assert "SHA-256" in line and "failed" in line


def test_failing_network_falls_through_to_the_next_source(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="rec_utils.data")
    data = load_movielens_100k(data_dir=tmp_path)
    assert len(data.interactions) == 100_000
    (line,) = _source_lines(caplog)
    assert "URLError" in line and "network disabled" in line
    assert not (tmp_path / "ml-100k").exists()


def test_no_source_lists_everything_tried(tmp_path, monkeypatch):
    def missing():
        raise metadata.PackageNotFoundError("recbole")

    monkeypatch.setattr(data_module, "_recbole_folder", missing)
    with pytest.raises(FileNotFoundError) as error:
        load_movielens_100k(tmp_path / "nowhere", data_dir=tmp_path)
    message = str(error.value)
    assert "local folder" in message and "lacks" in message
    assert "download" in message and "URLError" in message
    assert "recbole copy" in message and "PackageNotFoundError" in message


def test_sample_users_keeps_catalogue(recbole):
    small = sample_users(recbole, 20, seed=1)
    assert small.interactions["user_id"].nunique() == 20
    assert len(small.items) == 1_682 and len(small.users) == 20
    again = sample_users(recbole, 20, seed=1)
    pd.testing.assert_frame_equal(small.interactions, again.interactions)


def test_item_text_template():
    assert item_text("Heat", 1995, ["Action", "Crime"]) == (
        "Heat (1995). Genres: Action, Crime."
    )
    assert item_text("Heat", None, []) == "Heat."
    assert item_text(None, None, ["Drama"]) == "Genres: Drama."
    assert item_text("", None, []) == ""


# -- your own CSV files ---------------------------------------------------------------

ITEMS = "item_id,title,year,genres\n1,Heat,1995,Action|Crime\n2,Babe,1995,Comedy\n"
RATINGS = "user_id,item_id,rating,timestamp\n196,1,4,10\n186,2,3.5,20\n"


def _csv(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _load(tmp_path, ratings=RATINGS, items=ITEMS, users=None, **kwargs):
    users_path = None if users is None else _csv(tmp_path, "users.csv", users)
    return load_csv_dataset(
        _csv(tmp_path, "ratings.csv", ratings),
        _csv(tmp_path, "items.csv", items),
        users_path,
        **kwargs,
    )


def test_csv_reads_the_contract_frames(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = _load(tmp_path, users="user_id,age,gender\n196,49,M\n186,,F\n")
    inter = data.interactions
    assert list(inter.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert inter["user_id"].tolist() == ["196", "186"]
    assert inter["rating"].tolist() == [4.0, 3.5]
    assert inter["timestamp"].dtype == "int64"
    items = data.items.set_index("item_id")
    assert items.loc["1", "genres"] == ["Action", "Crime"]
    assert items.loc["1", "text"] == "Heat (1995). Genres: Action, Crime."
    assert str(data.items["year"].dtype) == "Int64"
    assert data.users["age"].tolist()[0] == 49 and pd.isna(data.users["age"][1])


def test_csv_without_timestamp_gets_zero_and_keeps_last_line(tmp_path):
    ratings = "user_id,item_id,rating\n196,1,4\n196,1,2\n"
    with pytest.warns(UserWarning, match="1 repeated"):
        data = _load(tmp_path, ratings=ratings)
    assert data.interactions["timestamp"].tolist() == [0]
    assert data.interactions["rating"].tolist() == [2.0]


def test_csv_repeated_pair_keeps_latest_never_sums(tmp_path):
    ratings = (
        "user_id,item_id,rating,timestamp\n"
        "196,1,4,30\n196,1,5,10\n186,2,3,5\n196,1,2,20\n"
    )
    with pytest.warns(UserWarning, match="2 repeated"):
        data = _load(tmp_path, ratings=ratings)
    pair = data.interactions[data.interactions["user_id"] == "196"]
    assert pair["rating"].tolist() == [4.0] and pair["timestamp"].tolist() == [30]
    assert len(data.interactions) == 2


def test_csv_ids_are_strings(tmp_path):
    data = _load(tmp_path, ratings="user_id,item_id,rating\n 196 ,1,4\n196,2,3\n")
    assert data.interactions["user_id"].tolist() == ["196", "196"]
    assert data.users["user_id"].tolist() == ["196"]


@pytest.mark.parametrize(
    ("ratings", "pattern"),
    [
        ("user_id,item_id\n1,2\n", r"ratings\.csv, line 1.*'rating'"),
        ("user_id,item_id,rating\n1,2,4\n1,3,good\n", r"ratings\.csv, line 3.*'good'"),
        ("user_id,item_id,rating\n1,2,4\n\n1,3,\n", r"ratings\.csv, line 4.*'rating'"),
        ("user_id,item_id,rating\n1,2,nan\n", r"ratings\.csv, line 2.*'rating'"),
        ("user_id,item_id,rating\n,2,4\n", r"ratings\.csv, line 2.*'user_id'"),
        ("user_id,item_id,rating,timestamp\n1,2,4,x\n", r"line 2.*'timestamp'"),
        ("user_id,item_id,rating,timestamp\n1,2,4,1.5\n", r"line 2.*'timestamp'"),
        ("", r"ratings\.csv.*empty"),
        ("\n\n", r"ratings\.csv.*empty"),
        ("user_id,item_id,rating\n", r"ratings\.csv.*no data rows"),
    ],
)
def test_csv_bad_ratings_name_file_column_and_line(tmp_path, ratings, pattern):
    with pytest.raises(ValueError, match=pattern):
        _load(tmp_path, ratings=ratings)


def test_csv_wrong_separator_is_named(tmp_path):
    ratings = "user_id;item_id;rating\n1;2;4\n"
    with pytest.raises(ValueError, match=r"line 1.*single column.*';'"):
        _load(tmp_path, ratings=ratings, sep=",")
    data = _load(tmp_path, ratings=ratings)  # sep=None finds ';' per file
    assert data.interactions["rating"].tolist() == [4.0]


def test_csv_bad_items_name_file_column_and_line(tmp_path):
    with pytest.raises(ValueError, match=r"items\.csv, line 1.*'title'"):
        _load(tmp_path, items="item_id,name\n1,Heat\n")
    with pytest.raises(ValueError, match=r"items\.csv, line 3.*'year'.*'soon'"):
        _load(tmp_path, items="item_id,title,year\n1,Heat,1995\n2,Babe,soon\n")
    with pytest.raises(ValueError, match=r"items\.csv, line 3.*'item_id'.*'1'"):
        _load(tmp_path, items="item_id,title\n1,Heat\n1,Babe\n")


def test_csv_latin1_items_fall_back_with_a_log_line(tmp_path, caplog):
    items = 'item_id,title,year\n1,"Misérables, Les",1995\n2,Babe,1995\n'
    caplog.set_level(logging.INFO, logger="rec_utils.data")
    data = load_csv_dataset(
        _csv(tmp_path, "ratings.csv", RATINGS),
        _csv(tmp_path, "items.csv", items, encoding="latin-1"),
    )
    assert data.items["title"][0] == "Misérables, Les"
    assert data.items["text"][0] == "Misérables, Les (1995)."
    assert any(
        "latin-1" in r.getMessage() and "items.csv" in r.getMessage()
        for r in caplog.records
    )


def test_csv_utf8_bom_keeps_first_column_name(tmp_path):
    ratings = _csv(tmp_path, "ratings.csv", RATINGS, encoding="utf-8-sig")
    assert ratings.read_bytes().startswith(b"\xef\xbb\xbf")
    data = load_csv_dataset(ratings, _csv(tmp_path, "items.csv", ITEMS, "utf-8-sig"))
    assert data.interactions["user_id"].tolist() == ["196", "186"]
    assert data.items["item_id"].tolist() == ["1", "2"]


def test_csv_items_without_title_get_empty_text(tmp_path):
    items = "item_id,title,genres\n1,Heat,Action\n2,,Comedy\n"
    with pytest.warns(UserWarning, match=r"items\.csv: 1 item\(s\) without a title"):
        data = _load(tmp_path, items=items)
    assert data.items["text"].tolist() == ["Heat. Genres: Action.", ""]


def test_csv_rated_items_missing_from_items_file_are_added(tmp_path):
    with pytest.warns(UserWarning) as record:
        data = _load(tmp_path, items="item_id,title\n1,Heat\n")
    messages = [str(w.message) for w in record]
    assert any("1 rated item(s) are missing" in m for m in messages)
    assert any("1 item(s) without a title" in m for m in messages)
    assert data.items["item_id"].tolist() == ["1", "2"]
    assert data.items["text"].tolist() == ["Heat.", ""]


def test_csv_text_column_is_used_as_given(tmp_path):
    items = "item_id\ttitle\ttext\n1\tHeat\ta heist film\n2\tBabe\ta pig\n"
    ratings = RATINGS.replace(",", "\t")
    data = load_csv_dataset(
        _csv(tmp_path, "r.tsv", ratings), _csv(tmp_path, "i.tsv", items)
    )
    assert data.items["text"].tolist() == ["a heist film", "a pig"]


def test_csv_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.csv"):
        load_csv_dataset(tmp_path / "nothere.csv", _csv(tmp_path, "items.csv", ITEMS))
