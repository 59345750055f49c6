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

-- unified_user_id: the row's own login, else its device's user (retroactive stitching,
-- pitfall 13), else the device
final as (
    select
        {{ ga4_identified_columns('facts', 'stitched_devices') }}
    from facts
    left join stitched_devices
        on facts.user_pseudo_id = stitched_devices.user_pseudo_id
)

select * from final
