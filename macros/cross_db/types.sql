{#- Engine-neutral type names. dbt's own type_float() is a 32-bit FLOAT on DuckDB, so we name
    the types we mean once, here. `money` is exact: BigQuery's NUMERIC (38 digits, 9 after the
    point) and the same DECIMAL(38, 9) on DuckDB, so a sum of amounts is the same to the last
    digit on both engines. -#}
{% macro truffle_type(name) -%}
    {{ return(adapter.dispatch('truffle_type', 'random_truffle')(name)) }}
{%- endmacro %}

{% macro default__truffle_type(name) -%}
    {%- set types = {
        'string': 'varchar', 'int': 'bigint', 'float': 'double', 'money': 'decimal(38,9)',
        'bool': 'boolean', 'date': 'date', 'timestamp': 'timestamp', 'json': 'json',
    } -%}
    {{ return(types[name]) }}
{%- endmacro %}

{% macro bigquery__truffle_type(name) -%}
    {%- set types = {
        'string': 'string', 'int': 'int64', 'float': 'float64', 'money': 'numeric',
        'bool': 'bool', 'date': 'date', 'timestamp': 'timestamp', 'json': 'string',
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


{#- `select *` without some columns, and with others computed in their place (`replace`:
    {column: expression}; the column keeps its position). -#}
{% macro truffle_star_except(columns, replace={}) -%}
    {{ return(adapter.dispatch('truffle_star_except', 'random_truffle')(columns, replace)) }}
{%- endmacro %}

{% macro default__truffle_star_except(columns, replace={}) -%}
    * exclude ({{ columns | join(', ') }}){{ truffle_star_replace(replace) }}
{%- endmacro %}

{% macro bigquery__truffle_star_except(columns, replace={}) -%}
    * except ({{ columns | join(', ') }}){{ truffle_star_replace(replace) }}
{%- endmacro %}

{#- The ` replace (...)` clause of a star (the same on both engines), or nothing. -#}
{% macro truffle_star_replace(replace) -%}
    {%- if replace %} replace (
        {%- for column, expression in replace.items() %}{{ expression }} as {{ column }}{{ ', ' if not loop.last }}{% endfor -%}
    ){%- endif -%}
{%- endmacro %}
