{{
    config(
        materialized='view',
        meta={'window_column': 'event_date'},
    )
}}

{#- A view: the stored items (int_items_unnested) with the identity resolved at
    read (ga4_identified_columns), so stitching never rewrites a stored partition. A
    filter on event_date reaches the stored table's partitions through the view. -#}

{#- the declared item params and reporting currencies: the contract must list them -#}
{{ ga4_require_declared_contract_columns(ga4_declared_item_params() + ga4_reporting_columns('item_revenue')) }}

with

facts as (
    select * from {{ ref('int_items_unnested') }}
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
