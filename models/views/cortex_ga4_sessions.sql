{{ config(meta={'window_column': 'session_date', 'window_source_column': 'session_start_date'}) }}

with

sessions as (
    select * from {{ ref('sessions') }}
),

-- the export reshaped to one row per session, named as Google Cortex's GA4 session views
-- name them (session_id, unix-second start and end, unified_user_id)
final as (
    select
        ga_session_id as session_id,
        session_key,
        property_id,
        stream_id,
        user_id,
        user_pseudo_id,
        unified_user_id,
        session_start_date as session_date,
        {{ truffle_unix_seconds('session_start_at') }} as session_start_timestamp,
        {{ truffle_unix_seconds('session_end_at') }} as session_end_timestamp,
        cast(session_duration_msec / 1000 as {{ truffle_type('int') }}) as session_duration_seconds,
        ga_session_number as session_number,
        is_first_session as is_new_user,
        is_engaged_session,
        event_count as events,
        page_view_count as page_views,
        engagement_time_msec,
        landing_page_location as landing_page,
        session_source as traffic_source,
        session_medium as traffic_medium,
        session_campaign as traffic_campaign,
        session_default_channel_group as channel_group,
        platform,
        device_category,
        device_operating_system as operating_system,
        device_browser as browser,
        country,
        region,
        city,
        conversion_count as conversions,
        revenue_usd
    from sessions
)

select * from final
