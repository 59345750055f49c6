{#- Retention: how many years each event category is kept (variables, defaults 7 / 1 / 2 / 7
    years) and the cutoff date before which a category's rows are dropped.

    Retention counts back from the data's time, not the wall clock: the newest export day (no
    later than the run date), so a warehouse built on an export years old keeps what its
    policy keeps. `ga4_retention_as_of` says otherwise: a date, or `run_date` for the run date
    (truffle resolves the newest export day once and passes it here as a literal). -#}
{% macro ga4_retention_years() -%}
    {{ return({
        'transaction': var('retention_years_transaction', 7) | int,
        'interaction': var('retention_years_interaction', 1) | int,
        'user_activity': var('retention_years_user_activity', 2) | int,
        'content': var('retention_years_content', 7) | int,
    }) }}
{%- endmacro %}

{#- The date retention counts back from (a Python date), or none when there is no export day
    to count from (then nothing expires). -#}
{% macro ga4_retention_as_of() -%}
    {%- set configured = var('ga4_retention_as_of', none) -%}
    {%- set run_date = ga4_run_date() -%}
    {%- if configured == 'run_date' -%}
        {{ return(run_date) }}
    {%- elif configured -%}
        {{ return(truffle_parse_date(configured)) }}
    {%- endif -%}
    {%- if not execute or var('ga4_render_offline', false) -%}
        {{ return(run_date) }}
    {%- endif -%}
    {%- set newest = ga4_newest_export_day() -%}
    {{ return([newest, run_date] | min if newest else none) }}
{%- endmacro %}

{#- The newest daily or intraday export day (a Python date), or none. -#}
{% macro ga4_newest_export_day() -%}
    {{ return(adapter.dispatch('ga4_newest_export_day', 'random_truffle')()) }}
{%- endmacro %}

{% macro default__ga4_newest_export_day() -%}
    {{ exceptions.raise_compiler_error("ga4_newest_export_day: no implementation for the " ~ target.type ~ " engine (duckdb and bigquery are supported); set ga4_retention_as_of instead.") }}
{%- endmacro %}

{% macro duckdb__ga4_newest_export_day() -%}
    {%- set root = var('ga4_export_path') | string -%}
    {%- set listing = run_query("select file from glob(" ~ truffle_string_literal(root.rstrip('/') ~ '/events_*') ~ ")") -%}
    {%- set pattern = ga4_export_file_pattern() -%}
    {%- set days = [] -%}
    {%- for row in listing.rows -%}
        {%- set match = pattern.match(row[0].replace('\\', '/').split('/')[-1]) -%}
        {%- if match -%}
            {%- do days.append(match.group(2)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(modules.datetime.datetime.strptime(days | max, '%Y%m%d').date() if days else none) }}
{%- endmacro %}

{% macro bigquery__ga4_newest_export_day() -%}
    {%- set project = var('ga4_project', none) or target.project -%}
    {%- set result = run_query(
        "select max(regexp_extract(table_name, r'([0-9]{8})$')) from `" ~ project ~ "`."
        ~ var('ga4_dataset') ~ ".INFORMATION_SCHEMA.TABLES"
        ~ " where regexp_contains(table_name, r'^events_(intraday_)?[0-9]{8}$')") -%}
    {%- set newest = result.rows[0][0] if result.rows else none -%}
    {{ return(modules.datetime.datetime.strptime(newest, '%Y%m%d').date() if newest else none) }}
{%- endmacro %}

{#- SQL: the first day a category keeps (the oldest date when nothing expires). -#}
{% macro ga4_retention_cutoff(category) -%}
    {%- set as_of = ga4_retention_as_of() -%}
    {{ return(date_literal(ga4_retention_cutoff_date(category, as_of) if as_of else '1900-01-01')) }}
{%- endmacro %}

{#- The first day a category keeps (a Python date), `years` before `as_of`. -#}
{% macro ga4_retention_cutoff_date(category, as_of) -%}
    {%- set years = ga4_retention_years()[category] -%}
    {%- set day = 28 if (as_of.month == 2 and as_of.day == 29) else as_of.day -%}
    {{ return(as_of.replace(year=as_of.year - years, day=day)) }}
{%- endmacro %}

{#- SQL: the row (with `category_column` and `date_column`) is still within its retention. -#}
{% macro ga4_within_retention(category_column, date_column, as_of=none) -%}
    {%- set as_of = as_of or ga4_retention_as_of() -%}
    {%- if as_of is none -%}
    true
    {%- else -%}
    case {{ category_column }}
        {%- for category in ga4_retention_years() %}
        when '{{ category }}' then {{ date_column }} >= {{ date_literal(ga4_retention_cutoff_date(category, as_of)) }}
        {%- endfor %}
        else true
    end
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: delete a model's rows past their retention. Bounded by literal dates (only
    partitions older than the latest cutoff are read), checked by the delete guard (it may
    refuse), reported, and skipped when the run says so (a failed freshness check). -#}
{% macro ga4_apply_retention(category_column, date_column) -%}
    {%- set as_of = ga4_retention_as_of() if execute and not var('ga4_render_incremental', false) else none -%}
    {%- if as_of is not none -%}
        {%- set cutoffs = [] -%}
        {%- for category in ga4_retention_years() -%}
            {%- do cutoffs.append(ga4_retention_cutoff_date(category, as_of)) -%}
        {%- endfor -%}
        {%- set predicate -%}
            {{ date_column }} < {{ date_literal(cutoffs | max) }}
            and not ({{ ga4_within_retention(category_column, date_column, as_of) }})
        {%- endset -%}
        {%- if truffle_guard_delete(this, 'retention', date_column, predicate, check_recent=true,
                                    detail='older than its retention as of ' ~ as_of) -%}
    delete from {{ this }}
    where
        {{ predicate }}
        {%- else %}
    select 1 as nothing_expired
        {%- endif -%}
    {%- else -%}
    select 1 as nothing_expired
    {%- endif -%}
{%- endmacro %}
