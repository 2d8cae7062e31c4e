# fraudwatch — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=

.PHONY: demo test check lint format bench clean install install-dev speedups

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Re-install only when the project's metadata changes.
$(VENV)/.stamp-core: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e '.[report,speedups]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e '.[dev]'
	touch $@ $(VENV)/.stamp-core

# The online feature modules compiled with Cython, rebuilt when one of them changes; without
# a C compiler the script says so and fraudwatch runs them as Python.
SPEEDUP_SOURCES := $(addprefix src/fraudwatch/features/,_dd.py _geo.py _online_math.py _online.py state/_memory.py)
# Typed Cython modules (fraudwatch._speedups.NATIVE); without a build their callers use LightGBM.
NATIVE_SOURCES := src/fraudwatch/models/_treewalk.pyx
SPEEDUPS := src/fraudwatch/_compiled.json

$(SPEEDUPS): $(SPEEDUP_SOURCES) $(NATIVE_SOURCES) scripts/build_speedups.py src/fraudwatch/_speedups.py | $(VENV)/.stamp-core
	$(PY) scripts/build_speedups.py

install: $(VENV)/.stamp-core $(SPEEDUPS)
install-dev: $(VENV)/.stamp-dev $(SPEEDUPS)
speedups: $(SPEEDUPS)

demo: $(VENV)/.stamp-core $(SPEEDUPS)
	$(VENV)/bin/fraudwatch demo

test: $(VENV)/.stamp-dev $(SPEEDUPS)
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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output $(SPEEDUPS)
	find src -name '*.so' -delete
