{{ config(materialized='table') }}

with

erased_identities as (
    select * from {{ ref('int_erased_identities') }}
),

-- only logged-in events tell us whose device it is; staging holds the whole history; an
-- erased user's devices are stitched to nobody
logged_in_events as (
    select
        user_pseudo_id,
        user_id,
        event_at
    from {{ ref('stg_ga4__events') }}
    where
        user_id is not null
        and user_pseudo_id is not null
        and user_id not in (select erased_identities.erased_identity from erased_identities)
        and user_pseudo_id not in (select erased_identities.erased_identity from erased_identities)
),

-- a device belongs to the first user seen logged in on it (a shared device keeps its first
-- user; later users' own events still carry their user_id)
devices as (
    select
        user_pseudo_id,
        {{ truffle_first_non_null('user_id', 'event_at') }} as user_id,
        min(event_at) as first_login_at,
        count(distinct user_id) as distinct_user_id_count
    from logged_in_events
    group by user_pseudo_id
),

final as (
    select
        user_pseudo_id,
        user_id,
        first_login_at,
        distinct_user_id_count
    from devices
)

select * from final
