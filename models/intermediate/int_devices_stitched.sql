{{ config(materialized='table') }}

{#- Rebuilt every run from the stored per-day logins (small: logged-in devices only), never
    from the whole of staging. -#}

with

device_logins as (
    select * from {{ ref('int_device_logins_observed') }}
),

erased_identities as (
    select * from {{ ref('int_erased_identities') }}
),

-- an erased user's devices are stitched to nobody
kept_logins as (
    select
        user_pseudo_id,
        user_id,
        first_login_at
    from device_logins
    where
        user_id not in (select erased_identities.erased_identity from erased_identities)
        and user_pseudo_id not in (select erased_identities.erased_identity from erased_identities)
),

-- each user's first login on each device, whatever the day
device_users as (
    select
        user_pseudo_id,
        user_id,
        min(first_login_at) as first_login_at
    from kept_logins
    group by user_pseudo_id, user_id
),

-- a device belongs to the first user seen logged in on it (a shared device keeps its first
-- user; later users' own events still carry their user_id); ties go to the smaller user_id,
-- so the pick is the same on every run
ranked as (
    select
        user_pseudo_id,
        user_id,
        first_login_at,
        row_number() over (
            partition by user_pseudo_id
            order by first_login_at nulls last, user_id
        ) as login_rank,
        count(*) over (partition by user_pseudo_id) as distinct_user_id_count
    from device_users
),

final as (
    select
        user_pseudo_id,
        user_id,
        first_login_at,
        distinct_user_id_count
    from ranked
    where login_rank = 1
)

select * from final
