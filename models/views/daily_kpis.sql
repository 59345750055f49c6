{#- kpi_date is each source's own date: the events' event_date, the sessions'
    session_start_date, the conversions' conversion_date (for the nightly audit) -#}
{{ config(meta={
    'window_column': 'kpi_date',
    'window_source_column': ['event_date', 'session_start_date', 'conversion_date'],
}) }}

{#- each figure comes from one source; the others add 0 to it -#}
{%- set sources = {
    'daily_events': ['events', 'consent_denied_events'],
    'daily_sessions': [
        'users', 'new_users', 'active_users', 'sessions', 'engaged_sessions', 'converting_sessions',
    ],
    'daily_conversions': [
        'conversions', 'purchases', 'revenue_usd', 'revenue_mxn', 'revenue_cop', 'conversions_with_unknown_currency',
    ],
} -%}
{%- set figures = sources.values() | sum(start=[]) -%}
{%- set money = ['revenue_usd', 'revenue_mxn', 'revenue_cop'] -%}

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
        property_id,
        event_date as kpi_date,
        count(*) as events,
        {{ truffle_countif('is_consent_denied') }} as consent_denied_events
    from events
    group by property_id, event_date
),

-- sessions and users per day of session start
daily_sessions as (
    select
        property_id,
        session_start_date as kpi_date,
        count(distinct unified_user_id) as users,
        count(distinct case when is_first_session then unified_user_id end) as new_users,
        count(distinct case when is_active_user then unified_user_id end) as active_users,
        count(*) as sessions,
        {{ truffle_countif('is_engaged_session') }} as engaged_sessions,
        {{ truffle_countif('has_conversion') }} as converting_sessions
    from sessions
    group by property_id, session_start_date
),

-- conversions and revenue per reporting currency, never raw local amounts
daily_conversions as (
    select
        property_id,
        conversion_date as kpi_date,
        count(*) as conversions,
        {{ truffle_countif("conversion_type = 'purchase'") }} as purchases,
        sum(revenue_usd) as revenue_usd,
        sum(revenue_mxn) as revenue_mxn,
        sum(revenue_cop) as revenue_cop,
        {{ truffle_countif('not is_currency_known') }} as conversions_with_unknown_currency
    from conversions
    group by property_id, conversion_date
),

-- one row per property, date and source: a filter on kpi_date passes through the union and each
-- group-by key to the partition column of the table under it, so a window check reads the
-- window's partitions only
daily_figures as (
    {%- for source, own in sources.items() %}
        select
            {%- for figure in figures %}
                {{ figure if figure in own else '0' }} as {{ figure }},
            {%- endfor %}
            property_id,
            kpi_date
        from {{ source }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

-- one row per property and date: each figure is its one source's (money summed as is, counts back to
-- the integer type sum widens)
daily_totals as (
    select
        {%- for figure in figures %}
            {%- if figure in money %}
                coalesce(sum({{ figure }}), 0) as {{ figure }},
            {%- else %}
                cast(sum({{ figure }}) as {{ truffle_type('int') }}) as {{ figure }},
            {%- endif %}
        {%- endfor %}
        property_id,
        kpi_date
    from daily_figures
    group by property_id, kpi_date
),

final as (
    select
        kpi_date,
        property_id,
        users,
        new_users,
        active_users,
        sessions,
        engaged_sessions,
        events,
        conversions,
        purchases,
        case
            when sessions = 0 then null
            else converting_sessions / cast(sessions as {{ truffle_type('float') }})
        end as session_conversion_rate,
        revenue_usd,
        revenue_mxn,
        revenue_cop,
        conversions_with_unknown_currency,
        consent_denied_events,
        case
            when events = 0 then null
            else consent_denied_events / cast(events as {{ truffle_type('float') }})
        end as consent_denied_event_share
    from daily_totals
)

select * from final
