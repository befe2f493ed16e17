# Two commands: `make studio` sets up a fresh machine and starts the studio; `make test` runs everything CI runs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: studio test lint install install-test chromium fonts native postgres bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# The tests open the native window for real, so they need the native extra (pywebview with Qt) too.
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test,native]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test chromium fonts native postgres

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

fonts:  # Symbola draws balloon text the default font cannot (emoji); without it such text is refused with a message
	@dpkg -s fonts-symbola >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-symbola >/dev/null; } || echo 'fonts-symbola not installed: emoji in balloons will be refused'

# What Qt WebEngine needs from Debian (the list app/native.py prints for users) and Xvfb, a screen for the window test.
# libasound2t64 is Debian 13's name; Debian 12 calls it libasound2.
native: $(VENV)/.installed-test
	@pkgs="$$($(BIN)/python -c 'from app.native import APT_PACKAGES; print(APT_PACKAGES)') xvfb"; missing=''; \
	for p in $$pkgs; do \
	  dpkg -s $$p >/dev/null 2>&1 || { [ $$p = libasound2t64 ] && dpkg -s libasound2 >/dev/null 2>&1; } || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  apt-get update -qq; \
	  apt-cache show libasound2t64 >/dev/null 2>&1 || missing=$$(echo $$missing | sed 's/libasound2t64/libasound2/'); \
	  echo "installing for the native window:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

postgres:  # the suite starts a throw-away PostgreSQL cluster (tests/postgres.py): the server binaries must exist
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

studio: install fonts
	$(BIN)/python -m compileall -q app pages components services models  # bytecode once: ~1 s off every start
	$(BIN)/kroma studio

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install-test lint
	$(BIN)/pytest

bench: install-test
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
