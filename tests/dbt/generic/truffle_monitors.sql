{#- Data-quality monitors. Each returns the offending days; its severity (warn or error) and
    threshold come from variables users tune in dbt_project.yml or --vars. -#}

{#- A declared property with no export day in the last `max_age_days` before its run date
    (or none at all): each property is held to its own run date, in its own time zone. -#}
{% test truffle_monitor_freshness(model, column_name, max_age_days) %}

{%- set oldest_fresh = {} -%}
{%- for property in ga4_properties() -%}
    {%- do oldest_fresh.update({property.property_id: date_literal(ga4_property_run_date(property) - modules.datetime.timedelta(days=max_age_days | int))}) -%}
{%- endfor %}

with

newest as (
    select
        property_id,
        max({{ column_name }}) as newest_date
    from {{ model }}
    group by property_id
),

-- every declared property, so that one whose export never arrived is reported too
declared as (
    {%- for property in ga4_properties() %}
        select {{ ga4_property_id_literal(property) }} as property_id
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        declared.property_id,
        newest.newest_date
    from declared
    left join newest
        on declared.property_id = newest.property_id
    where
        newest.newest_date is null
        or newest.newest_date < {{ ga4_property_case('declared.property_id', oldest_fresh) }}
)

select * from final

{% endtest %}


{#- A day whose volume is more than `max_ratio` times (or less than 1 / max_ratio of) the
    median of the `trailing_days` days before it (days with fewer than 3 such days pass). -#}
{% test truffle_monitor_volume(model, column_name, date_column, trailing_days, max_ratio, partition_by=none) %}

{#- `partition_by`: each value's days compared with its own (property_id: each property's) -#}
{%- set part = partition_by or truffle_string_literal('') %}

with

days as (
    select
        {{ part }} as part,
        {{ date_column }} as day,
        {{ column_name }} as volume
    from {{ model }}
),

compared_to_trailing as (
    select
        days.part,
        days.day,
        days.volume,
        {{ truffle_median('previous.volume') }} as trailing_median,
        count(previous.volume) as trailing_days
    from days
    inner join days as previous
        on
            previous.part = days.part
            and previous.day < days.day
            and previous.day >= {{ truffle_add_days('days.day', -(trailing_days | int)) }}
    group by days.part, days.day, days.volume
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
