{{ config(meta={'window_column': 'activity_date', 'window_source_column': 'session_start_date'}) }}

with

members as (
    select * from {{ ref('int_audience_members_evaluated') }}
),

sessions as (
    select * from {{ ref('sessions') }}
),

audiences as (
    select distinct
        audience_id,
        audience_name
    from {{ ref('audiences') }}
),

-- current membership size of each audience (rules apply to today's user attributes)
audience_sizes as (
    select
        audience_id,
        count(*) as members
    from members
    group by audience_id
),

-- the members' activity per day (the join alias differs from the output column `sessions`:
-- BigQuery resolves a GROUP BY path that starts with a select-list alias to that alias)
member_activity as (
    select
        members.audience_id,
        member_sessions.session_start_date as activity_date,
        count(distinct member_sessions.unified_user_id) as active_members,
        count(*) as sessions,
        {{ truffle_countif('member_sessions.is_engaged_session') }} as engaged_sessions,
        cast(sum(member_sessions.conversion_count) as {{ truffle_type('int') }}) as conversions,
        sum(member_sessions.revenue_usd) as revenue_usd,
        sum(member_sessions.revenue_mxn) as revenue_mxn,
        sum(member_sessions.revenue_cop) as revenue_cop,
        cast(sum(member_sessions.engagement_time_msec) as {{ truffle_type('int') }}) as engagement_time_msec
    from members
    inner join sessions as member_sessions
        on members.unified_user_id = member_sessions.unified_user_id
    group by members.audience_id, member_sessions.session_start_date
),

-- engagement score (0-100): half the engaged-session rate, half the average engagement
-- time per session against a 5-minute ceiling
final as (
    select
        {{ truffle_hash_key(['member_activity.audience_id', 'member_activity.activity_date']) }} as audience_day_key,
        member_activity.audience_id,
        audiences.audience_name,
        member_activity.activity_date,
        audience_sizes.members,
        member_activity.active_members,
        member_activity.sessions,
        member_activity.engaged_sessions,
        member_activity.conversions,
        member_activity.revenue_usd,
        member_activity.revenue_mxn,
        member_activity.revenue_cop,
        round(
            50 * member_activity.engaged_sessions / cast(member_activity.sessions as {{ truffle_type('float') }})
            + 50 * least(
                member_activity.engagement_time_msec
                / cast(member_activity.sessions as {{ truffle_type('float') }})
                / 300000.0,
                1.0
            ),
            1
        ) as engagement_score
    from member_activity
    inner join audiences
        on member_activity.audience_id = audiences.audience_id
    inner join audience_sizes
        on member_activity.audience_id = audience_sizes.audience_id
)

select * from final
