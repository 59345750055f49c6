{#- Data-quality monitors. Each returns the offending days; its severity (warn or error) and
    threshold come from variables users tune in dbt_project.yml or --vars. -#}

{#- No new export day for longer than `max_age_days` before the run date. -#}
{% test truffle_monitor_freshness(model, column_name, max_age_days) %}

with

newest as (
    select max({{ column_name }}) as newest_date
    from {{ model }}
)

select newest_date
from newest
where
    newest_date is null
    or newest_date < {{ date_literal(ga4_run_date() - modules.datetime.timedelta(days=max_age_days | int)) }}

{% endtest %}


{#- A day whose volume is more than `max_ratio` times (or less than 1 / max_ratio of) the
    median of the `trailing_days` days before it (days with fewer than 3 such days pass). -#}
{% test truffle_monitor_volume(model, column_name, date_column, trailing_days, max_ratio) %}

with

days as (
    select
        {{ date_column }} as day,
        {{ column_name }} as volume
    from {{ model }}
),

compared_to_trailing as (
    select
        days.day,
        days.volume,
        {{ truffle_median('previous.volume') }} as trailing_median,
        count(previous.volume) as trailing_days
    from days
    inner join days as previous
        on
            previous.day < days.day
            and previous.day >= {{ truffle_add_days('days.day', -(trailing_days | int)) }}
    group by days.day, days.volume
)

select *
from compared_to_trailing
where
    trailing_days >= 3
    and (
        volume > {{ max_ratio }} * trailing_median
        or volume * {{ max_ratio }} < trailing_median
    )

{% endtest %}


{#- Days where a share column exceeds `max_share`. -#}
{% test truffle_monitor_share(model, column_name, max_share) %}

select *
from {{ model }}
where {{ column_name }} > {{ max_share }}

{% endtest %}
