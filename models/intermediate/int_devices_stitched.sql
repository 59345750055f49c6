{{ config(materialized=ga4_table_materialization(), meta={'replaced_whole': true}) }}

{#- Rebuilt every run from the device / login pairs (small: logged-in devices only, erased
    identities already gone), never from the per-day logins or staging. -#}

with

device_users as (
    select * from {{ ref('int_device_users_paired') }}
),

-- a device (an id within its property) belongs to the first user seen logged in on it (a shared device keeps its first
-- user; later users' own events still carry their user_id); ties go to the smaller user_id,
-- so the pick is the same on every run
ranked as (
    select
        property_id,
        user_pseudo_id,
        user_id,
        first_login_at,
        row_number() over (
            partition by property_id, user_pseudo_id
            order by first_login_at nulls last, user_id
        ) as login_rank,
        count(*) over (partition by property_id, user_pseudo_id) as distinct_user_id_count
    from device_users
),

final as (
    select
        property_id,
        user_pseudo_id,
        user_id,
        first_login_at,
        distinct_user_id_count
    from ranked
    where login_rank = 1
)

select * from final
