{{
    config(
        materialized='incremental',
        meta={'window_column': 'event_date'},
        incremental_strategy=truffle_incremental_strategy(),
        unique_key=truffle_incremental_key('event_date'),
        partition_by=truffle_partition_by('event_date'),
        partitions=ga4_bigquery_partitions(),
        partition_expiration_days=truffle_partition_expiration_days(),
    )
}}

{#- Stored, one row per day, device and login: each run replaces the days it re-processes, so
    the device / login pairs (int_device_users_paired, from which the device map is ranked)
    are updated from the window's days of this small table and never from the whole of
    staging, and a login that disappears from a rewritten export day leaves no trace.
    Erased identities are removed by int_erased_identities' post-hook. -#}

with

events as (
    select * from {{ ref('stg_ga4__events') }}
    where {{ ga4_window_filter('event_date') }}
),

-- only logged-in events tell us whose device it is
logged_in_events as (
    select
        property_id,
        event_date,
        user_pseudo_id,
        user_id,
        event_at
    from events
    where
        user_id is not null
        and user_pseudo_id is not null
),

-- one row per day, device and user: when that user first logged in on it that day
observed as (
    select
        property_id,
        event_date,
        user_pseudo_id,
        user_id,
        min(event_at) as first_login_at
    from logged_in_events
    group by property_id, event_date, user_pseudo_id, user_id
),

final as (
    select
        {{ truffle_hash_key(['property_id', 'event_date', 'user_pseudo_id', 'user_id']) }} as device_login_key,
        property_id,
        event_date,
        user_pseudo_id,
        user_id,
        first_login_at
    from observed
)

select * from final
