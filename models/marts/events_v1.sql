{{
    config(
        materialized='incremental',
        incremental_strategy=truffle_incremental_strategy(),
        unique_key=truffle_incremental_key('event_date'),
        partition_by=truffle_partition_by('event_date'),
        partitions=ga4_bigquery_partitions(),
        require_partition_filter=true,
        cluster_by=['event_name', 'unified_user_id', 'session_key'],
        post_hook=["{{ ga4_restitch_devices('is_stitched_identity') }}"],
    )
}}

with

staged_events as (
    select * from {{ ref('stg_ga4__events') }}
    where {{ ga4_window_filter('event_date') }}
),

stitched_devices as (
    select * from {{ ref('int_devices_stitched') }}
),

-- unified_user_id: the event's own login, else the device's user once it has logged in
-- (retroactive stitching, pitfall 13), else the device
identified as (
    select
        staged_events.*,
        coalesce(
            staged_events.user_id,
            stitched_devices.user_id,
            staged_events.user_pseudo_id
        ) as unified_user_id,
        (
            staged_events.user_id is null
            and stitched_devices.user_id is not null
        ) as is_stitched_identity
    from staged_events
    left join stitched_devices
        on staged_events.user_pseudo_id = stitched_devices.user_pseudo_id
),

final as (
    select * from identified
)

select * from final
{{ truffle_storage_order(['event_date', 'event_timestamp_micros']) }}
