{#- The first capture group of an RE2 regular expression in the text (null when no match). -#}
{% macro truffle_regexp_extract(expression, pattern) -%}
    {{ return(adapter.dispatch('truffle_regexp_extract', 'random_truffle')(expression, pattern)) }}
{%- endmacro %}

{% macro default__truffle_regexp_extract(expression, pattern) -%}
    {{ exceptions.raise_compiler_error("truffle_regexp_extract has no implementation for adapter '" ~ target.type ~ "'.") }}
{%- endmacro %}

{% macro duckdb__truffle_regexp_extract(expression, pattern) -%}
    nullif(regexp_extract({{ expression }}, '{{ pattern }}', 1), '')
{%- endmacro %}

{% macro bigquery__truffle_regexp_extract(expression, pattern) -%}
    nullif(regexp_extract({{ expression }}, r'{{ pattern }}'), '')
{%- endmacro %}


{#- Every match of an RE2 regular expression replaced. -#}
{% macro truffle_regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('truffle_regexp_replace_all', 'random_truffle')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__truffle_regexp_replace_all(expression, pattern, replacement) -%}
    {{ exceptions.raise_compiler_error("truffle_regexp_replace_all has no implementation for adapter '" ~ target.type ~ "'.") }}
{%- endmacro %}

{% macro duckdb__truffle_regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro bigquery__truffle_regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, r'{{ pattern }}', '{{ replacement }}')
{%- endmacro %}
