-- The KPI cards of `truffle report`: users, sessions, engaged-session rate, conversions,
-- conversion rate and revenue in one reporting currency over a date range, each with the
-- preceding period of equal length and the change against it.
-- Parameters (analyses/_analyses.yml): start_date, end_date, currency.

with

-- the range asked for, its length and the preceding period of equal length
requested as (
    select
        cast({{ truffle_param('start_date') }} as date) as start_date,
        cast({{ truffle_param('end_date') }} as date) as end_date
),

periods as (
    select
        start_date,
        end_date,
        {{ truffle_add_days('start_date', '-(' ~ truffle_days_between('start_date', 'end_date') ~ ' + 1)') }}
            as previous_start_date,
        {{ truffle_add_days('start_date', '-1') }} as previous_end_date
    from requested
),

-- sessions of both periods, on their start day (conversions counted in their session)
sessions_in_range as (
    select
        -- the same person id in two properties is two users (unless a user_id is stitched
        -- across properties, opt-in)
        {{ ga4_identity('unified_user_id', login=ga4_is_login_identity()) }} as user_identity,
        session_start_date,
        is_engaged_session,
        has_conversion,
        conversion_count
    from {{ ref('sessions') }}
    where
        session_start_date
        >= {{ truffle_add_days(
            'cast(' ~ truffle_param('start_date') ~ ' as date)',
            '-(' ~ truffle_days_between(
                'cast(' ~ truffle_param('start_date') ~ ' as date)',
                'cast(' ~ truffle_param('end_date') ~ ' as date)'
            ) ~ ' + 1)'
        ) }}
        and session_start_date <= cast({{ truffle_param('end_date') }} as date)
),

-- conversions of both periods, on their own day, in the reporting currency asked for
conversions_in_range as (
    select
        conversion_date,
        case {{ truffle_param('currency') }}
            when 'USD' then revenue_usd
            when 'MXN' then revenue_mxn
            when 'COP' then revenue_cop
        end as revenue
    from {{ ref('conversions') }}
    where
        conversion_date
        >= {{ truffle_add_days(
            'cast(' ~ truffle_param('start_date') ~ ' as date)',
            '-(' ~ truffle_days_between(
                'cast(' ~ truffle_param('start_date') ~ ' as date)',
                'cast(' ~ truffle_param('end_date') ~ ' as date)'
            ) ~ ' + 1)'
        ) }}
        and conversion_date <= cast({{ truffle_param('end_date') }} as date)
),

session_totals as (
    select
        count(distinct case when sessions.session_start_date >= periods.start_date then sessions.user_identity end)
            as users,
        count(distinct case when sessions.session_start_date < periods.start_date then sessions.user_identity end)
            as previous_users,
        {{ truffle_countif('sessions.session_start_date >= periods.start_date') }} as sessions,
        {{ truffle_countif('sessions.session_start_date < periods.start_date') }} as previous_sessions,
        {{ truffle_countif('sessions.session_start_date >= periods.start_date and sessions.is_engaged_session') }}
            as engaged_sessions,
        {{ truffle_countif('sessions.session_start_date < periods.start_date and sessions.is_engaged_session') }}
            as previous_engaged_sessions,
        {{ truffle_countif('sessions.session_start_date >= periods.start_date and sessions.has_conversion') }}
            as converting_sessions,
        {{ truffle_countif('sessions.session_start_date < periods.start_date and sessions.has_conversion') }}
            as previous_converting_sessions,
        coalesce(sum(case when sessions.session_start_date >= periods.start_date then sessions.conversion_count end), 0)
            as conversions,
        coalesce(sum(case when sessions.session_start_date < periods.start_date then sessions.conversion_count end), 0)
            as previous_conversions
    from sessions_in_range as sessions
    cross join periods
),

revenue_totals as (
    select
        coalesce(sum(case when conversions.conversion_date >= periods.start_date then conversions.revenue end), 0)
            as revenue,
        coalesce(sum(case when conversions.conversion_date < periods.start_date then conversions.revenue end), 0)
            as previous_revenue
    from conversions_in_range as conversions
    cross join periods
),

totals as (
    select
        periods.start_date,
        periods.end_date,
        periods.previous_start_date,
        periods.previous_end_date,
        session_totals.*,
        revenue_totals.*
    from periods
    cross join session_totals
    cross join revenue_totals
),

-- one row per card: counts and revenue change in percent, rates in percentage points
metrics as (
    select
        1 as card_order,
        'users' as metric,
        'count' as unit,
        cast(users as {{ truffle_type('float') }}) as value,
        cast(previous_users as {{ truffle_type('float') }}) as previous_value,
        totals.*
    from totals
    union all
    select
        2 as card_order,
        'sessions' as metric,
        'count' as unit,
        cast(sessions as {{ truffle_type('float') }}) as value,
        cast(previous_sessions as {{ truffle_type('float') }}) as previous_value,
        totals.*
    from totals
    union all
    select
        3 as card_order,
        'engaged_session_rate' as metric,
        'percent' as unit,
        case when sessions > 0 then 100.0 * engaged_sessions / sessions end as value,
        case when previous_sessions > 0 then 100.0 * previous_engaged_sessions / previous_sessions end
            as previous_value,
        totals.*
    from totals
    union all
    select
        4 as card_order,
        'conversions' as metric,
        'count' as unit,
        cast(conversions as {{ truffle_type('float') }}) as value,
        cast(previous_conversions as {{ truffle_type('float') }}) as previous_value,
        totals.*
    from totals
    union all
    select
        5 as card_order,
        'conversion_rate' as metric,
        'percent' as unit,
        case when sessions > 0 then 100.0 * converting_sessions / sessions end as value,
        case when previous_sessions > 0 then 100.0 * previous_converting_sessions / previous_sessions end
            as previous_value,
        totals.*
    from totals
    union all
    select
        6 as card_order,
        'revenue' as metric,
        'currency' as unit,
        cast(revenue as {{ truffle_type('float') }}) as value,
        cast(previous_revenue as {{ truffle_type('float') }}) as previous_value,
        totals.*
    from totals
),

final as (
    select
        card_order,
        metric,
        unit,
        value,
        previous_value,
        case
            when unit = 'percent' then round(value - previous_value, 2)
            when previous_value > 0 then round(100.0 * (value - previous_value) / previous_value, 2)
        end as change,
        case when unit = 'percent' then 'pt' else '%' end as change_unit,
        {{ truffle_param('currency') }} as currency,
        start_date,
        end_date,
        previous_start_date,
        previous_end_date,
        sessions as period_sessions,
        conversions as period_conversions
    from metrics
)

select * from final
order by card_order
