# Two commands: `make studio` sets up a fresh machine and starts the studio; `make test` runs everything CI runs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: studio test lint install install-test chromium postgres bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test chromium postgres

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

postgres:  # the suite starts a throw-away PostgreSQL cluster (tests/postgres.py): the server binaries must exist
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

studio: install
	$(BIN)/python -m compileall -q app pages components services models  # bytecode once: ~1 s off every start
	$(BIN)/kroma studio

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install-test lint
	$(BIN)/pytest

bench: install-test
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
