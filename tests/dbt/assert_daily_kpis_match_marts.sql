{#- daily_kpis must add up to the marts it summarises: sessions, engaged sessions, events,
    consent-denied events, conversions and revenue per currency, in total. Returns a row per
    figure that disagrees. -#}

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
),

marts as (
    select
        (select count(*) from {{ ref('sessions') }}) as sessions,
        (select {{ truffle_countif('is_engaged_session') }} from {{ ref('sessions') }}) as engaged_sessions,
        (
            select count(*) from {{ ref('events') }}
            where event_date >= cast('1900-01-01' as date)
        ) as events,
        (
            select {{ truffle_countif('is_consent_denied') }} from {{ ref('events') }}
            where event_date >= cast('1900-01-01' as date)
        ) as consent_denied_events,
        (select count(*) from {{ ref('conversions') }}) as conversions,
        (select coalesce(sum(revenue_usd), 0) from {{ ref('conversions') }}) as revenue_usd,
        (select coalesce(sum(revenue_mxn), 0) from {{ ref('conversions') }}) as revenue_mxn,
        (select coalesce(sum(revenue_cop), 0) from {{ ref('conversions') }}) as revenue_cop
),

comparison as (
    select 'sessions' as figure, kpis.sessions as kpi_value, marts.sessions as mart_value
    from kpis cross join marts
    union all
    select 'engaged_sessions', kpis.engaged_sessions, marts.engaged_sessions
    from kpis cross join marts
    union all
    select 'events', kpis.events, marts.events
    from kpis cross join marts
    union all
    select 'consent_denied_events', kpis.consent_denied_events, marts.consent_denied_events
    from kpis cross join marts
    union all
    select 'conversions', kpis.conversions, marts.conversions
    from kpis cross join marts
    union all
    select 'revenue_usd', kpis.revenue_usd, marts.revenue_usd
    from kpis cross join marts
    union all
    select 'revenue_mxn', kpis.revenue_mxn, marts.revenue_mxn
    from kpis cross join marts
    union all
    select 'revenue_cop', kpis.revenue_cop, marts.revenue_cop
    from kpis cross join marts
)

select * from comparison
where abs(coalesce(kpi_value, 0) - coalesce(mart_value, 0)) > 0.005
