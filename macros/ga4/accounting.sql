{#- Where every raw export row of the window ended: kept (in the events mart), a collapsed
    duplicate, quarantined (with its reason) or removed (by retention, or by erasure of the
    identity from the marts). Post-hook of the events mart, after its erasure and retention
    steps: counts per property, export day (the shard's YYYYMMDD), outcome and reason, logged as one
    `TRUFFLE_ACCOUNTING {json}` debug line that truffle adds to its run summary. Rows erased
    from staging itself are reported by the delete guard, per export day (by_day). -#}
{% macro ga4_account_export_rows(staged_relation, retention_relation) -%}
    {%- if not execute or var('ga4_render_offline', false) -%}
    select 1 as accounted
    {%- else -%}
    {#- hooks run after the table exists, when is_incremental() is always true: a full
        refresh, or truffle on a first build (ga4_account_all_days), read every day -#}
    {%- set incremental = not (flags.FULL_REFRESH or var('ga4_account_all_days', false)) -%}
    {%- set query -%}
        with staged as (
            select property_id, source_table_suffix, event_key, event_date, event_name, quarantine_reason, raw_row_count
            from {{ staged_relation }}
            where {{ ga4_window_filter('event_date', incremental=incremental) }}
        ),
        marted as (
            select event_key, event_date
            from {{ this }}
            where {{ ga4_window_filter('event_date', incremental=incremental) }}
        ),
        outcomes as (
            select
                staged.property_id,
                staged.source_table_suffix,
                staged.raw_row_count,
                case
                    when staged.quarantine_reason is not null then 'quarantined'
                    when marted.event_key is not null then 'kept'
                    else 'removed'
                end as outcome,
                case
                    when staged.quarantine_reason is not null then staged.quarantine_reason
                    when marted.event_key is not null then ''
                    when not ({{ ga4_within_retention("coalesce(categories.retention_category, 'interaction')", 'staged.event_date') }}) then 'retention'
                    else 'erasure'
                end as reason
            from staged
            left join marted
                on staged.event_key = marted.event_key and staged.event_date = marted.event_date
            left join {{ retention_relation }} as categories
                on staged.event_name = categories.event_name
        )
        select source_table_suffix, outcome, reason, count(*) as row_count, sum(raw_row_count - 1) as collapsed, property_id
        from outcomes
        group by property_id, source_table_suffix, outcome, reason
    {%- endset -%}
    {%- set counted = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- do counted.append({'day': row[0], 'outcome': row[1], 'reason': row[2], 'rows': row[3] | int, 'collapsed': row[4] | int, 'property': row[5]}) -%}
    {%- endfor -%}
    {%- do log('TRUFFLE_ACCOUNTING ' ~ tojson(counted), info=false) -%}
    select 1 as accounted
    {%- endif -%}
{%- endmacro %}
