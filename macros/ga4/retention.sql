{#- Retention: how many years each event category is kept (variables, defaults 7 / 1 / 2 / 7
    years) and the cutoff date before which a category's rows are dropped, counted back from
    the run date. -#}
{% macro ga4_retention_years() -%}
    {{ return({
        'transaction': var('retention_years_transaction', 7) | int,
        'interaction': var('retention_years_interaction', 1) | int,
        'user_activity': var('retention_years_user_activity', 2) | int,
        'content': var('retention_years_content', 7) | int,
    }) }}
{%- endmacro %}

{% macro ga4_retention_cutoff(category) -%}
    {%- set run_date = ga4_run_date() -%}
    {%- set years = ga4_retention_years()[category] -%}
    {%- set cutoff = run_date.replace(year=run_date.year - years) if not (run_date.month == 2 and run_date.day == 29) else run_date.replace(year=run_date.year - years, day=28) -%}
    {{ return(date_literal(cutoff)) }}
{%- endmacro %}

{#- SQL: the row (with `category_column` and `date_column`) is still within its retention. -#}
{% macro ga4_within_retention(category_column, date_column) -%}
    case {{ category_column }}
        {%- for category in ga4_retention_years() %}
        when '{{ category }}' then {{ date_column }} >= {{ ga4_retention_cutoff(category) }}
        {%- endfor %}
        else true
    end
{%- endmacro %}

{#- Post-hook: delete a model's rows past their retention, in every partition. -#}
{% macro ga4_apply_retention(category_column, date_column) -%}
    {%- if execute and not var('ga4_render_incremental', false) -%}
    delete from {{ this }}
    where
        {{ date_column }} >= cast('1900-01-01' as date)
        and not ({{ ga4_within_retention(category_column, date_column) }})
    {%- else -%}
    select 1 as nothing_expired
    {%- endif -%}
{%- endmacro %}
