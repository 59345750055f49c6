-- What the numbers of a date range stand on, from the monitors: source freshness (the newest
-- export day, of the stalest property, and its age against ga4_freshness_max_days), rows held
-- in quarantine, and the share of consent-denied events (against
-- monitor_max_consent_denied_share).
-- Parameters (analyses/_analyses.yml): start_date, end_date.

with

export_days as (
    select * from {{ ref('int_export_days_profiled') }}
),

quarantined as (
    select * from {{ ref('stg_ga4__events_quarantined') }}
),

-- each property's newest export day
newest_days as (
    select
        property_id,
        max(event_date) as newest_export_day
    from export_days
    group by property_id
),

-- several properties: the least recent of their newest days (the stalest property)
freshness as (
    select
        min(newest_export_day) as newest_export_day,
        {{ truffle_days_between('min(newest_export_day)', 'current_date') }} as newest_export_day_age_days
    from newest_days
),

-- the export days of the range: events kept, consent denied, duplicates collapsed
range_days as (
    select
        count(distinct event_date) as export_days,
        coalesce(sum(events), 0) as events,
        coalesce(sum(consent_denied_events), 0) as consent_denied_events,
        coalesce(sum(collapsed_duplicate_rows), 0) as collapsed_duplicate_rows,
        max(consent_denied_share) as max_daily_consent_denied_share
    from export_days
    where
        event_date >= cast({{ truffle_param('start_date') }} as date)
        and event_date <= cast({{ truffle_param('end_date') }} as date)
),

quarantine_totals as (
    select
        coalesce(sum(raw_row_count), 0) as quarantined_rows_all_days,
        coalesce(sum(
            case
                when
                    event_date >= cast({{ truffle_param('start_date') }} as date)
                    and event_date <= cast({{ truffle_param('end_date') }} as date)
                    then raw_row_count
            end
        ), 0) as quarantined_rows
    from quarantined
),

final as (
    select
        freshness.newest_export_day,
        freshness.newest_export_day_age_days,
        {{ var('ga4_freshness_max_days', 2) }} as freshness_max_days,
        freshness.newest_export_day_age_days <= {{ var('ga4_freshness_max_days', 2) }} as is_fresh,
        range_days.export_days,
        range_days.events,
        range_days.consent_denied_events,
        case
            when range_days.events > 0
                then round(100.0 * range_days.consent_denied_events / range_days.events, 2)
        end as consent_denied_pct,
        round(100.0 * range_days.max_daily_consent_denied_share, 2) as max_daily_consent_denied_pct,
        round(100.0 * {{ var('monitor_max_consent_denied_share', 0.5) }}, 2) as consent_denied_limit_pct,
        range_days.collapsed_duplicate_rows,
        quarantine_totals.quarantined_rows,
        quarantine_totals.quarantined_rows_all_days
    from freshness
    cross join range_days
    cross join quarantine_totals
)

select * from final
