{{
    config(
        materialized='incremental',
        meta={'window_column': 'session_start_date'},
        incremental_strategy=truffle_session_strategy(),
        unique_key='session_key',
        incremental_predicates=truffle_session_merge_predicates(),
        partition_by=truffle_partition_by('session_start_date'),
        partition_expiration_days=truffle_partition_expiration_days(),
        cluster_by=ga4_cluster_by(['session_key']),
        post_hook=[
            "{{ ga4_drop_vanished_sessions() }}",
            "{{ ga4_erase_identities_from(this, 'session_start_date') }}",
            "{{ ga4_record_erasures(this) }}",
            "{{ ga4_apply_retention(\"'user_activity'\", 'session_start_date', read_by='int_sessions_converted') }}",
            "{{ ga4_record_retention(this, read_by='int_sessions_converted') }}",
        ],
    )
}}

{%- set reach = ga4_session_reach(this) if ga4_is_incremental() else none %}
{{ reach.marker if reach }}
{#- a session's first / last value: by event time, ties broken by the event key -#}
{%- set event_order = ['event_timestamp_micros', 'event_key'] %}

with

-- a session's facts come from all its events, whatever day they landed in (pitfall 3): an
-- incremental run reads from the first start to the last end of the sessions the window
-- touches (ga4_session_reach: the day before the window at least), and the day after.
-- Every event recorded, whatever its category's retention: a session is kept as user
-- activity and counts its events as they were (ga4_recorded_events)
session_events as (
    {{ ga4_recorded_events(
        'session_key is not null and '
        ~ ga4_reach_filter(reach, 'event_date', extra_days_before=0 if reach else 1, extra_days_after=1)
    ) }}
),

-- the traffic each event carries: newer exports' collected_traffic_source, else the
-- source/medium/campaign params, with a gclid meaning google / cpc (pitfall 6)
event_traffic as (
    select
        *,
        coalesce(
            collected_source,
            param_source,
            case when coalesce(collected_gclid, param_gclid) is not null then 'google' end
        ) as event_source,
        coalesce(
            collected_medium,
            param_medium,
            case when coalesce(collected_gclid, param_gclid) is not null then 'cpc' end
        ) as event_medium,
        coalesce(collected_campaign, param_campaign) as event_campaign
    from session_events
),

-- one row per session
aggregated as (
    select
        session_key,
        -- the key hashes the property: one value per session
        min(property_id) as property_id,
        min(user_pseudo_id) as user_pseudo_id,
        min(stream_id) as stream_id,
        min(ga_session_id) as ga_session_id,
        {{ truffle_last_non_null('user_id', event_order) }} as user_id,
        min(event_at) as session_start_at,
        max(event_at) as session_end_at,
        min(event_date) as session_start_date,
        max(event_date) as session_end_date,
        max(ga_session_number) as ga_session_number,
        count(*) as event_count,
        {{ truffle_countif("event_name in ('page_view', 'screen_view')") }} as page_view_count,
        cast(coalesce(sum(engagement_time_msec), 0) as {{ truffle_type('int') }}) as engagement_time_msec,
        -- engaged if any event says so; '1' on web, 1 on apps (pitfall 5)
        coalesce({{ dbt.bool_or('is_session_engaged_event') }}, false) as is_engaged_session,
        {{ dbt.bool_or("event_name = 'first_visit'") }} as has_first_visit,
        coalesce({{ dbt.bool_or('is_debug_event') }}, false) as is_debug_session,
        {{ dbt.bool_or('is_active_user') }} as is_active_user_flag,
        {{ dbt.bool_or("ads_consent_status = 'denied'") }} as has_ads_denied,
        {{ dbt.bool_or("ads_consent_status = 'granted'") }} as has_ads_granted,
        {{ truffle_first_non_null('page_location', event_order) }} as landing_page_location,
        {{ truffle_first_non_null('page_path', event_order) }} as landing_page_path,
        {{ truffle_last_non_null('page_path', event_order) }} as exit_page_path,
        {{ truffle_first_non_null('platform', event_order) }} as platform,
        {{ truffle_first_non_null('device_category', event_order) }} as device_category,
        {{ truffle_first_non_null('device_operating_system', event_order) }} as device_operating_system,
        {{ truffle_first_non_null('device_browser', event_order) }} as device_browser,
        {{ truffle_first_non_null('device_language', event_order) }} as device_language,
        {{ truffle_first_non_null('geo_country', event_order) }} as country,
        {{ truffle_first_non_null('geo_region', event_order) }} as region,
        {{ truffle_first_non_null('geo_city', event_order) }} as city,
        {{ truffle_first_non_null('last_click_source', event_order) }} as last_click_source,
        {{ truffle_first_non_null('last_click_medium', event_order) }} as last_click_medium,
        {{ truffle_first_non_null('last_click_campaign', event_order) }} as last_click_campaign,
        {{ truffle_first_non_null('last_click_channel_group', event_order) }} as last_click_channel_group,
        {{ truffle_first_non_null('event_source', event_order) }} as event_source,
        {{ truffle_first_non_null('event_medium', event_order) }} as event_medium,
        {{ truffle_first_non_null('event_campaign', event_order) }} as event_campaign,
        {{ truffle_first_non_null('first_touch_source', event_order) }} as first_touch_source,
        {{ truffle_first_non_null('first_touch_medium', event_order) }} as first_touch_medium,
        {{ truffle_first_non_null('first_touch_campaign', event_order) }} as first_touch_campaign
    from event_traffic
    group by session_key
),

-- the session's source: GA4's own last-click record when the export has it, else the first
-- traffic its events carried, else direct
sourced as (
    select
        *,
        case
            when last_click_source is not null or last_click_medium is not null
                then coalesce(last_click_source, '(not set)')
            when event_source is not null or event_medium is not null
                then coalesce(event_source, '(not set)')
            else '(direct)'
        end as session_source,
        case
            when last_click_source is not null or last_click_medium is not null
                then coalesce(last_click_medium, '(not set)')
            when event_source is not null or event_medium is not null
                then coalesce(event_medium, '(not set)')
            else '(none)'
        end as session_medium,
        case
            when last_click_source is not null or last_click_medium is not null
                then coalesce(last_click_campaign, '(not set)')
            when event_source is not null or event_medium is not null
                then coalesce(event_campaign, '(not set)')
            else '(direct)'
        end as session_campaign
    from aggregated
),

-- full builds: the sessions that began in the range; incremental runs: the touched ones
final as (
    select
        session_key,
        property_id,
        user_pseudo_id,
        stream_id,
        ga_session_id,
        user_id,
        session_start_at,
        session_end_at,
        session_start_date,
        session_end_date,
        {{ truffle_msec_between('session_start_at', 'session_end_at') }} as session_duration_msec,
        ga_session_number,
        coalesce(has_first_visit or ga_session_number = 1, false) as is_first_session,
        event_count,
        page_view_count,
        engagement_time_msec,
        is_engaged_session,
        coalesce(is_active_user_flag, is_engaged_session) as is_active_user,
        is_debug_session,
        case
            when has_ads_denied then 'denied'
            when has_ads_granted then 'granted'
            else 'unknown'
        end as ads_consent_status,
        landing_page_location,
        landing_page_path,
        exit_page_path,
        platform,
        device_category,
        device_operating_system,
        device_browser,
        device_language,
        country,
        region,
        city,
        session_source,
        session_medium,
        session_campaign,
        coalesce(
            last_click_channel_group,
            {{ ga4_default_channel_group('session_source', 'session_medium') }}
        ) as session_default_channel_group,
        first_touch_source,
        first_touch_medium,
        first_touch_campaign
    from sourced
    where {{ ga4_session_rows_filter(reach, this) }}
)

select * from final
{{ truffle_storage_order(['session_start_date', 'session_start_at']) }}
