# The BigQuery emulator (local-bigquery) for the test suite: its own Python 3.13 virtual
# environment, .venv-bq, set up once (stamp file) by `python -m orchestrate.bigquery.emulator
# setup`, which also installs the DuckDB extensions it needs from their PyPI wheels (the
# pinned requirements live in orchestrate/bigquery/emulator.py).
# Without Python 3.13 it prints one line and succeeds: the emulator tests then skip, the
# analyzer tests still run. Included by the Makefile; `make test` depends on `bigquery-emulator`.
# Needs $(BIN) and the `setup` target of the Makefile.

BQ_VENV  := .venv-bq
BQ_STAMP := $(BQ_VENV)/.make-stamp-$(shell cat orchestrate/bigquery/emulator.py | cksum | cut -d' ' -f1)

.PHONY: bigquery-emulator

bigquery-emulator: | setup
	@if [ -f $(BQ_STAMP) ]; then :; else \
		$(BIN)/python -m orchestrate.bigquery.emulator setup && \
		if [ -x $(BQ_VENV)/bin/python ]; then rm -f $(BQ_VENV)/.make-stamp-* && touch $(BQ_STAMP); fi; \
	fi
