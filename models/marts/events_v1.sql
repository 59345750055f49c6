{{
    config(
        materialized='view',
        meta={'window_column': 'event_date'},
    )
}}

{#- A view: the stored events (int_events_recorded) with the identity resolved at
    read (ga4_identified_columns), so stitching never rewrites a stored partition. A
    filter on event_date reaches the stored table's partitions through the view. -#}

{#- the declared parameters and user properties pass through from staging; the contract
    must list them -#}
{{ ga4_require_declared_contract_columns(ga4_declared_event_params() + ga4_declared_user_properties()) }}

with

facts as (
    select * from {{ ref('int_events_recorded') }}
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
