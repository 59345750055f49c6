{#- A bound query parameter in an analysis, declared in analyses/_analyses.yml. Values never
    enter the SQL text: DuckDB gets a numbered prepared parameter ($1, $2, ... in the order of
    the analysis's declared `parameters`, then its `secret_parameters`; truffle binds values in
    that order), BigQuery a named query parameter (@name). -#}
{% macro truffle_param(name) -%}
    {%- set meta = model.config.meta if model is defined and model.config is defined else {} -%}
    {%- set declared = (meta.get('parameters', []) | map(attribute='name') | list)
        + meta.get('secret_parameters', []) -%}
    {%- if execute and name not in declared -%}
        {{ exceptions.raise_compiler_error("Parameter '" ~ name ~ "' is not declared for " ~ model.name ~ " in analyses/_analyses.yml.") }}
    {%- endif -%}
    {{ return(adapter.dispatch('truffle_param', 'random_truffle')(name, declared)) }}
{%- endmacro %}

{% macro default__truffle_param(name, declared) -%}
    ${{ declared.index(name) + 1 if name in declared else 0 }}
{%- endmacro %}

{% macro bigquery__truffle_param(name, declared) -%}
    @{{ name }}
{%- endmacro %}


{#- Element `position` (1-based) of an array, null past its end. -#}
{% macro truffle_array_element(array_expression, position) -%}
    {{ return(adapter.dispatch('truffle_array_element', 'random_truffle')(array_expression, position)) }}
{%- endmacro %}

{% macro default__truffle_array_element(array_expression, position) -%}
    {{ array_expression }}[{{ position }}]
{%- endmacro %}

{% macro bigquery__truffle_array_element(array_expression, position) -%}
    {{ array_expression }}[safe_ordinal({{ position }})]
{%- endmacro %}


{#- Number of elements of an array. -#}
{% macro truffle_array_length(array_expression) -%}
    {{ return(adapter.dispatch('truffle_array_length', 'random_truffle')(array_expression)) }}
{%- endmacro %}

{% macro default__truffle_array_length(array_expression) -%}
    len({{ array_expression }})
{%- endmacro %}

{% macro bigquery__truffle_array_length(array_expression) -%}
    array_length({{ array_expression }})
{%- endmacro %}


{#- A date moved by a whole number of days (the number may be an expression). -#}
{% macro truffle_add_days(date_expression, days_expression) -%}
    {{ return(adapter.dispatch('truffle_add_days', 'random_truffle')(date_expression, days_expression)) }}
{%- endmacro %}

{% macro default__truffle_add_days(date_expression, days_expression) -%}
    cast({{ date_expression }} + to_days(cast({{ days_expression }} as integer)) as date)
{%- endmacro %}

{% macro bigquery__truffle_add_days(date_expression, days_expression) -%}
    date_add({{ date_expression }}, interval {{ days_expression }} day)
{%- endmacro %}


{#- The Monday of a date's ISO week. -#}
{% macro truffle_week_start(date_expression) -%}
    {{ return(adapter.dispatch('truffle_week_start', 'random_truffle')(date_expression)) }}
{%- endmacro %}

{% macro default__truffle_week_start(date_expression) -%}
    cast(date_trunc('week', {{ date_expression }}) as date)
{%- endmacro %}

{% macro bigquery__truffle_week_start(date_expression) -%}
    date_trunc({{ date_expression }}, isoweek)
{%- endmacro %}


{#- SHA-256 of a text, as lowercase hex. -#}
{% macro truffle_sha256_hex(expression) -%}
    {{ return(adapter.dispatch('truffle_sha256_hex', 'random_truffle')(expression)) }}
{%- endmacro %}

{% macro default__truffle_sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{% macro bigquery__truffle_sha256_hex(expression) -%}
    to_hex(sha256({{ expression }}))
{%- endmacro %}
