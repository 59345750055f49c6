{{ config(materialized='view', meta={'check_window_column': 'last_seen_date'}) }}

with

users as (
    select * from {{ ref('user_attributes') }}
),

audience_rules as (
    select * from {{ ref('audiences') }}
),

-- each audience's members: the users meeting every rule of it. Only the attributes the rules
-- used when this view was built are read (audience_attributes_in_use), rather than every
-- attribute of every user; a rule added since on another attribute fails the query
members as (
    {{ audience_rows_meeting_rules(
        'users', 'audience_rules', ['property_id', 'unified_user_id', 'last_seen_date'], audience_attributes_in_use()
    ) }}
),

final as (
    select
        {{ truffle_hash_key(['audience_id', 'property_id', 'unified_user_id']) }} as audience_member_key,
        audience_id,
        audience_name,
        property_id,
        unified_user_id,
        last_seen_date
    from members
)

select * from final
