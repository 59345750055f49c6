{#- daily_kpis must add up to the marts it summarises: sessions, engaged sessions, events,
    consent-denied events, conversions and revenue per currency, in total. Returns a row per
    figure that disagrees: exactly, money included (an exact decimal: sums agree to the last
    digit). On window checks: the window's days. -#}

with

kpis as (
    select
        sum(sessions) as sessions,
        sum(engaged_sessions) as engaged_sessions,
        sum(events) as events,
        sum(consent_denied_events) as consent_denied_events,
        sum(conversions) as conversions,
        sum(revenue_usd) as revenue_usd,
        sum(revenue_mxn) as revenue_mxn,
        sum(revenue_cop) as revenue_cop
    from {{ ref('daily_kpis') }}
    where {{ truffle_check_scope('kpi_date') }}
),

session_totals as (
    select
        count(*) as sessions,
        {{ truffle_countif('is_engaged_session') }} as engaged_sessions
    from {{ ref('sessions') }}
    where {{ truffle_check_scope('session_start_date') }}
),

event_totals as (
    select
        count(*) as events,
        {{ truffle_countif('is_consent_denied') }} as consent_denied_events
    from {{ ref('events') }}
    where {{ truffle_check_scope('event_date', otherwise="event_date >= cast('1900-01-01' as date)") }}
),

conversion_totals as (
    select
        count(*) as conversions,
        coalesce(sum(revenue_usd), 0) as revenue_usd,
        coalesce(sum(revenue_mxn), 0) as revenue_mxn,
        coalesce(sum(revenue_cop), 0) as revenue_cop
    from {{ ref('conversions') }}
    where {{ truffle_check_scope('conversion_date') }}
),

comparison as (
    select
        'sessions' as figure,
        kpis.sessions as kpi_value,
        session_totals.sessions as mart_value
    from kpis cross join session_totals
    union all
    select
        'engaged_sessions' as figure,
        kpis.engaged_sessions as kpi_value,
        session_totals.engaged_sessions as mart_value
    from kpis cross join session_totals
    union all
    select
        'events' as figure,
        kpis.events as kpi_value,
        event_totals.events as mart_value
    from kpis cross join event_totals
    union all
    select
        'consent_denied_events' as figure,
        kpis.consent_denied_events as kpi_value,
        event_totals.consent_denied_events as mart_value
    from kpis cross join event_totals
    union all
    select
        'conversions' as figure,
        kpis.conversions as kpi_value,
        conversion_totals.conversions as mart_value
    from kpis cross join conversion_totals
    union all
    select
        'revenue_usd' as figure,
        kpis.revenue_usd as kpi_value,
        conversion_totals.revenue_usd as mart_value
    from kpis cross join conversion_totals
    union all
    select
        'revenue_mxn' as figure,
        kpis.revenue_mxn as kpi_value,
        conversion_totals.revenue_mxn as mart_value
    from kpis cross join conversion_totals
    union all
    select
        'revenue_cop' as figure,
        kpis.revenue_cop as kpi_value,
        conversion_totals.revenue_cop as mart_value
    from kpis cross join conversion_totals
)

select * from comparison
where coalesce(kpi_value, 0) != coalesce(mart_value, 0)
