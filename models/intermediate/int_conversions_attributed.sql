-- depends_on: {{ ref('int_transactions_counted') }}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        meta={'window_column': 'conversion_date'},
        incremental_strategy=truffle_incremental_strategy(),
        unique_key=truffle_incremental_key('conversion_date'),
        partition_by=truffle_partition_by('conversion_date'),
        partitions=ga4_bigquery_partitions(),
        partition_expiration_days=truffle_partition_expiration_days(),
        cluster_by=ga4_cluster_by(['conversion_type', 'user_pseudo_id', 'currency']),
        post_hook=[
            "{{ ga4_erase_identities_from(this, 'conversion_date') }}",
            "{{ ga4_record_erasures(this) }}",
            "{{ ga4_apply_retention(\"'transaction'\", 'conversion_date') }}",
            "{{ ga4_record_retention(this) }}",
            "{{ ga4_restate_transactions(ref('int_transactions_counted')) }}",
        ],
    )
}}

{#- The stored conversions: the conversions mart (a view) adds the identity resolved at
    read. -#}
{%- set reach = ga4_session_reach(ref('int_sessions_aggregated'), shared=true) if ga4_is_incremental() else none %}

with

-- every event recorded, whatever its category's retention: a conversion is kept as a
-- transaction (ga4_recorded_events)
events as (
    {{ ga4_recorded_events(ga4_window_filter('event_date')) }}
),

conversion_definitions as (
    select * from {{ ref('conversion_events') }}
),

-- the sessions the window's conversions happened in began within the session reach (the
-- window, widened to the stored sessions its events touch); a full build reads them all
sessions as (
    select * from {{ ref('int_sessions_aggregated') }}
    {%- if reach %}
    where {{ ga4_reach_filter(reach, 'session_start_date') }}
    {%- endif %}
),

currency_rates as (
    select * from {{ ref('int_currency_rates_spanned') }}
),

-- which events count as conversions is configuration (seed conversion_events)
conversion_events as (
    select
        events.*,
        conversion_definitions.conversion_type,
        conversion_definitions.is_revenue_event,
        {{ ga4_transaction_id('events.ecommerce_transaction_id') }} as transaction_id
    from events
    inner join conversion_definitions
        on events.event_name = conversion_definitions.event_name
),

-- a reload resends `purchase`: one conversion per transaction, the earliest wins (pitfall 10)
ranked as (
    select
        *,
        case
            when transaction_id is null then 1
            else row_number() over (
                    partition by property_id, conversion_type, transaction_id
                    order by event_timestamp_micros, event_key
                )
        end as transaction_rank
    from conversion_events
),

first_sends as (
    select * from ranked
    where transaction_rank = 1
),

-- a transaction first sent before the window stays counted there (incremental runs): the
-- transactions map, one row per transaction, never the stored conversions' history
earlier_transactions as (
    {% if ga4_is_incremental() -%}
        select
            property_id,
            conversion_type,
            transaction_id
        from {{ ref('int_transactions_counted') }}
        where first_sent_date < {{ date_literal(ga4_window().start) }}
    {%- else -%}
        select
            property_id,
            conversion_type,
            transaction_id
        from first_sends
        where false
    {%- endif %}
),

deduplicated as (
    select first_sends.*
    from first_sends
    left join earlier_transactions
        on
            first_sends.property_id = earlier_transactions.property_id
            and first_sends.conversion_type = earlier_transactions.conversion_type
            and first_sends.transaction_id = earlier_transactions.transaction_id
    where earlier_transactions.transaction_id is null
),

-- the amount is in the currency sent with the event (pitfall 11), else the property's
-- default; event_value_in_usd is not revenue
amounts as (
    select
        *,
        case
            when is_revenue_event then coalesce(ecommerce_purchase_revenue, {{ ga4_money('param_value') }})
        end as local_amount,
        case
            when is_revenue_event then coalesce(param_currency, {{ ga4_property_currency() }})
        end as currency,
        -- GA4's own USD equivalent of that amount, for a currency or day without a rate
        case
            when is_revenue_event and ecommerce_purchase_revenue is not null
                then ecommerce_purchase_revenue_in_usd
            when is_revenue_event then event_value_in_usd
        end as google_amount_usd
    from deduplicated
),

-- convert to USD at the rate of the conversion's day; a currency without a rate that day
-- takes GA4's own USD amount (flagged), else converts to null and is flagged: never summed
-- as if it were another currency. The other reporting currencies come from USD
converted as (
    select
        amounts.*,
        {{ ga4_usd_from_google('amounts.local_amount', 'amounts.google_amount_usd') }} as is_usd_from_google,
        {{- ga4_reporting_amounts(ga4_usd_amount('amounts.local_amount', 'amounts.google_amount_usd'), 'revenue') }}
        local_rate.usd_per_unit as usd_per_local_unit
    from amounts
    {{- ga4_rate_joins('amounts', 'currency', 'event_date') }}
),

-- attribution: the source of the session the conversion happened in
attributed as (
    select
        converted.*,
        sessions.session_source,
        sessions.session_medium,
        sessions.session_campaign,
        sessions.session_default_channel_group
    from converted
    left join sessions
        on converted.session_key = sessions.session_key
),

final as (
    select
        event_key as conversion_key,
        event_key,
        session_key,
        property_id,
        conversion_type,
        event_name,
        transaction_id,
        event_date as conversion_date,
        event_at as converted_at,
        user_pseudo_id,
        user_id,
        stream_id,
        platform,
        local_amount,
        currency,
        usd_per_local_unit,
        (currency is null or usd_per_local_unit is not null) as is_currency_known,
        is_usd_from_google,
        {{ ga4_reporting_columns('revenue') | map(attribute='column') | join(',\n        ') }},
        ecommerce_purchase_revenue_in_usd as google_revenue_in_usd,
        coalesce(session_source, '(not set)') as source,
        coalesce(session_medium, '(not set)') as medium,
        coalesce(session_campaign, '(not set)') as campaign,
        coalesce(session_default_channel_group, 'Unassigned') as default_channel_group,
        ads_consent_status,
        is_debug_event
    from attributed
)

select * from final
{{ truffle_storage_order(['conversion_date', 'converted_at']) }}
