{#- The window's partitions and merge bounds as literal dates when the run executes.

    dbt captures a model's config (`partitions`, `incremental_predicates`) when it parses the
    project, and a partial parse reuses it: a date computed then would be the parse's, not the
    run's (yesterday's, after a saved partial parse), and a date expression
    (`date_sub(current_date(...))`) is not the literal partition list BigQuery prunes by and
    the offline proof checks. So dbt-bigquery's build step is wrapped: for this project's
    models, the partition list (ga4_bigquery_partitions) and the session models' merge bound
    (truffle_session_merge_predicates, from the first start day the model's own lookup could
    reach, which its compiled SQL carries: ga4_session_reach) are computed again when the
    build SQL is generated, from the run's own window, and always as literal dates. Other projects' models (this
    project installed as a package) keep their own config.
    Overrides dbt-bigquery's `bq_generate_incremental_build_sql` (incremental.sql, 1.11); it
    can go once partial parsing re-renders configs that depend on the clock (dbt-core issue
    #4364, "Partial parsing should handle volatile variables", open; its 2023 comment shows
    exactly this with `incremental_predicates`). -#}
{% macro bq_generate_incremental_build_sql(
    strategy, tmp_relation, target_relation, sql, unique_key, partition_by, partitions, dest_columns, tmp_relation_exists, copy_partitions, incremental_predicates
) -%}
    {%- if model.package_name == 'random_truffle' -%}
        {%- if partitions -%}
            {%- set partitions = ga4_bigquery_partitions() -%}
        {%- endif -%}
        {%- if incremental_predicates -%}
            {%- set marker = modules.re.search('/[*] ga4_session_stored_from ([0-9]{4}-[0-9]{2}-[0-9]{2}) [*]/', sql) -%}
            {%- set incremental_predicates = truffle_session_merge_predicates(
                truffle_parse_date(marker.group(1)) if marker else none
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(dbt.bq_generate_incremental_build_sql(
        strategy, tmp_relation, target_relation, sql, unique_key, partition_by, partitions, dest_columns, tmp_relation_exists, copy_partitions, incremental_predicates
    )) }}
{%- endmacro %}
