"""Tiny interaction frames for the model tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def frame(rows) -> pd.DataFrame:
    """``[(user, item, rating), ...]`` -> an interactions frame, IDs as strings."""
    users, items, ratings = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user_id": [str(u) for u in users],
            "item_id": [str(i) for i in items],
            "rating": np.asarray(ratings, dtype=float),
            "timestamp": np.arange(len(rows)),
        }
    )
