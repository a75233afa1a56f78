# Two commands do all the set-up on a fresh machine with only Python and the registries:
#   make demo   - create .venv, install agentlab, run the main job on its embedded default
#   make test   - create .venv, install agentlab with everything the tests need, run them
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[dev]'
	touch $@

demo: $(VENV)/.core
	$(BIN)/python -m agentlab demo

# pytest exits 5 when it collects nothing; make treats any non-zero exit as a failure.
test: $(VENV)/.dev
	$(BIN)/ruff check agentlab tests bench
	MPLBACKEND=Agg $(BIN)/python -m pytest

bench: $(VENV)/.dev
	$(BIN)/python bench/bench_dispatch.py
	$(BIN)/python bench/bench_simulation.py
	$(BIN)/python bench/bench_recorder.py
	$(BIN)/python bench/bench_sweep.py

lint: $(VENV)/.dev
	$(BIN)/ruff check agentlab tests bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
