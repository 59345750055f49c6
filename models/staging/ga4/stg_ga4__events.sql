{{
    config(
        materialized='incremental',
        meta={'window_column': 'event_date', 'window_days': 'export'},
        incremental_strategy=truffle_incremental_strategy(),
        unique_key=truffle_incremental_key('event_date'),
        partition_by=truffle_partition_by('event_date'),
        partitions=ga4_bigquery_partitions(),
        partition_expiration_days=truffle_partition_expiration_days(),
        cluster_by=ga4_cluster_by(['event_name', 'user_pseudo_id']),
        on_schema_change='fail',
    )
}}

{%- set event_params = ga4_declared_event_params() -%}
{%- set user_properties = ga4_declared_user_properties() %}

with

-- the window's daily and intraday shards of each refreshed property's export, columns
-- selected by name and cast. This CTE and the ones built on it are kept inline: the dedup
-- reads `keyed` twice, a narrow and a wide pass, and storing it in between would hold every
-- wide row (truffle_deduplicate)
export_rows as {{ truffle_not_materialized() }} (
    {%- for property in ga4_refreshed_properties(ga4_is_incremental()) %}
        select
            {{ ga4_property_id_literal(property) }} as property_id,
            export_shards.*
        from ({{ ga4_export_rows(source('ga4', 'events'), property) }}) as export_shards
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

-- one lookup per declared parameter and user property (dbt_project.yml: ga4_event_params,
-- ga4_custom_event_params, ga4_user_properties); typed in the next step
params_extracted as {{ truffle_not_materialized() }} (
    select
        *,
        {{- ga4_declared_lookups(event_params, 'event_params') }}
        {{- ga4_declared_lookups(user_properties, 'user_properties') }}
        {{ ga4_params_json() }} as event_params_json,
        {{ ga4_params_json('user_properties') }} as user_properties_json,
        {{ ga4_params_fingerprint() }} as params_fingerprint
    from export_rows
),

-- the declared columns typed (the value may sit in any slot), local date and UTC time
typed as {{ truffle_not_materialized() }} (
    select
        {{ truffle_star_except(
            ['event_params', 'user_properties']
            + ga4_declared_lookup_columns(event_params + user_properties)
        ) }},
        {{- ga4_declared_typed(event_params) }}
        {{- ga4_declared_typed(user_properties) }}
        -- the shard's day: a row whose own date is unparseable, future or another day stays
        -- there (quarantined)
        {{ ga4_event_date('event_date_raw', 'source_table_suffix') }} as event_date,
        {{ date_from_yyyymmdd('event_date_raw') }} as parsed_event_date,
        {{ timestamp_from_micros('event_timestamp_micros') }} as event_at
    from params_extracted
),

-- the page's parts: host, path (no query string or fragment) and the query string without
-- the click ids and campaign tags (ga4_page_query_params_excluded)
paged as {{ truffle_not_materialized() }} (
    select
        *,
        {{ ga4_url_hostname('page_location') }} as page_hostname,
        {{ ga4_url_path('page_location') }} as page_path,
        {{ ga4_url_query('page_location') }} as page_query
    from typed
),

-- the window's days only (the partitions being replaced; a full refresh from ga4_start_date)
windowed as {{ truffle_not_materialized() }} (
    select * from paged
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

-- keys: ga_session_id is unique per device only (pitfall 1), and a device id only within its
-- property; consent-denied events have no user or session and form no session (pitfall 8)
keyed as {{ truffle_not_materialized() }} (
    select
        *,
        case
            when user_pseudo_id is not null and ga_session_id is not null
                then {{ truffle_hash_key(['property_id', 'user_pseudo_id', 'stream_id', 'ga_session_id']) }}
        end as session_key,
        {{ truffle_hash_key([
            'property_id', 'event_date_raw', 'stream_id', 'user_pseudo_id', 'ga_session_id', 'event_name',
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

-- the export's privacy fields as consent statuses; the helper columns of the steps above out
final as (
    select
        event_key,
        session_key,
        {{ truffle_star_except([
            'event_key', 'session_key', 'event_date_raw', 'parsed_event_date',
            'params_fingerprint', 'privacy_analytics_storage', 'privacy_ads_storage',
            'privacy_uses_transient_token', 'is_intraday', 'source_row_number',
        ]) }},
        is_intraday as is_from_intraday,
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
        ) as is_consent_denied
    from deduplicated
)

-- not sorted: a sort of ~90 columns costs a fifth of the model (and, at 1M events, raised the
-- full build's peak memory from 1.7 to 2.9 GiB); rows land in the order the passes above emit
-- them, a row group holding a few days, not in day order (so a window read also scans the
-- other days of the row groups its days share)
select * from final
