{#- SQL: the export's events as the warehouse records them, before retention: staging's rows
    where `filter` holds, quarantined rows (stg_ga4__events_quarantined) and erased
    identities left out, every column but staging's own (`columns`: a narrower list). The
    amounts are money from here on (ga4_money; staging keeps the export's FLOAT64 for the
    quarantine, which leaves only amounts between 0 and ga4_max_event_revenue).

    int_events_recorded stores these rows within their category's retention. The facts kept
    on a schedule of their own (sessions, conversions and the transactions map) are derived
    from them whole instead, so that a full build, or a backfill of days near a cutoff,
    derives each from every event its day had, as the nightly did when the day was new: an
    interaction event (a year) expiring before its session (two) never changes the
    session's counts, and a sign-up conversion stays as long as conversions do. -#}
{% macro ga4_recorded_events(filter, columns=none) -%}
    {%- set money = {} -%}
    {%- for column in ga4_export_columns() if column.get('money') -%}
        {%- do money.update({column.name: ga4_money(column.name)}) -%}
    {%- endfor -%}
    {%- set selected = [] -%}
    {%- for column in columns or [] -%}
        {%- do selected.append(money[column] ~ ' as ' ~ column if column in money else column) -%}
    {%- endfor %}
    select
        {{ selected | join(', ') if columns else truffle_star_except(['quarantine_reason', 'raw_record', 'items'], money) }}
    from {{ ref('stg_ga4__events') }}
    where
        {{ filter }}
        and quarantine_reason is null
        and {{ ga4_not_erased(ref('int_erased_identities')) }}
{%- endmacro %}
