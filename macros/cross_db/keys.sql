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
