with

events as (
    select * from {{ ref('events') }}
    -- every partition: the filter only satisfies BigQuery's require_partition_filter
    where event_date >= cast('1900-01-01' as date)
),

sessions as (
    select * from {{ ref('sessions') }}
),

conversions as (
    select * from {{ ref('conversions') }}
),

-- events per day, including consent-denied ones (pitfall 8: reported, never dropped)
daily_events as (
    select
        event_date as kpi_date,
        count(*) as events,
        {{ truffle_countif('is_consent_denied') }} as consent_denied_events
    from events
    group by event_date
),

-- sessions and users per day of session start
daily_sessions as (
    select
        session_start_date as kpi_date,
        count(distinct unified_user_id) as users,
        count(distinct case when is_first_session then unified_user_id end) as new_users,
        count(distinct case when is_active_user then unified_user_id end) as active_users,
        count(*) as sessions,
        {{ truffle_countif('is_engaged_session') }} as engaged_sessions,
        {{ truffle_countif('has_conversion') }} as converting_sessions
    from sessions
    group by session_start_date
),

-- conversions and revenue per reporting currency, never raw local amounts
daily_conversions as (
    select
        conversion_date as kpi_date,
        count(*) as conversions,
        {{ truffle_countif("conversion_type = 'purchase'") }} as purchases,
        sum(revenue_usd) as revenue_usd,
        sum(revenue_mxn) as revenue_mxn,
        sum(revenue_cop) as revenue_cop,
        {{ truffle_countif('not is_currency_known') }} as conversions_with_unknown_currency
    from conversions
    group by conversion_date
),

kpi_dates as (
    select kpi_date from daily_events
    union distinct
    select kpi_date from daily_sessions
    union distinct
    select kpi_date from daily_conversions
),

final as (
    select
        kpi_dates.kpi_date,
        coalesce(daily_sessions.users, 0) as users,
        coalesce(daily_sessions.new_users, 0) as new_users,
        coalesce(daily_sessions.active_users, 0) as active_users,
        coalesce(daily_sessions.sessions, 0) as sessions,
        coalesce(daily_sessions.engaged_sessions, 0) as engaged_sessions,
        coalesce(daily_events.events, 0) as events,
        coalesce(daily_conversions.conversions, 0) as conversions,
        coalesce(daily_conversions.purchases, 0) as purchases,
        case
            when coalesce(daily_sessions.sessions, 0) = 0 then null
            else daily_sessions.converting_sessions / cast(daily_sessions.sessions as {{ truffle_type('float') }})
        end as session_conversion_rate,
        coalesce(daily_conversions.revenue_usd, 0) as revenue_usd,
        coalesce(daily_conversions.revenue_mxn, 0) as revenue_mxn,
        coalesce(daily_conversions.revenue_cop, 0) as revenue_cop,
        coalesce(daily_conversions.conversions_with_unknown_currency, 0) as conversions_with_unknown_currency,
        coalesce(daily_events.consent_denied_events, 0) as consent_denied_events,
        case
            when coalesce(daily_events.events, 0) = 0 then null
            else daily_events.consent_denied_events / cast(daily_events.events as {{ truffle_type('float') }})
        end as consent_denied_event_share
    from kpi_dates
    left join daily_events
        on kpi_dates.kpi_date = daily_events.kpi_date
    left join daily_sessions
        on kpi_dates.kpi_date = daily_sessions.kpi_date
    left join daily_conversions
        on kpi_dates.kpi_date = daily_conversions.kpi_date
)

select * from final
