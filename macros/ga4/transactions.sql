{#- SQL: the transaction id of record of a conversion event, from its
    ecommerce.transaction_id (`column`); '(not set)' and empty are not ids (pitfall 10). -#}
{% macro ga4_transaction_id(column) -%}
    case
        when trim({{ column }}) in ('', '(not set)') then null
        else {{ column }}
    end
{%- endmacro %}


{#- Post-hook of the conversions, after they are written: the days whose conversions count a
    transaction first sent earlier (int_transactions_counted.restated_from_date: a backfill
    of a late export day found the earlier send). Those in this run's window were just built
    again: their mark is cleared. The others are reported (`TRUFFLE_RESTATE {json}`, and a
    line in dbt's log): truffle builds each of them again after the run, as `truffle
    backfill` of that day would; a plain dbt user runs that backfill. A mark stays until its
    day is built, so a run that stops before then leaves it for the next one. -#}
{% macro ga4_restate_transactions(transactions) -%}
    {%- if not execute or var('ga4_render_incremental', false) or var('ga4_render_offline', false) -%}
    select 1 as nothing_to_restate
    {%- else -%}
    {%- set query -%}
        {{ truffle_lookup_name('restated days') }}
        select distinct restated_from_date from {{ transactions }}
        where restated_from_date is not null
    {%- endset -%}
    {%- set window = ga4_window() -%}
    {%- set built, later = [], [] -%}
    {%- for row in run_query(query).rows if row[0] is not none -%}
        {%- set day = (row[0] | string)[:10] -%}
        {%- if window.end and window.start and (window.start | string) <= day and day <= (window.end | string) -%}
            {%- do built.append(day) -%}
        {%- else -%}
            {%- do later.append(day) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if later -%}
        {%- do log('TRUFFLE_RESTATE ' ~ tojson({'days': later | sort}), info=false) -%}
        {%- do log('conversions: transactions first sent earlier were counted on ' ~ (later | sort | join(', ')) ~ ': build those days again (truffle does; else truffle backfill --start DAY --end DAY)', info=true) -%}
    {%- endif -%}
    {%- if built -%}
    update {{ transactions }} set restated_from_date = null
    where
        restated_from_date >= {{ date_literal(window.start) }}
        and restated_from_date <= {{ date_literal(window.end) }}
    {%- else -%}
    select 1 as nothing_to_restate
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}
