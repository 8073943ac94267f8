"""Recorded metrics are written atomically; one seed gives the same draws."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest
import torch

from rec_utils import experiment
from rec_utils.experiment import (
    atomic_write_bytes,
    load_metrics,
    record_metrics,
    seed_everything,
    timed,
)


@pytest.fixture
def metrics_dir(tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    monkeypatch.setenv("REC_METRICS_DIR", str(folder))
    return folder


def test_record_metrics_writes_plain_json(metrics_dir):
    models = {"popularity": {"ndcg@10": np.float32(0.25), "users": np.int64(943)}}
    path = record_metrics(
        "00_demo", models, protocol={"split": "stratified", "seeds": (42,)},
        counts=np.array([1, 2]), flag=np.bool_(True),
    )  # fmt: skip
    assert path == metrics_dir / "00_demo.json"
    assert [p.name for p in metrics_dir.iterdir()] == ["00_demo.json"]
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert loaded == load_metrics("00_demo")
    assert loaded["models"]["popularity"]["ndcg@10"] == pytest.approx(0.25)
    assert loaded["models"]["popularity"]["users"] == 943
    assert loaded["protocol"] == {"split": "stratified", "seeds": [42]}
    assert loaded["counts"] == [1, 2] and loaded["flag"] is True


def test_nan_is_refused_and_the_previous_file_kept(metrics_dir):
    record_metrics("00_demo", {"m": {"map": 0.1}}, protocol={})
    with pytest.raises(ValueError):
        record_metrics("00_demo", {"m": {"map": float("nan")}}, protocol={})
    with pytest.raises(ValueError):
        record_metrics("00_demo", {"m": {"map": np.float64(np.inf)}}, protocol={})
    assert [p.name for p in metrics_dir.iterdir()] == ["00_demo.json"]
    assert load_metrics("00_demo")["models"]["m"]["map"] == 0.1


def test_interrupted_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    atomic_write_bytes(target, b"old")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(experiment.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert os.listdir(tmp_path) == ["out.json"]
    assert target.read_bytes() == b"old"


def test_seed_everything_gives_identical_draws():
    def draws():
        return (
            random.random(),
            np.random.rand(3).tolist(),
            torch.rand(3).tolist(),
            torch.nn.Linear(4, 2).weight.detach().numpy().tolist(),
        )

    seed_everything(123)
    first = draws()
    seed_everything(123)
    assert draws() == first
    seed_everything(124)
    assert draws() != first


def test_timed_adds_up():
    store: dict[str, float] = {}
    with timed(store, "fit_seconds"):
        pass
    with timed(store, "fit_seconds"):
        sum(range(1000))
    assert set(store) == {"fit_seconds"} and store["fit_seconds"] >= 0.0
