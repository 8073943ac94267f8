"""Shared fixtures: notebook execution in smoke mode, with its recorded metrics."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


@pytest.fixture(scope="session")
def smoke_dirs(tmp_path_factory) -> dict[str, Path]:
    """One build folder for the whole session: metrics, cache and executed copies."""
    base = tmp_path_factory.mktemp("smoke_build")
    dirs = {"build": base, "metrics": base / "metrics", "cache": base / "cache"}
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    return dirs


_RUNS: dict[tuple, dict] = {}


def execute_notebook(stem: str, dirs: dict[str, Path], **parameters) -> dict:
    """Execute ``notebooks/<stem>.ipynb`` in smoke mode; return its recorded metrics."""
    from rec_utils.run_notebooks import execute

    params = {"SMOKE": True, **parameters}
    key = (stem, tuple(sorted(params.items())), str(dirs["metrics"]))
    if key in _RUNS:
        return _RUNS[key]
    env = {
        "REC_BUILD_DIR": str(dirs["build"]),
        "REC_METRICS_DIR": str(dirs["metrics"]),
        "REC_CACHE_DIR": str(dirs["cache"]),
    }
    old = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        execute(
            NOTEBOOKS / f"{stem}.ipynb",
            dirs["build"] / "notebooks",
            params,
            timeout=900,
        )
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    metrics = json.loads((dirs["metrics"] / f"{stem}.json").read_text(encoding="utf-8"))
    _RUNS[key] = metrics
    return metrics


@pytest.fixture(scope="session")
def run_notebook(smoke_dirs):
    """``run_notebook(stem, **params)``: smoke-run a notebook once per session."""

    def run(stem: str, **parameters) -> dict:
        return execute_notebook(stem, smoke_dirs, **parameters)

    return run
