"""Splits of PROTOCOL.md section 3 on small frames with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rec_utils.splits import (
    item_cold_start_split,
    stratified_split,
    temporal_split,
    user_cold_start_split,
)


def interactions(sizes: dict[str, int], seed: int = 0) -> pd.DataFrame:
    """``sizes[user]`` rows per user, items and timestamps spread out."""
    rng = np.random.RandomState(seed)
    rows = [
        (user, f"i{(n * 7 + j) % 40}", float(rng.randint(1, 6)), int(rng.randint(1e6)))
        for n, (user, size) in enumerate(sizes.items())
        for j in range(size)
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


SIZES = {"u1": 1, "u2": 2, "u3": 3, "u4": 4, "u5": 6, "u6": 10, "u7": 13}


@pytest.mark.parametrize("by", ["user", "item"])
@pytest.mark.parametrize("ratio", [0.75, 0.5, 0.8])
def test_stratified_sizes_per_group(by, ratio):
    df = interactions(SIZES)
    train, test = stratified_split(df, ratio=ratio, by=by, seed=3)
    column = f"{by}_id"
    sizes = df.groupby(column).size()
    got = train.groupby(column).size().reindex(sizes.index, fill_value=0)
    assert (got == np.maximum(np.round(ratio * sizes), 1)).all()


def test_stratified_rounds_half_to_even_with_one_training_row_at_least():
    # 0.75 * 2 = 1.5 -> 2, 0.75 * 6 = 4.5 -> 4; 0.5 * 3 = 1.5 -> 2, and
    # 0.5 * 1 = 0.5 -> 0, raised to the floor of one training row
    df = interactions({"a": 2, "b": 6})
    train, _ = stratified_split(df, ratio=0.75, by="user", seed=0)
    assert train.groupby("user_id").size().to_dict() == {"a": 2, "b": 4}
    df = interactions({"a": 1, "b": 3})
    train, _ = stratified_split(df, ratio=0.5, by="user", seed=0)
    assert train.groupby("user_id").size().to_dict() == {"a": 1, "b": 2}


def test_stratified_reproducible_disjoint_complete_and_input_untouched():
    df = interactions(SIZES)
    before = df.copy()
    train, test = stratified_split(df, by="user", seed=7)
    again_train, again_test = stratified_split(df, by="user", seed=7)
    pd.testing.assert_frame_equal(train, again_train)
    pd.testing.assert_frame_equal(test, again_test)
    pd.testing.assert_frame_equal(df, before)
    assert set(train.index).isdisjoint(test.index)
    assert sorted([*train.index, *test.index]) == list(df.index)
    other, _ = stratified_split(df, by="user", seed=8)
    assert set(other.index) != set(train.index)


def test_stratified_follows_the_documented_draws():
    """One legacy uniform draw per row in frame order; smallest draws to train."""
    df = interactions({"a": 4, "b": 4})
    draws = np.random.RandomState(5).random_sample(len(df))
    expected = set()
    for _, group in df.assign(draw=draws).groupby("user_id"):
        expected |= set(group.nsmallest(3, "draw").index)
    train, _ = stratified_split(df, by="user", seed=5)
    assert set(train.index) == expected


def test_single_rating_user_stays_in_training():
    df = interactions({"lonely": 1, "busy": 8})
    for seed in range(5):
        train, test = stratified_split(df, by="user", seed=seed)
        assert "lonely" in set(train["user_id"])
        assert "lonely" not in set(test["user_id"])


def test_warm_user_split_has_no_test_user_without_training_rows():
    df = interactions(SIZES)
    for seed in range(5):
        train, test = stratified_split(df, ratio=0.75, by="user", seed=seed)
        assert set(test["user_id"]) <= set(train["user_id"])


def test_stratified_groups_by_string_id():
    df = pd.DataFrame({"user_id": [196, "196", 196, "196"], "item_id": list("abcd")})
    train, test = stratified_split(df, ratio=0.75, by="user", seed=0)
    assert (len(train), len(test)) == (3, 1)


def test_temporal_split_global_cutoff():
    df = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c", "a", "b", "d", "a", "c"],
            "item_id": [f"i{n}" for n in range(10)],
            "rating": 4.0,
            "timestamp": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        }
    )
    before = df.copy()
    train, test = temporal_split(df, ratio=0.6)
    pd.testing.assert_frame_equal(df, before)
    assert train["timestamp"].max() <= test["timestamp"].min()
    assert train["timestamp"].tolist() == [1, 2, 3, 4, 5, 6]
    # "d" (time 8) has no training rows and is dropped; "c" is kept
    assert test["user_id"].tolist() == ["b", "a", "c"]
    assert set(test["user_id"]) <= set(train["user_id"])


def test_temporal_split_ties_at_cutoff_go_to_test():
    df = pd.DataFrame(
        {"user_id": list("abab"), "item_id": list("wxyz"), "timestamp": [1, 2, 2, 2]}
    )
    train, test = temporal_split(df, ratio=0.5)
    assert train["timestamp"].tolist() == [1]
    assert not set(train.index) & set(test.index)
    assert test["timestamp"].min() >= train["timestamp"].max()


def test_temporal_split_no_test_row_older_than_training():
    df = interactions(SIZES, seed=3)
    train, test = temporal_split(df, ratio=0.8)
    assert test["timestamp"].min() >= train["timestamp"].max()
    assert len(train) == int(np.round(0.8 * len(df)))


@pytest.mark.parametrize(
    ("split", "column"),
    [(item_cold_start_split, "item_id"), (user_cold_start_split, "user_id")],
)
def test_cold_start_holds_out_whole_ids(split, column):
    df = interactions(SIZES)
    before = df.copy()
    train, test = split(df, frac=0.2, seed=1)
    pd.testing.assert_frame_equal(df, before)
    held = set(test[column])
    assert held.isdisjoint(set(train[column]))
    assert len(held) == int(np.round(0.2 * df[column].nunique()))
    assert len(train) + len(test) == len(df)
    again, _ = split(df, frac=0.2, seed=1)
    pd.testing.assert_frame_equal(train, again)
    other, _ = split(df, frac=0.2, seed=2)
    assert not other.equals(train)


def test_bad_arguments_raise():
    df = interactions({"a": 2})
    with pytest.raises(ValueError, match="by must be"):
        stratified_split(df, by="rating")
    with pytest.raises(ValueError, match="ratio"):
        stratified_split(df, ratio=1.0)
    with pytest.raises(ValueError, match="empty"):
        stratified_split(df.iloc[:0])
    with pytest.raises(ValueError, match="frac"):
        item_cold_start_split(df, frac=0.0)
