{{ config(meta={'window_column': 'activity_date', 'window_source_column': 'session_start_date'}) }}

{%- set attributes = audience_attributes_in_use() %}

with

members as (
    select * from {{ ref('int_audience_members_evaluated') }}
),

sessions as (
    select * from {{ ref('sessions') }}
),

users as (
    select * from {{ ref('user_attributes') }}
),

-- not materialized (DuckDB): a materialized CTE keeps DuckDB from dropping the sizes' join
-- below from a query that reads no `members`, and the sizes count every member
audience_rules as {{ truffle_not_materialized() }} (
    select * from {{ ref('audiences') }}
),

-- current membership size of each audience in each property (rules apply to today's user
-- attributes)
audience_sizes as (
    select
        audience_id,
        property_id,
        count(*) as members
    from members
    group by audience_id, property_id
),

-- each person's sessions per day: the grain the rules are evaluated at below (a row per
-- person and day identifies itself by those two columns, not by a 32-character session key)
person_days as (
    select
        property_id,
        unified_user_id,
        session_start_date,
        count(*) as sessions,
        {{ truffle_countif('is_engaged_session') }} as engaged_sessions,
        sum(conversion_count) as conversions,
        sum(revenue_usd) as revenue_usd,
        sum(revenue_mxn) as revenue_mxn,
        sum(revenue_cop) as revenue_cop,
        sum(engagement_time_msec) as engagement_time_msec
    from sessions
    group by property_id, unified_user_id, session_start_date
),

-- with the person's attributes. A person was last seen on or after each of their sessions'
-- start (last_seen_date is the latest; sessions' truffle_relationships_active test holds it):
-- said in the join, a query of some days reads only the people last seen since the first of
-- them (stored in that order; DuckDB prunes them with the least start day)
person_day_attributes as (
    select
        person_days.*,
        users.{{ attributes | join(',\n        users.') }}
    from person_days
    inner join users
        on
            person_days.property_id = users.property_id
            and person_days.unified_user_id = users.unified_user_id
            and person_days.session_start_date <= users.last_seen_date
),

-- the members' days: each audience's rules (the members view's own) evaluated on the people
-- of these days only, not on every person kept
member_days as (
    {{ audience_rows_meeting_rules(
        'person_day_attributes',
        'audience_rules',
        ['property_id', 'unified_user_id', 'session_start_date'],
        attributes,
        carried=[
            'sessions', 'engaged_sessions', 'conversions',
            'revenue_usd', 'revenue_mxn', 'revenue_cop', 'engagement_time_msec',
        ],
    ) }}
),

-- the members' activity per day (one member_days row per member and day; qualified columns:
-- BigQuery resolves a GROUP BY path that starts with a select-list alias, such as
-- `sessions`, to that alias)
member_activity as (
    select
        member_days.audience_id,
        member_days.audience_name,
        member_days.property_id,
        member_days.session_start_date as activity_date,
        count(*) as active_members,
        cast(sum(member_days.sessions) as {{ truffle_type('int') }}) as sessions,
        cast(sum(member_days.engaged_sessions) as {{ truffle_type('int') }}) as engaged_sessions,
        cast(sum(member_days.conversions) as {{ truffle_type('int') }}) as conversions,
        sum(member_days.revenue_usd) as revenue_usd,
        sum(member_days.revenue_mxn) as revenue_mxn,
        sum(member_days.revenue_cop) as revenue_cop,
        cast(sum(member_days.engagement_time_msec) as {{ truffle_type('int') }}) as engagement_time_msec
    from member_days
    group by
        member_days.audience_id,
        member_days.audience_name,
        member_days.property_id,
        member_days.session_start_date
),

-- engagement score (0-100): half the engaged-session rate, half the average engagement
-- time per session against a 5-minute ceiling. Every audience with activity has members, so
-- the sizes join left: a query that does not read `members` (the key tests) skips counting
-- every member
final as (
    select
        {{ truffle_hash_key([
            'member_activity.audience_id', 'member_activity.property_id', 'member_activity.activity_date',
        ]) }} as audience_day_key,
        member_activity.audience_id,
        member_activity.audience_name,
        member_activity.property_id,
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
    left join audience_sizes
        on
            member_activity.audience_id = audience_sizes.audience_id
            and member_activity.property_id = audience_sizes.property_id
)

select * from final
