{#- Engine-neutral type names. dbt's own type_float() is a 32-bit FLOAT on DuckDB, so we name
    the types we mean once, here. -#}
{% macro truffle_type(name) -%}
    {{ return(adapter.dispatch('truffle_type', 'random_truffle')(name)) }}
{%- endmacro %}

{% macro default__truffle_type(name) -%}
    {%- set types = {
        'string': 'varchar', 'int': 'bigint', 'float': 'double', 'bool': 'boolean',
        'date': 'date', 'timestamp': 'timestamp', 'json': 'json',
    } -%}
    {{ return(types[name]) }}
{%- endmacro %}

{% macro bigquery__truffle_type(name) -%}
    {%- set types = {
        'string': 'string', 'int': 'int64', 'float': 'float64', 'bool': 'bool',
        'date': 'date', 'timestamp': 'timestamp', 'json': 'string',
    } -%}
    {{ return(types[name]) }}
{%- endmacro %}


{#- A cast that yields null instead of failing on a value of the wrong shape
    (hostile export rows must not fail the build; they are flagged downstream). -#}
{% macro truffle_safe_cast(expression, type_name) -%}
    {{ return(adapter.dispatch('truffle_safe_cast', 'random_truffle')(expression, type_name)) }}
{%- endmacro %}

{% macro default__truffle_safe_cast(expression, type_name) -%}
    try_cast({{ expression }} as {{ truffle_type(type_name) }})
{%- endmacro %}

{% macro bigquery__truffle_safe_cast(expression, type_name) -%}
    safe_cast({{ expression }} as {{ truffle_type(type_name) }})
{%- endmacro %}


{#- Does the text match a regular expression (RE2 syntax on both engines)? -#}
{% macro truffle_regexp_contains(expression, pattern) -%}
    {{ return(adapter.dispatch('truffle_regexp_contains', 'random_truffle')(expression, pattern)) }}
{%- endmacro %}

{% macro default__truffle_regexp_contains(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro bigquery__truffle_regexp_contains(expression, pattern) -%}
    regexp_contains({{ expression }}, r'{{ pattern }}')
{%- endmacro %}


{#- `select *` without some columns. -#}
{% macro truffle_star_except(columns) -%}
    {{ return(adapter.dispatch('truffle_star_except', 'random_truffle')(columns)) }}
{%- endmacro %}

{% macro default__truffle_star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro bigquery__truffle_star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}
