{#- the columns a stored table must have to be updated: those the YAML declares -#}
{%- set plan = ga4_device_pairs_plan(model.columns.keys() | list) %}

{{ config(materialized=ga4_table_materialization(), meta={'replaced_whole': true}) }}

{#- Every device / login pair ever seen, one row each: small (logged-in devices only), so
    it is read whole, and the device map (int_devices_stitched) is ranked from it. A nightly
    reads the stored pairs and the logins of its own days only, never the per-day history:
    a pair first seen before the window keeps its first login (the window cannot move it
    earlier, and what the window drops or rewrites lies after it); every other pair is
    recomputed from the logins of the window's first day on, so a login a rewritten export
    day removed is gone. Rebuilt from every stored login on a full build (ga4_device_pairs_plan). -#}

with

device_logins as (
    select * from {{ ref('int_device_logins_observed') }}
    {%- if plan.mode == 'update' %}
    where event_date >= {{ date_literal(plan.start) }} and event_date <= {{ date_literal(plan.through) }}
    {%- endif %}
),

erased_identities as (
    select * from {{ ref('int_erased_identities') }}
),

-- each pair's logins on the days read: when it first logged in, its last day
observed as (
    select
        property_id,
        user_pseudo_id,
        user_id,
        min(first_login_at) as first_login_at,
        min(event_date) as first_login_date,
        max(event_date) as last_login_date
    from device_logins
    group by property_id, user_pseudo_id, user_id
),

{%- if plan.mode == 'update' %}

-- pairs first seen before the window: their first login stands (later days only add to them)
earlier as (
    select
        property_id,
        user_pseudo_id,
        user_id,
        first_login_at,
        first_login_date,
        last_login_date
    from {{ this }}
    where first_login_date < {{ date_literal(plan.start) }}
),

-- the earlier pairs and the window's, one row per pair
combined as (
    select
        property_id,
        user_pseudo_id,
        user_id,
        min(first_login_at) as first_login_at,
        min(first_login_date) as first_login_date,
        max(last_login_date) as last_login_date
    from (
        select * from earlier
        union all
        select * from observed
    ) as pairs
    group by property_id, user_pseudo_id, user_id
),
{%- endif %}

-- an erased user's pairs go, and so do an erased device's
kept as (
    select * from {{ 'combined' if plan.mode == 'update' else 'observed' }}
    where
        {{ ga4_not_erased() }}
),

final as (
    select
        {{ truffle_hash_key(['property_id', 'user_pseudo_id', 'user_id']) }} as device_user_key,
        property_id,
        user_pseudo_id,
        user_id,
        first_login_at,
        first_login_date,
        last_login_date
    from kept
)

select * from final
