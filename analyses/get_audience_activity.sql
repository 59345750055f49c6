-- Audience sizes (current members) from audience_metrics, with the members' sessions,
-- conversions and member-days active over a date range.
-- Parameters (analyses/_analyses.yml): start_date, end_date.

with

audience_days as (
    select * from {{ ref('audience_metrics') }}
),

final as (
    select
        audience_id,
        audience_name,
        max(members) as members,
        coalesce(sum(
            case
                when
                    activity_date >= cast({{ truffle_param('start_date') }} as date)
                    and activity_date <= cast({{ truffle_param('end_date') }} as date)
                    then active_members
            end
        ), 0) as active_member_days,
        coalesce(sum(
            case
                when
                    activity_date >= cast({{ truffle_param('start_date') }} as date)
                    and activity_date <= cast({{ truffle_param('end_date') }} as date)
                    then sessions
            end
        ), 0) as sessions,
        coalesce(sum(
            case
                when
                    activity_date >= cast({{ truffle_param('start_date') }} as date)
                    and activity_date <= cast({{ truffle_param('end_date') }} as date)
                    then conversions
            end
        ), 0) as conversions
    from audience_days
    group by audience_id, audience_name
)

select * from final
order by members desc, audience_id asc
