{{
    config(
        materialized='incremental',
        meta={'window_column': 'event_date'},
        incremental_strategy=truffle_incremental_strategy(),
        unique_key=truffle_incremental_key('event_date'),
        partition_by=truffle_partition_by('event_date'),
        partitions=ga4_bigquery_partitions(),
        partition_expiration_days=truffle_partition_expiration_days(),
        cluster_by=['event_name', 'user_pseudo_id'],
        on_schema_change='fail',
    )
}}

with

-- the window's daily and intraday shards, columns selected by name and cast. This CTE and the
-- ones built on it are kept inline: the dedup reads `keyed` twice, a narrow and a wide pass,
-- and storing it in between would hold every wide row (truffle_deduplicate)
export_rows as {{ truffle_not_materialized() }} (
    select * from ({{ ga4_export_rows(source('ga4', 'events')) }}) as export_shards
),

-- one lookup per parameter; typed in the next step (the value may sit in any slot)
params_extracted as {{ truffle_not_materialized() }} (
    select
        *,
        {{ ga4_param_value('ga_session_id') }} as ga_session_id__value,
        {{ ga4_param_value('ga_session_number') }} as ga_session_number__value,
        {{ ga4_param_value('session_engaged') }} as session_engaged__value,
        {{ ga4_param_value('engagement_time_msec') }} as engagement_time_msec__value,
        {{ ga4_param_value('entrances') }} as entrances__value,
        {{ ga4_param_value('page_location') }} as page_location__value,
        {{ ga4_param_value('page_title') }} as page_title__value,
        {{ ga4_param_value('page_referrer') }} as page_referrer__value,
        {{ ga4_param_value('firebase_screen') }} as firebase_screen__value,
        {{ ga4_param_value('source') }} as source__value,
        {{ ga4_param_value('medium') }} as medium__value,
        {{ ga4_param_value('campaign') }} as campaign__value,
        {{ ga4_param_value('term') }} as term__value,
        {{ ga4_param_value('gclid') }} as gclid__value,
        {{ ga4_param_value('currency') }} as currency__value,
        {{ ga4_param_value('value') }} as value__value,
        {{ ga4_param_value('transaction_id') }} as transaction_id__value,
        {{ ga4_param_value('search_term') }} as search_term__value,
        {{ ga4_param_value('debug_mode') }} as debug_mode__value
    from export_rows
),

-- typed standard params, local date and UTC time
typed as {{ truffle_not_materialized() }} (
    select
        ---------- ids
        user_pseudo_id,
        user_id,
        stream_id,
        {{ ga4_typed_param('ga_session_id__value', 'string') }} as ga_session_id,
        ---------- event
        event_name,
        -- the shard's day: a row whose own date is unparseable, future or another day stays
        -- there (quarantined)
        {{ ga4_event_date('event_date_raw', 'source_table_suffix') }} as event_date,
        {{ date_from_yyyymmdd('event_date_raw') }} as parsed_event_date,
        event_date_raw,
        event_timestamp as event_timestamp_micros,
        {{ timestamp_from_micros('event_timestamp') }} as event_at,
        event_previous_timestamp as event_previous_timestamp_micros,
        event_bundle_sequence_id,
        event_server_timestamp_offset as event_server_timestamp_offset_micros,
        batch_event_index,
        batch_page_id,
        batch_ordering_id,
        platform,
        ---------- params
        {{ ga4_typed_param('ga_session_number__value', 'int') }} as ga_session_number,
        {{ ga4_typed_param('session_engaged__value', 'string') }} as session_engaged_param,
        {{ ga4_typed_param('engagement_time_msec__value', 'int') }} as engagement_time_msec,
        {{ ga4_typed_param('entrances__value', 'int') }} as entrances,
        {{ ga4_typed_param('page_location__value', 'string') }} as page_location,
        {{ ga4_typed_param('page_title__value', 'string') }} as page_title,
        {{ ga4_typed_param('page_referrer__value', 'string') }} as page_referrer,
        {{ ga4_typed_param('firebase_screen__value', 'string') }} as firebase_screen,
        {{ ga4_typed_param('source__value', 'string') }} as param_source,
        {{ ga4_typed_param('medium__value', 'string') }} as param_medium,
        {{ ga4_typed_param('campaign__value', 'string') }} as param_campaign,
        {{ ga4_typed_param('term__value', 'string') }} as param_term,
        {{ ga4_typed_param('gclid__value', 'string') }} as param_gclid,
        upper({{ ga4_typed_param('currency__value', 'string') }}) as param_currency,
        {{ ga4_typed_param('value__value', 'float') }} as param_value,
        {{ ga4_typed_param('transaction_id__value', 'string') }} as param_transaction_id,
        {{ ga4_typed_param('search_term__value', 'string') }} as search_term,
        {{ ga4_typed_param('debug_mode__value', 'int') }} as debug_mode,
        {{ ga4_params_json() }} as event_params_json,
        {{ ga4_params_fingerprint() }} as params_fingerprint,
        ---------- consent and privacy
        privacy_analytics_storage,
        privacy_ads_storage,
        ---------- user
        user_first_touch_timestamp as user_first_touch_timestamp_micros,
        user_ltv_revenue,
        user_ltv_currency,
        first_touch_source,
        first_touch_medium,
        first_touch_campaign,
        is_active_user,
        ---------- device, geo, app
        device_category,
        device_mobile_brand_name,
        device_mobile_model_name,
        device_operating_system,
        device_operating_system_version,
        device_language,
        device_is_limited_ad_tracking,
        device_browser,
        device_browser_version,
        geo_continent,
        geo_sub_continent,
        geo_country,
        geo_region,
        geo_city,
        geo_metro,
        app_id,
        app_version,
        ---------- traffic collected on the event (newer exports)
        collected_source,
        collected_medium,
        collected_campaign,
        collected_gclid,
        last_click_source,
        last_click_medium,
        last_click_campaign,
        last_click_channel_group,
        ---------- ecommerce
        event_value_in_usd,
        ecommerce_purchase_revenue,
        ecommerce_purchase_revenue_in_usd,
        ecommerce_refund_value,
        ecommerce_shipping_value,
        ecommerce_tax_value,
        ecommerce_total_item_quantity,
        ecommerce_unique_items,
        ecommerce_transaction_id,
        item_count,
        ---------- lineage
        raw_record,
        source_table_suffix,
        is_intraday,
        source_file,
        source_row_number
    from params_extracted
),

-- the window's days only (the partitions being replaced; a full refresh from ga4_start_date)
windowed as {{ truffle_not_materialized() }} (
    select * from typed
    where {{ ga4_window_filter('event_date') }}
),

-- rows that cannot be used are kept with the reason, never dropped (the predicates:
-- macros/ga4/quarantine.sql)
classified as {{ truffle_not_materialized() }} (
    select
        *,
        {{ ga4_quarantine_reason() }} as quarantine_reason
    from windowed
),

-- keys: ga_session_id is unique per device only (pitfall 1); consent-denied events have no
-- user or session and form no session (pitfall 8)
keyed as {{ truffle_not_materialized() }} (
    select
        *,
        case
            when user_pseudo_id is not null and ga_session_id is not null
                then {{ truffle_hash_key(['user_pseudo_id', 'stream_id', 'ga_session_id']) }}
        end as session_key,
        {{ truffle_hash_key([
            'event_date_raw', 'stream_id', 'user_pseudo_id', 'ga_session_id', 'event_name',
            'event_timestamp_micros', 'batch_event_index', 'batch_page_id', 'batch_ordering_id',
            'params_fingerprint', 'raw_record',
        ] + ga4_unparsed_row_locator()) }} as event_key
    from classified
),

-- one row per event fingerprint: retries and the daily/intraday overlap collapse (pitfall 2);
-- the daily row wins over the intraday one (it carries traffic_source and user_ltv)
deduplicated as (
    {{ truffle_deduplicate(
        'keyed',
        partition_by='event_key',
        order_by=['is_intraday', 'source_file'],
        locator=['source_file', 'source_row_number'],
        count_column='raw_row_count',
    ) }}
),

final as (
    select
        ---------- keys
        event_key,
        session_key,
        ---------- ids
        user_pseudo_id,
        user_id,
        stream_id,
        ga_session_id,
        ---------- event
        event_name,
        event_date,
        event_at,
        event_timestamp_micros,
        event_previous_timestamp_micros,
        event_bundle_sequence_id,
        event_server_timestamp_offset_micros,
        batch_event_index,
        batch_page_id,
        batch_ordering_id,
        platform,
        ga_session_number,
        session_engaged_param = '1' as is_session_engaged_event,
        engagement_time_msec,
        entrances,
        page_location,
        page_title,
        page_referrer,
        firebase_screen,
        param_source,
        param_medium,
        param_campaign,
        param_term,
        param_gclid,
        param_currency,
        param_value,
        param_transaction_id,
        search_term,
        coalesce(debug_mode = 1, false) as is_debug_event,
        event_params_json,
        ---------- consent
        case
            when lower(privacy_analytics_storage) in ('no', 'false', '0') then 'denied'
            when lower(privacy_analytics_storage) in ('yes', 'true', '1') then 'granted'
            else 'unknown'
        end as analytics_consent_status,
        case
            when lower(privacy_ads_storage) in ('no', 'false', '0') then 'denied'
            when lower(privacy_ads_storage) in ('yes', 'true', '1') then 'granted'
            else 'unknown'
        end as ads_consent_status,
        (
            user_pseudo_id is null
            or coalesce(lower(privacy_analytics_storage) in ('no', 'false', '0'), false)
        ) as is_consent_denied,
        ---------- user
        user_first_touch_timestamp_micros,
        user_ltv_revenue,
        user_ltv_currency,
        first_touch_source,
        first_touch_medium,
        first_touch_campaign,
        is_active_user,
        ---------- device, geo, app
        device_category,
        device_mobile_brand_name,
        device_mobile_model_name,
        device_operating_system,
        device_operating_system_version,
        device_language,
        device_is_limited_ad_tracking,
        device_browser,
        device_browser_version,
        geo_continent,
        geo_sub_continent,
        geo_country,
        geo_region,
        geo_city,
        geo_metro,
        app_id,
        app_version,
        ---------- traffic
        collected_source,
        collected_medium,
        collected_campaign,
        collected_gclid,
        last_click_source,
        last_click_medium,
        last_click_campaign,
        last_click_channel_group,
        ---------- ecommerce
        event_value_in_usd,
        ecommerce_purchase_revenue,
        ecommerce_purchase_revenue_in_usd,
        ecommerce_refund_value,
        ecommerce_shipping_value,
        ecommerce_tax_value,
        ecommerce_total_item_quantity,
        ecommerce_unique_items,
        ecommerce_transaction_id,
        item_count,
        ---------- lineage
        source_table_suffix,
        is_intraday as is_from_intraday,
        source_file,
        raw_row_count,
        quarantine_reason,
        raw_record
    from deduplicated
)

-- not sorted: each day's shards are read in turn and the passes above stream them, so rows
-- land in day-clustered row groups without a sort of ~90 columns (a fifth of the model)
select * from final
