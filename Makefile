# Two commands on a fresh machine with Python 3.11+ and make: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files so a second `make` skips the install unless setup.cfg changed.
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

serve: $(VENV)/.installed
	$(BIN)/voting serve

test: lint
	$(BIN)/python -m pytest

# A short load benchmark (about a minute): the eventlet server and a bare python-socketio echo
# server under the same browser-like phones (socket.io-client in Node, benchmarks/phones.mjs;
# npm ci installs it from benchmarks/package-lock.json). Full runs: benchmarks/RESULTS.md.
bench: $(VENV)/.installed-test benchmarks/node_modules/.installed
	$(BIN)/python benchmarks/loadgen.py --quick --client node

benchmarks/node_modules/.installed: benchmarks/package.json benchmarks/package-lock.json
	cd benchmarks && npm ci --no-audit --no-fund
	touch $@

# ruff, mypy on the package, and import-linter's layer contracts (settings in pyproject.toml).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check voting tests benchmarks deploy
	$(BIN)/ruff format --check voting tests benchmarks deploy
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info
