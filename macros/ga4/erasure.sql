{#- Erasure requests (right to be forgotten): delete every row of an erased identity from a
    model's table, whatever partition it is in. Runs as a post-hook, inside the model's
    transaction; matches user_id, user_pseudo_id and, where the model has it,
    unified_user_id. The delete guard counts first (no DML while no stored row matches) and
    reports it.

    Only on new requests: the ledger (int_erasures_applied) lists the identities already
    deleted from this table's history, so a run without an unapplied identity sends no
    history-wide statement at all (ga4_pending_erasures reads two small tables). A table whose
    model filters erased identities at write (the marts' stored tables) then needs nothing;
    one that cannot (`filtered_at_write=false`: staging and the logins, read before the
    erased identities are known) is cleared in the re-processed window only. The hook
    ga4_record_erasures, after this one, writes the ledger. -#}
{% macro ga4_erase_identities_from(relation, partition_column=none, erased_relation=none, by_day=none, filtered_at_write=true) -%}
    {#- referenced outside the condition so dbt records the dependency when it parses -#}
    {%- set erased = erased_relation if erased_relation is not none else ref('int_erased_identities') -%}
    {%- set pending = ga4_pending_erasures(relation, erased) -%}
    {%- set in_window = not pending and not filtered_at_write and partition_column
        and ga4_has_erasures(erased) -%}
    {%- if pending or in_window -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- set predicate -%}
        {% if in_window -%}
        {{ ga4_window_filter(partition_column) }} and (
        {%- elif partition_column -%}
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


{#- How many erased identities `relation` has not had deleted from its history yet (the
    ledger, int_erasures_applied): 0 while nothing is to be done; 0 too when rendering
    offline without a warehouse. -#}
{% macro ga4_pending_erasures(relation, erased) -%}
    {%- set ledger = ref('int_erasures_applied') -%}
    {%- if not execute or var('ga4_render_incremental', false) -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set query -%}
        {{ truffle_lookup_name('pending erasures') }}
        select count(*) from {{ erased }} as erased
        where erased.erased_identity not in (
            select applied.erased_identity from {{ ledger }} as applied
            where applied.table_name = {{ truffle_string_literal(relation.identifier) }}
        )
    {%- endset -%}
    {{ return(run_query(query).rows[0][0] | int) }}
{%- endmacro %}


{#- How many user ids the erasure requests name that `erased` (int_erased_identities) does
    not hold yet: only then does it look for their devices in every day's logins. 0 when
    rendering offline without a warehouse. -#}
{% macro ga4_new_erasure_requests(erased) -%}
    {%- if not execute or var('ga4_render_incremental', false) -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set requests = var('erasure_requests_relation', none) or ref('erasure_requests') -%}
    {%- set query -%}
        {{ truffle_lookup_name('new erasure requests') }}
        select count(*) from {{ requests }} as requests
        where
            requests.user_id is not null
            and cast(requests.user_id as {{ truffle_type('string') }}) != ''
            and cast(requests.user_id as {{ truffle_type('string') }}) not in (
                select erased.erased_identity from {{ erased }} as erased
            )
    {%- endset -%}
    {{ return(run_query(query).rows[0][0] | int) }}
{%- endmacro %}


{#- Whether any identity is erased at all (a small table): a window-bounded erasure of a
    table that cannot filter at write runs only then. -#}
{% macro ga4_has_erasures(erased) -%}
    {%- if not execute or var('ga4_render_incremental', false) -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return((run_query('select count(*) from ' ~ erased).rows[0][0] | int) > 0) }}
{%- endmacro %}


{#- Post-hook after a table's erasure hooks: the identities they applied go into the ledger,
    so the next runs skip them. Sends nothing when nothing was pending, nor when the run
    skipped destructive steps (then nothing was deleted: the next run applies them). -#}
{% macro ga4_record_erasures(relation, erased_relation=none) -%}
    {%- set erased = erased_relation if erased_relation is not none else ref('int_erased_identities') -%}
    {%- set ledger = ref('int_erasures_applied') -%}
    {%- set rendering = var('ga4_render_incremental', false) -%}
    {%- if rendering or (not var('ga4_skip_deletes', false) and ga4_pending_erasures(relation, erased)) -%}
    {%- set table_name = truffle_string_literal(relation.identifier) -%}
    insert into {{ ledger }} (erasure_key, table_name, erased_identity, applied_at)
    select
        {{ truffle_hash_key([table_name, 'erased.erased_identity']) }},
        {{ table_name }},
        erased.erased_identity,
        current_timestamp
    from {{ erased }} as erased
    where erased.erased_identity not in (
        select applied.erased_identity from {{ ledger }} as applied
        where applied.table_name = {{ table_name }}
    )
    {%- else -%}
    select 1 as nothing_to_record
    {%- endif -%}
{%- endmacro %}


{#- Erasure of raw text: a row kept as text (raw_record: a line that could not be parsed, in
    staging and so in the quarantine view) may hold an erased identity without the row having
    it in user_id or user_pseudo_id. Its text is cleared (the row stays, quarantined and
    counted). Post-hook after ga4_erase_identities_from; sends no DML when no text matches;
    reported as the step `erasure (raw text)`. Like it, reads the whole history only while
    the ledger has identities not yet applied to `relation`, else the window only. -#}
{% macro ga4_erase_raw_text_from(relation, partition_column, erased_relation) -%}
    {%- set pending = ga4_pending_erasures(relation, erased_relation) -%}
    {%- set predicate -%}
        {% if pending or var('ga4_render_incremental', false) -%}
        {{ partition_column }} >= cast('1900-01-01' as date)
        {%- else -%}
        {{ ga4_window_filter(partition_column) }}
        {%- endif %}
        and raw_record is not null
        and exists (
            select 1 from {{ erased_relation }} as erased
            where strpos(raw_record, erased.erased_identity) > 0
        )
    {%- endset -%}
    {%- set cleared = 0 -%}
    {%- if execute and not var('ga4_render_incremental', false) and not var('ga4_skip_deletes', false)
        and (pending or ga4_has_erasures(erased_relation)) -%}
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


{#- The filter that keeps an erased identity's rows out of a model's table at write: neither
    the row's user_id nor its user_pseudo_id is among the erased identities (`erased`, the
    model's import CTE of int_erased_identities, or the relation). A null id is no identity,
    so it never matches (without the coalesce, `not in` on a null would drop the row). -#}
{% macro ga4_not_erased(erased='erased_identities', columns=['user_id', 'user_pseudo_id']) -%}
    {%- for column in columns %}
        {% if not loop.first %}and {% endif -%}
        coalesce({{ column }}, '') not in (select erased_identity from {{ erased }})
    {%- endfor %}
{%- endmacro %}
