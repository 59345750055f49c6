{#- GA4 writes event_date as a 'YYYYMMDD' string in the property time zone. -#}
{% macro date_from_yyyymmdd(expression) -%}
    {{ return(adapter.dispatch('date_from_yyyymmdd', 'random_truffle')(expression)) }}
{%- endmacro %}

{% macro default__date_from_yyyymmdd(expression) -%}
    cast(try_strptime({{ expression }}, '%Y%m%d') as date)
{%- endmacro %}

{% macro bigquery__date_from_yyyymmdd(expression) -%}
    safe.parse_date('%Y%m%d', {{ expression }})
{%- endmacro %}


{#- GA4 timestamps are UTC microseconds since the epoch. On DuckDB the result is a naive
    timestamp holding UTC; on BigQuery a TIMESTAMP (always UTC). -#}
{% macro timestamp_from_micros(expression) -%}
    {{ return(adapter.dispatch('timestamp_from_micros', 'random_truffle')(expression)) }}
{%- endmacro %}

{#- Null when out of range (years 1 to 9999, BigQuery's TIMESTAMP range), never an error:
    one hostile value (2^63-1) must not fail the build (the row is quarantined). -#}
{% macro truffle_timestamp_micros_in_range(expression) -%}
    {{ expression }} between -62135596800000000 and 253402300799999999
{%- endmacro %}

{% macro default__timestamp_from_micros(expression) -%}
    case when {{ truffle_timestamp_micros_in_range(expression) }} then make_timestamp({{ expression }}) end
{%- endmacro %}

{#- The range check does what safe.timestamp_micros would (BigQuery evaluates only the CASE
    branch chosen); the emulator cannot run safe.timestamp_micros. -#}
{% macro bigquery__timestamp_from_micros(expression) -%}
    case when {{ truffle_timestamp_micros_in_range(expression) }} then timestamp_micros({{ expression }}) end
{%- endmacro %}


{#- The first day of a date's month (a DATE on both engines). -#}
{% macro truffle_month_start(expression) -%}
    {{ return(adapter.dispatch('truffle_month_start', 'random_truffle')(expression)) }}
{%- endmacro %}

{% macro default__truffle_month_start(expression) -%}
    {{ exceptions.raise_compiler_error("truffle_month_start: no implementation for the " ~ target.type ~ " engine (duckdb and bigquery are supported).") }}
{%- endmacro %}

{% macro duckdb__truffle_month_start(expression) -%}
    cast(date_trunc('month', {{ expression }}) as date)
{%- endmacro %}

{% macro bigquery__truffle_month_start(expression) -%}
    date_trunc({{ expression }}, month)
{%- endmacro %}

{#- The first day of the month after a Python date's. -#}
{% macro truffle_next_month_of(day) -%}
    {{ return((day.replace(day=28) + modules.datetime.timedelta(days=4)).replace(day=1)) }}
{%- endmacro %}


{#- A date literal from a Python date (or 'YYYY-MM-DD' string) computed at compile time. -#}
{% macro date_literal(value) -%}
    cast('{{ value }}' as date)
{%- endmacro %}


{#- Whole seconds since the Unix epoch of a timestamp. -#}
{% macro truffle_unix_seconds(expression) -%}
    {{ return(adapter.dispatch('truffle_unix_seconds', 'random_truffle')(expression)) }}
{%- endmacro %}

{% macro default__truffle_unix_seconds(expression) -%}
    cast(floor(epoch({{ expression }})) as bigint)
{%- endmacro %}

{% macro bigquery__truffle_unix_seconds(expression) -%}
    unix_seconds({{ expression }})
{%- endmacro %}


{#- Whole days from one date to a later one. -#}
{% macro truffle_days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('truffle_days_between', 'random_truffle')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__truffle_days_between(start_date, end_date) -%}
    date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro bigquery__truffle_days_between(start_date, end_date) -%}
    date_diff({{ end_date }}, {{ start_date }}, day)
{%- endmacro %}


{#- A SQL string literal of a compile-time text (quotes doubled). -#}
{% macro truffle_string_literal(value) -%}
    {{ return("'" ~ (value | string).replace("'", "''") ~ "'") }}
{%- endmacro %}
