{#- SQL: the export's events as the warehouse records them, before retention: staging's rows
    where `filter` holds, quarantined rows (stg_ga4__events_quarantined) and erased
    identities left out, every column but staging's own (`columns`: a narrower list).

    int_events_recorded stores these rows within their category's retention. The facts kept
    on a schedule of their own (sessions, conversions and the transactions map) are derived
    from them whole instead, so that a full build, or a backfill of days near a cutoff,
    derives each from every event its day had, as the nightly did when the day was new: an
    interaction event (a year) expiring before its session (two) never changes the
    session's counts, and a sign-up conversion stays as long as conversions do. -#}
{% macro ga4_recorded_events(filter, columns=none) -%}
    select
        {{ columns | join(', ') if columns else truffle_star_except(['quarantine_reason', 'raw_record', 'items']) }}
    from {{ ref('stg_ga4__events') }}
    where
        {{ filter }}
        and quarantine_reason is null
        and {{ ga4_not_erased(ref('int_erased_identities')) }}
{%- endmacro %}
