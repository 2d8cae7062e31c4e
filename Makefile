# fraudwatch — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=

.PHONY: demo test check lint format bench clean install install-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Re-install only when the project's metadata changes.
$(VENV)/.stamp-core: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e '.[report]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e '.[dev]'
	touch $@ $(VENV)/.stamp-core

install: $(VENV)/.stamp-core
install-dev: $(VENV)/.stamp-dev

demo: $(VENV)/.stamp-core
	$(VENV)/bin/fraudwatch demo

test: $(VENV)/.stamp-dev
	$(PY) -m pytest $(PYTEST_ARGS)

check: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy

format: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check --fix src tests benchmarks scripts
	$(VENV)/bin/ruff format src tests benchmarks scripts

bench: $(VENV)/.stamp-dev
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output
