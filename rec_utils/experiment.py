"""Seeding, paths, timing and recorded metrics shared by the notebooks."""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU) from one integer."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def project_root() -> Path:
    """The folder holding ``pyproject.toml`` and ``notebooks/``.

    Searched upwards from the working directory (notebooks run in ``notebooks/``),
    then from this package's folder; the working directory if neither has one.
    """
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if (folder / "pyproject.toml").is_file() and (
                folder / "notebooks"
            ).is_dir():
                return folder
    return Path.cwd()


def build_dir() -> Path:
    """Where executed notebooks, metrics and caches go (``REC_BUILD_DIR``)."""
    return Path(os.environ.get("REC_BUILD_DIR", project_root() / "build"))


def metrics_dir() -> Path:
    """Where recorded metrics go (``REC_METRICS_DIR``, else ``build/metrics``)."""
    return Path(os.environ.get("REC_METRICS_DIR", build_dir() / "metrics"))


def cache_dir() -> Path:
    """Where caches go (``REC_CACHE_DIR``, else ``build/cache``)."""
    return Path(os.environ.get("REC_CACHE_DIR", build_dir() / "cache"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.

    A reader never sees a half-written file, and an interrupted write leaves the
    previous file in place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(value: Any) -> Any:
    """Convert NumPy scalars and arrays to JSON-ready Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def record_metrics(
    stem: str,
    models: dict[str, dict[str, float]],
    protocol: dict[str, Any],
    **extra: Any,
) -> Path:
    """Write ``<metrics_dir>/<stem>.json`` as PROTOCOL.md section 7 describes.

    Args:
        stem: the notebook's file name without extension, e.g. ``"05_fusion"``.
        models: model name -> metric name -> number.
        protocol: the split and its seed(s).
        **extra: further top-level keys (e.g. ``best_model``).

    Returns:
        The path written. The file is replaced atomically.
    """
    payload = {"models": models, "protocol": protocol, **extra}
    payload = _plain(payload)
    path = metrics_dir() / f"{stem}.json"
    text = json.dumps(payload, indent=2, sort_keys=False, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))
    logger.info("recorded metrics of %d models in %s", len(models), path)
    return path


def load_metrics(stem: str) -> dict[str, Any]:
    """Read back what :func:`record_metrics` wrote for ``stem``."""
    path = metrics_dir() / f"{stem}.json"
    return json.loads(path.read_text(encoding="utf-8"))


@contextmanager
def timed(store: dict[str, float], key: str) -> Iterator[None]:
    """Add the wall-clock seconds of the ``with`` block to ``store[key]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        store[key] = store.get(key, 0.0) + time.perf_counter() - start
