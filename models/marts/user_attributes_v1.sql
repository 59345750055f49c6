{{ config(materialized='view', meta={'check_window_column': 'last_seen_date'}) }}

{#- A view: a person's figures (int_users_combined: the stored state combined per person
    through the device map) and the segments computed where they are read (the lifecycle
    segment depends on the day it is computed as of). -#}
{%- set user_properties = ga4_declared_user_properties() %}
{%- set several = ga4_properties() | length > 1 %}
{{ ga4_require_declared_contract_columns(user_properties) }}

with

users as (
    select * from {{ ref('int_users_combined') }}
),

-- read apart from `users`: DuckDB materializes a CTE read twice, and a test of one column of
-- the view then read most of the people (measured), not the columns it asks for
users_seen as (
    select
        property_id,
        last_seen_date
    from {{ ref('int_users_combined') }}
),

-- the date the segments are computed as of: the property's newest session in the warehouse
-- (every session is some user's, so it is the latest last_seen_date; a rebuild of old data
-- gives the same answer whatever the day, and another property's fresher data none)
as_of as (
    select
        property_id,
        max(last_seen_date) as as_of_date
    from users_seen
    group by property_id
),

-- each person dated as of their property's newest day. One property, one date for everyone:
-- a cross join, so a test of the people last seen in its window reads no more of the people
-- than it checks (a join on the property reads the property of every person; measured)
dated as (
    select
        users.*,
        as_of.as_of_date,
        {{ truffle_days_between('users.first_seen_date', 'as_of.as_of_date') }} as days_since_first_seen,
        {{ truffle_days_between('users.last_seen_date', 'as_of.as_of_date') }} as days_since_last_seen
    from users
    {%- if several %}
        inner join as_of
            on users.property_id = as_of.property_id
    {%- else %}
        cross join as_of
    {%- endif %}
),

-- segments, documented in _marts__models.yml:
--   lifecycle: new (first seen ≤ 7 days ago), active (seen ≤ 30 days ago),
--              lapsing (31-90 days), dormant (> 90 days)
--   value: none (no revenue), low (< 100 USD), medium (< 500 USD), high (≥ 500 USD)
--   engagement: passive (no engaged session), engaged (1-2), highly_engaged (≥ 3)
segmented as (
    select
        *,
        case
            when days_since_first_seen <= 7 then 'new'
            when days_since_last_seen <= 30 then 'active'
            when days_since_last_seen <= 90 then 'lapsing'
            else 'dormant'
        end as lifecycle_stage,
        case
            when lifetime_revenue_usd <= 0 then 'none'
            when lifetime_revenue_usd < 100 then 'low'
            when lifetime_revenue_usd < 500 then 'medium'
            else 'high'
        end as value_segment,
        case
            when lifetime_engaged_sessions = 0 then 'passive'
            when lifetime_engaged_sessions <= 2 then 'engaged'
            else 'highly_engaged'
        end as engagement_segment
    from dated
),

-- the contract's columns, in its order (the YAML lists them once)
final as (
    select
        {{ model.columns | list | join(',\n        ') }}
    from segmented
)

select * from final
