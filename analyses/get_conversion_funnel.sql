-- Conversion funnel: sessions reaching each step in order (each step after the previous
-- one within the same session), with step-to-step and overall conversion and drop-off.
-- Parameters (analyses/_analyses.yml): steps (up to 10 event names), start_date, end_date.

with

events as (
    select * from {{ ref('events') }}
    where
        event_date >= cast({{ truffle_param('start_date') }} as date)
        and event_date <= cast({{ truffle_param('end_date') }} as date)
        and session_key is not null
),

{%- for step in range(1, 11) %}
-- sessions reaching step {{ step }}: its event, at or after the time the session reached the step before
    step_{{ step }} as (
        select
            events.session_key,
            min(events.event_timestamp_micros) as reached_at_micros
        from events
        {%- if step > 1 %}
        inner join step_{{ step - 1 }}
            on
                events.session_key = step_{{ step - 1 }}.session_key
                and events.event_timestamp_micros >= step_{{ step - 1 }}.reached_at_micros
        {%- endif %}
        where
            {{ truffle_array_length(truffle_param('steps')) }} >= {{ step }}
            and events.event_name = {{ truffle_array_element(truffle_param('steps'), step) }}
        group by events.session_key
    ),
{% endfor %}
-- one row per step asked for
reached as (
    {%- for step in range(1, 11) %}
        select
            {{ step }} as step_number,
            {{ truffle_array_element(truffle_param('steps'), step) }} as event_name,
            count(*) as sessions
        from step_{{ step }}
        having {{ truffle_array_length(truffle_param('steps')) }} >= {{ step }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

-- compared with the previous step and with the first
compared as (
    select
        step_number,
        event_name,
        sessions,
        lag(sessions) over (order by step_number) as previous_step_sessions,
        first_value(sessions) over (order by step_number) as first_step_sessions
    from reached
),

final as (
    select
        step_number,
        event_name,
        sessions,
        coalesce(previous_step_sessions - sessions, 0) as drop_off_sessions,
        case
            when previous_step_sessions is null then 100.0
            when previous_step_sessions > 0 then round(100.0 * sessions / previous_step_sessions, 2)
        end as step_conversion_pct,
        case
            when first_step_sessions > 0 then round(100.0 * sessions / first_step_sessions, 2)
        end as overall_conversion_pct,
        case
            when previous_step_sessions > 0
                then round(100.0 * (previous_step_sessions - sessions) / previous_step_sessions, 2)
            else 0.0
        end as drop_off_pct
    from compared
)

select * from final
order by step_number
