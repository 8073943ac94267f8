# Set-up and entry points of the notebook collection.
#   make run-notebooks   create .venv, install, run every notebook on full MovieLens-100K
#   make test            create .venv, install, run the test suite (notebooks in smoke mode)
#   make bench           print fit and scoring times of the benchmark models
#   make lab             open JupyterLab on notebooks/
#   make lint            ruff on the package, tests and notebooks

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOK_TIMEOUT ?= 1800

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run-notebooks test bench lab lint clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	# Offline mirror of MovieLens-100K: only its data files are read, recbole is
	# never imported, so none of its dependencies are installed.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps recbole==1.2.1
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

run-notebooks: $(STAMP)
	$(PY) -m rec_utils.run_notebooks --timeout $(NOTEBOOK_TIMEOUT)

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m rec_utils.bench

# Jupyter refuses to run as root unless told (containers often run as root).
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check rec_utils tests notebooks
	$(VENV)/bin/ruff format --check rec_utils tests notebooks

clean:
	rm -rf build
