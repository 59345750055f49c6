{#- the columns a stored table must have to be updated: those the YAML declares -#}
{%- set plan = truffle_table_update_plan(model.columns.keys() | list) %}
{#- what a transaction keeps: the columns after its key -#}
{%- set columns = [
    'property_id', 'conversion_type', 'transaction_id', 'first_sent_date', 'user_pseudo_id', 'user_id',
] %}
{#- a stored first send after an update's window (a backfill's range), per transaction -#}
{%- set later_first_sent = (
    'max(case when first_sent_date > ' ~ date_literal(plan.end) ~ ' then first_sent_date end)'
    ~ ' over (partition by property_id, conversion_type, transaction_id)'
) if plan.mode == 'update' else 'cast(null as date)' %}

{{ config(materialized=ga4_table_materialization(), meta={'replaced_whole': true}) }}

{#- Every transaction counted, one row each: where it was first sent (pitfall 10: a reload
    resends `purchase`, the earliest send is the conversion). Small (one row per
    transaction) and read whole: a nightly's conversions leave out the transactions it
    says were first sent before the window, so they never read the stored conversions'
    history. A nightly keeps the stored rows first sent outside its window (before it, or
    after a backfill's range) and recomputes the others from the window's events; rebuilt
    from every recorded event on a full build (ga4_recorded_events,
    truffle_table_update_plan). Follows the conversions it stands for: an erased identity's
    sends go, and so do those sent before the transaction retention; a transaction whose
    first send went is counted at its next send kept, as a full build counts it.
    A window send earlier than a stored first send after the window (a late export day
    backfilled) becomes the first; the conversions counted the transaction on the later
    day, which `restated_from_date` names until a run builds that day again
    (ga4_restate_transactions: truffle does so at once). -#}

with

-- every event recorded, as the conversions read them (ga4_recorded_events)
events as (
    {{ ga4_recorded_events(ga4_window_filter('event_date', incremental=plan.mode == 'update')) }}
),

conversion_definitions as (
    select * from {{ ref('conversion_events') }}
),

erased_identities as (
    select * from {{ ref('int_erased_identities') }}
),

-- the window's sends of a transaction: conversion events with an id of record
sends as (
    select
        events.property_id,
        conversion_definitions.conversion_type,
        {{ ga4_transaction_id('events.ecommerce_transaction_id') }} as transaction_id,
        events.event_date,
        events.event_timestamp_micros,
        events.event_key,
        events.user_pseudo_id,
        events.user_id
    from events
    inner join conversion_definitions
        on events.event_name = conversion_definitions.event_name
),

-- each transaction's sends of the window, in the conversions' own order
window_ranked as (
    select
        property_id,
        conversion_type,
        transaction_id,
        event_date as first_sent_date,
        user_pseudo_id,
        user_id,
        row_number() over (
            partition by property_id, conversion_type, transaction_id
            order by event_timestamp_micros, event_key
        ) as send_rank
    from sends
    where transaction_id is not null
),

window_firsts as (
    select
        {{ columns | join(',\n        ') }}
    from window_ranked
    where send_rank = 1
),

{%- if plan.mode == 'update' %}

-- transactions first sent outside the window: their first send stands
stored as (
    select
        {{ columns | join(',\n        ') }},
        restated_from_date
    from {{ this }}
    where
        first_sent_date < {{ date_literal(plan.start) }}
        or first_sent_date > {{ date_literal(plan.end) }}
),

-- a day still to build again for a transaction the window recomputes (a second run of the
-- same backfill keeps it)
pending as (
    select
        property_id,
        conversion_type,
        transaction_id,
        restated_from_date
    from {{ this }}
    where
        first_sent_date >= {{ date_literal(plan.start) }}
        and first_sent_date <= {{ date_literal(plan.end) }}
        and restated_from_date is not null
),
{%- endif %}

-- the window's first sends, with a day still to build again that their stored rows name
window_marked as (
    select
        window_firsts.*,
        {{ 'pending.restated_from_date' if plan.mode == 'update' else 'cast(null as date)' }}
            as restated_from_date
    from window_firsts
    {%- if plan.mode == 'update' %}
    left join pending
        on
            window_firsts.property_id = pending.property_id
            and window_firsts.conversion_type = pending.conversion_type
            and window_firsts.transaction_id = pending.transaction_id
    {%- endif %}
),

-- the stored and the window's first sends (their days never tie: the stored rows lie
-- outside the window)
firsts as (
    select * from window_marked
    {%- if plan.mode == 'update' %}
    union all
    select * from stored
    {%- endif %}
),

-- as the conversions: an erased identity's sends go, and those past the transaction
-- retention. Before the earliest is picked, so that the next send of a transaction whose
-- first send went counts, as in a full build (whose events no longer hold that send): a
-- map without the transaction would let each later window count it again
kept as (
    select * from firsts
    where
        first_sent_date >= {{ ga4_retention_cutoff('transaction') }}
        and {{ ga4_not_erased() }}
),

-- the earliest send kept, and the stored first send after the window, if any
ranked as (
    select
        *,
        row_number() over (
            partition by property_id, conversion_type, transaction_id
            order by first_sent_date
        ) as first_rank,
        {{ later_first_sent }} as later_first_sent_date
    from kept
),

-- a window send earlier than the stored first send after the window: the conversions
-- counted the transaction on that later day, to build again
marked as (
    select
        *,
        coalesce(
            case when first_sent_date < later_first_sent_date then later_first_sent_date end,
            restated_from_date
        ) as restated_day
    from ranked
    where first_rank = 1
),

final as (
    select
        {{ truffle_hash_key(['property_id', 'conversion_type', 'transaction_id']) }} as transaction_key,
        {{ columns | join(',\n        ') }},
        restated_day as restated_from_date
    from marked
)

select * from final
