{{ config(materialized='view', meta={'window_column': 'event_date'}) }}

with

staged_events as (
    select * from {{ ref('stg_ga4__events') }}
),

-- the rows staging could not use, with why: nothing is dropped silently
final as (
    select
        event_key,
        property_id,
        event_date,
        source_table_suffix,
        source_file,
        quarantine_reason,
        raw_record,
        event_name,
        event_timestamp_micros,
        user_pseudo_id,
        ecommerce_purchase_revenue,
        raw_row_count
    from staged_events
    where quarantine_reason is not null
)

select * from final
