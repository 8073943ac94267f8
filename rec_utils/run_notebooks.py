"""Execute the numbered notebooks headless with papermill.

``python -m rec_utils.run_notebooks`` runs every ``notebooks/NN_*.ipynb`` in order
on the full data; executed copies go to ``build/notebooks/`` and recorded
metrics to ``build/metrics/`` (with ``--smoke``: under ``build/smoke/``). A
failing cell stops the run with exit status 1 and a message naming the notebook
and the cell; a cell running longer than the timeout is stopped and reported the
same way.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from .experiment import build_dir, project_root

logger = logging.getLogger(__name__)


class NotebookError(RuntimeError):
    """A notebook failed; the message names the notebook and the cell."""


def notebook_paths(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks of ``folder`` in order, optionally by stem prefix."""
    paths = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.stem.startswith(o) for o in only)]
    return paths


def _failed_cell(notebook_path: Path) -> str:
    """Describe the first cell whose output is an error in an executed notebook."""
    import nbformat

    try:
        nb = nbformat.read(notebook_path, as_version=4)
    except (OSError, ValueError):
        return "unknown cell"
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first = (
                    cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                )
                return f"cell {index} ({first[:60]!r})"
    return "unknown cell"


def execute(
    notebook: Path,
    out_dir: Path,
    parameters: dict[str, Any] | None = None,
    timeout: int = 1800,
) -> Path:
    """Execute one notebook with papermill; return the executed copy's path.

    Raises:
        NotebookError: naming the notebook and the failing cell, on an error or
            a cell running longer than ``timeout`` seconds.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / notebook.name
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters or {},
            kernel_name="python3",
            cwd=str(notebook.parent),
            execution_timeout=timeout,
            progress_bar=False,
        )
    except PapermillExecutionError as error:
        raise NotebookError(
            f"{notebook.name} failed in cell {error.cell_index} "
            f"(execution count {error.exec_count}): {error.ename}: {error.evalue}"
        ) from error
    except Exception as error:  # a timeout or a dead kernel
        raise NotebookError(
            f"{notebook.name} failed in {_failed_cell(output)}: "
            f"{type(error).__name__}: {error}"
        ) from error
    logger.info("%s: %.0f s", notebook.name, time.perf_counter() - start)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="run with SMOKE=True")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--only", nargs="*", help="stem prefixes, e.g. 01 03")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.smoke and "REC_BUILD_DIR" not in os.environ:
        # smoke results never overwrite the full run's notebooks and metrics
        os.environ["REC_BUILD_DIR"] = str(build_dir() / "smoke")
    folder = project_root() / "notebooks"
    out_dir = build_dir() / "notebooks"
    parameters = {"SMOKE": True} if args.smoke else {}
    times = {}
    for path in notebook_paths(folder, args.only):
        logger.info("running %s", path.name)
        start = time.perf_counter()
        try:
            execute(path, out_dir, parameters, timeout=args.timeout)
        except NotebookError as error:
            logger.error("FAILED: %s", error)
            logger.error("executed copy: %s", out_dir / path.name)
            return 1
        times[path.name] = time.perf_counter() - start
    for name, seconds in times.items():
        logger.info("%-36s %7.1f s", name, seconds)
    logger.info("%-36s %7.1f s", "total", sum(times.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
