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
        cluster_by=ga4_cluster_by(['event_name', 'item_id', 'session_key']),
        post_hook=[
            "{{ ga4_erase_identities_from(this, 'event_date') }}",
            "{{ ga4_record_erasures(this) }}",
            "{{ ga4_apply_retention('retention_category', 'event_date') }}",
            "{{ ga4_record_retention(this) }}",
        ],
    )
}}

{%- set item_params = ga4_declared_item_params() -%}
{#- The stored items: the items mart (a view) adds the identity resolved at read. -#}

with

-- the kept events (erasure, retention and identity as in the events mart) that have items
events as (
    select * from {{ ref('int_events_recorded') }}
    where
        {{ ga4_window_filter('event_date') }}
        and item_count > 0
),

-- the items arrays travel in staging, de-duplicated with their event
staged_items as (
    select
        event_key,
        items
    from {{ ref('stg_ga4__events') }}
    where
        {{ ga4_window_filter('event_date') }}
        and quarantine_reason is null
        and item_count > 0
),

currency_rates as (
    select * from {{ ref('int_currency_rates_spanned') }}
),

-- one row per element of the array, with its position
unnested as (
    {{ ga4_unnest_items('staged_items') }}
),

-- the item's fields and params, with its event's keys, user and currency
itemized as (
    select
        events.event_key,
        events.session_key,
        events.property_id,
        events.event_name,
        events.event_date,
        events.event_at,
        events.event_timestamp_micros,
        events.user_pseudo_id,
        events.user_id,
        events.stream_id,
        events.platform,
        events.ecommerce_transaction_id as transaction_id,
        events.retention_category,
        unnested.item_index,
        {{- ga4_item_field_columns('unnested') }}
        {{ ga4_params_json(ga4_item_params('unnested')) }} as item_params_json,
        {%- for entry in item_params %}
        {{ ga4_typed_param(ga4_param_value(entry.key, ga4_item_params('unnested')), entry.type) }}
            as {{ entry.column }},
        {%- endfor %}
        -- amounts are in the currency sent with the event (pitfall 11), else the property's
        coalesce(events.param_currency, {{ ga4_property_currency('events.property_id') }}) as currency
    from unnested
    inner join events
        on unnested.event_key = events.event_key
),

-- local amounts to USD at the day's rate (GA4's own USD amount where no rate is known,
-- flagged), then to each reporting currency; never a raw local amount as another currency
converted as (
    select
        itemized.*,
        local_rate.usd_per_unit as usd_per_local_unit,
        {{ ga4_usd_from_google('itemized.item_revenue', 'itemized.item_revenue_in_usd') }} as is_usd_from_google,
        {{ ga4_reporting_amounts(
            ga4_usd_amount('itemized.item_revenue', 'itemized.item_revenue_in_usd'),
            'item_revenue',
        ) }}
        {{ truffle_hash_key(['itemized.event_key', 'itemized.item_index']) }} as item_key
    from itemized
    {{ ga4_rate_joins('itemized', 'currency', 'event_date') }}
),

final as (
    select * from converted
)

select * from final
