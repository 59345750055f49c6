{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        meta={'window_column': 'event_date'},
        incremental_strategy=truffle_incremental_strategy(),
        unique_key=truffle_incremental_key('event_date'),
        partition_by=truffle_partition_by('event_date'),
        partitions=ga4_bigquery_partitions(),
        partition_expiration_days=truffle_partition_expiration_days(),
        require_partition_filter=true,
        cluster_by=ga4_cluster_by(['event_name', 'user_pseudo_id', 'session_key']),
        post_hook=[
            "{{ ga4_erase_identities_from(this, 'event_date') }}",
            "{{ ga4_record_erasures(this) }}",
            "{{ ga4_apply_retention('retention_category', 'event_date') }}",
            "{{ ga4_record_retention(this) }}",
            "{{ ga4_account_export_rows(ref('stg_ga4__events'), ref('event_retention_categories')) }}",
        ],
    )
}}

{#- The stored events: the events mart (a view) adds the identity resolved at read
    (unified_user_id from the device map), so a login seen tonight never rewrites an old
    partition. -#}

with

-- the window's events as recorded (ga4_recorded_events): quarantined rows stay in staging
-- (stg_ga4__events_quarantined), the items arrays go to the items mart, and nothing of an
-- erased user (or their devices: int_erased_identities lists every device seen logged in as
-- one, and the device map never points to one) enters the marts
recorded_events as (
    {{ ga4_recorded_events(ga4_window_filter('event_date')) }}
),

retention_categories as (
    select * from {{ ref('event_retention_categories') }}
),

-- retention: each event's category decides how long it is kept (unlisted: interaction)
categorised as (
    select
        recorded_events.*,
        coalesce(retention_categories.retention_category, 'interaction') as retention_category
    from recorded_events
    left join retention_categories
        on recorded_events.event_name = retention_categories.event_name
),

-- nothing past its category's retention
kept as (
    select * from categorised
    where {{ ga4_within_retention('retention_category', 'event_date') }}
),

final as (
    select * from kept
)

-- no sort (truffle_storage_order): sorting ~100 wide columns cost a third of this model's
-- time; rows land as staging's scan and the join above emit them, a few days per row group
select * from final
