{#- dbt-bigquery creates a seed's table only by loading its rows, and dbt skips the load of a
    seed with no rows: a seed kept empty in the repository (erasure_requests) would leave no
    table on BigQuery, and every model reading it would fail. An empty seed is created as an
    empty table of its column types, as on other adapters; a seed with rows is loaded as
    before. (dbt looks these up in the root project before dbt-bigquery's own.) -#}
{% macro bigquery__create_csv_table(model, agate_table) %}
    {%- if agate_table.rows | length == 0 -%}
        {{ return(dbt.default__create_csv_table(model, agate_table)) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{% macro bigquery__reset_csv_table(model, full_refresh, old_relation, agate_table) %}
    {{ adapter.drop_relation(old_relation) }}
    {{ return(bigquery__create_csv_table(model, agate_table)) }}
{% endmacro %}
