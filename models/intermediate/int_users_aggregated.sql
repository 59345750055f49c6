{{
    config(
        materialized='table',
        cluster_by=['unified_user_id', 'country', 'device_category'],
    )
}}

{#- The figures of user_attributes that do not depend on the day they are read (lifetime
    sums, first / last picks); the view user_attributes adds the segments, as of the newest
    session. Rebuilt from the sessions and conversions marts on every run (never from the
    export): a user's lifetime figures need all their history, and stitching can merge two
    devices into one user, which only a rebuild gets right. The declared user properties
    (ga4_user_properties) are read from the events mart, only when some are declared. -#}
{%- set user_properties = ga4_declared_user_properties() %}

{#- a user's first / last value: by session start, ties broken by the session key -#}
{%- set session_order = ['session_start_at', 'session_key'] %}

with

sessions as (
    select * from {{ ref('sessions') }}
),

conversions as (
    select * from {{ ref('conversions') }}
),
{%- if user_properties %}

events as (
    select * from {{ ref('events') }}
    where {{ truffle_every_partition_filter('event_date') or 'true' }}
),

-- each declared user property's latest value per person
user_property_values as (
    select
        unified_user_id,
        {%- for property in user_properties %}
        {{ truffle_last_non_null(property.column, ['event_timestamp_micros', 'event_key']) }} as {{ property.column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from events
    where unified_user_id is not null
    group by unified_user_id
),
{%- endif %}

-- lifetime session figures; first and last touch (the export's traffic_source is the
-- user's first touch, pitfall 6; last touch is the latest session's source)
user_sessions as (
    select
        unified_user_id,
        min(session_start_at) as first_seen_at,
        max(session_end_at) as last_seen_at,
        min(session_start_date) as first_seen_date,
        max(session_start_date) as last_seen_date,
        count(*) as lifetime_sessions,
        {{ truffle_countif('is_engaged_session') }} as lifetime_engaged_sessions,
        cast(sum(engagement_time_msec) as {{ truffle_type('int') }}) as lifetime_engagement_time_msec,
        cast(sum(page_view_count) as {{ truffle_type('int') }}) as lifetime_page_views,
        count(distinct user_pseudo_id) as device_count,
        max(user_id) as user_id,
        {{ dbt.bool_or('is_active_user') }} as is_active_user,
        {{ truffle_first_non_null('first_touch_source', session_order) }} as export_first_touch_source,
        {{ truffle_first_non_null('first_touch_medium', session_order) }} as export_first_touch_medium,
        {{ truffle_first_non_null('first_touch_campaign', session_order) }} as export_first_touch_campaign,
        {{ truffle_first_non_null('session_source', session_order) }} as first_session_source,
        {{ truffle_first_non_null('session_medium', session_order) }} as first_session_medium,
        {{ truffle_first_non_null('session_campaign', session_order) }} as first_session_campaign,
        {{ truffle_last_non_null('session_source', session_order) }} as last_touch_source,
        {{ truffle_last_non_null('session_medium', session_order) }} as last_touch_medium,
        {{ truffle_last_non_null('session_campaign', session_order) }} as last_touch_campaign,
        {{ truffle_last_non_null('session_default_channel_group', session_order) }} as last_touch_channel_group,
        {{ truffle_last_non_null('country', session_order) }} as country,
        {{ truffle_last_non_null('device_category', session_order) }} as device_category,
        {{ truffle_last_non_null('platform', session_order) }} as platform,
        {{ truffle_last_non_null('ads_consent_status', session_order) }} as ads_consent_status
    from sessions
    group by unified_user_id
),

-- lifetime conversions and revenue per reporting currency
user_conversions as (
    select
        unified_user_id,
        count(*) as lifetime_conversions,
        {{ truffle_countif("conversion_type = 'purchase'") }} as lifetime_purchases,
        sum(revenue_usd) as lifetime_revenue_usd,
        sum(revenue_mxn) as lifetime_revenue_mxn,
        sum(revenue_cop) as lifetime_revenue_cop,
        max(converted_at) as last_converted_at
    from conversions
    where unified_user_id is not null
    group by unified_user_id
),

joined as (
    select
        user_sessions.*,
        coalesce(user_conversions.lifetime_conversions, 0) as lifetime_conversions,
        coalesce(user_conversions.lifetime_purchases, 0) as lifetime_purchases,
        coalesce(user_conversions.lifetime_revenue_usd, 0) as lifetime_revenue_usd,
        coalesce(user_conversions.lifetime_revenue_mxn, 0) as lifetime_revenue_mxn,
        coalesce(user_conversions.lifetime_revenue_cop, 0) as lifetime_revenue_cop,
        {%- for property in user_properties %}
        user_property_values.{{ property.column }},
        {%- endfor %}
        user_conversions.last_converted_at
    from user_sessions
    left join user_conversions
        on user_sessions.unified_user_id = user_conversions.unified_user_id
    {%- if user_properties %}
    left join user_property_values
        on user_sessions.unified_user_id = user_property_values.unified_user_id
    {%- endif %}
),

final as (
    select
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
        lifetime_conversions,
        lifetime_purchases,
        lifetime_revenue_usd,
        lifetime_revenue_mxn,
        lifetime_revenue_cop,
        {%- for property in user_properties %}
        {{ property.column }},
        {%- endfor %}
        last_converted_at
    from joined
)

select * from final
