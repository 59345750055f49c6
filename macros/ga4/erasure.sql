{#- Erasure requests (right to be forgotten): delete every row of an erased identity from a
    model's table, whatever partition it is in. Runs as a post-hook, inside the model's
    transaction; matches user_id, user_pseudo_id and, where the model has it,
    unified_user_id. Sends no DML while no stored row matches a request (the count comes
    first); otherwise goes through the delete guard, which reports it. -#}
{% macro ga4_erase_identities_from(relation, partition_column=none, erased_relation=none) -%}
    {#- referenced outside the condition so dbt records the dependency when it parses -#}
    {%- set erased = erased_relation if erased_relation is not none else ref('int_erased_identities') -%}
    {%- set requested = execute and not var('ga4_render_incremental', false)
        and (run_query('select count(*) from ' ~ erased).rows[0][0] | int) > 0 -%}
    {%- if requested -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- set predicate -%}
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
    {%- endset -%}
    {%- if truffle_guard_delete(relation, 'erasure', partition_column or 'event_date', predicate,
                                detail='rows of identities in the erasure requests') -%}
    delete from {{ relation }}
    where
        {{ predicate }}
    {%- else %}
    select 1 as nothing_to_erase
    {%- endif -%}
    {%- else -%}
    select 1 as nothing_to_erase
    {%- endif -%}
{%- endmacro %}
