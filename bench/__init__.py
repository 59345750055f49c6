"""Random Truffle performance benchmark (issue 6): the warehouse against DuckDB's own limit.

Run with `.venv/bin/python -m bench` (see bench/README.md). Not part of the test command.
"""
