{#- Erasure requests (right to be forgotten): delete every row of an erased identity from a
    model's table, whatever partition it is in. Runs as a post-hook, inside the model's
    transaction; matches user_id, user_pseudo_id and, where the model has it,
    unified_user_id. Sends no DML while no stored row matches a request (the count comes
    first); otherwise goes through the delete guard, which reports it. -#}
{% macro ga4_erase_identities_from(relation, partition_column=none, erased_relation=none, by_day=none) -%}
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
                                detail='rows of identities in the erasure requests', by_day=by_day) -%}
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


{#- Erasure of raw text: a row kept as text (raw_record: a line that could not be parsed, in
    staging and so in the quarantine view) may hold an erased identity without the row having
    it in user_id or user_pseudo_id. Its text is cleared (the row stays, quarantined and
    counted). Post-hook after ga4_erase_identities_from; sends no DML when no text matches;
    reported as the step `erasure (raw text)`. -#}
{% macro ga4_erase_raw_text_from(relation, partition_column, erased_relation) -%}
    {%- set predicate -%}
        {{ partition_column }} >= cast('1900-01-01' as date)
        and raw_record is not null
        and exists (
            select 1 from {{ erased_relation }} as erased
            where strpos(raw_record, erased.erased_identity) > 0
        )
    {%- endset -%}
    {%- set cleared = 0 -%}
    {%- if execute and not var('ga4_render_incremental', false) and not var('ga4_skip_deletes', false) -%}
        {%- set cleared = run_query('select count(*) from ' ~ relation ~ ' where ' ~ predicate).rows[0][0] | int -%}
    {%- endif -%}
    {%- if cleared > 0 or var('ga4_render_incremental', false) -%}
        {%- do log('TRUFFLE_DELETES ' ~ tojson({'table': relation.identifier, 'step': 'erasure (raw text)', 'rows': cleared}), info=false) -%}
    update {{ relation }}
    set raw_record = null
    where
        {{ predicate }}
    {%- else %}
    select 1 as no_raw_text_to_erase
    {%- endif -%}
{%- endmacro %}
