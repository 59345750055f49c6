{#- Erasure requests (right to be forgotten): delete every row of an erased identity from a
    model's table, whatever partition it is in. Runs as a post-hook, inside the model's
    transaction; matches user_id, user_pseudo_id and, where the model has it,
    unified_user_id. A no-op while the request list is empty. -#}
{% macro ga4_erase_identities_from(relation, partition_column=none, erased_relation=none) -%}
    {#- referenced outside the condition so dbt records the dependency when it parses -#}
    {%- set erased = erased_relation if erased_relation is not none else ref('int_erased_identities') -%}
    {%- if execute and not var('ga4_render_incremental', false) -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    delete from {{ relation }}
    where
        {% if partition_column -%}
        {{ partition_column }} >= cast('1900-01-01' as date) and (
        {%- endif %}
        user_id in (select erased_identity from {{ erased }})
        or user_pseudo_id in (select erased_identity from {{ erased }})
        {%- if 'unified_user_id' in columns %}
        or unified_user_id in (select erased_identity from {{ erased }})
        {%- endif %}
        {%- if partition_column %}
        )
        {%- endif %}
    {%- else -%}
    select 1 as nothing_to_erase
    {%- endif -%}
{%- endmacro %}
