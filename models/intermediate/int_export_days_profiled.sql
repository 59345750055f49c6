{{
    config(
        materialized='incremental',
        meta={
            'window_column': 'event_date',
            'read_whole_why': 'one row per property and export day: the monitors compare a day with the days before it',
        },
        incremental_strategy=truffle_upsert_strategy(),
        unique_key=['property_id', 'event_date'],
    )
}}

{#- Stored, one row per property and export day: a run profiles the days it re-processes, so the monitors
    never re-aggregate the whole of staging. Not partitioned (on BigQuery a partition per
    one-row day is pure overhead): the volume monitor reads the days before the window, and
    this table is small enough to read whole (`meta.read_whole_why`, for the nightly audit). -#}

with

events as (
    select * from {{ ref('stg_ga4__events') }}
    where {{ ga4_window_filter('event_date') }}
),

-- one row per property and export day: what arrived, what was collapsed, what cannot form sessions;
-- the data-quality monitors (tests/dbt/generic/truffle_monitor_*) read this
profiled as (
    select
        property_id,
        event_date,
        sum(raw_row_count) as raw_rows,
        count(*) as events,
        sum(raw_row_count) - count(*) as collapsed_duplicate_rows,
        {{ truffle_countif('is_consent_denied') }} as consent_denied_events,
        {{ truffle_countif('session_key is null and not is_consent_denied') }} as sessionless_events,
        {{ truffle_countif('is_from_intraday') }} as intraday_only_events
    from events
    group by property_id, event_date
),

final as (
    select
        property_id,
        event_date,
        raw_rows,
        events,
        collapsed_duplicate_rows,
        consent_denied_events,
        sessionless_events,
        intraday_only_events,
        collapsed_duplicate_rows / cast(raw_rows as {{ truffle_type('float') }}) as duplicate_rate,
        consent_denied_events / cast(events as {{ truffle_type('float') }}) as consent_denied_share,
        sessionless_events / cast(events as {{ truffle_type('float') }}) as sessionless_share
    from profiled
)

select * from final
