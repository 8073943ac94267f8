"""The notebook runner names the failing notebook and cell, and stops hanging cells."""

from __future__ import annotations

import nbformat
import pytest

from rec_utils.run_notebooks import NotebookError, execute, main, notebook_paths


def _write(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell("SMOKE = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_failing_cell_is_named(tmp_path):
    path = _write(
        tmp_path / "07_broken.ipynb", "x = 1", "raise ValueError('bad value 42')"
    )
    with pytest.raises(
        NotebookError, match=r"07_broken\.ipynb.*ValueError.*bad value 42"
    ):
        execute(path, tmp_path / "out", {"SMOKE": True}, timeout=60)


def test_hanging_cell_is_stopped(tmp_path):
    path = _write(tmp_path / "08_hangs.ipynb", "import time\ntime.sleep(120)")
    with pytest.raises(NotebookError, match=r"08_hangs\.ipynb"):
        execute(path, tmp_path / "out", {}, timeout=3)


def test_parameters_are_injected(tmp_path):
    path = _write(tmp_path / "09_ok.ipynb", "assert SMOKE is True")
    out = execute(path, tmp_path / "out", {"SMOKE": True}, timeout=60)
    assert out.is_file()


def test_main_exits_non_zero_naming_the_notebook(tmp_path, monkeypatch, caplog):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    _write(tmp_path / "notebooks" / "01_fine.ipynb", "y = 2")
    _write(tmp_path / "notebooks" / "02_fails.ipynb", "1 / 0")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REC_BUILD_DIR", str(tmp_path / "build"))
    assert main(["--timeout", "60"]) == 1
    assert "02_fails.ipynb" in caplog.text and "ZeroDivisionError" in caplog.text
    assert [p.name for p in notebook_paths(tmp_path / "notebooks")] == [
        "01_fine.ipynb",
        "02_fails.ipynb",
    ]
