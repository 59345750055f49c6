{#- A hash key over several columns, null-safe (a null part is not the empty string), built
    from dbt's cross-database macros in the way dbt-utils' generate_surrogate_key is. -#}
{% macro truffle_hash_key(fields) -%}
    {%- set parts = [] -%}
    {%- for field in fields -%}
        {%- do parts.append("coalesce(cast(" ~ field ~ " as " ~ truffle_type('string') ~ "), '_null_')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}


{#- A number from the first 15 hex digits of a hash key (truffle_hash_key: md5 in hex on every
    engine): the same number on both engines and in the same order as the keys' text, in 8
    bytes instead of 32 characters. For an order's last tie-breaker kept in a stored state
    (60 bits: two keys share it only if their md5 share 60 bits). -#}
{% macro truffle_hash_key_number(key) -%}
    {{ return(adapter.dispatch('truffle_hash_key_number', 'random_truffle')(key)) }}
{%- endmacro %}

{% macro default__truffle_hash_key_number(key) -%}
    {{ exceptions.raise_compiler_error("truffle_hash_key_number: no implementation for the " ~ target.type ~ " engine (duckdb and bigquery are supported).") }}
{%- endmacro %}

{% macro duckdb__truffle_hash_key_number(key) -%}
    cast(('0x' || left({{ key }}, 15)) as bigint)
{%- endmacro %}

{% macro bigquery__truffle_hash_key_number(key) -%}
    cast(concat('0x', substr({{ key }}, 1, 15)) as int64)
{%- endmacro %}
