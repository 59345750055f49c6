{{ config(materialized='view') }}

{#- A view: a person's figures combined from the stored state (int_users_aggregated: per
    source, device / login pair and day), the person resolved now through the device map, and
    the segments computed where they are read (the lifecycle segment depends on the day it is
    computed as of). -#}
{%- set user_properties = ga4_declared_user_properties() %}
{{ ga4_require_declared_contract_columns(user_properties) }}

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
        on user_state.user_pseudo_id = stitched_devices.user_pseudo_id
),

-- each person's rows combined; devices and the login id from their sessions
people as (
    select
        unified_user_id,
        max(case when source_name = 'sessions' then user_id end) as user_id,
        count(distinct case when source_name = 'sessions' then user_pseudo_id end) as device_count,
        {{ ga4_user_state_figures(order_columns=false) | join(',\n        ') }}
    from identified
    group by unified_user_id
),

-- a person is someone with a session
users as (
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
),

-- the date the segments are computed as of: the newest session in the warehouse (every
-- session is some user's, so it is the latest last_seen_date; a rebuild of old data gives
-- the same answer whatever the day)
as_of as (
    select max(last_seen_date) as as_of_date
    from users
),

dated as (
    select
        users.*,
        as_of.as_of_date,
        {{ truffle_days_between('users.first_seen_date', 'as_of.as_of_date') }} as days_since_first_seen,
        {{ truffle_days_between('users.last_seen_date', 'as_of.as_of_date') }} as days_since_last_seen
    from users
    cross join as_of
),

-- segments, documented in _marts__models.yml:
--   lifecycle: new (first seen ≤ 7 days ago), active (seen ≤ 30 days ago),
--              lapsing (31-90 days), dormant (> 90 days)
--   value: none (no revenue), low (< 100 USD), medium (< 500 USD), high (≥ 500 USD)
--   engagement: passive (no engaged session), engaged (1-2), highly_engaged (≥ 3)
segmented as (
    select
        *,
        case
            when days_since_first_seen <= 7 then 'new'
            when days_since_last_seen <= 30 then 'active'
            when days_since_last_seen <= 90 then 'lapsing'
            else 'dormant'
        end as lifecycle_stage,
        case
            when lifetime_revenue_usd <= 0 then 'none'
            when lifetime_revenue_usd < 100 then 'low'
            when lifetime_revenue_usd < 500 then 'medium'
            else 'high'
        end as value_segment,
        case
            when lifetime_engaged_sessions = 0 then 'passive'
            when lifetime_engaged_sessions <= 2 then 'engaged'
            else 'highly_engaged'
        end as engagement_segment
    from dated
),

final as (
    select
        unified_user_id,
        user_id,
        is_logged_in_user,
        device_count,
        first_seen_at,
        last_seen_at,
        first_seen_date,
        last_seen_date,
        as_of_date,
        days_since_first_seen,
        days_since_last_seen,
        first_touch_source,
        first_touch_medium,
        first_touch_campaign,
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
        last_converted_at,
        {%- for property in user_properties %}
        {{ property.column }},
        {%- endfor %}
        lifecycle_stage,
        value_segment,
        engagement_segment
    from segmented
)

select * from final
