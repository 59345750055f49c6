{#- One row per `partition_by` value: the first by `order_by` (a list of columns, ascending),
    every column of `relation` (a CTE name) kept, plus `count_column`, the number of rows the
    value had. `locator`: columns that together identify a row of `relation` and are never
    null (file and row number); ties in `order_by` go to the lowest locator where the engine
    has one, else (BigQuery) to the lowest row as JSON text: the pick is a total order, the
    same row on every run.

    A window over every column moves all of them through its partition and sort: on DuckDB
    the staging dedup over ~90 columns spilled and was a third of the model. DuckDB instead
    reads `relation` twice: a narrow pass groups the fingerprints and keeps only the values
    that occur more than once, with their first row's locator (a few percent of the rows);
    the wide pass streams every row past that small table, keeping a row whose value is
    single or whose locator is its value's first. `relation` and the CTEs it reads must be
    declared `as {{ truffle_not_materialized() }}`: DuckDB otherwise stores a CTE read twice,
    every wide row of it, before either read starts. Both reads see the same rows in the
    same order only if the locator is deterministic: it is (ga4_export_rows). BigQuery has
    no row locator: it keeps the plain window, as dbt-utils' deduplicate does. -#}
{% macro truffle_deduplicate(relation, partition_by, order_by, locator, count_column) -%}
    {{ return(adapter.dispatch('truffle_deduplicate', 'random_truffle')(relation, partition_by, order_by, locator, count_column)) }}
{%- endmacro %}

{#- The order a pick follows: `order_by`, then the locator columns not already in it. -#}
{% macro truffle_deduplicate_ordering(order_by, locator) -%}
    {{ return(order_by + (locator | reject('in', order_by) | list)) }}
{%- endmacro %}

{% macro default__truffle_deduplicate(relation, partition_by, order_by, locator, count_column) -%}
    {{ truffle_deduplicate_by_window(relation, partition_by, truffle_deduplicate_ordering(order_by, locator), count_column) }}
{%- endmacro %}

{#- BigQuery's export rows have no locator (null): the row's JSON text breaks the ties. -#}
{% macro bigquery__truffle_deduplicate(relation, partition_by, order_by, locator, count_column) -%}
    {{ truffle_deduplicate_by_window(relation, partition_by, truffle_deduplicate_ordering(order_by, locator) + ['to_json_string(' ~ relation ~ ')'], count_column) }}
{%- endmacro %}

{% macro truffle_deduplicate_by_window(relation, partition_by, order_by, count_column) -%}
    select {{ truffle_star_except(['duplicate_rank']) }}
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by }}
                order by {{ order_by | join(', ') }}
            ) as duplicate_rank,
            count(*) over (partition by {{ partition_by }}) as {{ count_column }}
        from {{ relation }}
    ) as ranked
    where duplicate_rank = 1
{%- endmacro %}

{% macro duckdb__truffle_deduplicate(relation, partition_by, order_by, locator, count_column) -%}
    {%- set ordering = truffle_deduplicate_ordering(order_by, locator) -%}
    -- the values held by more than one row, each with its row count and its first row
    with repeated_values as (
        select
            {{ partition_by }},
            count(*) as {{ count_column }},
            min({
                {%- for column in ordering %}
                '{{ column }}': {{ column }}{{ ',' if not loop.last }}
                {%- endfor %}
            }) as first_row
        from {{ relation }}
        group by {{ partition_by }}
        having count(*) > 1
    )

    select
        {{ relation }}.*,
        coalesce(repeated_values.{{ count_column }}, 1) as {{ count_column }}
    from {{ relation }}
    left join repeated_values
        on {{ relation }}.{{ partition_by }} = repeated_values.{{ partition_by }}
    where
        repeated_values.{{ partition_by }} is null
        {%- for column in locator %}
        {{ 'or (' if loop.first else 'and ' }}{{ relation }}.{{ column }} = repeated_values.first_row.{{ column }}{{ ')' if loop.last }}
        {%- endfor %}
{%- endmacro %}


{#- The keyword that keeps a CTE inline (evaluated where it is read) on engines that would
    otherwise store a CTE read more than once (DuckDB); nothing elsewhere. -#}
{% macro truffle_not_materialized() -%}
    {{ return(adapter.dispatch('truffle_not_materialized', 'random_truffle')()) }}
{%- endmacro %}

{% macro default__truffle_not_materialized() -%}
{%- endmacro %}

{% macro duckdb__truffle_not_materialized() -%}
    not materialized
{%- endmacro %}
