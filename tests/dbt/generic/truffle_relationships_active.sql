{#- dbt's relationships test, for a parent that is a person: each non-null value of the column
    has its row in `to` (`field`). A person carries the last day they were active
    (`active_column`, such as user_attributes' last_seen_date, the latest of their sessions'
    `date_column`). On a window check the child rows are those of the checked days (their
    `date_column`), and a person one of them points to was active on or after that day: only
    the people active since the first checked day are read, the part of the table a nightly
    touched (people are stored in that column's order), not every person kept. Whole-history
    checks (a full refresh, --full-checks) read every child and every person. -#}
{% test truffle_relationships_active(model, column_name, to, field, date_column, active_column) %}
{%- set first_day = truffle_check_window_first_day() %}

with

child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
    {%- if first_day is not none %}
        and {{ date_column }} >= {{ date_literal(first_day) }}
    {%- endif %}
),

parent as (
    select {{ field }} as to_field
    from {{ to }}
    {%- if first_day is not none %}
    where {{ active_column }} >= {{ date_literal(first_day) }}
    {%- endif %}
)

select child.from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null

{% endtest %}
