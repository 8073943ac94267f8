"""Notebook sources are committed clean: no outputs, python3 kernel, the skeleton."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_numbered_notebooks_exist():
    stems = [p.stem for p in NOTEBOOKS]
    for prefix in ("00_", "01_", "02_", "03_", "04_", "05_", "06_", "07_"):
        assert any(s.startswith(prefix) for s in stems), f"no notebook {prefix}*"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {index} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {index} was run"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_python3_kernel(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_skeleton(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
    source = tagged[0].source
    for name in ("SEED", "SMOKE", "K"):
        assert f"{name} =" in source, f"{path.name}: parameter {name} missing"
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert any(h.startswith("## 0") for h in headings), (
        f"{path.name}: no '## 0' section"
    )
    assert any(h.startswith("## Summary") for h in headings)
    assert any(h.startswith("## References") for h in headings)
    assert "record_metrics(" in "".join(
        c.source for c in nb.cells if c.cell_type == "code"
    )
