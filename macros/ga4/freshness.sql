{#- The export's loaded-at time for `dbt source freshness` (the source's loaded_at_query): the
    newest event_timestamp of the newest export shard, daily or intraday, of the first property
    (ga4_properties; `truffle nightly` checks every property's). -#}
{% macro ga4_export_loaded_at(source_relation) -%}
    {{ return(adapter.dispatch('ga4_export_loaded_at', 'random_truffle')(source_relation)) }}
{%- endmacro %}

{% macro default__ga4_export_loaded_at(source_relation) -%}
    {{ exceptions.raise_compiler_error("ga4_export_loaded_at has no implementation for adapter '" ~ target.type ~ "'.") }}
{%- endmacro %}

{#- BigQuery: only the shards of the last ga4_freshness_max_days + 1 days are read (a constant
    _table_suffix filter prunes the wildcard); an export with none is loaded "at" 1970, so the
    check errors instead of scanning every shard. -#}
{% macro bigquery__ga4_export_loaded_at(source_relation) -%}
    {%- set first = "format_date('%Y%m%d', date_sub(current_date('" ~ ga4_properties()[0].time_zone ~ "'), interval " ~ ((var('ga4_freshness_max_days', 2) | int) + 1) ~ " day))" -%}
    select coalesce(max(timestamp_micros(event_timestamp)), timestamp '1970-01-01') as loaded_at
    from {{ source_relation }}
    where
        (_table_suffix >= {{ first }} and _table_suffix < 'a')
        or _table_suffix >= concat('intraday_', {{ first }})
{%- endmacro %}

{#- DuckDB: the export folder's files are listed and only the newest day's are read (Parquet
    or BigQuery JSON; an unparsable JSON line is skipped here, staging quarantines it). -#}
{% macro duckdb__ga4_export_loaded_at(source_relation) -%}
    {%- set root = (ga4_properties()[0].export_path | string).rstrip('/') -%}
    {%- set pattern = modules.re.compile('^events_(intraday_)?([0-9]{8})\\.(parquet|json|ndjson|jsonl)$') -%}
    {%- set newest = namespace(suffix='', files=[]) -%}
    {%- for row in run_query("select file from glob('" ~ root ~ "/events_*')").rows -%}
        {%- set match = pattern.match(row[0].replace('\\', '/').split('/')[-1]) -%}
        {%- if match and match.group(2) > newest.suffix -%}
            {%- set newest.suffix = match.group(2) -%}
            {%- set newest.files = [] -%}
        {%- endif -%}
        {%- if match and match.group(2) == newest.suffix -%}
            {%- do newest.files.append({'path': row[0], 'parquet': match.group(3) == 'parquet'}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not newest.files -%}
        {{ exceptions.raise_compiler_error("No GA4 export files (events_YYYYMMDD.parquet / .json / .ndjson) found in '" ~ root ~ "': nothing to check the freshness of.") }}
    {%- endif -%}
    select make_timestamp(max(cast(event_timestamp as bigint))) as loaded_at
    from (
        {%- for file in newest.files %}
        {%- if file.parquet %}
        select event_timestamp from read_parquet('{{ file.path }}')
        {%- else %}
        select event_timestamp
        from read_json('{{ file.path }}', format = 'newline_delimited', columns = {'event_timestamp': 'VARCHAR'}, ignore_errors = true)
        {%- endif %}
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ) as newest_shard
{%- endmacro %}
