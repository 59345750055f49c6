"""Random Truffle: orchestration around the GA4 analytics warehouse (a dbt project)."""

__version__ = "0.1.0"
