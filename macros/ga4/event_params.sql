{#- Extract one event parameter's value record ({string_value, int_value, float_value,
    double_value}) from a GA4 `event_params` array. The BigQuery idiom (a correlated unnest)
    does not bind on DuckDB, where a list lookup is also ~40x faster (design notes, engine
    notes). DuckDB: the position of the first element with the key, found by list_position in
    the list of keys (a native search, where a list_filter per parameter runs a lambda over
    every element for each of the ~20 parameters; the list of keys is the same expression in
    every lookup of a row); null when the key is absent, as list_filter(...)[1] was. -#}
{% macro ga4_param_value(key, params_column='event_params') -%}
    {{ return(adapter.dispatch('ga4_param_value', 'random_truffle')(key, params_column)) }}
{%- endmacro %}

{% macro default__ga4_param_value(key, params_column) -%}
    {{ exceptions.raise_compiler_error("ga4_param_value has no implementation for adapter '" ~ target.type ~ "'; add a " ~ target.type ~ "__ga4_param_value macro.") }}
{%- endmacro %}

{% macro duckdb__ga4_param_value(key, params_column) -%}
    {{ params_column }}[list_position(list_transform({{ params_column }}, lambda p: p.key), '{{ key }}')].value
{%- endmacro %}

{% macro bigquery__ga4_param_value(key, params_column) -%}
    (select p.value from unnest({{ params_column }}) as p where p.key = '{{ key }}' limit 1)
{%- endmacro %}


{#- Type one extracted value record. The value may sit in any slot: `session_engaged` is a
    string '1' on web and an int 1 on apps (pitfall 5); hostile exports swap slots too. -#}
{% macro ga4_typed_param(value_column, type_name) -%}
    {%- if type_name == 'string' -%}
        coalesce(
            {{ value_column }}.string_value,
            cast({{ value_column }}.int_value as {{ truffle_type('string') }}),
            cast({{ value_column }}.double_value as {{ truffle_type('string') }}),
            cast({{ value_column }}.float_value as {{ truffle_type('string') }})
        )
    {%- elif type_name == 'int' -%}
        coalesce(
            {{ value_column }}.int_value,
            {{ truffle_safe_cast(value_column ~ '.string_value', 'int') }},
            {{ truffle_safe_cast(value_column ~ '.double_value', 'int') }},
            {{ truffle_safe_cast(value_column ~ '.float_value', 'int') }}
        )
    {%- elif type_name == 'float' -%}
        coalesce(
            {{ value_column }}.double_value,
            {{ value_column }}.float_value,
            cast({{ value_column }}.int_value as {{ truffle_type('float') }}),
            {{ truffle_safe_cast(value_column ~ '.string_value', 'float') }}
        )
    {%- else -%}
        {{ exceptions.raise_compiler_error("ga4_typed_param: type must be string, int or float, not '" ~ type_name ~ "'.") }}
    {%- endif -%}
{%- endmacro %}


{#- The parameters as text with a stable order (sorted by key, then value), for the event
    fingerprint (pitfall 2) and for keeping all params as JSON on the events mart. -#}
{% macro ga4_params_sorted_json(params_column='event_params') -%}
    {{ return(adapter.dispatch('ga4_params_sorted_json', 'random_truffle')(params_column)) }}
{%- endmacro %}

{% macro default__ga4_params_sorted_json(params_column) -%}
    cast(to_json(list_sort({{ params_column }})) as varchar)
{%- endmacro %}

{% macro bigquery__ga4_params_sorted_json(params_column) -%}
    to_json_string(array(
        select as struct p.key, p.value
        from unnest({{ params_column }}) as p
        order by p.key, to_json_string(p.value)
    ))
{%- endmacro %}
