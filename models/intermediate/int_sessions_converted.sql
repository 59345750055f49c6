{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        meta={'window_column': 'session_start_date'},
        incremental_strategy=truffle_session_strategy(),
        unique_key='session_key',
        incremental_predicates=truffle_session_merge_predicates(),
        partition_by=truffle_partition_by('session_start_date'),
        partition_expiration_days=truffle_partition_expiration_days(),
        cluster_by=ga4_cluster_by(['user_pseudo_id', 'device_category', 'country']),
        post_hook=[
            "{{ ga4_drop_vanished_sessions() }}",
            "{{ ga4_erase_identities_from(this, 'session_start_date') }}",
            "{{ ga4_record_erasures(this) }}",
            "{{ ga4_apply_retention(\"'user_activity'\", 'session_start_date') }}",
            "{{ ga4_record_retention(this) }}",
            "{{ ga4_apply_retention(\"'user_activity'\", 'session_start_date', ref('int_sessions_aggregated')) }}",
            "{{ ga4_record_retention(ref('int_sessions_aggregated')) }}",
        ],
    )
}}

-- depends_on: {{ ref('stg_ga4__events') }}
-- depends_on: {{ ref('int_erased_identities') }}
{%- set reach = ga4_session_reach(ref('int_sessions_aggregated'), shared=true) if ga4_is_incremental() else none %}
{{ reach.marker if reach }}

with

-- full builds: the sessions that began in the range; incremental runs: the sessions the
-- window touched (int_sessions_aggregated rebuilt them whole), replaced by key
sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
    where {{ ga4_session_rows_filter(reach, ref('int_sessions_aggregated'), in_reach=true) }}
),

-- a session converts on the days its events lie in: its start day or, across midnight,
-- the day after (incremental runs: anywhere in the touched sessions' reach)
conversions as (
    select * from {{ ref('int_conversions_attributed') }}
    where {{ ga4_reach_filter(reach, 'conversion_date', extra_days_after=1) }}
),

-- a session's conversions and revenue, per reporting currency (never the raw local sums)
session_conversions as (
    select
        session_key,
        count(*) as conversion_count,
        {{ truffle_countif("conversion_type = 'purchase'") }} as purchase_count,
        sum(revenue_usd) as revenue_usd,
        sum(revenue_mxn) as revenue_mxn,
        sum(revenue_cop) as revenue_cop
    from conversions
    where session_key is not null
    group by session_key
),

final as (
    select
        sessions.*,
        coalesce(session_conversions.conversion_count, 0) as conversion_count,
        coalesce(session_conversions.purchase_count, 0) as purchase_count,
        coalesce(session_conversions.conversion_count, 0) > 0 as has_conversion,
        coalesce(session_conversions.revenue_usd, 0) as revenue_usd,
        coalesce(session_conversions.revenue_mxn, 0) as revenue_mxn,
        coalesce(session_conversions.revenue_cop, 0) as revenue_cop
    from sessions
    left join session_conversions
        on sessions.session_key = session_conversions.session_key
)

select * from final
{{ truffle_storage_order(['session_start_date', 'session_start_at']) }}
