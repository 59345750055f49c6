{#- SQL: fail the query with `message` (a SQL string expression), wherever it is evaluated. -#}
{% macro truffle_raise(message) -%}
    {{ return(adapter.dispatch('truffle_raise', 'random_truffle')(message)) }}
{%- endmacro %}

{% macro default__truffle_raise(message) -%}
    {{ exceptions.raise_compiler_error("truffle_raise: no implementation for the " ~ target.type ~ " engine (duckdb and bigquery are supported).") }}
{%- endmacro %}

{% macro duckdb__truffle_raise(message) -%}
    error({{ message }})
{%- endmacro %}

{% macro bigquery__truffle_raise(message) -%}
    error({{ message }})
{%- endmacro %}
