{{
    config(
        materialized=ga4_table_materialization(),
        cluster_by=ga4_cluster_by(['last_seen_date']),
        meta={'check_window_column': 'last_seen_date', 'replaced_whole': true},
    )
}}

{#- One row per person, combined from the stored state (int_users_aggregated: per source,
    device / login pair and day) with the person resolved through tonight's device map. A
    table rebuilt on every run from the state (read whole, once): the data tests of
    user_attributes, the audiences and their metrics read its narrow columns instead of
    each aggregating the state again. The segments are computed where they are read
    (user_attributes). Stored in last_seen_date order (clustered on BigQuery): a nightly's
    data tests check the people seen in its window (meta.check_window_column), and read only
    that part of the table. -#}
{%- set user_properties = ga4_declared_user_properties() %}

with

user_state as (
    select * from {{ ref('int_users_aggregated') }}
),

stitched_devices as (
    select * from {{ ref('int_devices_stitched') }}
),

-- the person each state row belongs to, resolved now: the row's own login, else the user
-- its device is stitched to (a later login restitches the device's older rows), else the
-- device
identified as (
    select
        coalesce(
            user_state.user_id,
            stitched_devices.user_id,
            user_state.user_pseudo_id
        ) as unified_user_id,
        user_state.*
    from user_state
    left join stitched_devices
        on
            user_state.property_id = stitched_devices.property_id
            and user_state.user_pseudo_id = stitched_devices.user_pseudo_id
),

-- each person's rows combined; devices and the login id from their sessions
people as (
    select
        property_id,
        unified_user_id,
        max(case when source_name = 'sessions' then user_id end) as user_id,
        {{ truffle_count_distinct_where('user_pseudo_id', "source_name = 'sessions'") }} as device_count,
        {{ ga4_user_state_figures(order_columns=false) | join(',\n        ') }}
    from identified
    group by property_id, unified_user_id
),

-- a person is someone with a session
final as (
    select
        property_id,
        unified_user_id,
        user_id,
        user_id is not null as is_logged_in_user,
        device_count,
        first_seen_at,
        last_seen_at,
        first_seen_date,
        last_seen_date,
        coalesce(export_first_touch_source, first_session_source) as first_touch_source,
        coalesce(export_first_touch_medium, first_session_medium) as first_touch_medium,
        coalesce(export_first_touch_campaign, first_session_campaign) as first_touch_campaign,
        last_touch_source,
        last_touch_medium,
        last_touch_campaign,
        last_touch_channel_group,
        country,
        device_category,
        platform,
        ads_consent_status,
        is_active_user,
        lifetime_sessions,
        lifetime_engaged_sessions,
        lifetime_engagement_time_msec,
        lifetime_page_views,
        coalesce(lifetime_conversions, 0) as lifetime_conversions,
        coalesce(lifetime_purchases, 0) as lifetime_purchases,
        coalesce(lifetime_revenue_usd, 0) as lifetime_revenue_usd,
        coalesce(lifetime_revenue_mxn, 0) as lifetime_revenue_mxn,
        coalesce(lifetime_revenue_cop, 0) as lifetime_revenue_cop,
        {%- for property in user_properties %}
        {{ property.column }},
        {%- endfor %}
        last_converted_at
    from people
    where lifetime_sessions is not null
)

select * from final
{{ truffle_storage_order(['last_seen_date']) }}
