{#- The first / last non-null value of an expression in a group, ordered by another. -#}
{% macro truffle_first_non_null(expression, order_by) -%}
    {{ return(adapter.dispatch('truffle_first_non_null', 'random_truffle')(expression, order_by)) }}
{%- endmacro %}

{% macro default__truffle_first_non_null(expression, order_by) -%}
    arg_min({{ expression }}, {{ order_by }}) filter (where {{ expression }} is not null)
{%- endmacro %}

{% macro bigquery__truffle_first_non_null(expression, order_by) -%}
    array_agg({{ expression }} ignore nulls order by {{ order_by }} limit 1)[safe_offset(0)]
{%- endmacro %}


{% macro truffle_last_non_null(expression, order_by) -%}
    {{ return(adapter.dispatch('truffle_last_non_null', 'random_truffle')(expression, order_by)) }}
{%- endmacro %}

{% macro default__truffle_last_non_null(expression, order_by) -%}
    arg_max({{ expression }}, {{ order_by }}) filter (where {{ expression }} is not null)
{%- endmacro %}

{% macro bigquery__truffle_last_non_null(expression, order_by) -%}
    array_agg({{ expression }} ignore nulls order by {{ order_by }} desc limit 1)[safe_offset(0)]
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
