# sessionbot: `make run` and `make test` do all the set-up on a machine with Python 3.11 and pip.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test check lint typecheck pytest bench format clean chromium screenshots

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(DEVSTAMP): pyproject.toml client/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]" -e "./client[mcp]"
	@touch $(STAMP) $@

run: $(STAMP)
	$(BIN)/sessionbot

test: $(DEVSTAMP) chromium
	$(MAKE) --no-print-directory check

# The browser tests drive Debian's Chromium (never a downloaded browser): installed when missing.
chromium:
	@test -x /usr/bin/chromium || { DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

check: lint typecheck pytest

lint:
	$(BIN)/ruff format --check core adapters bot client tests bench
	$(BIN)/ruff check core adapters bot client tests bench

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

# The README's screenshots, taken by the browser test (a plain test run writes them to tmp).
screenshots: $(DEVSTAMP) chromium
	SESSIONBOT_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/web/test_browser.py

bench: $(DEVSTAMP)
	$(BIN)/python -m bench.core_bench

format: $(DEVSTAMP)
	$(BIN)/ruff format core adapters bot client tests bench
	$(BIN)/ruff check --fix core adapters bot client tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
