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
    exactly this with `incremental_predicates`). A model with `meta.replaced_whole` (a table
    rebuilt whole, ga4_table_materialization) replaces all its rows in one MERGE. -#}
{% macro bq_generate_incremental_build_sql(
    strategy, tmp_relation, target_relation, sql, unique_key, partition_by, partitions, dest_columns, tmp_relation_exists, copy_partitions, incremental_predicates
) -%}
    {%- if model.package_name == 'random_truffle' and (config.get('meta') or {}).get('replaced_whole') -%}
        {#- a table rebuilt whole on every run, while row access policies are declared
            (ga4_table_materialization): its rows replaced by one MERGE, which keeps them -#}
        {{ return(get_insert_overwrite_merge_sql(target_relation, '(' ~ sql ~ ')', dest_columns, [])) }}
    {%- endif -%}
    {%- if model.package_name == 'random_truffle' -%}
        {%- if partitions -%}
            {%- set partitions = ga4_bigquery_partitions() -%}
            {%- if (config.get('meta') or {}).get('window_days') == 'export' -%}
                {%- set replaced = ga4_bigquery_export_partitions(partitions) -%}
                {%- if ga4_properties() | length > 1 -%}
                    {%- if strategy != 'insert_overwrite' or copy_partitions -%}
                        {{ exceptions.raise_compiler_error(this.identifier ~ ": with several properties staging replaces each property's own days by a MERGE (insert_overwrite without copy_partitions); " ~ strategy ~ (" with copy_partitions" if copy_partitions else "") ~ " would replace other properties' rows of the same partitions. Remove the override.") }}
                    {%- endif -%}
                    {{ return(ga4_bigquery_properties_overwrite_sql(tmp_relation, target_relation, sql, partition_by, replaced, dest_columns, tmp_relation_exists)) }}
                {%- endif -%}
                {%- set partitions = replaced.values() | first -%}
            {%- endif -%}
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


{#- Staging's partitions (`meta.window_days: export`), per refreshed property ({property id:
    partitions}): the window's days that have an export table (daily or intraday) in the
    property's export dataset. A day whose export table expired (the BigQuery sandbox keeps
    tables 60 days) or was deleted keeps its stored rows, as on DuckDB
    (macros/incremental/strategy.sql); the models built from staging replace the whole window
    from what it holds. One lookup of each refreshed property's export dataset's
    INFORMATION_SCHEMA.TABLES (no table data read), named for the offline capture; a window
    with no export table of any refreshed property is an error that names the days (nothing
    to replace: the export is stale or the range wrong). A property with none keeps its rows
    (truffle nightly's freshness names it). -#}
{% macro ga4_bigquery_export_partitions(partitions) -%}
    {%- set days = [] -%}
    {%- for partition in partitions -%}
        {%- do days.append(partition[6:16] | replace('-', '')) -%}
    {%- endfor -%}
    {%- set replaced = {} -%}
    {%- set datasets = [] -%}
    {%- for property in ga4_refreshed_properties() -%}
        {%- set export_dataset = ga4_bigquery_export_dataset(property) -%}
        {%- do datasets.append(export_dataset) -%}
        {%- set lookup -%}
            {{ truffle_lookup_name('missing export days') }}
            select string_agg(day, ',' order by day) as missing_days
            from unnest([{% for day in days %}'{{ day }}'{{ ', ' if not loop.last }}{% endfor %}]) as day
            where day not in (
                select regexp_extract(table_name, r'([0-9]{8})$')
                from {{ export_dataset }}.INFORMATION_SCHEMA.TABLES
                where regexp_contains(table_name, r'^events_(intraday_)?[0-9]{8}$')
            )
        {%- endset -%}
        {%- set found = run_query(lookup).rows -%}
        {%- set missing = ((found[0][0] if found else none) or '').split(',') | reject('equalto', '') | list -%}
        {%- set kept = [] -%}
        {%- for partition in partitions -%}
            {%- if days[loop.index0] not in missing -%}
                {%- do kept.append(partition) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if missing -%}
            {%- do log(this.identifier ~ ': no export table ' ~ ('of property ' ~ property.property_id ~ ' ' if loop.length > 1) ~ 'for ' ~ (missing | join(', ')) ~ '; those days keep their stored rows', info=true) -%}
        {%- endif -%}
        {%- if kept -%}
            {%- do replaced.update({property.property_id: kept}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not replaced -%}
        {{ exceptions.raise_compiler_error("No GA4 export table (events_YYYYMMDD or events_intraday_YYYYMMDD) in " ~ (datasets | join(' or ')) ~ " for any day of the window (" ~ (days | join(', ')) ~ "): nothing to replace. Check the export (truffle nightly's freshness) or the backfill range.") }}
    {%- endif -%}
    {{ return(replaced) }}
{%- endmacro %}

{#- Staging's MERGE when several properties are declared: dbt-bigquery's static
    insert_overwrite (bq_static_insert_overwrite_sql, 1.11) with a narrower delete. The
    statement replaces only the refreshed properties' own days that have an export table
    (`replaced`, {property id: partitions}); another property's rows in the same partitions
    are not matched by the delete and stay, as on DuckDB (get_incremental_truffle_window_sql).
    The partition list comes first in the predicate, so BigQuery prunes the target to it. -#}
{% macro ga4_bigquery_properties_overwrite_sql(tmp_relation, target_relation, sql, partition_by, replaced, dest_columns, tmp_relation_exists) -%}
    {%- set column = partition_by.render_wrapped(alias='dbt_internal_dest') -%}
    {%- set every = [] -%}
    {%- set parts = [] -%}
    {%- for property_id, partitions in replaced.items() -%}
        {%- for partition in partitions if partition not in every -%}
            {%- do every.append(partition) -%}
        {%- endfor -%}
        {%- do parts.append('(dbt_internal_dest.property_id = ' ~ truffle_string_literal(property_id) ~ ' and ' ~ column ~ ' in (' ~ partitions | join(', ') ~ '))') -%}
    {%- endfor -%}
    {%- set predicate = column ~ ' in (' ~ every | sort | join(', ') ~ ')\n        and (' ~ parts | join('\n            or ') ~ ')' -%}
    {%- set source_sql = bq_static_select_insert_overwrite_sql(tmp_relation, sql, partition_by, tmp_relation_exists) -%}
    {%- set merge = get_insert_overwrite_merge_sql(target_relation, source_sql, dest_columns, [predicate], include_sql_header=not tmp_relation_exists) -%}
    {{ return(merge ~ ';' ~ ('\ndrop table if exists ' ~ tmp_relation ~ ';' if tmp_relation_exists else '')) }}
{%- endmacro %}
