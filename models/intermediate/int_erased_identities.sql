{{
    config(
        materialized='incremental',
        unique_key='erased_identity',
        incremental_strategy=truffle_upsert_strategy(),
        post_hook=[
            "{{ ga4_erase_identities_from(ref('stg_ga4__events'), 'event_date', this, by_day=['source_table_suffix', 'raw_row_count', 'property_id'], filtered_at_write=false) }}",
            "{{ ga4_erase_raw_text_from(ref('stg_ga4__events'), 'event_date', this) }}",
            "{{ ga4_record_erasures(ref('stg_ga4__events'), this) }}",
            "{{ ga4_erase_identities_from(ref('int_device_logins_observed'), 'event_date', this, filtered_at_write=false) }}",
            "{{ ga4_record_erasures(ref('int_device_logins_observed'), this) }}",
        ],
    )
}}

{#- Append-only: once a device is known to belong to an erased user it stays erased, even
    after the rows that linked them are gone. Small (the requests and the devices seen logged
    in as their users), so it is read whole; staging and the logins are cleared of a new
    identity's whole history once (the ledger, int_erasures_applied), of known ones in the
    window. -#}

with

-- the erasure requests: the seed, or the user's own table (variable erasure_requests_relation)
requests as (
    select
        cast(user_id as {{ truffle_type('string') }}) as user_id,
        cast(user_pseudo_id as {{ truffle_type('string') }}) as user_pseudo_id,
        cast(requested_date as date) as requested_date
    {% if var('erasure_requests_relation', none) -%}
    from {{ var('erasure_requests_relation') }}
    {%- else -%}
        from {{ ref('erasure_requests') }}
    {%- endif %}
),

-- the logins seen, per day and device (logged-in devices only, not all of staging): the
-- window's on a nightly (a known request's older devices are already stored), every day's
-- on a full build and on the night a request names a user id not erased yet
device_logins as (
    select
        user_id,
        user_pseudo_id
    from {{ ref('int_device_logins_observed') }}
    {%- if is_incremental() and not ga4_new_erasure_requests(this) %}
    where {{ ga4_window_filter('event_date') }}
    {%- endif %}
),

-- the identities named in the requests
requested as (
    select
        user_id as erased_identity,
        'user_id' as identity_type,
        requested_date
    from requests
    where user_id is not null and user_id != ''
    union all
    select
        user_pseudo_id as erased_identity,
        'user_pseudo_id' as identity_type,
        requested_date
    from requests
    where user_pseudo_id is not null and user_pseudo_id != ''
),

-- every device ever seen logged in as an erased user: its anonymous history is theirs too
linked_devices as (
    select distinct
        device_logins.user_pseudo_id as erased_identity,
        'user_pseudo_id' as identity_type,
        requests.requested_date
    from device_logins
    inner join requests
        on device_logins.user_id = requests.user_id
),

identities as (
    select * from requested
    union all
    select * from linked_devices
    {% if is_incremental() -%}
    union all
    select
        erased_identity,
        identity_type,
        requested_date
    from {{ this }}
    {%- endif %}
),

final as (
    select
        erased_identity,
        min(identity_type) as identity_type,
        min(requested_date) as requested_date
    from identities
    group by erased_identity
)

select * from final
