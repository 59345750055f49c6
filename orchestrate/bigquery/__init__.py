"""BigQuery, the production engine, proven offline.

* `render`: the BigQuery SQL of every model (full-refresh and incremental form) and analysis,
  compiled by dbt-bigquery with no account and no network.
* `catalog` and `analyzer`: Google's GoogleSQL analyzer (ZetaSQL, WebAssembly) resolves every
  rendered statement against the GA4 export schema, the seeds and the upstream models' schemas.
* `capture`: every statement a full build and a nightly send (materializations' MERGEs with
  their partition lists, hooks, data and unit tests), recorded from a real `dbt build` whose
  BigQuery client is replaced, then analyzed the same way.
* `emulator`: a local BigQuery REST emulator (local-bigquery, on DuckDB) that `dbt build` runs
  against, in its own Python 3.13 virtual environment.
* `dry_run`: bytes a query would process, from a BigQuery dry-run job.
"""

from orchestrate.bigquery.render import RenderedStatement, render_bigquery

__all__ = ["RenderedStatement", "render_bigquery"]
