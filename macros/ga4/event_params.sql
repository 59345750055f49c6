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
        {#- a whole number sent as a double is written as the int it is (a ga_session_id of
            1709396639.0 keys the same session as 1709396639 and '1709396639'; the engines
            would write '1709396639.0' or '1.709396639e+09') -#}
        coalesce(
            {{ value_column }}.string_value,
            cast({{ value_column }}.int_value as {{ truffle_type('string') }}),
            {{ ga4_number_text(value_column ~ '.double_value') }},
            {{ ga4_number_text(value_column ~ '.float_value') }}
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
    {%- elif type_name == 'bool' -%}
        {#- '1' or 'true' as text (web), 1 as a number (apps) -#}
        coalesce(
            lower({{ value_column }}.string_value) in ('1', 'true'),
            {{ value_column }}.int_value = 1,
            {{ value_column }}.double_value = 1,
            {{ value_column }}.float_value = 1
        )
    {%- else -%}
        {{ exceptions.raise_compiler_error("ga4_typed_param: type must be string, int, float or bool, not '" ~ type_name ~ "'.") }}
    {%- endif -%}
{%- endmacro %}


{#- A floating-point value as text: a whole number (below 2^53) as an int's digits. -#}
{% macro ga4_number_text(expression) -%}
    case
        when {{ expression }} = trunc({{ expression }}) and abs({{ expression }}) < 9007199254740992
            then cast(cast({{ expression }} as {{ truffle_type('int') }}) as {{ truffle_type('string') }})
        else cast({{ expression }} as {{ truffle_type('string') }})
    end
{%- endmacro %}


{#- All parameters as one JSON object, key to value, for the events mart (the params the
    standard columns do not extract stay queryable: json_extract(event_params_json,
    '$.page_location')). The value is the slot that is set (string, int, double, float, in
    that order), else null; keys in the export's order (a key sent twice appears twice). A
    third the size of the export's own [{key, value: {four slots}}] shape (~270 against ~980
    bytes an event on the benchmark), which made this one column half of the time it takes to
    write the staging and events tables. -#}
{% macro ga4_params_json(params_column='event_params') -%}
    {{ return(adapter.dispatch('ga4_params_json', 'random_truffle')(params_column)) }}
{%- endmacro %}

{% macro default__ga4_params_json(params_column) -%}
    '{' || array_to_string(list_transform({{ params_column }}, lambda p:
        cast(to_json(coalesce(p.key, '')) as varchar) || ':' || coalesce(
            cast(to_json(p.value.string_value) as varchar),
            cast(to_json(p.value.int_value) as varchar),
            cast(to_json(p.value.double_value) as varchar),
            cast(to_json(p.value.float_value) as varchar),
            'null'
        )), ',') || '}'
{%- endmacro %}

{% macro bigquery__ga4_params_json(params_column) -%}
    (
        select concat('{', coalesce(string_agg(
            concat(to_json_string(coalesce(p.key, '')), ':', case
                when p.value.string_value is not null then to_json_string(p.value.string_value)
                when p.value.int_value is not null then to_json_string(p.value.int_value)
                when p.value.double_value is not null then to_json_string(p.value.double_value)
                when p.value.float_value is not null then to_json_string(p.value.float_value)
                else 'null'
            end), ',' order by param_offset
        ), ''), '}')
        from unnest({{ params_column }}) as p with offset as param_offset
    )
{%- endmacro %}


{#- The parameters' part of the event fingerprint (pitfall 2): equal for the same params in
    any order. BigQuery: the params as JSON sorted by key, then value. DuckDB: the sum (as a
    128-bit integer, so it never wraps) of each parameter's 64-bit hash, a multiset hash that
    needs no sort: sorting and serializing every row's params then hashing the long text was
    half of the staging model's time at 10M events. Two events can only be confused if every
    other fingerprint field is equal and their params' hash sums collide (about 2^-64). -#}
{% macro ga4_params_fingerprint(params_column='event_params') -%}
    {{ return(adapter.dispatch('ga4_params_fingerprint', 'random_truffle')(params_column)) }}
{%- endmacro %}

{% macro default__ga4_params_fingerprint(params_column) -%}
    list_sum(list_transform({{ params_column }}, lambda p: cast(hash(p) as hugeint)))
{%- endmacro %}

{% macro bigquery__ga4_params_fingerprint(params_column) -%}
    to_json_string(array(
        select as struct p.key, p.value
        from unnest({{ params_column }}) as p
        order by p.key, to_json_string(p.value)
    ))
{%- endmacro %}
