{#- The first / last non-null value of an expression in a group, ordered by another.
    `order_by`: a column, or a list of columns for a total order (a tie on the first is
    broken by the next, so the pick is the same on every run and on both engines). -#}
{% macro truffle_first_non_null(expression, order_by) -%}
    {{ return(adapter.dispatch('truffle_first_non_null', 'random_truffle')(expression, truffle_order_columns(order_by))) }}
{%- endmacro %}

{% macro truffle_last_non_null(expression, order_by) -%}
    {{ return(adapter.dispatch('truffle_last_non_null', 'random_truffle')(expression, truffle_order_columns(order_by))) }}
{%- endmacro %}

{% macro truffle_order_columns(order_by) -%}
    {{ return([order_by] if order_by is string else order_by) }}
{%- endmacro %}

{% macro default__truffle_first_non_null(expression, order_by) -%}
    {{ exceptions.raise_compiler_error("truffle_first_non_null: no implementation for the " ~ target.type ~ " engine (duckdb and bigquery are supported).") }}
{%- endmacro %}

{% macro default__truffle_last_non_null(expression, order_by) -%}
    {{ exceptions.raise_compiler_error("truffle_last_non_null: no implementation for the " ~ target.type ~ " engine (duckdb and bigquery are supported).") }}
{%- endmacro %}

{#- DuckDB: arg_min / arg_max over a row value compare column by column. -#}
{% macro duckdb__truffle_order_key(order_by) -%}
    {{ order_by[0] if order_by | length == 1 else 'row(' ~ order_by | join(', ') ~ ')' }}
{%- endmacro %}

{% macro duckdb__truffle_first_non_null(expression, order_by) -%}
    arg_min({{ expression }}, {{ duckdb__truffle_order_key(order_by) }}) filter (where {{ expression }} is not null)
{%- endmacro %}

{% macro duckdb__truffle_last_non_null(expression, order_by) -%}
    arg_max({{ expression }}, {{ duckdb__truffle_order_key(order_by) }}) filter (where {{ expression }} is not null)
{%- endmacro %}

{% macro bigquery__truffle_first_non_null(expression, order_by) -%}
    array_agg({{ expression }} ignore nulls order by {{ order_by | join(', ') }} limit 1)[safe_offset(0)]
{%- endmacro %}

{% macro bigquery__truffle_last_non_null(expression, order_by) -%}
    array_agg({{ expression }} ignore nulls order by {{ order_by | join(' desc, ') }} desc limit 1)[safe_offset(0)]
{%- endmacro %}


{#- Seconds between two timestamps as a whole number of milliseconds. -#}
{% macro truffle_msec_between(start_at, end_at) -%}
    {{ return(adapter.dispatch('truffle_msec_between', 'random_truffle')(start_at, end_at)) }}
{%- endmacro %}

{% macro default__truffle_msec_between(start_at, end_at) -%}
    date_diff('millisecond', {{ start_at }}, {{ end_at }})
{%- endmacro %}

{% macro bigquery__truffle_msec_between(start_at, end_at) -%}
    timestamp_diff({{ end_at }}, {{ start_at }}, millisecond)
{%- endmacro %}


{#- How many rows of the group meet a condition, as a 64-bit integer (DuckDB's countif
    returns HUGEINT, which no contract type matches on BigQuery). -#}
{% macro truffle_countif(condition) -%}
    {{ return(adapter.dispatch('truffle_countif', 'random_truffle')(condition)) }}
{%- endmacro %}

{% macro default__truffle_countif(condition) -%}
    count(*) filter (where {{ condition }})
{%- endmacro %}

{% macro bigquery__truffle_countif(condition) -%}
    countif({{ condition }})
{%- endmacro %}


{#- How many distinct non-null values of an expression the group's rows meeting a condition
    hold, as a 64-bit integer (0 when none). DuckDB keeps a distinct aggregate's values in a
    hash table of its own beside the groups': grouping the people's state (1.4 million people,
    3 million rows at 90 days of the 10M bench) under the profile's 3 GB it spilled some runs,
    and a spill is read back (200 - 275 MiB read by the same statement); a list per group
    (a person's few rows) holds the same values in the group's own state. -#}
{% macro truffle_count_distinct_where(expression, condition) -%}
    {{ return(adapter.dispatch('truffle_count_distinct_where', 'random_truffle')(expression, condition)) }}
{%- endmacro %}

{% macro default__truffle_count_distinct_where(expression, condition) -%}
    count(distinct case when {{ condition }} then {{ expression }} end)
{%- endmacro %}

{% macro duckdb__truffle_count_distinct_where(expression, condition) -%}
    coalesce(cast(length(list_distinct(list({{ expression }}) filter (where {{ condition }}))) as bigint), 0)
{%- endmacro %}

{% macro bigquery__truffle_count_distinct_where(expression, condition) -%}
    count(distinct if({{ condition }}, {{ expression }}, null))
{%- endmacro %}


{#- The median of a group (BigQuery: approximate, from approx_quantiles). -#}
{% macro truffle_median(expression) -%}
    {{ return(adapter.dispatch('truffle_median', 'random_truffle')(expression)) }}
{%- endmacro %}

{% macro default__truffle_median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro bigquery__truffle_median(expression) -%}
    approx_quantiles({{ expression }}, 2)[offset(1)]
{%- endmacro %}
