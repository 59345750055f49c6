{#- The re-processed window: which export days a run reads and which partitions it replaces.

    GA4 rewrites daily tables for up to 72 hours after the day, so every incremental run
    rebuilds the `ga4_lookback_days` days before the run date plus the run date itself
    (pitfall 4). "Today" is the property's local date (pitfall 9): event_date is local too.
    A backfill names its range explicitly (incremental runs only: when the table does not
    exist yet, or on --full-refresh, everything is read). A full refresh reads from
    `ga4_start_date` on.
    Everything is computed at compile time, so the SQL carries literal dates: BigQuery can
    prune `_TABLE_SUFFIX` and name static partitions, DuckDB can skip whole files. -#}

{% macro truffle_parse_date(value) -%}
    {{ return(modules.datetime.datetime.strptime(value | string, '%Y-%m-%d').date()) }}
{%- endmacro %}

{% macro ga4_run_date() -%}
    {%- set configured = var('ga4_run_date', none) -%}
    {%- if configured -%}
        {{ return(truffle_parse_date(configured)) }}
    {%- endif -%}
    {%- set tz = modules.pytz.timezone(var('ga4_property_time_zone', 'UTC')) -%}
    {{ return(modules.datetime.datetime.now(tz).date()) }}
{%- endmacro %}

{#- is_incremental(), or forced by a variable so the incremental form can be rendered offline.
    is_incremental() looks the model's table up in the warehouse; with `ga4_render_offline`
    nothing is looked up (an offline BigQuery compile has no warehouse to ask), and the form is
    the one `ga4_render_incremental` names. -#}
{% macro ga4_is_incremental() -%}
    {%- if var('ga4_render_incremental', false) -%}
        {{ return(true) }}
    {%- elif var('ga4_render_offline', false) -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(is_incremental()) }}
{%- endmacro %}

{#- Returns {'start': date|none, 'end': date|none, 'kind': 'full'|'window'|'backfill'}. -#}
{% macro ga4_window() -%}
    {%- set backfill_start = var('ga4_backfill_start_date', none) -%}
    {%- set backfill_end = var('ga4_backfill_end_date', none) -%}
    {#- a backfill re-processes part of an existing table; a full build reads everything -#}
    {%- if (backfill_start or backfill_end) and ga4_is_incremental() -%}
        {%- if not (backfill_start and backfill_end) -%}
            {{ exceptions.raise_compiler_error("A backfill needs both ga4_backfill_start_date and ga4_backfill_end_date (YYYY-MM-DD).") }}
        {%- endif -%}
        {%- set start = truffle_parse_date(backfill_start) -%}
        {%- set end = truffle_parse_date(backfill_end) -%}
        {%- if start > end -%}
            {{ exceptions.raise_compiler_error("ga4_backfill_start_date " ~ start ~ " is after ga4_backfill_end_date " ~ end ~ ".") }}
        {%- endif -%}
        {{ return({'start': start, 'end': end, 'kind': 'backfill'}) }}
    {%- endif -%}
    {%- if ga4_is_incremental() -%}
        {%- set end = ga4_run_date() -%}
        {%- set start = end - modules.datetime.timedelta(days=var('ga4_lookback_days', 3) | int) -%}
        {{ return({'start': start, 'end': end, 'kind': 'window'}) }}
    {%- endif -%}
    {%- set first = var('ga4_start_date', none) -%}
    {{ return({'start': truffle_parse_date(first) if first else none, 'end': none, 'kind': 'full'}) }}
{%- endmacro %}

{#- SQL predicate: `column` (a date) lies in the window, optionally widened by
    `extra_days_before` / `extra_days_after` (sessions read their neighbours' events so that
    a session crossing midnight at either edge of the window is whole). On a full refresh
    without a start date: every partition (`true`; on BigQuery the every-partition filter,
    which a table with require_partition_filter needs). -#}
{% macro ga4_window_filter(column, extra_days_before=0, extra_days_after=0) -%}
    {%- set window = ga4_window() -%}
    {%- set clauses = [] -%}
    {%- if window.start -%}
        {%- set start = window.start - modules.datetime.timedelta(days=extra_days_before) -%}
        {%- do clauses.append(column ~ " >= " ~ date_literal(start)) -%}
    {%- endif -%}
    {%- if window.end -%}
        {%- set end = window.end + modules.datetime.timedelta(days=extra_days_after) -%}
        {%- do clauses.append(column ~ " <= " ~ date_literal(end)) -%}
    {%- endif -%}
    {{ clauses | join(' and ') if clauses else (truffle_every_partition_filter(column) or 'true') }}
{%- endmacro %}
