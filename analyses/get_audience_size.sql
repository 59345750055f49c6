-- Members of an audience, broken down by one dimension.
-- Parameters (analyses/_analyses.yml): audience_id, breakdown.

with

members as (
    select * from {{ ref('int_audience_members_evaluated') }}
),

users as (
    select * from {{ ref('user_attributes') }}
),

-- the audience's members with the dimension asked for (none = one total row)
audience_users as (
    select
        members.audience_id,
        members.audience_name,
        case {{ truffle_param('breakdown') }}
            when 'device_category' then users.device_category
            when 'country' then users.country
            when 'channel' then users.last_touch_channel_group
            when 'lifecycle_stage' then users.lifecycle_stage
            else 'all'
        end as breakdown_value
    from members
    inner join users
        on
            members.property_id = users.property_id
            and members.unified_user_id = users.unified_user_id
    where members.audience_id = {{ truffle_param('audience_id') }}
),

counted as (
    select
        audience_id,
        audience_name,
        coalesce(breakdown_value, '(not set)') as breakdown_value,
        count(*) as members
    from audience_users
    group by audience_id, audience_name, coalesce(breakdown_value, '(not set)')
),

final as (
    select
        audience_id,
        audience_name,
        {{ truffle_param('breakdown') }} as breakdown,
        breakdown_value,
        members,
        round(100.0 * members / sum(members) over (), 2) as share_of_members_pct
    from counted
)

select * from final
order by members desc, breakdown_value asc
