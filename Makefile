# Two commands: `make demo` (set up, then run the main job on DuckDB) and `make test`
# (set up, then every check: Python lint, SQL lint, dbt build on real GA4 data, pytest).
# Everything installs into .venv from the pinned versions in pyproject.toml: the demo only
# what DuckDB needs (`pip install -e .`), the tests everything (`.[dev]`, which includes the
# `bigquery` extra: dbt-bigquery, zetasql and the Google Cloud libraries).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
STAMP  := $(VENV)/.installed-$(HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(HASH)

.PHONY: demo test setup setup-demo lint sqllint pytest bench clean chromium

# everything (tests, lint, the BigQuery proof)
setup: $(DEV_STAMP)
# the DuckDB demo's needs only
setup-demo: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@rm -f $(VENV)/.installed-* && touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: setup-demo
	$(BIN)/truffle demo

lint: setup
	$(BIN)/ruff check orchestrate tests
	$(BIN)/ruff format --check orchestrate tests

sqllint: setup
	TRUFFLE_DUCKDB_PATH=target/lint.duckdb $(BIN)/sqlfluff lint models analyses tests/dbt

pytest: setup chromium
	$(BIN)/pytest

# Chromium (the Debian package) for the report's browser test: installed when missing and
# apt-get is usable (root); otherwise one line, and that test is skipped.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "chromium: installing the Debian package for the report's browser test"; \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } || \
		echo "chromium: apt-get could not install it; the report's browser test will be skipped"; \
	else \
		echo "chromium: not on PATH and apt-get is not usable here; the report's browser test will be skipped"; \
	fi

test: bigquery-emulator lint sqllint pytest

# Not part of the tests: the performance benchmark (bench/README.md); BENCH_ARGS=--quick for a smoke run.
bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

include mk/bigquery.mk

clean:
	rm -rf target logs warehouse data .pytest_cache
