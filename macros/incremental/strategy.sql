{#- How a mart replaces its window. DuckDB (dbt-duckdb has no insert_overwrite): `truffle_window`
    below, a delete of the window's days (staging: those with an export file) and an insert of
    the model's rows, in one transaction. BigQuery: static insert_overwrite of the window's partitions, which BigQuery
    swaps atomically. Elsewhere dbt's delete+insert keyed on the partition date. -#}
{% macro truffle_incremental_strategy() -%}
    {{ return(adapter.dispatch('truffle_incremental_strategy', 'random_truffle')()) }}
{%- endmacro %}

{% macro default__truffle_incremental_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro duckdb__truffle_incremental_strategy() -%}
    {{ return('truffle_window') }}
{%- endmacro %}

{#- The strategy `truffle_window` (DuckDB; the incremental materialization of
    macros/incremental/duckdb_incremental.sql): the window's rows are the model's select, kept
    in a temporary view (`truffle_window_rows_view`) and read once, by the insert. The days
    replaced: for staging (`meta.window_days: export`), the window's days that have an export
    shard (daily or intraday; staging dates a row by its shard), so a day whose export is gone
    (expired, deleted, not yet landed) keeps its stored rows, as dbt's delete+insert keyed on
    the days of the new rows did; several properties: each refreshed property's own such days
    (ga4_refreshed_properties); for the models built from staging, every day of the window,
    all derived again from what staging holds for it (a day left without a row of the model,
    such as a corrected export day without its purchases, is emptied). Delete and insert run
    in the materialization's one transaction. -#}
{% macro get_incremental_truffle_window_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set meta = config.get('meta') or {} -%}
    {%- set column = meta.get('window_column') -%}
    {%- if not column -%}
        {{ exceptions.raise_compiler_error("incremental_strategy truffle_window needs meta.window_column (the model's date column) on " ~ this) }}
    {%- endif -%}
    {%- if meta.get('window_days') == 'export' -%}
        {#- one declared property: its days; several: each refreshed property's own days,
            never another property's -#}
        {%- set several = ga4_properties() | length > 1 -%}
        {%- set parts = [] -%}
        {%- for property in ga4_refreshed_properties() -%}
            {%- set days = [] -%}
            {%- for day in ga4_window_export_days(property) -%}
                {%- do days.append(date_literal(day)) -%}
            {%- endfor -%}
            {%- if days and not several -%}
                {%- do parts.append(column ~ ' in (' ~ days | join(', ') ~ ')') -%}
            {%- elif days -%}
                {%- do parts.append('(property_id = ' ~ truffle_string_literal(property.property_id) ~ ' and ' ~ column ~ ' in (' ~ days | join(', ') ~ '))') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set replaced = parts | join('\n        or ') if parts else none -%}
    {%- else -%}
        {%- set replaced = ga4_window_filter(column) -%}
    {%- endif -%}
    {%- if replaced %}
    delete from {{ target }}
    where {{ replaced }};
    {%- endif %}

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{% macro truffle_window_rows_view(relation, compiled_code) -%}
    create or replace temporary view {{ relation.include(database=false, schema=false) }} as (
        {{ compiled_code }}
    )
{%- endmacro %}

{#- The days of this run's window with an export shard of `property` (DuckDB: the files of its
    export folder), sorted. -#}
{% macro ga4_window_export_days(property) -%}
    {%- set days = [] -%}
    {%- for file in ga4_duckdb_export_files(property) -%}
        {%- set day = modules.datetime.datetime.strptime(file.suffix, '%Y%m%d').date() -%}
        {%- if day not in days -%}
            {%- do days.append(day) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(days | sort) }}
{%- endmacro %}

{% macro bigquery__truffle_incremental_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}


{#- The unique_key the strategy needs: the partition column for delete+insert, none for
    insert_overwrite (which replaces partitions, not keys). -#}
{% macro truffle_incremental_key(partition_column) -%}
    {{ return(adapter.dispatch('truffle_incremental_key', 'random_truffle')(partition_column)) }}
{%- endmacro %}

{% macro default__truffle_incremental_key(partition_column) -%}
    {{ return(partition_column) }}
{%- endmacro %}

{% macro bigquery__truffle_incremental_key(partition_column) -%}
    {{ return(none) }}
{%- endmacro %}


{#- BigQuery static partitions of the re-processed range (config `partitions`), as literal
    dates: the nightly window's days (ga4_nightly_window: the run date, else today in the
    property's time zone, and the lookback days before it), or the backfill's days. Config
    is captured when dbt parses, so the list is computed again when the run executes
    (bq_generate_incremental_build_sql, macros/bigquery/incremental_window.sql): a saved
    parse never decides which days a run replaces. -#}
{% macro ga4_bigquery_partitions(extra_days_before=0) -%}
    {%- set backfill_start = var('ga4_backfill_start_date', none) -%}
    {%- set backfill_end = var('ga4_backfill_end_date', none) -%}
    {%- set partitions = [] -%}
    {%- if backfill_start and backfill_end -%}
        {%- set start = truffle_parse_date(backfill_start) - modules.datetime.timedelta(days=extra_days_before) -%}
        {%- set days = (truffle_parse_date(backfill_end) - start).days -%}
        {%- for offset in range(days + 1) -%}
            {%- do partitions.append("date('" ~ (start + modules.datetime.timedelta(days=offset)) ~ "')") -%}
        {%- endfor -%}
    {%- else -%}
        {%- set window = ga4_nightly_window() -%}
        {%- set start = window.start - modules.datetime.timedelta(days=extra_days_before) -%}
        {%- for offset in range((window.end - start).days + 1) -%}
            {%- do partitions.append("date('" ~ (window.end - modules.datetime.timedelta(days=offset)) ~ "')") -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(partitions) }}
{%- endmacro %}


{#- Partitioning is BigQuery's (dbt-duckdb reads `partition_by` for DuckLake only). -#}
{% macro truffle_partition_by(field, data_type='date') -%}
    {{ return(adapter.dispatch('truffle_partition_by', 'random_truffle')(field, data_type)) }}
{%- endmacro %}

{% macro default__truffle_partition_by(field, data_type) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro bigquery__truffle_partition_by(field, data_type) -%}
    {{ return({'field': field, 'data_type': data_type, 'granularity': 'day'}) }}
{%- endmacro %}


{#- Physical order of a table's rows. DuckDB skips whole row groups (122,880 rows) by their
    min/max, so rows stored in partition-date order make date filters read less, as
    partitions do on BigQuery, where this renders nothing. -#}
{% macro truffle_storage_order(columns) -%}
    {{ return(adapter.dispatch('truffle_storage_order', 'random_truffle')(columns)) }}
{%- endmacro %}

{% macro default__truffle_storage_order(columns) -%}
    order by {{ columns | join(', ') }}
{%- endmacro %}

{% macro bigquery__truffle_storage_order(columns) -%}
{%- endmacro %}


{#- Keyed upsert (small lookup tables): DuckDB delete+insert, BigQuery merge. -#}
{% macro truffle_upsert_strategy() -%}
    {{ return(adapter.dispatch('truffle_upsert_strategy', 'random_truffle')()) }}
{%- endmacro %}

{% macro default__truffle_upsert_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro bigquery__truffle_upsert_strategy() -%}
    {{ return('merge') }}
{%- endmacro %}


{#- Session models replace touched sessions by key (ga4_session_reach): DuckDB delete+insert
    on session_key; BigQuery merge on session_key, its scan of the target bounded to the
    stored sessions the run's lookup could reach: from `stored_from` (the reach's, which the
    model's compiled SQL carries, read back when the run executes:
    macros/bigquery/incremental_window.sql) to the run date, as literal dates. Without it (the
    config dbt captures at parse time) the bound is the widest the lookup can go: the span
    before the window. -#}
{% macro truffle_session_strategy() -%}
    {{ return(adapter.dispatch('truffle_session_strategy', 'random_truffle')()) }}
{%- endmacro %}

{% macro default__truffle_session_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro bigquery__truffle_session_strategy() -%}
    {{ return('merge') }}
{%- endmacro %}

{% macro truffle_session_merge_predicates(stored_from=none) -%}
    {{ return(adapter.dispatch('truffle_session_merge_predicates', 'random_truffle')(stored_from)) }}
{%- endmacro %}

{% macro default__truffle_session_merge_predicates(stored_from) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro bigquery__truffle_session_merge_predicates(stored_from) -%}
    {%- set window = ga4_window(true) -%}
    {%- set first = stored_from or window.start - modules.datetime.timedelta(days=ga4_session_span_days()) -%}
    {{ return(["DBT_INTERNAL_DEST.session_start_date between " ~ date_literal(first) ~ " and " ~ date_literal(window.end)]) }}
{%- endmacro %}


{#- The stored table a `table` model that updates itself from its last state can read
    (int_users_aggregated, int_device_users_paired): this model's relation, when the run
    executes against a warehouse, is no full refresh or unit test, and the stored table has
    exactly `columns` (lower case, in order); none when the model must be rebuilt. -#}
{% macro truffle_updatable_relation(columns) -%}
    {%- if not execute or var('ga4_render_offline', false) or flags.FULL_REFRESH or model.resource_type == 'unit_test' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set stored = load_relation(this) -%}
    {%- if stored is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set stored_columns = adapter.get_columns_in_relation(stored) | map(attribute='name') | map('lower') | list -%}
    {{ return(stored if stored_columns == columns else none) }}
{%- endmacro %}


{#- How a `table` model that updates itself from its last state (int_device_users_paired,
    int_transactions_counted) is written this run: `update` from the stored table plus the
    days of the window (a nightly's, or a backfill's range: `start`, `end`), or `rebuild`
    from every stored day (a full build, a first run, a table whose columns changed). The
    offline proof renders the update form as a nightly would. -#}
{% macro truffle_table_update_plan(columns) -%}
    {%- set window = ga4_window(incremental=true) -%}
    {%- set update = {'mode': 'update', 'start': window.start, 'end': window.end} -%}
    {%- if var('ga4_render_incremental', false) -%}
        {{ return(update) }}
    {%- endif -%}
    {%- if truffle_updatable_relation(columns) is none -%}
        {{ return({'mode': 'rebuild'}) }}
    {%- endif -%}
    {{ return(update) }}
{%- endmacro %}


{#- A comment naming a lookup a macro sends to decide what a run does (how many erasure
    requests are new, how many rows a delete would remove, the users' stored state). The
    offline capture (orchestrate/bigquery/capture.py) answers a named lookup as an ordinary
    night would; the warehouse ignores it. -#}
{% macro truffle_lookup_name(name) -%}
    /* truffle lookup: {{ name }} */
{%- endmacro %}

{#- The result (an agate table) of a lookup that several nodes of one dbt invocation send
    alike, sent once: the first node's answer is kept in the run's graph (`graph`, one dict
    shared by every node of an invocation) under the invocation's id and the lookup's SQL,
    so another invocation, or another window or relation, looks it up again. Only for a
    lookup whose relations are all written before any node that sends it and by none until
    the last of them has (a seed; staging and the erased identities, which every
    session-keyed model depends on; the stored sessions for the two nodes between their
    writes, ga4_session_reach): a lookup of a model's own table, or of one a hook deletes
    from before another sender runs, is sent each time. -#}
{% macro truffle_lookup_once(sql) -%}
    {%- set kept = graph.setdefault('truffle_lookups', {}) -%}
    {%- set key = invocation_id ~ sql -%}
    {%- if key not in kept -%}
        {%- do kept.update({key: run_query(sql)}) -%}
    {%- endif -%}
    {{ return(kept[key]) }}
{%- endmacro %}
