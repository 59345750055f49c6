{{
    config(
        materialized='view',
        meta={'window_column': 'session_start_date'},
    )
}}

{#- A view: the stored sessions (int_sessions_converted) with the identity resolved at
    read (ga4_identified_columns), so stitching never rewrites a stored partition. A
    filter on session_start_date reaches the stored table's partitions through the view. -#}

with

facts as (
    select * from {{ ref('int_sessions_converted') }}
),

stitched_devices as (
    select * from {{ ref('int_devices_stitched') }}
),

-- the map keyed by device (ga4_device_lookup): a query reading no resolved column skips it
device_lookup as (
    {{ ga4_device_lookup('stitched_devices') }}
),

-- unified_user_id: the row's own login, else its device's user (retroactive stitching,
-- pitfall 13), else the device
final as (
    select
        {{ ga4_identified_columns('facts', 'device_lookup') }}
    from facts
    left join device_lookup
        on
            facts.property_id = device_lookup.property_id
            and facts.user_pseudo_id = device_lookup.user_pseudo_id
)

select * from final
