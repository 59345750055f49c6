-- Sessions, users, engaged sessions and conversions by day or week over a date range, with
-- growth against the preceding period of equal length.
-- Parameters (analyses/_analyses.yml): start_date, end_date, grain.

with

sessions as (
    select * from {{ ref('sessions') }}
),

-- the range asked for (whole ISO weeks for weekly trends) and its length in days
requested as (
    select
        cast({{ truffle_param('start_date') }} as date) as start_date,
        cast({{ truffle_param('end_date') }} as date) as end_date,
        {{ truffle_param('grain') }} as grain
),

bounds as (
    select
        case
            when grain = 'week' then {{ truffle_week_start('start_date') }}
            else start_date
        end as start_date,
        case
            when grain = 'week' then {{ truffle_add_days(truffle_week_start('end_date'), '6') }}
            else end_date
        end as end_date
    from requested
),

sized as (
    select
        start_date,
        end_date,
        {{ truffle_days_between('start_date', 'end_date') }} + 1 as period_days
    from bounds
),

-- each session in either range, with its bucket (day, or ISO week) and whether it is current
bucketed as (
    select
        sessions.property_id,
        sessions.unified_user_id,
        {{ ga4_is_login_identity('sessions') }} as is_login_identity,
        sessions.is_engaged_session,
        sessions.conversion_count,
        sessions.session_start_date >= bounds.start_date as is_current_period,
        case
            when sessions.session_start_date >= bounds.start_date then sessions.session_start_date
            else {{ truffle_add_days('sessions.session_start_date', 'bounds.period_days') }}
        end as aligned_date
    from sessions
    cross join sized as bounds
    where
        sessions.session_start_date
        >= {{ truffle_add_days('bounds.start_date', '-bounds.period_days') }}
        and sessions.session_start_date <= bounds.end_date
),

-- the bucket: the day, or the Monday of the week (previous-period sessions aligned onto it)
bucket_starts as (
    select
        *,
        case
            when {{ truffle_param('grain') }} = 'week' then {{ truffle_week_start('aligned_date') }}
            else aligned_date
        end as period_start_date
    from bucketed
),

-- one row per bucket of the current range, with the same bucket of the previous period
periods as (
    select
        period_start_date,
        count(distinct case
            when is_current_period then {{ ga4_identity('unified_user_id', login='is_login_identity') }}
        end) as users,
        count(distinct case
            when not is_current_period then {{ ga4_identity('unified_user_id', login='is_login_identity') }}
        end) as previous_users,
        {{ truffle_countif('is_current_period') }} as sessions,
        {{ truffle_countif('not is_current_period') }} as previous_sessions,
        {{ truffle_countif('is_current_period and is_engaged_session') }} as engaged_sessions,
        {{ truffle_countif('not is_current_period and is_engaged_session') }}
            as previous_engaged_sessions,
        coalesce(sum(case when is_current_period then conversion_count end), 0) as conversions,
        coalesce(sum(case when not is_current_period then conversion_count end), 0)
            as previous_conversions
    from bucket_starts
    group by period_start_date
),

final as (
    select
        period_start_date,
        sessions,
        users,
        engaged_sessions,
        conversions,
        previous_sessions,
        previous_users,
        previous_engaged_sessions,
        previous_conversions,
        case when previous_sessions > 0 then round(100.0 * (sessions - previous_sessions) / previous_sessions, 2) end
            as sessions_growth_pct,
        case when previous_users > 0 then round(100.0 * (users - previous_users) / previous_users, 2) end
            as users_growth_pct,
        case
            when previous_engaged_sessions > 0
                then round(100.0 * (engaged_sessions - previous_engaged_sessions) / previous_engaged_sessions, 2)
        end as engaged_sessions_growth_pct,
        case
            when previous_conversions > 0
                then round(100.0 * (conversions - previous_conversions) / previous_conversions, 2)
        end as conversions_growth_pct
    from periods
)

select * from final
order by period_start_date
