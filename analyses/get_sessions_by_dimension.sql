-- Sessions, engaged sessions and conversions over a date range by one session dimension
-- (default channel group or device category), with each value's share of the sessions.
-- Parameters (analyses/_analyses.yml): start_date, end_date, dimension.

with

sessions as (
    select * from {{ ref('sessions') }}
    where
        session_start_date >= cast({{ truffle_param('start_date') }} as date)
        and session_start_date <= cast({{ truffle_param('end_date') }} as date)
),

dimensioned as (
    select
        is_engaged_session,
        conversion_count,
        coalesce(
            case {{ truffle_param('dimension') }}
                when 'channel_group' then session_default_channel_group
                when 'device_category' then device_category
            end,
            '(not set)'
        ) as dimension_value
    from sessions
),

counted as (
    select
        dimension_value,
        count(*) as sessions,
        {{ truffle_countif('is_engaged_session') }} as engaged_sessions,
        coalesce(sum(conversion_count), 0) as conversions
    from dimensioned
    group by dimension_value
),

final as (
    select
        {{ truffle_param('dimension') }} as dimension,
        dimension_value,
        sessions,
        engaged_sessions,
        conversions,
        round(100.0 * sessions / sum(sessions) over (), 2) as share_of_sessions_pct
    from counted
)

select * from final
order by sessions desc, dimension_value asc
