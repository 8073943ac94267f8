"""Train/test splits of PROTOCOL.md section 3.

Every split takes the interactions frame, returns new frames and never modifies
its input. Validation splits apply the same function to the training part.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def _check(df: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"interactions frame lacks column(s) {missing}")
    if df.empty:
        raise ValueError("interactions frame is empty: nothing to split")


def stratified_split(
    df: pd.DataFrame, ratio: float = 0.75, by: str = "user", seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random split inside each user's (or item's) rows.

    Each row gets one uniform number from the legacy NumPy generator
    ``RandomState(seed)``, drawn over the frame in its given order; inside each
    group the rows are ordered by that number and the first
    ``max(1, round(ratio * group_size))`` go to train (NumPy rounding, half to
    even). Every group keeps at least one training row, so a user with a single
    rating stays in training and, with ``by="user"``, no test user lacks
    training rows, whatever the ratio (at ``ratio=0.75`` the floor never binds).

    With ``by="item"``, ``seed=42`` and MovieLens-100K in its original file order
    this reproduces the published benchmark split: 75,066 train and 24,934 test
    rows.

    Returns:
        ``(train, test)``, each in the input's row order, index kept.
    """
    if by not in ("user", "item"):
        raise ValueError(f"by must be 'user' or 'item', not {by!r}")
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must lie strictly between 0 and 1, not {ratio}")
    column = f"{by}_id"
    _check(df, (column,))
    draws = np.random.RandomState(seed).random_sample(len(df))
    frame = pd.DataFrame({"group": df[column].astype(str).to_numpy(), "draw": draws})
    frame["pos"] = np.arange(len(df))
    frame = frame.sort_values(["group", "draw"], kind="stable")
    rank = frame.groupby("group", sort=False).cumcount().to_numpy() + 1
    size = frame.groupby("group", sort=False)["draw"].transform("size").to_numpy()
    in_train = np.zeros(len(df), dtype=bool)
    n_train = np.maximum(np.round(ratio * size), 1)
    in_train[frame["pos"].to_numpy()] = rank <= n_train
    return df[in_train].copy(), df[~in_train].copy()


def temporal_split(
    df: pd.DataFrame, ratio: float = 0.8
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One global cut-off time for everybody: no test row is older than any train row.

    The cut-off is the timestamp of the row at position ``round(ratio * n)`` in time
    order; rows strictly before it go to train, the rest to test, so rows sharing
    the cut-off timestamp all go to test. Test users with no training rows are
    dropped and counted in a log line. (A per-user cut-off would leak the future.)
    Test items unseen in training are kept: they are relevant but no
    interaction-based model can rank them.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must lie strictly between 0 and 1, not {ratio}")
    _check(df, ("user_id", "timestamp"))
    times = np.sort(df["timestamp"].to_numpy())
    cutoff = times[min(int(np.round(ratio * len(times))), len(times) - 1)]
    in_train = (df["timestamp"] < cutoff).to_numpy()
    train, test = df[in_train].copy(), df[~in_train].copy()
    known = test["user_id"].astype(str).isin(set(train["user_id"].astype(str)))
    if (~known).any():
        logger.info(
            "temporal split: dropped %d test rows of %d users with no training rows",
            int((~known).sum()),
            test.loc[~known, "user_id"].nunique(),
        )
    return train, test[known.to_numpy()].copy()


def _cold_start_split(
    df: pd.DataFrame, column: str, frac: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not 0.0 < frac < 1.0:
        raise ValueError(f"frac must lie strictly between 0 and 1, not {frac}")
    _check(df, (column,))
    ids = df[column].astype(str)
    unique = np.array(sorted(ids.unique()), dtype=object)
    n_cold = int(np.round(frac * len(unique)))
    cold = set(np.random.RandomState(seed).permutation(unique)[:n_cold])
    is_cold = ids.isin(cold).to_numpy()
    return df[~is_cold].copy(), df[is_cold].copy()


def item_cold_start_split(
    df: pd.DataFrame, frac: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out every interaction of ``round(frac * n_items)`` random items.

    The cold items are the first of a ``RandomState(seed)`` permutation of the
    sorted item IDs; they never appear in train.
    """
    return _cold_start_split(df, "item_id", frac, seed)


def user_cold_start_split(
    df: pd.DataFrame, frac: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out every interaction of ``round(frac * n_users)`` random users."""
    return _cold_start_split(df, "user_id", frac, seed)
