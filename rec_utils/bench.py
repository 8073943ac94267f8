"""Time every benchmark model on the full benchmark split against the speed targets.

``python -m rec_utils.bench`` fits each model once on the training part of
``stratified_split(by="item", seed=42)`` (full MovieLens-100K) and prints its fit
time and the time to score and rank all users against the full catalogue (top 10,
seen items removed), next to the targets:

* EASE (and GenEASE) fit in under 2 s, every kNN in under 5 s, the autoencoders
  (Mult-DAE, Mult-VAE) in under 60 s;
* the top-10 lists of all users take under half a second per model.

The hyperparameters are representative values of the benchmark's search spaces
(``DEFAULTS``), not the tuned ones: the run time hardly depends on them. The
exit status is 1 when a target is missed (a report, not a test: timings depend
on the machine).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import pandas as pd

from .baselines import GenEASE, ImplicitALS, MultVAE, PureSVD, RP3beta
from .data import load_movielens_100k
from .models import EASE, ItemKNN, MultDAE, Popularity, UserKNN
from .splits import stratified_split

logger = logging.getLogger(__name__)

#: Model name -> (class, arguments) of the timed models.
DEFAULTS = {
    "popularity": (Popularity, {}),
    "item_knn": (ItemKNN, {"k": 200, "shrinkage": 10.0}),
    "user_knn": (
        UserKNN,
        {"formula": "centered", "ranking": "neighbours", "k": 200, "shrinkage": 10.0},
    ),
    "rp3beta": (RP3beta, {"alpha": 0.8, "beta": 0.5}),
    "pure_svd": (PureSVD, {"factors": 50}),
    "ials": (ImplicitALS, {"factors": 96, "regularization": 20.0, "alpha": 1.75}),
    "ease": (EASE, {"lam": 300.0}),
    "gen_ease": (GenEASE, {}),
    "mult_dae": (MultDAE, {"hidden": 0, "epochs": 50, "show_progress": False}),
    "mult_vae": (MultVAE, {"hidden": 0, "epochs": 50, "show_progress": False}),
}

#: Fit-time targets in seconds; models not listed have none.
FIT_LIMITS = {
    "ease": 2.0,
    "gen_ease": 2.0,
    "item_knn": 5.0,
    "user_knn": 5.0,
    "mult_dae": 60.0,
    "mult_vae": 60.0,
}
RECOMMEND_LIMIT = 0.5


def time_models(
    train: pd.DataFrame, items, models=DEFAULTS, k: int = 10
) -> pd.DataFrame:
    """Fit each model on ``train`` and rank all its users; one row per model.

    Columns ``fit_seconds``, ``recommend_seconds`` (top ``k`` of every training
    user over the full catalogue), ``fit_limit`` and ``ok`` (both targets met).
    """
    rows = {}
    for name, (factory, params) in models.items():
        start = time.perf_counter()
        model = factory(**params).fit(train, items=items)
        fit = time.perf_counter() - start
        start = time.perf_counter()
        model.recommend(model.user_ids_, k=k)
        recommend = time.perf_counter() - start
        limit = FIT_LIMITS.get(name, float("inf"))
        rows[name] = {
            "fit_seconds": fit,
            "recommend_seconds": recommend,
            "fit_limit": limit,
            "ok": fit < limit and recommend < RECOMMEND_LIMIT,
        }
        logger.info("%s: fit %.2f s, recommend %.3f s", name, fit, recommend)
    return pd.DataFrame(rows).T


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42, help="split seed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    data = load_movielens_100k()
    train, _ = stratified_split(data.interactions, by="item", seed=args.seed)
    table = time_models(train, data.items["item_id"].tolist())
    with pd.option_context("display.width", 120):
        logger.info("\n%s", table.to_string(float_format=lambda v: f"{v:.3f}"))
    missed = table.index[~table["ok"].astype(bool)].tolist()
    if missed:
        logger.warning("speed targets missed by: %s", ", ".join(missed))
        return 1
    logger.info("all speed targets met (recommend < %.1f s per model)", RECOMMEND_LIMIT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
