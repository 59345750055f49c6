{#- One row per `partition_by` value: the first by `order_by` (a list of columns, ascending),
    every column of `relation` (a CTE name) kept, plus `count_column`, the number of rows the
    value had. `locator`: columns that together identify a row of `relation` and are never
    null (file and row number); ties in `order_by` go to the lowest locator where the engine
    has one.

    A window over every column moves all of them through its partition and sort: on DuckDB
    the staging dedup over ~90 columns (the params JSON among them) was a third of the model
    and spilled. DuckDB ranks a narrow projection (key, order columns, locator) instead and
    joins the winners back by locator, reading the rows from one materialized copy so that
    what `relation` computes (hashes, JSON) runs once. BigQuery has no row locator: it keeps
    the plain window, as dbt-utils' deduplicate does. -#}
{% macro truffle_deduplicate(relation, partition_by, order_by, locator, count_column) -%}
    {{ return(adapter.dispatch('truffle_deduplicate', 'random_truffle')(relation, partition_by, order_by, locator, count_column)) }}
{%- endmacro %}

{% macro default__truffle_deduplicate(relation, partition_by, order_by, locator, count_column) -%}
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
    {%- set ordering = order_by + [] -%}
    {%- for column in locator if column not in ordering -%}
        {%- do ordering.append(column) -%}
    {%- endfor -%}
    {%- set narrow = [partition_by] + ordering -%}
    -- every row computed once, read twice: by the ranking and by the join
    with all_rows as materialized (
        select * from {{ relation }}
    ),

    -- the ranking sees only the key, the order and the locator (the subquery keeps the
    -- window from carrying every column of the materialized rows)
    first_rows as (
        select
            {{ locator | join(',\n            ') }},
            {{ count_column }}
        from (
            select
                {{ locator | join(',\n                ') }},
                row_number() over (
                    partition by {{ partition_by }}
                    order by {{ ordering | join(', ') }}
                ) as duplicate_rank,
                count(*) over (partition by {{ partition_by }}) as {{ count_column }}
            from (
                select {{ narrow | join(', ') }}
                from all_rows
            ) as fingerprints
        ) as ranked
        where duplicate_rank = 1
    )

    select
        all_rows.*,
        first_rows.{{ count_column }}
    from all_rows
    inner join first_rows
        on
        {%- for column in locator %}
            {{ 'and ' if not loop.first }}all_rows.{{ column }} = first_rows.{{ column }}
        {%- endfor %}
{%- endmacro %}
